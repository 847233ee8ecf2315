# ctrops.containerd: the two commands are `make demo` and `make test`.
# Every target that needs tools depends on `setup`, which installs them.
SHELL := /bin/bash
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
BUILD := $(CURDIR)/.build
COLLECTIONS := $(BUILD)/collections
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH := true
# Modules run on localhost with the venv's Python (a pyenv shim would not be a real interpreter).
export ANSIBLE_PYTHON_INTERPRETER := $(BIN)/python
export ANSIBLE_DEPRECATION_WARNINGS := false
export PATH := $(BIN):$(PATH)
PYTEST_ARGS ?=

.PHONY: setup collection sanity lint unit integration matrix molecule demo-check docs test demo demo-local build clean benchmark build-check docs-update

setup:
	@bash .ci/setup.sh

# The collection as Ansible loads it: ansible_collections/ctrops/containerd -> this checkout.
collection:
	@mkdir -p $(COLLECTIONS)/ansible_collections/ctrops
	@ln -sfn $(CURDIR) $(COLLECTIONS)/ansible_collections/ctrops/containerd

sanity: setup
	@bash .ci/suite.sh sanity bash .ci/sanity.sh

lint: setup collection
	@bash .ci/suite.sh lint $(BIN)/ansible-lint --profile production

unit: setup collection
	@bash .ci/suite.sh unit $(BIN)/pytest tests/unit $(PYTEST_ARGS)

# Two workers (pytest-xdist): tests spend much of their time waiting (tasks starting and stopping,
# polls, daemons), which two workers overlap. INTEGRATION_WORKERS=0 runs them in one process. The 15 slowest
# tests are listed at the end: where the next cut of the budget is.
INTEGRATION_WORKERS ?= 2
integration: setup collection
	@bash .ci/suite.sh integration $(BIN)/pytest tests/integration -n $(INTEGRATION_WORKERS) --durations=15 $(PYTEST_ARGS)

# The other ansible-core lines (sanity, unit, smoke) and the managed-node Pythons (smoke).
matrix: setup collection
	@bash .ci/suite.sh matrix bash .ci/matrix.sh

molecule: setup collection
	@bash .ci/suite.sh molecule bash extensions/molecule/run.sh

# make demo's VM path (site.yml + walk-through on a throwaway VM) with checks on its summary.
demo-check: setup collection
	@bash .ci/suite.sh demo $(BIN)/pytest tests/demo -p no:cacheprovider $(PYTEST_ARGS)

docs: setup collection
	@bash .ci/suite.sh docs bash .ci/docs.sh check

docs-update: setup collection
	@bash .ci/docs.sh update

# Runs every layer (each one even when an earlier one failed) and prints the totals.
test: export CTROPS_EXCLUSIVE := 1
# The modules run here as root: no bytecode cache in /root/.cache from the tests (compile_once.py).
test: export PYTHONDONTWRITEBYTECODE := 1
test: setup collection
	@rm -rf $(BUILD)/results
	@-$(MAKE) --no-print-directory sanity
	@-$(MAKE) --no-print-directory lint
	@-$(MAKE) --no-print-directory build-check
	@-$(MAKE) --no-print-directory docs
	@-$(MAKE) --no-print-directory unit
	@-$(MAKE) --no-print-directory integration
	@-$(MAKE) --no-print-directory matrix
	@-$(MAKE) --no-print-directory molecule
	@-$(MAKE) --no-print-directory demo-check
	@bash .ci/totals.sh $(BUILD)/results

demo: setup collection
	@bash playbooks/demo/run.sh

demo-local: setup collection
	@DEMO_LOCAL=1 bash playbooks/demo/run.sh

build: setup
	@mkdir -p $(BUILD)/dist && $(BIN)/ansible-galaxy collection build --force --output-path $(BUILD)/dist .

build-check: setup
	@bash .ci/suite.sh build bash .ci/build_check.sh

clean:
	rm -rf $(BUILD) tests/output

# Not part of `make test`: ctr calls and time of no-op runs, per module and containerd version; then the
# side-by-side job (one image, ten running containers) against community.docker and Ansible's own floor, and
# where one no-op containerd_container run spends its time beyond stat's.
benchmark: setup collection
	@bash tests/benchmark/setup.sh
	@$(BIN)/python tests/benchmark/noop_calls.py
	@$(BIN)/python tests/benchmark/side_by_side.py
	@$(BIN)/python tests/benchmark/connection_side_by_side.py
	@$(BIN)/python tests/benchmark/module_cost.py
