//! xtask-go: build orchestration for repos that hold Rust crates and Go modules side by side.
//!
//! A library for a repo's own `xtask`: load the repo once ([`Session`]), then run a command:
//! [`build::build`] the Go targets, [`mixed::build_all`] / [`mixed::test_all`] Go and Rust
//! together, [`ci::run`], [`fetch::fetch`] modules for offline builds, [`vendor::check`] a vendor
//! tree, [`deps::deps`] for version skew, [`doctor::run`]. Every process is spawned by one
//! function (`host::toolchain::run`) with go's environment pinned (`goenv::PinnedEnv`).
//!
//! This file is the facade: the modules below are the crate's layers (see ARCHITECTURE.md:
//! `util`, `go`, `host`, `workspace`, `buildcache`, `session`, `ops`), private to it; what an
//! adopting xtask needs is re-exported here, and only that.

mod buildcache;
mod go;
mod host;
mod ops;
mod session;
mod util;
mod workspace;

pub use session::Session;
pub use workspace::settings::{RemoteFlags, RunFlags, Settings};

pub use ops::build::{BuildReport, BuildRequest};
/// The commands.
pub use ops::{build, cacheprog, ci, deps, doctor, fetch, mixed, vendoring as vendor};

/// Status lines, progress and JSON events; byte sizes for people.
pub use util::{report, units};

/// The project and its config; the pinned go environment; the host's triple.
pub use host::platform;
pub use workspace::{goenv, project};

/// go's own formats, for tools and tests that read them (go.mod, go.sum, `h1:` hashes).
pub use go::{dirhash, gomod, gosum};

/// The build cache's store, for `cache stats|gc|clean`.
pub mod cache {
    pub use crate::buildcache::cache_dir;
    pub use crate::buildcache::maintenance;
    pub use crate::buildcache::storage::local::LocalStore;
}
