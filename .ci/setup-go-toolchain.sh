#!/usr/bin/env bash
# A second, real Go toolchain for the build-cache test "a different go version misses".
# It comes from the Go module proxy (golang.org/toolchain, the module GOTOOLCHAIN switching
# uses), into ~/.cache/xtask-go-tests/<version>; the test finds it there (or at $XTASK_GO_TEST_GO2).
set -euo pipefail
version=go1.25.5
dest="${XDG_CACHE_HOME:-$HOME/.cache}/xtask-go-tests/$version"
if [ -x "$dest/bin/go" ]; then
    exit 0
fi
echo "installing a second Go toolchain ($version) for the tests into $dest"
module="golang.org/toolchain@v0.0.1-$version.$(go env GOHOSTOS)-$(go env GOHOSTARCH)"
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
GOMODCACHE="$tmp" GOTOOLCHAIN=local GOFLAGS= GOENV=off go mod download "$module"
mkdir -p "$(dirname "$dest")"
rm -rf "$dest.partial"
cp -r "$tmp/$module" "$dest.partial"
chmod -R u+w "$dest.partial"
chmod +x "$dest.partial"/bin/* "$dest.partial"/pkg/tool/*/*
mv "$dest.partial" "$dest"
"$dest/bin/go" version
