//! Layer 6, the commands: go-build, go-fetch, go-vendor, go-deps, the mixed Rust+Go build and
//! test, ci, doctor, and the GOCACHEPROG server.

pub mod build;
pub mod cacheprog;
pub mod ci;
pub mod deps;
pub mod doctor;
pub mod fetch;
pub mod mixed;
pub mod vendoring;
