//! Layer 2, the machine: the go toolchain (and the one function that spawns processes) and the
//! table from Rust target triples to Go platforms.

pub mod platform;
pub mod toolchain;
