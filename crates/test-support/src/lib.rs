//! xtask-test-support: the fixture machinery of the integration tests (`tests/it`), kept apart
//! from the helpers about this repo's own tests (`tests/it/support`: `Repo`, `Outcome`, module
//! worlds): a `file://` GOPROXY built from plain sources (re-exported from `file-goproxy`, which
//! the benchmarks also use), a real nginx with WebDAV and a real BuildGrid (REAPI over gRPC) as
//! remote caches, and [`copy_dir`].
//! A dev-dependency only.

pub mod buildgrid;
pub mod nginx;

pub use file_goproxy::{build_proxy, make_writable, FixtureModule, FixtureProxy, FIXTURE_TIME};

use camino::Utf8Path;

/// Copies the directory tree `from` into `to` (created if missing); panics on any error.
pub fn copy_dir(from: &Utf8Path, to: &Utf8Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&from.join(&name), &to.join(&name));
        } else {
            std::fs::copy(from.join(&name), to.join(&name)).unwrap();
        }
    }
}
