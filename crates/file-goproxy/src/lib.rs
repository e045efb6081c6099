//! file-goproxy: builds a `file://` GOPROXY from Go module sources kept as plain files, so tests
//! and benchmarks can run the real `go` without reaching the network. The benchmarks (`xtask`'s
//! `bench/`) depend on it directly; tests reach it through `xtask-test-support`, which re-exports it.
//!
//! Sources ("fixtures") live in `<fixtures>/<module path>@<version>/...` (unescaped paths, see
//! `tests/fixtures/modules/README.md`). [`build_proxy`] writes the proxy layout go expects:
//! `<escaped module>/@v/{list, <v>.info, <v>.mod, <v>.zip}`, with deterministic zips, and
//! computes each module's go.sum hashes with [`xtask_go::gosum`].

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write as _;

use anyhow::{bail, ensure, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xtask_go::dirhash;
use xtask_go::gosum;

/// The timestamp of every `.info` file.
pub const FIXTURE_TIME: &str = "2024-01-01T00:00:00Z";

/// A built proxy directory and the modules it serves.
#[derive(Clone, Debug)]
pub struct FixtureProxy {
    /// Absolute, canonical path of the proxy's base directory.
    pub dir: Utf8PathBuf,
    /// Every module version, sorted by module path then version.
    pub modules: Vec<FixtureModule>,
}

/// One module version served by a [`FixtureProxy`], with the hashes go records in go.sum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixtureModule {
    pub path: String,
    pub version: String,
    /// `h1:` hash of the module zip (go.sum `<path> <version> h1:...`).
    pub zip_sum: String,
    /// `h1:` hash of the `.mod` file (go.sum `<path> <version>/go.mod h1:...`).
    pub mod_sum: String,
}

impl FixtureModule {
    /// This version's two go.sum lines, newline-terminated.
    pub fn go_sum_lines(&self) -> String {
        let (path, version) = (&self.path, &self.version);
        format!(
            "{path} {version} {}\n{path} {version}/go.mod {}\n",
            self.zip_sum, self.mod_sum
        )
    }
}

impl FixtureProxy {
    /// The GOPROXY value: `file:///abs/path`.
    pub fn url(&self) -> String {
        format!("file://{}", self.dir)
    }

    /// The module version, if the proxy serves it.
    pub fn module(&self, path: &str, version: &str) -> Option<&FixtureModule> {
        self.modules
            .iter()
            .find(|m| m.path == path && m.version == version)
    }

    /// The go.sum lines of every served version of `module`, in go's order.
    pub fn go_sum_lines(&self, module: &str) -> String {
        self.modules
            .iter()
            .filter(|m| m.path == module)
            .map(FixtureModule::go_sum_lines)
            .collect()
    }

    /// The go.sum lines of every served module version.
    pub fn go_sum(&self) -> String {
        self.modules
            .iter()
            .map(FixtureModule::go_sum_lines)
            .collect()
    }

    /// Environment for a hermetic `go` run against this proxy: no checksum DB, no toolchain
    /// switching, no user env file or workspace, and the given (absolute) module and build caches.
    pub fn go_env(&self, gomodcache: &Utf8Path, gocache: &Utf8Path) -> Vec<(&'static str, String)> {
        vec![
            ("GOPROXY", self.url()),
            ("GOSUMDB", "off".to_owned()),
            ("GOFLAGS", "-mod=mod".to_owned()),
            ("GOTOOLCHAIN", "local".to_owned()),
            ("GOENV", "off".to_owned()),
            ("GOWORK", "off".to_owned()),
            ("GOPRIVATE", String::new()),
            ("GONOPROXY", String::new()),
            ("GONOSUMDB", String::new()),
            ("GOMODCACHE", gomodcache.to_string()),
            ("GOCACHE", gocache.to_string()),
        ]
    }
}

