//! Layer 1, Go's own formats read faithfully in Rust: go.mod and go.work, go.sum and h1 hashes,
//! build constraints, `go list -json` output, and go's offline failures explained. Runs no process.

pub mod constraints;
pub mod dirhash;
pub mod golist;
pub mod gomod;
pub mod gosource;
pub mod gosum;
pub mod modfile;
pub mod offline;
