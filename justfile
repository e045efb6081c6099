# Recipes only call `cargo xtask ...`; run `just --list` to see them.

# Build every Go target of the repo (debug profile, host platform)
build *ARGS:
    cargo xtask go-build {{ARGS}}

# Build release binaries
release *ARGS:
    cargo xtask go-build --release {{ARGS}}

# List the Go modules and targets
list:
    cargo xtask go-list

# Show the pinned Go environment for a target triple
env TRIPLE="":
    cargo xtask go-env {{ if TRIPLE == "" { "" } else { "--target " + TRIPLE } }}

# Download every Go module once, so builds can run offline
fetch:
    cargo xtask go-fetch

# Check the vendor trees against go.mod and go.sum
vendor-check:
    cargo xtask go-vendor --check

# Run the benchmarks (a suite: build, fetch, vendor)
bench SUITE="build":
    cargo xtask bench {{SUITE}}
