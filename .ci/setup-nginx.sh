#!/usr/bin/env bash
# nginx with the WebDAV module (PUT/DELETE), for the remote-cache tests: an nginx serving a temp
# dir speaks the Bazel HTTP remote-cache protocol (GET/PUT/HEAD under /ac/ and /cas/).
# Debian's `nginx` package is built with http_dav_module. Idempotent: does nothing when present.
set -euo pipefail
has_dav() {
    command -v nginx >/dev/null 2>&1 && nginx -V 2>&1 | grep -q -- '--with-http_dav_module'
}
if has_dav; then
    exit 0
fi
echo "installing nginx (with the dav module) for the remote-cache tests"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends nginx >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y --no-install-recommends nginx >/dev/null
fi
# The package starts a system-wide nginx on port 80 where an init system runs; the tests start
# their own on loopback ports, so stop that one if it was started (harmless if it was not).
if command -v service >/dev/null 2>&1; then
    service nginx stop >/dev/null 2>&1 || true
fi
has_dav || { echo "error: nginx was installed without the dav module" >&2; exit 2; }
nginx -v