/// Builds a proxy in `out` (created if missing) from the fixture modules under `fixtures`.
pub fn build_proxy(fixtures: &Utf8Path, out: &Utf8Path) -> Result<FixtureProxy> {
    let sources = find_fixture_modules(fixtures)?;
    ensure!(
        !sources.is_empty(),
        "no `<module>@<version>` directories under {fixtures}"
    );
    std::fs::create_dir_all(out).with_context(|| format!("creating proxy dir {out}"))?;
    let dir = out
        .canonicalize_utf8()
        .with_context(|| format!("resolving proxy dir {out}"))?;

    let mut versions_by_module: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut modules = Vec::with_capacity(sources.len());
    for source in &sources {
        versions_by_module
            .entry(&source.path)
            .or_default()
            .push(&source.version);
        modules.push(write_module(source, &dir)?);
    }
    for (module, versions) in &mut versions_by_module {
        versions.sort_by_key(|v| version_order_key(v));
        let list = dir.join(gosum::escape_path(module)?).join("@v/list");
        let text: String = versions.iter().map(|v| format!("{v}\n")).collect();
        std::fs::write(&list, text).with_context(|| format!("writing {list}"))?;
    }
    modules.sort_by(|a, b| {
        (a.path.as_str(), version_order_key(&a.version))
            .cmp(&(b.path.as_str(), version_order_key(&b.version)))
    });
    Ok(FixtureProxy { dir, modules })
}

/// A fixture module version on disk.
struct FixtureSource {
    path: String,
    version: String,
    dir: Utf8PathBuf,
}

fn find_fixture_modules(fixtures: &Utf8Path) -> Result<Vec<FixtureSource>> {
    let mut found = Vec::new();
    let mut pending = vec![fixtures.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in dir
            .read_dir_utf8()
            .with_context(|| format!("listing fixture dir {dir}"))?
        {
            let entry = entry.with_context(|| format!("listing fixture dir {dir}"))?;
            if !entry
                .file_type()
                .with_context(|| format!("reading {}", entry.path()))?
                .is_dir()
            {
                continue;
            }
            let Some((last, version)) = entry.file_name().split_once('@') else {
                pending.push(entry.path().to_owned());
                continue;
            };
            let parent = dir
                .strip_prefix(fixtures)
                .expect("walk stays under the fixtures dir");
            let path = if parent.as_str().is_empty() {
                last.to_owned()
            } else {
                format!("{parent}/{last}")
            };
            ensure!(
                version.starts_with('v'),
                "fixture {}: version {version:?} lacks a leading v",
                entry.path()
            );
            found.push(FixtureSource {
                path,
                version: version.to_owned(),
                dir: entry.path().to_owned(),
            });
        }
    }
    Ok(found)
}

/// Writes `<v>.info`, `<v>.mod` and `<v>.zip` of one module version and returns its hashes.
fn write_module(source: &FixtureSource, proxy_dir: &Utf8Path) -> Result<FixtureModule> {
    let FixtureSource { path, version, dir } = source;
    let files = module_files(dir)?;

    let mod_bytes = match files.get("go.mod") {
        Some(bytes) => {
            check_module_line(bytes, path).with_context(|| format!("fixture {dir}/go.mod"))?;
            bytes.clone()
        }
        None => format!("module {path}\n").into_bytes(),
    };

    let at_v = proxy_dir.join(gosum::escape_path(path)?).join("@v");
    std::fs::create_dir_all(&at_v).with_context(|| format!("creating {at_v}"))?;
    let escaped_version = gosum::escape_version(version)?;
    let file_named = |ext: &str| at_v.join(format!("{escaped_version}.{ext}"));

    let info = format!(
        r#"{{"Version":{},"Time":"{FIXTURE_TIME}"}}"#,
        serde_json::to_string(version)?
    );
    write_file(&file_named("info"), info.as_bytes())?;
    write_file(&file_named("mod"), &mod_bytes)?;

    let prefix = format!("{path}@{version}");
    let zip_path = file_named("zip");
    write_zip(&zip_path, &prefix, &files)?;

    let zip_sum = dirhash::hash1(
        files
            .iter()
            .map(|(name, bytes)| (format!("{prefix}/{name}"), dirhash::sha256(bytes))),
    );
    Ok(FixtureModule {
        path: path.clone(),
        version: version.clone(),
        zip_sum,
        mod_sum: dirhash::hash_mod_file(&mod_bytes),
    })
}

