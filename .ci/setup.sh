#!/usr/bin/env bash
# One-time (idempotent) set-up of everything the tests and the demo need on a
# fresh Debian 12 machine: Debian packages, the containerd 2.x binaries from
# Debian unstable, the Python virtual environment and ansible-test's pip
# bootstrap stand-in. The rig itself only starts and stops things.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=.ci/versions.env
. "$here/versions.env"
# shellcheck source=.ci/pythons.sh
. "$here/pythons.sh"

log() { printf '[setup] %s\n' "$*"; }

# ansible-test bootstraps pip from a download host that is not reachable here;
# it first looks for a cached bootstrap script. The stand-in uses ensurepip and
# then installs the requested packages with the caller's pip configuration.
# Each ansible-core line pins its own pip version, hence one stand-in per venv.
pip_standin() {  # venv
  local pip_ver
  pip_ver=$("$1/bin/python" - <<'PY'
import re, ansible_test, pathlib
src = pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
print(re.search(r"pip='([0-9.]+)'", src.read_text()).group(1))
PY
)
  local standin="$HOME/.ansible/test/cache/get_pip_${pip_ver//./_}.py"
  mkdir -p "$(dirname "$standin")"
  cp "$repo/tests/support/get_pip_standin.py" "$standin"
}
# The matrix layer: one small venv per ansible-core line (tests/matrix/requirements-core-LINE.txt,
# whose "# python: X.Y" line names the controller Python), rebuilt when that file changes, the
# lines in parallel. Then ansible-test's venvs for the sanity tests the layer runs are primed
# (cached by ansible-test under ~/.ansible/test/venv), so the timed run installs nothing.
matrix_venv() {  # requirements file
  local req=$1 line py interp dir want
  line=$(basename "$req" .txt); line=${line#requirements-core-}
  py=$(sed -n 's/^# python: *//p' "$req")
  dir="$CTROPS_CACHE/matrix/core-$line"
  want=$(sha256sum "$req" | cut -d' ' -f1)
  [ "$(cat "$dir/.requirements.sha256" 2>/dev/null)" = "$want" ] && return 0
  interp=$(python_for "$py") || { log "no Python $py for ansible-core $line"; return 1; }
  log "creating $dir (ansible-core $line, Python $py)"
  rm -rf "$dir"
  "$interp" -m venv "$dir"
  "$dir/bin/pip" install -q --disable-pip-version-check -r "$req" 2>&1 | grep -v "is ignored: it is neither" || true
  "$dir/bin/python" -c "import ansible, pytest"
  pip_standin "$dir"
  local tests; tests=$(grep -v "^#" "$repo/tests/matrix/sanity-tests.txt" | sed "s/^/--test /")
  # shellcheck disable=SC2086
  (cd "$repo" && bash .ci/sanity.sh --venv-dir "$dir" --prime-venvs $tests) >/dev/null
  echo "$want" > "$dir/.requirements.sha256"
}
setup_matrix() {
  local pids=() pid req
  for req in "$repo"/tests/matrix/requirements-core-*.txt; do
    matrix_venv "$req" & pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
}

# `setup.sh matrix`: only the matrix layer's venvs (the rest is set up already).
if [ "${1:-}" = matrix ]; then setup_matrix; exit 0; fi

apt_packages=(
  # the rig: containerd 1.6, runc, CNI plugins 1.1, registry, images, TLS, auth
  containerd runc containernetworking-plugins docker-registry apache2-utils
  busybox-static skopeo iptables iproute2 openssl curl util-linux procps
  # ansible-test sanity's shellcheck test (skipped without it)
  shellcheck
  # Molecule on local VMs and the Arch / NixOS stand-ins
  qemu-system-x86 qemu-utils debootstrap e2fsprogs openssh-client
  # the connection plugin's SSH path: the rig starts its own sshd on 127.0.0.1 (never the service)
  openssh-server
  pacman-package-manager makepkg libarchive-tools fakeroot nix-bin
)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  # Maintainer scripts must not start services (openssh-server would start a host-wide sshd):
  # the rig starts its own daemons. Forbid starts for this install where no policy does already.
  guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    guard=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' > "$guard"
    chmod 755 "$guard"
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -n "$guard" ]; then rm -f "$guard"; fi
fi
# Debian's containerd package starts nothing without systemd, but make sure a
# distro daemon never shares state with the rig.

# containerd 2.x and CNI plugins 1.9 from Debian unstable (1.7 from stable), unpacked into a cache
# outside the repository (never installed system-wide). The Debian mirror is
# this machine's own (its apt configuration) or $CTROPS_DEBIAN_MIRROR: vm.py
# looks it up for this script and for debootstrap alike.
fetch_debian() {  # suite package dest
  local suite=$1 pkg=$2 dest=$3
  [ -e "$dest/.complete" ] && return 0
  local mirror; mirror=$(python3 "$repo/extensions/molecule/vm.py" debian-mirror)
  local work; work=$(mktemp -d)
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
  echo "deb $mirror $suite main" > "$work/sources.list"
  local opts=(-o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
              -o Dir::State::Lists="$work/lists" -o Dir::Cache="$work/cache" -o APT::Sandbox::User=root)
  log "fetching $pkg from Debian $suite"
  apt-get "${opts[@]}" update -qq
  (cd "$work" && apt-get "${opts[@]}" download -qq "$pkg")
  rm -rf "$dest"; mkdir -p "$dest"
  dpkg-deb -x "$work"/"${pkg}"_*.deb "$dest"
  cp "$work"/"${pkg}"_*.deb "$dest/"
  touch "$dest/.complete"
  rm -rf "$work"
}
mkdir -p "$CTROPS_CACHE"
fetch_debian "$SID_SUITE" containerd "$CTROPS_CACHE/containerd-sid"
fetch_debian "$SID_SUITE" containernetworking-plugins "$CTROPS_CACHE/cni-plugins-sid"
# containerd 1.7, the line between bookworm's 1.6 and unstable's 2.x, from Debian's current stable.
fetch_debian "$STABLE_SUITE" containerd "$CTROPS_CACHE/containerd-stable"

# The Python tools, pinned in requirements-dev.txt.
venv="$repo/.venv"
venv_python=$(sed -n 's/^# python: *//p' "$repo/requirements-dev.txt")
if [ "$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" != "$venv_python" ]; then
  interp=$(python_for "$venv_python") || { log "no Python $venv_python for $venv"; exit 1; }
  log "creating $venv (Python $venv_python)"
  rm -rf "$venv"
  "$interp" -m venv "$venv"
fi
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$repo/requirements-dev.txt" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing Python tools into $venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$repo/requirements-dev.txt" 2>&1 | grep -v "is ignored: it is neither" || true
  "$venv/bin/python" -c "import ansible, pytest_ansible, molecule" # fail loudly if the install did not work
  echo "$want" > "$stamp"
fi

pip_standin "$venv"
setup_matrix

CTROPS_CACHE="$CTROPS_CACHE" python3 "$repo/extensions/molecule/vm.py" build-bases  # QEMU base images for Molecule and the demo (cached by recipe hash)
log "ready: $(find "$CTROPS_CACHE" -mindepth 1 -maxdepth 1 -type d -printf '%p ')"
