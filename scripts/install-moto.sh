#!/usr/bin/env bash
# Installs moto (server mode), the independent AWS emulator of test/moto/, into
# .tools/moto-venv with the pinned version and the locked dependencies of
# scripts/moto-constraints.txt. Idempotent: a venv that already holds this exact install
# is left alone (a stamp file is compared; nothing is imported or downloaded).
#   bash scripts/install-moto.sh                    install or confirm; prints one line
#   MOTO_REFREEZE=1 bash scripts/install-moto.sh    reinstall unconstrained, rewrite the lock
# Needs python3 (>= 3.9) with its venv module, and PyPI. Prints one line on success;
# on failure, pip's output and the reason go to stderr and the exit code is non-zero.
set -euo pipefail

moto_version="5.2.5"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.tools/moto-venv"
constraints="$root/scripts/moto-constraints.txt"
stamp="$venv/.install-stamp"
python="${PYTHON:-python3}"

fail() { echo "install-moto: $*" >&2; exit 1; }

command -v "$python" >/dev/null 2>&1 || fail "$python not found: install Python 3.9 or newer"
[ -f "$constraints" ] || fail "missing $constraints"

# What a finished install looks like: the moto version, the interpreter and the lock.
# `python3 -V` is the only process started on a warm machine.
expected="moto[server]==$moto_version
$("$python" -V 2>&1)
$(cat "$constraints")"

if [ "${MOTO_REFREEZE:-}" != "1" ] && [ -x "$venv/bin/moto_server" ] && [ -f "$stamp" ] \
  && [ "$(cat "$stamp")" = "$expected" ]; then
  echo "moto $moto_version already installed in .tools/moto-venv"
  exit 0
fi

"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' \
  || fail "moto $moto_version needs Python 3.9 or newer; $("$python" -V 2>&1) found"

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
show_log() { cat "$log" >&2; }

rm -rf "$venv"
mkdir -p "$root/.tools"
if ! "$python" -m venv "$venv" >"$log" 2>&1; then
  show_log
  fail "could not create a venv (on Debian: apt-get install python3-venv)"
fi

pip=("$venv/bin/python" -m pip --disable-pip-version-check --no-input)
if [ "${MOTO_REFREEZE:-}" = "1" ]; then
  if ! "${pip[@]}" install -q "moto[server]==$moto_version" >"$log" 2>&1; then
    show_log; rm -rf "$venv"; fail "pip install moto[server]==$moto_version failed"
  fi
  {
    echo "# Lock for scripts/install-moto.sh: the exact packages of the moto[server] venv."
    echo "# Regenerate with: MOTO_REFREEZE=1 bash scripts/install-moto.sh"
    "${pip[@]}" freeze --exclude-editable | grep -v -i '^moto=='
  } >"$constraints.new"
  mv "$constraints.new" "$constraints"
  expected="moto[server]==$moto_version
$("$python" -V 2>&1)
$(cat "$constraints")"
else
  if ! "${pip[@]}" install -q -c "$constraints" "moto[server]==$moto_version" >"$log" 2>&1; then
    show_log; rm -rf "$venv"; fail "pip install moto[server]==$moto_version (locked by scripts/moto-constraints.txt) failed"
  fi
fi

# The server must import (flask & co. are the [server] extra) and be the pinned version.
if ! got="$("$venv/bin/python" -c 'import moto.server, moto; print(moto.__version__)' 2>"$log")" \
  || [ "$got" != "$moto_version" ]; then
  show_log; rm -rf "$venv"; fail "moto did not import as $moto_version after install (got '${got:-nothing}')"
fi

printf '%s' "$expected" >"$stamp"
echo "moto $moto_version installed in .tools/moto-venv"