/// Every regular file of a module dir by slash-separated relative name, sorted bytewise.
fn module_files(root: &Utf8Path) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in dir
            .read_dir_utf8()
            .with_context(|| format!("listing {dir}"))?
        {
            let entry = entry.with_context(|| format!("listing {dir}"))?;
            let file_type = entry
                .file_type()
                .with_context(|| format!("reading {}", entry.path()))?;
            if file_type.is_dir() {
                pending.push(entry.path().to_owned());
            } else if file_type.is_file() {
                let rel = entry
                    .path()
                    .strip_prefix(root)
                    .expect("walk stays under the module dir");
                let bytes = std::fs::read(entry.path())
                    .with_context(|| format!("reading {}", entry.path()))?;
                files.insert(rel.as_str().replace('\\', "/"), bytes);
            } else {
                bail!("fixture {}: not a regular file or directory", entry.path());
            }
        }
    }
    Ok(files)
}

fn check_module_line(go_mod: &[u8], expected: &str) -> Result<()> {
    let text = std::str::from_utf8(go_mod).context("go.mod is not UTF-8")?;
    let declared = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("module "))
        .map(|rest| rest.trim().trim_matches('"'))
        .context("go.mod has no module line")?;
    ensure!(
        declared == expected,
        "go.mod declares module {declared:?}, but the fixture dir says {expected:?}"
    );
    Ok(())
}

/// Writes a module zip with entries `<prefix>/<name>` in `files` order, fixed times and modes.
fn write_zip(zip_path: &Utf8Path, prefix: &str, files: &BTreeMap<String, Vec<u8>>) -> Result<()> {
    let file = File::create(zip_path).with_context(|| format!("creating {zip_path}"))?;
    let mut writer = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    for (name, bytes) in files {
        let entry = format!("{prefix}/{name}");
        writer
            .start_file(entry.as_str(), options)
            .with_context(|| format!("adding {entry} to {zip_path}"))?;
        writer
            .write_all(bytes)
            .with_context(|| format!("writing {entry} to {zip_path}"))?;
    }
    writer
        .finish()
        .with_context(|| format!("finishing {zip_path}"))?;
    Ok(())
}

fn write_file(path: &Utf8Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {path}"))
}

/// Orders `vMAJOR.MINOR.PATCH[-pre]` like semver (releases after their pre-releases; pre-releases
/// compared as strings, enough for fixtures); anything else sorts first, by string.
fn version_order_key(version: &str) -> (Option<[u64; 3]>, bool, &str) {
    let (core, pre) = match version.split_once(['-', '+']) {
        Some((core, _)) => (core, version.get(core.len()..).unwrap_or("")),
        None => (version, ""),
    };
    let numbers: Option<Vec<u64>> = core
        .strip_prefix('v')
        .and_then(|c| c.split('.').map(|n| n.parse().ok()).collect());
    let triple = numbers.and_then(|n| <[u64; 3]>::try_from(n).ok());
    (triple, pre.is_empty() || pre.starts_with('+'), pre)
}

/// Makes every file and dir under `root` writable by its owner, so a module cache go left
/// read-only can be deleted (e.g. before a temp dir is dropped). A missing `root` is fine.
pub fn make_writable(root: &Utf8Path) -> Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(root) else {
        return Ok(());
    };
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let mut perms = meta.permissions();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        perms.set_mode(perms.mode() | 0o200);
    }
    #[cfg(not(unix))]
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(root, perms).with_context(|| format!("making {root} writable"))?;
    if meta.is_dir() {
        for entry in root
            .read_dir_utf8()
            .with_context(|| format!("listing {root}"))?
        {
            make_writable(entry.with_context(|| format!("listing {root}"))?.path())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::version_order_key;

    #[test]
    fn orders_versions_like_semver() {
        let mut versions = vec![
            "v1.10.0",
            "v1.2.0",
            "v1.2.0-rc.1",
            "v2.0.0",
            "v1.2.0+meta",
            "junk",
        ];
        versions.sort_by_key(|v| version_order_key(v));
        assert_eq!(
            versions,
            [
                "junk",
                "v1.2.0-rc.1",
                "v1.2.0",
                "v1.2.0+meta",
                "v1.10.0",
                "v2.0.0"
            ]
        );
    }
}
