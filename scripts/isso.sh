#!/usr/bin/env bash
# Make sure the Isso comment server the tests run is installed and starts.
#
#   scripts/isso.sh            install Isso into .venv if needed, then start it once and stop it
#   scripts/isso.sh capture    also regenerate tests/data/isso from a freshly seeded Isso
#
# The tests start their own Isso (tests/isso.py); nothing keeps running afterwards.
source "$(dirname "$0")/_venv.sh"
ISSO_SPEC="${ISSO_SPEC:-isso>=0.13,<0.15}"

fail() { echo "isso.sh: $*" >&2; exit 1; }

ensure_venv "[test]" || fail "could not prepare $VENV"
PY="$VENV/bin/python"

if ! "$PY" -c "import isso" 2>/dev/null; then
    echo "isso.sh: installing $ISSO_SPEC into $VENV" >&2
    "$PY" -m pip install --quiet "$ISSO_SPEC" || fail "pip could not install $ISSO_SPEC"
fi
version="$("$PY" -c 'import isso; print(isso.__version__)')" \
    || fail "the isso package is installed but does not import"
"$PY" -c 'import sys; from isso import main; sys.argv = ["isso", "--version"]; main()' >/dev/null \
    || fail "isso $version is installed but its entry point does not run"

cd "$ROOT"
"$PY" -m tests.isso check || fail "isso $version is installed but the server does not start (see above)"

if [ "${1:-}" = "capture" ]; then
    "$PY" -m tests.isso capture "$ROOT/tests/data/isso" || fail "capture failed"
fi
