//! xtask-go: build orchestration for repos that hold Rust crates and Go modules side by side.
//!
//! A library for a repo's own `xtask`: find the Go modules and targets ([`session::Session`]),
//! pin go's environment ([`goenv::PinnedEnv`]) and build ([`build::build`]). Every process
//! is spawned by [`toolchain::run`]. See ARCHITECTURE.md for the map.

pub mod build;
pub mod cache;
pub mod ci;
pub mod deps;
pub mod discovery;
pub mod doctor;
pub mod fetch;
pub mod goenv;
pub mod gomod;
pub mod gosource;
pub mod gosum;
pub mod plan;
pub mod platform;
pub mod project;
pub mod report;
pub mod rust;
pub mod session;
pub mod snapshot;
pub mod toolchain;
pub mod vendor;

pub use build::{BuildReport, BuildRequest};
pub use session::Session;
