# shellcheck shell=bash
# python_for X.Y: the path of a real Python X.Y interpreter (pyenv's newest X.Y.*, else one on
# PATH that is not a pyenv shim: Ansible needs a real interpreter, never a shim). Sourced by
# setup.sh and matrix.sh.
python_for() {
  local found
  found=$(find "${PYENV_ROOT:-$HOME/.pyenv}/versions" -maxdepth 3 -path "*/versions/$1.*/bin/python$1" 2>/dev/null \
          | sort -V | tail -n 1)
  [ -n "$found" ] || found=$(command -v "python$1" 2>/dev/null | grep -v /shims/ || true)
  [ -n "$found" ] && echo "$found"
}
