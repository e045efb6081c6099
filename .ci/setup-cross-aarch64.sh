#!/usr/bin/env bash
# The cross toolchain for the aarch64-unknown-linux-gnu tests (a Go program linking a Rust
# staticlib, built for arm64): Debian's gcc-aarch64-linux-gnu (the C compiler and linker cgo
# uses) and Rust's standard library for that triple. Idempotent: does nothing when present.
set -euo pipefail
TRIPLE=aarch64-unknown-linux-gnu
if ! command -v aarch64-linux-gnu-gcc >/dev/null 2>&1; then
    echo "installing gcc-aarch64-linux-gnu for the cross-build tests"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends gcc-aarch64-linux-gnu libc6-dev-arm64-cross >/dev/null 2>&1; then
        apt-get update -qq
        apt-get install -y --no-install-recommends gcc-aarch64-linux-gnu libc6-dev-arm64-cross >/dev/null
    fi
fi
if ! rustc --print target-libdir --target "$TRIPLE" 2>/dev/null | xargs -I{} test -d {}; then
    echo "adding the Rust target $TRIPLE for the cross-build tests"
    rustup target add "$TRIPLE"
fi
aarch64-linux-gnu-gcc --version | head -1
