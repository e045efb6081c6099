#!/usr/bin/env bash
# `just`, for the justfile and the test that runs one of its recipes: the rust-just package from
# PyPI (a prebuilt just), installed only when no `just` is on PATH.
set -euo pipefail
if command -v just >/dev/null 2>&1; then
    exit 0
fi
echo "installing just (PyPI package rust-just)"
python3 -m pip install --quiet rust-just
command -v just >/dev/null 2>&1 || { echo "error: just was installed but is not on PATH" >&2; exit 2; }
just --version
