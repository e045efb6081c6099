//! Layer 2, the machine: the go toolchain (and the one function that spawns processes), the C
//! compilers' identities, and the table from Rust target triples to Go platforms.

pub mod ccompiler;
pub mod platform;
pub mod toolchain;
