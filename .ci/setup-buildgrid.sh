#!/usr/bin/env bash
# BuildGrid (PyPI `buildgrid`), a REAPI server (CAS, ByteStream, ActionCache, Capabilities over
# gRPC), for the gRPC remote-cache tests and `cargo xtask bench remote`. Installed into a venv at
# $XTASK_GO_BUILDGRID_VENV (default ~/.cache/xtask-go/buildgrid-venv); the tests find
# `bgd` there. Idempotent: does nothing when the pinned version is installed.
set -euo pipefail
VERSION=0.4.4
VENV="${XTASK_GO_BUILDGRID_VENV:-$HOME/.cache/xtask-go/buildgrid-venv}"
installed() {
    [ -x "$VENV/bin/bgd" ] && "$VENV/bin/python" -c "
import importlib.metadata as m, sys
sys.exit(0 if m.version('buildgrid') == '$VERSION' else 1)" 2>/dev/null
}
if installed; then
    exit 0
fi
need_python() {
    command -v python3 >/dev/null 2>&1 && python3 -c 'import venv, ensurepip' >/dev/null 2>&1
}
if ! need_python; then
    echo "installing python3-venv for BuildGrid"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends python3 python3-venv >/dev/null 2>&1; then
        apt-get update -qq
        apt-get install -y --no-install-recommends python3 python3-venv >/dev/null
    fi
fi
echo "installing BuildGrid $VERSION into $VENV for the gRPC remote-cache tests"
mkdir -p "$(dirname "$VENV")"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "buildgrid==$VERSION"
installed || { echo "error: BuildGrid $VERSION did not install into $VENV" >&2; exit 2; }
"$VENV/bin/bgd" --help >/dev/null
echo "BuildGrid $VERSION: $VENV/bin/bgd"
