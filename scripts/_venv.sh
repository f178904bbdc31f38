# Sourced by the scripts: make sure .venv exists with the project installed.
# Re-installs only when pyproject.toml changed since the last install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

pick_python() {
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "gatejumper: Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)" >&2
  return 1
}

ensure_venv() {
  local extras="$1" stamp want py
  stamp="$VENV/.gatejumper-installed"
  want="$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)-$extras"
  local have
  have="$(cat "$stamp" 2>/dev/null || true)"
  # An install with the test extras also serves the plain bot.
  if [ -x "$VENV/bin/python" ] && { [ "$have" = "$want" ] || { [ -z "$extras" ] && [ "$have" = "$want[test]" ]; }; }; then
    return 0
  fi
  py="$(pick_python)"
  if [ ! -x "$VENV/bin/python" ]; then
    echo "gatejumper: creating $VENV" >&2
    if ! "$py" -m venv "$VENV" 2>/dev/null; then
      echo "gatejumper: python -m venv failed; installing Debian's python3-venv" >&2
      apt-get update -q && apt-get install -y -q python3-venv
      "$py" -m venv "$VENV"
    fi
  fi
  echo "gatejumper: installing the project and its dependencies into .venv" >&2
  "$VENV/bin/python" -m pip install -q --upgrade pip >&2
  "$VENV/bin/python" -m pip install -q -e "$ROOT$extras" >&2
  echo "$want" > "$stamp"
}
