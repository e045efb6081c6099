# Recipes only call `cargo xtask ...`; `just --list` shows them, `cargo xtask --help` explains more.

# Build every Go target (debug, host), then nothing else
build *ARGS:
    cargo xtask go-build {{ARGS}}

# Build release Go binaries
release *ARGS:
    cargo xtask go-build --release {{ARGS}}

# Build Go targets and the Rust workspace together
build-all *ARGS:
    cargo xtask build {{ARGS}}

# Run cargo test and go test for every Go module
test *ARGS:
    cargo xtask test {{ARGS}}

# What CI runs: fetch, vendor check, build, test, and a summary
ci:
    cargo xtask ci

# List the Go modules and targets
list:
    cargo xtask go-list

# Show the pinned Go environment for a target triple (default: the host)
env TRIPLE="":
    cargo xtask go-env {{ if TRIPLE == "" { "" } else { "--target " + TRIPLE } }}

# Download every Go module once, so builds can run offline
fetch:
    cargo xtask go-fetch

# Check the vendor trees against go.mod and go.sum
vendor-check:
    cargo xtask go-vendor --check

# Check toolchains, environment and cache
doctor:
    cargo xtask doctor

# Build cache size and location
cache-stats:
    cargo xtask cache stats

# Run a benchmark suite (build, fetch, vendor, remote)
bench SUITE="build":
    cargo xtask bench {{SUITE}}
