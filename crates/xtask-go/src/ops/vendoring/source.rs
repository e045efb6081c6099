//! Where a vendored module's true contents come from, and why they can be trusted: the module
//! cache's extracted directory if its `h1:` hash equals go.sum's (what `go mod verify` checks;
//! plain reads, no inflating); else the module cache's zip, verified the same way; if neither
//! matches, a download (see `trust`: a tampered cache is never trusted);
//! for a replacement by a local directory, that directory.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use serde::Deserialize;

use super::expected::{directly_needed, embed_candidates};
use crate::go::dirhash;
use crate::go::gosum::{self, GoSum};
use crate::host::toolchain::{self, Toolchain};

/// Where a module's contents were read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The module cache's extracted directory, whose hash equals go.sum's.
    CacheDir(Utf8PathBuf),
    /// A module zip whose hash equals go.sum's; `fresh` when downloaded for this check.
    Zip { zip: Utf8PathBuf, fresh: bool },
    /// A replacement by a local directory.
    Dir(Utf8PathBuf),
}

impl Origin {
    /// How findings name the reference a vendored file was compared to.
    pub fn describe(&self) -> String {
        match self {
            Origin::CacheDir(_) => "the go.sum-verified module cache".to_owned(),
            Origin::Zip { .. } => "the go.sum-verified zip".to_owned(),
            Origin::Dir(dir) => format!("the replacement directory {dir}"),
        }
    }
}

/// The files of one module version that vendoring can need (module-relative paths).
#[derive(Debug, Clone)]
pub struct ModuleSource {
    pub origin: Origin,
    pub files: BTreeMap<String, Vec<u8>>,
    /// Every file of the module, read or not.
    pub names: BTreeSet<String>,
}

/// What is read of a module: every file's name, and the contents of those vendoring can need.
#[derive(Debug, Default)]
pub struct ModuleFiles {
    pub names: BTreeSet<String>,
    pub files: BTreeMap<String, Vec<u8>>,
}

/// Reads, by `read`, what vendoring `package_dirs` can need of a module whose files are
/// `names`: go.mod, LICENSE-like files and the files of the package directories, then the files
/// their `//go:embed` patterns can name (not every file below a package: `testdata/` and
/// subdirectories nothing embeds stay unread).
pub fn read_needed(
    names: BTreeSet<String>,
    package_dirs: &BTreeSet<String>,
    mut read: impl FnMut(&str) -> Result<Vec<u8>>,
) -> Result<ModuleFiles> {
    let mut files = BTreeMap::new();
    for rel in names.iter().filter(|r| directly_needed(r, package_dirs)) {
        files.insert(rel.clone(), read(rel)?);
    }
    for rel in embed_candidates(&names, package_dirs, &files) {
        let bytes = read(&rel)?;
        files.insert(rel, bytes);
    }
    Ok(ModuleFiles { names, files })
}

impl ModuleSource {
    /// The `go` directive of the module's own go.mod, if any.
    pub fn go_version(&self) -> Option<String> {
        let text = String::from_utf8_lossy(self.files.get("go.mod")?);
        text.lines()
            .find_map(|l| l.trim().strip_prefix("go "))
            .map(|v| v.split("//").next().unwrap_or(v).trim().to_owned())
    }
}

/// The result of checking a module cache zip against go.sum.
pub enum ZipState {
    Verified(Utf8PathBuf),
    Missing,
    Mismatch { zip: Utf8PathBuf, found: String },
}

/// `$GOMODCACHE/<escaped path>@<escaped version>`: the module as go extracted it.
pub fn cached_dir(gomodcache: &Utf8Path, path: &str, version: &str) -> Result<Utf8PathBuf> {
    Ok(gomodcache.join(format!(
        "{}@{}",
        gosum::escape_path(path)?,
        gosum::escape_version(version)?
    )))
}

/// `$GOMODCACHE/cache/download/<escaped path>/@v/<escaped version>.zip`.
pub fn cached_zip(gomodcache: &Utf8Path, path: &str, version: &str) -> Result<Utf8PathBuf> {
    Ok(gomodcache.join(format!(
        "cache/download/{}/@v/{}.zip",
        gosum::escape_path(path)?,
        gosum::escape_version(version)?
    )))
}

/// Checks the module cache's zip of `path@version` against `want` (go.sum's hash).
pub fn check_cached_zip(
    gomodcache: &Utf8Path,
    path: &str,
    version: &str,
    want: &str,
) -> Result<ZipState> {
    let zip = cached_zip(gomodcache, path, version)?;
    if !zip.is_file() {
        return Ok(ZipState::Missing);
    }
    let found = dirhash::hash_zip(&zip)?;
    Ok(if found == want {
        ZipState::Verified(zip)
    } else {
        ZipState::Mismatch { zip, found }
    })
}

/// Reads the entries of a verified module zip that vendoring of `package_dirs` can need.
pub fn read_zip(
    zip: &Utf8Path,
    prefix: &str,
    package_dirs: &BTreeSet<String>,
) -> Result<ModuleFiles> {
    let file = std::fs::File::open(zip).with_context(|| format!("opening module zip {zip}"))?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file))
        .with_context(|| format!("reading module zip {zip}"))?;
    let mut names = BTreeSet::new();
    for name in archive.file_names() {
        if name.ends_with('/') {
            continue;
        }
        let Some(rel) = name.strip_prefix(prefix).and_then(|r| r.strip_prefix('/')) else {
            bail!("module zip {zip}: entry {name} lacks the prefix {prefix}/");
        };
        names.insert(rel.to_owned());
    }
    read_needed(names, package_dirs, |rel| {
        let mut entry = archive
            .by_name(&format!("{prefix}/{rel}"))
            .with_context(|| format!("reading {rel} from {zip}"))?;
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry
            .read_to_end(&mut bytes)
            .with_context(|| format!("reading {rel} from {zip}"))?;
        Ok(bytes)
    })
}

