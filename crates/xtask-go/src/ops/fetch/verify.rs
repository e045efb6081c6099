//! `--verify`: the module cache against go.sum, like `go mod verify` — each zip
//! ([`dirhash::hash_zip`]), each extracted directory ([`dirhash::hash_dir`]) and each `.mod` file.

use anyhow::Result;
use camino::Utf8PathBuf;
use serde::Serialize;

use crate::go::dirhash;
use crate::ops::fetch::needs::{CacheFiles, Need, RecordedSum};

/// A cache entry whose hash differs from a go.sum line.
#[derive(Debug, Clone, Serialize)]
pub struct Tampered {
    pub module: String,
    pub version: String,
    /// `zip`, `dir` or `go.mod`.
    pub what: &'static str,
    pub path: Utf8PathBuf,
    /// The go.sum file and its hash.
    pub go_sum: Utf8PathBuf,
    pub expected: String,
    pub actual: String,
}

impl std::fmt::Display for Tampered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let suffix = if self.what == "go.mod" { "/go.mod" } else { "" };
        write!(
            f,
            "{}@{}: {} {} has hash {}, but {} says `{} {}{suffix} {}`; remove it with `go clean -modcache` \
             (or delete the file) and run `cargo xtask go-fetch` again",
            self.module,
            self.version,
            self.what,
            self.path,
            self.actual,
            self.go_sum,
            self.module,
            self.version,
            self.expected
        )
    }
}

/// Checks every need in the cache against its go.sum lines, `jobs` at a time.
pub fn verify(needs: &[Need], gomodcache: &camino::Utf8Path, jobs: usize) -> Result<Vec<Tampered>> {
    let results = crate::util::par::map_on(jobs, needs, |need| verify_one(need, gomodcache));
    let mut all = Vec::new();
    for r in results {
        all.extend(r?);
    }
    Ok(all)
}

fn verify_one(need: &Need, gomodcache: &camino::Utf8Path) -> Result<Vec<Tampered>> {
    let files = CacheFiles::of(gomodcache, &need.path, &need.version)?;
    let mut found = Vec::new();
    let mut compare =
        |what: &'static str, path: &Utf8PathBuf, actual: String, sums: &[RecordedSum]| {
            for sum in sums.iter().filter(|s| s.hash != actual) {
                found.push(Tampered {
                    module: need.path.clone(),
                    version: need.version.clone(),
                    what,
                    path: path.clone(),
                    go_sum: sum.file.clone(),
                    expected: sum.hash.clone(),
                    actual: actual.clone(),
                });
            }
        };
    if files.mod_file.is_file() {
        let bytes = std::fs::read(&files.mod_file)?;
        compare(
            "go.mod",
            &files.mod_file,
            dirhash::hash_mod_file(&bytes),
            &need.mod_sums,
        );
    }
    if need.zip && files.zip.is_file() {
        compare(
            "zip",
            &files.zip,
            dirhash::hash_zip(&files.zip)?,
            &need.zip_sums,
        );
    }
    if need.zip && files.dir.is_dir() {
        let prefix = format!("{}@{}", need.path, need.version);
        compare(
            "dir",
            &files.dir,
            dirhash::hash_dir(&files.dir, &prefix)?,
            &need.zip_sums,
        );
    }
    Ok(found)
}
