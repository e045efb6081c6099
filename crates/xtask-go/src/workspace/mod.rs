//! Layer 3, the repo as configured: the project and its config, the pinned go environment, the Go
//! modules and targets, and the Rust crates that link Go.

pub mod discovery;
pub mod goenv;
pub(crate) mod package_scan;
pub mod project;
pub mod repo_ignore;
pub mod rust;
pub mod rust_libs;
pub mod settings;
pub mod source_filter;
pub mod target_names;
pub mod targets;
