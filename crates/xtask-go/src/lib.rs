//! xtask-go: build orchestration for repos that hold Rust crates and Go modules side by side.
//!
//! A library for a repo's own `xtask`: find the Go modules and targets ([`session::Session`]),
//! pin go's environment ([`goenv::PinnedEnv`]) and build ([`build::build`]). Every process
//! is spawned by [`toolchain::run`]. See ARCHITECTURE.md for the map: the layers, bottom up,
//! are `util`, `go`, `host`, `workspace`, `buildcache`, `session` and `ops`.

pub mod buildcache;
pub mod go;
pub mod host;
pub mod ops;
pub mod session;
pub mod util;
pub mod workspace;

pub use buildcache as cache;
pub use go::{gomod, gosum};
pub use host::{platform, toolchain};
pub use ops::{build, ci, deps, doctor, fetch, mixed, vendoring as vendor};
pub use session::snapshot;
pub use util::report;
pub use workspace::{discovery, goenv, project, rust, targets};

pub use build::{BuildReport, BuildRequest};
pub use session::Session;
pub use workspace::settings::{RemoteFlags, RunFlags, Settings};
