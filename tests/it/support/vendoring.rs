//! Support for the go-vendor tests: a fixture repo whose go.sum files are written from the fixture
//! proxy, a private module cache, and xtask runs pointed at that file:// proxy (never the network).

use camino::{Utf8Path, Utf8PathBuf};
use xtask_test_support::{copy_dir, FixtureProxy};

use crate::support::{fixtures, Outcome, Repo, Xtask};

/// A temp copy of a fixture repo, served by a fixture proxy, with its own module cache.
pub struct VendorRepo {
    pub repo: Repo,
    pub proxy: FixtureProxy,
    pub modcache: Utf8PathBuf,
}

impl VendorRepo {
    /// Copies `tests/fixtures/repos/<name>`, builds the proxy and writes a go.sum next to every
    /// go.mod under go/ holding the hashes of every module version the proxy serves.
    pub fn new(name: &str) -> VendorRepo {
        let repo = Repo::copy_of(name);
        let proxy =
            xtask_test_support::build_proxy(&fixtures().join("modules"), &repo.scratch("proxy"))
                .unwrap();
        let modcache = repo.scratch("modcache");
        let mut pending = vec![repo.path("go")];
        while let Some(dir) = pending.pop() {
            for entry in dir.read_dir_utf8().unwrap() {
                let entry = entry.unwrap();
                if entry.file_type().unwrap().is_dir() {
                    pending.push(entry.path().to_owned());
                } else if entry.file_name() == "go.mod" {
                    std::fs::write(dir.join("go.sum"), proxy.go_sum()).unwrap();
                }
            }
        }
        VendorRepo {
            repo,
            proxy,
            modcache,
        }
    }

    /// `cargo xtask <args>` against the fixture proxy and the private module cache.
    pub fn xtask(&self, args: &[&str]) -> Xtask {
        self.repo
            .xtask(args)
            .env("GOPROXY", self.proxy.url())
            .env("GOSUMDB", "off")
            .env("GOMODCACHE", &self.modcache)
    }

    /// Creates vendor trees with `cargo xtask go-vendor <modules>` (go mod vendor / go work vendor).
    pub fn vendor(&self, modules: &[&str]) -> Outcome {
        let mut args = vec!["go-vendor"];
        args.extend(modules);
        self.xtask(&args).ok()
    }

    /// `go-vendor --check --json`.
    pub fn check(&self) -> Outcome {
        self.xtask(&["go-vendor", "--check", "--json"]).run()
    }

    pub fn path(&self, rel: &str) -> Utf8PathBuf {
        self.repo.path(rel)
    }

    /// Replaces `from` by `to` in a file of the repo (asserting that `from` occurs).
    pub fn edit(&self, rel: &str, from: &str, to: &str) {
        self.repo.edit(rel, from, to)
    }

    /// The zip a proxy would serve for `module@version` if the fixture file `file` of that module
    /// said `to` where it says `from`: a stand-in for a tampered module cache entry.
    pub fn tampered_zip(
        &self,
        module: &str,
        version: &str,
        file: &str,
        from: &str,
        to: &str,
    ) -> Utf8PathBuf {
        let sources = self.repo.scratch("tampered-sources");
        copy_dir(&fixtures().join("modules"), &sources);
        let rel = format!("{module}@{version}/{file}");
        let text = std::fs::read_to_string(sources.join(&rel)).unwrap();
        assert!(text.contains(from));
        std::fs::write(sources.join(&rel), text.replacen(from, to, 1)).unwrap();
        let proxy = xtask_test_support::build_proxy(&sources, &self.repo.scratch("tampered-proxy"))
            .unwrap();
        proxy.dir.join(format!("{module}/@v/{version}.zip"))
    }

    /// `$GOMODCACHE/cache/download/<module>/@v/<version>.zip` (module paths without upper case).
    pub fn cached_zip(&self, module: &str, version: &str) -> Utf8PathBuf {
        self.modcache
            .join(format!("cache/download/{module}/@v/{version}.zip"))
    }

    /// Edits `file` of the module cache's extracted `module@version` (go leaves it read-only).
    pub fn tamper_cached_dir(&self, module: &str, version: &str, file: &str, from: &str, to: &str) {
        let path = self.modcache.join(format!("{module}@{version}/{file}"));
        make_file_writable(&path);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{path} does not contain {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }
}

impl Drop for VendorRepo {
    fn drop(&mut self) {
        // go leaves the module cache read-only; the temp dir could not be removed otherwise.
        let _ = xtask_test_support::make_writable(&self.modcache);
    }
}

/// The `finding` records of a `--json` run.
pub fn findings(out: &Outcome) -> Vec<serde_json::Value> {
    out.json_lines()
        .into_iter()
        .filter(|r| r["reason"] == "finding")
        .collect()
}

/// The single `summary` record of a `--json` run.
pub fn summary(out: &Outcome) -> serde_json::Value {
    let lines = out.json_lines();
    let last = lines
        .last()
        .unwrap_or_else(|| panic!("no JSON output: {out:?}"));
    assert_eq!(last["reason"], "summary", "{out:?}");
    last.clone()
}

/// `(kind, path)` of every finding, sorted.
pub fn kinds_and_paths(out: &Outcome) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = findings(out)
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_owned(),
                f["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    all.sort();
    all
}

/// Makes a read-only file of the module cache writable (to tamper with it).
pub fn make_file_writable(path: &Utf8Path) {
    let mut perms = std::fs::metadata(path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(path, perms).unwrap();
    let parent = path.parent().unwrap();
    let mut perms = std::fs::metadata(parent).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(parent, perms).unwrap();
}