/// Reads a local replacement directory like go's copyDir sees it: regular files only, without
/// nested modules (directories holding a go.mod), .git or vendor/ directories; symlinks are not
/// followed (walkdir's default) and are no regular file.
pub fn read_dir_tree(root: &Utf8Path, package_dirs: &BTreeSet<String>) -> Result<ModuleFiles> {
    // The root's own errors as before (walkdir would yield a file root as an entry).
    std::fs::read_dir(root).with_context(|| format!("listing {root}"))?;
    let mut names = BTreeSet::new();
    let walk = walkdir::WalkDir::new(root)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| {
            !e.file_type().is_dir()
                || !(matches!(e.file_name().to_str(), Some(".git" | "vendor"))
                    || e.path().join("go.mod").exists())
        });
    for entry in walk {
        let entry = entry.with_context(|| format!("listing {root}"))?;
        let path = Utf8Path::from_path(entry.path()).with_context(|| {
            format!(
                "listing {root}: a name that is not UTF-8: {:?}",
                entry.path()
            )
        })?;
        let rel = path
            .strip_prefix(root)
            .expect("walkdir yields paths below its root")
            .components()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join("/");
        if entry.file_type().is_file() {
            names.insert(rel);
        }
    }
    read_needed(names, package_dirs, |rel| {
        let path = root.join(rel);
        std::fs::read(&path).with_context(|| format!("reading {path}"))
    })
}

/// One line of `go mod download -json`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Downloaded {
    path: String,
    version: String,
    zip: Option<Utf8PathBuf>,
    error: Option<String>,
}

/// Downloads `modules` (path, version) into the module cache `gomodcache`, in one go process
/// run from a scratch directory `cwd` (so no go.mod or go.sum of the repo is touched) that
/// holds a go.mod and a go.sum of `go_sum` (the lines go.sum records for them): go then
/// verifies each download against go.sum before it writes it to the cache, and refuses a
/// mismatch. Returns each module's zip or the error go gave.
pub fn download(
    toolchain: &Toolchain,
    env: &BTreeMap<String, String>,
    gomodcache: &Utf8Path,
    cwd: &Utf8Path,
    go_sum: &str,
    modules: &[(String, String)],
) -> Result<BTreeMap<(String, String), Result<Utf8PathBuf, String>>> {
    std::fs::create_dir_all(cwd).with_context(|| format!("creating {cwd}"))?;
    let write = |name: &str, text: &str| {
        let file = cwd.join(name);
        std::fs::write(&file, text).with_context(|| format!("writing {file}"))
    };
    write("go.mod", "module xtask-go.invalid/vendor-check\n")?;
    write("go.sum", go_sum)?;
    let mut env = env.clone();
    env.insert("GOMODCACHE".into(), gomodcache.to_string());
    env.insert("GOWORK".into(), "off".into());
    env.insert("GOFLAGS".into(), "-mod=mod".into());
    let spec = toolchain
        .go(cwd, &env)
        .args(["mod", "download", "-json"])
        .args(modules.iter().map(|(p, v)| format!("{p}@{v}")));
    let out = toolchain::run(&spec)?;
    let mut result = BTreeMap::new();
    for item in serde_json::Deserializer::from_slice(&out.stdout).into_iter::<Downloaded>() {
        let item = item.with_context(|| format!("parsing the output of `{}`", spec.display()))?;
        let value = match (item.zip, item.error) {
            (_, Some(err)) => Err(err),
            (Some(zip), None) => Ok(zip),
            (None, None) => Err("go reported no zip".to_owned()),
        };
        result.insert((item.path, item.version), value);
    }
    for (p, v) in modules {
        result.entry((p.clone(), v.clone())).or_insert_with(|| {
            Err(format!(
                "`go mod download` did not report it: {}",
                out.stderr_str().trim()
            ))
        });
    }
    Ok(result)
}

/// The go.sum lines (zip and go.mod hashes) that `sums` record for `modules`.
pub fn go_sum_lines(sums: &[GoSum], modules: &[(String, String)]) -> String {
    let mut out = String::new();
    for (path, version) in modules {
        if let Some(h) = want_hash(sums, path, version) {
            out.push_str(&format!("{path} {version} {h}\n"));
        }
        if let Some(h) = sums.iter().find_map(|s| s.mod_hash(path, version)) {
            out.push_str(&format!("{path} {version}/go.mod {h}\n"));
        }
    }
    out
}

/// The zip hash go.sum records for `path@version`, from any of `sums` (go.sum files, go.work.sum).
pub fn want_hash<'a>(sums: &'a [GoSum], path: &str, version: &str) -> Option<&'a str> {
    sums.iter().find_map(|s| s.zip_hash(path, version))
}

/// Removes a private module cache that go left read-only.
pub fn remove_private_cache(dir: &Utf8Path) {
    fn writable(path: &std::path::Path) {
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return;
        };
        if meta.file_type().is_symlink() {
            return;
        }
        let mut perms = meta.permissions();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            perms.set_mode(perms.mode() | 0o700);
        }
        #[cfg(not(unix))]
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        let _ = std::fs::set_permissions(path, perms);
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(path) {
                for entry in entries.flatten() {
                    writable(&entry.path());
                }
            }
        }
    }
    writable(dir.as_std_path());
    let _ = std::fs::remove_dir_all(dir);
}
