//! A hermetic module world for a test: a `file://` GOPROXY built from tests/fixtures/modules
//! and an empty GOMODCACHE in a temp dir, plus go.sum files computed from the proxy.

use camino::{Utf8Path, Utf8PathBuf};
use xtask_go::gomod::GoMod;
use xtask_test_support::{build_proxy, make_writable, FixtureProxy};

use crate::support::{fixtures, Repo, Xtask};

/// A fixture proxy and a module cache, both in a temp dir removed on drop.
pub struct ModuleWorld {
    dir: tempfile::TempDir,
    pub proxy: FixtureProxy,
    pub modcache: Utf8PathBuf,
}

impl ModuleWorld {
    pub fn new() -> ModuleWorld {
        let dir = tempfile::Builder::new()
            .prefix("xtask-go-proxy-")
            .tempdir()
            .unwrap();
        let root = Utf8PathBuf::from_path_buf(dir.path().to_owned()).unwrap();
        let proxy = build_proxy(&fixtures().join("modules"), &root.join("proxy")).unwrap();
        ModuleWorld {
            modcache: root.join("modcache"),
            proxy,
            dir,
        }
    }

    /// A scratch path in the temp dir (not created).
    pub fn path(&self, name: &str) -> Utf8PathBuf {
        Utf8Path::from_path(self.dir.path()).unwrap().join(name)
    }

    /// `xtask` downloading from this proxy into this module cache, with no checksum DB.
    pub fn xtask(&self, repo: &Repo, args: &[&str]) -> Xtask {
        repo.xtask(args)
            .env("GOPROXY", self.proxy.url())
            .env("GOSUMDB", "off")
            .env("GOMODCACHE", &self.modcache)
    }

    /// The cache's download dir of a module version: `<escaped>/@v/<version>.<ext>`.
    pub fn cached(&self, escaped_module: &str, version: &str, ext: &str) -> Utf8PathBuf {
        self.modcache
            .join("cache/download")
            .join(escaped_module)
            .join(format!("@v/{version}.{ext}"))
    }

    /// Writes each module's go.sum under `dirs` (relative to the repo): both lines of every
    /// requirement in its go.mod, as `go mod tidy` would.
    pub fn write_go_sums(&self, repo: &Repo, dirs: &[&str]) {
        for dir in dirs {
            let gomod = GoMod::read(&repo.path(&format!("{dir}/go.mod"))).unwrap();
            let mut text = String::new();
            for require in &gomod.requires {
                let m = &require.module;
                let module = self
                    .proxy
                    .module(&m.path, &m.version)
                    .unwrap_or_else(|| panic!("the fixture proxy has no {}@{}", m.path, m.version));
                text.push_str(&module.go_sum_lines());
            }
            repo.write(&format!("{dir}/go.sum"), &text);
        }
    }
}

impl Drop for ModuleWorld {
    fn drop(&mut self) {
        // go leaves the module cache read-only; the temp dir could not be removed otherwise.
        let _ = make_writable(&self.modcache);
    }
}
