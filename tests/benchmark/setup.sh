#!/usr/bin/env bash
# Set-up of what only `make benchmark` needs, on top of `make setup`: Debian's docker.io engine (the peer
# the side-by-side benchmark compares with; never started as a service) and a virtual environment of its
# own holding community.docker from the `ansible` package (tests/benchmark/requirements-peer.txt).
# Idempotent; packages come from this machine's own apt and pip configuration.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

log() { printf '[bench-setup] %s\n' "$*"; }

if ! dpkg-query -W -f='${Status}\n' docker.io 2>/dev/null | grep -q '^install ok installed'; then
  # The package's maintainer scripts would start a host-wide dockerd (bridge, iptables rules) where no
  # policy forbids it: the benchmark starts its own engine, so forbid service starts for this install.
  guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    guard=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' > "$guard"
    chmod 755 "$guard"
  fi
  log "installing Debian's docker.io"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
  if [ -n "$guard" ]; then rm -f "$guard"; fi
fi

venv="$repo/.build/bench-venv"
reqs="$here/requirements-peer.txt"
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$reqs" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing community.docker (the ansible package) into $venv"
  # The main venv's Python, so that both sides run the same ansible-core on the same interpreter.
  rm -rf "$venv"
  "$("$repo/.venv/bin/python" -c 'import sys; print(sys._base_executable)')" -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$reqs"
  "$venv/bin/python" -c "import ansible_collections.community.docker, ansible_mitogen, requests"
  echo "$want" > "$stamp"
fi
