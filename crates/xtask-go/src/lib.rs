//! xtask-go: build orchestration for repos with Rust crates and Go modules side by side.
pub mod gosum;
