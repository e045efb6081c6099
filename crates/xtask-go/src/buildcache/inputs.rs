//! A target's input set (its "depfile"): every file of every package in its dependency closure
//! that lives outside the module cache, the directories whose listing decides that closure, and
//! the module-cache dependencies, learnt from `go list -deps` and reused until it may be stale.
//!
//! Paths are stored relative to the project root (absolute when outside it), so an input set
//! learnt in one checkout is valid in a fresh clone of the same commit at another path.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::buildcache::statcache::{hex, FileStamp};
use crate::go::golist::ListedPackage;
use crate::go::gosource::{self, SourceKind};

mod cgo;
mod reads;

pub use reads::ListingReads;

/// Bump when the layout or the meaning of an input set changes.
pub const FORMAT: u32 = 3;

/// A directory whose listing shapes the package set (a package dir, or a dir on an embed path).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirRecord {
    pub path: String,
    /// sha256 over the sorted entry names: content-based, so it holds across checkouts.
    pub listing: String,
}

/// What one target's output depends on, besides its spec and environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputSet {
    pub format: u32,
    /// Every input file (package files and go.mod/go.sum/... control files), sorted.
    pub files: Vec<String>,
    pub dirs: Vec<DirRecord>,
    /// `path@version` of each dependency served from the module cache.
    pub modules: Vec<String>,
    /// The sha256 (or `absent`) of each file that decides the package closure (go.work, go.mod,
    /// go.sum, vendor/modules.txt) when go listed it: a change there means listing again.
    pub control: BTreeMap<String, String>,
    /// The shape (`gosource::shape`) of every Go, C and assembly file of the set when go listed
    /// it: imports, build constraints, embed patterns, cgo directives and includes. The set is
    /// reused only while every changed file keeps its shape.
    pub shapes: BTreeMap<String, String>,
    /// The headers cgo includes from outside the package directories: go does not see their
    /// changes (see `native_digest`).
    pub headers: Vec<String>,
    /// The C libraries the cgo flags link (`-L dir -lname`, a library path), resolved: go does
    /// not see their changes either.
    pub libs: Vec<String>,
}

impl InputSet {
    /// A digest of the native inputs go does not track (outside headers and C libraries: their
    /// paths and contents), or None when there are none. go would reuse a cgo package compiled
    /// against an older header, and `go help cache` says it does not notice a changed library,
    /// so the build names this digest in its cgo flags (`goenv::PinnedEnv::with_native_digest`):
    /// a changed header or library changes go's own action IDs, not only this cache's key.
    pub fn native_digest(&self, root: &Utf8Path) -> Option<String> {
        if self.libs.is_empty() && self.headers.is_empty() {
            return None;
        }
        let mut hasher = Sha256::new();
        for lib in self.headers.iter().chain(&self.libs) {
            let content = crate::buildcache::statcache::sha256_file(&resolve(root, lib))
                .unwrap_or_else(|_| "absent".into());
            hasher.update(format!("{lib}\0{content}\n"));
        }
        Some(hex(&hasher.finalize())[..32].to_string())
    }
}

/// Whether a file decides the package closure, rather than only the content of a package.
pub fn is_control_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    matches!(
        name,
        "go.mod" | "go.sum" | "go.work" | "go.work.sum" | "modules.txt"
    )
}

/// The input set of a package closure as `go list -deps -json` listed it (`golist`).
/// `control` are the project-wide control files (go.work, go.mod, go.sum, modules.txt, ...);
/// `env` is the environment go listed with (its CGO_* flags name native inputs).
pub fn from_listing(
    packages: &[&ListedPackage],
    root: &Utf8Path,
    gomodcache: &Utf8Path,
    control: &[Utf8PathBuf],
    env: &BTreeMap<String, String>,
    reads: &ListingReads,
) -> Result<InputSet> {
    let found = Found::collect(packages, gomodcache, control, env);
    found.into_set(root, reads)
}

/// The absolute paths a listing reaches, before they are made relative and hashed.
struct Found {
    files: Vec<Utf8PathBuf>,
    dirs: Vec<Utf8PathBuf>,
    modules: Vec<String>,
    natives: cgo::Natives,
}

impl Found {
    fn collect(
        packages: &[&ListedPackage],
        gomodcache: &Utf8Path,
        control: &[Utf8PathBuf],
        env: &BTreeMap<String, String>,
    ) -> Found {
        let mut found = Found {
            files: control.to_vec(),
            dirs: Vec::new(),
            modules: Vec::new(),
            natives: cgo::Natives::default(),
        };
        for pkg in packages.iter().filter(|p| !p.standard) {
            match &pkg.module {
                // A dependency in the module cache: go.sum fixes its contents.
                Some(m) if pkg.dir.starts_with(gomodcache) => {
                    let m = m.replace.as_deref().unwrap_or(m);
                    found.modules.push(format!("{}@{}", m.path, m.version));
                }
                _ if pkg.dir.starts_with(gomodcache) => {}
                _ => found.add_package(pkg, gomodcache, env),
            }
        }
        found
    }

    /// A package outside the module cache: its module's go.mod and go.sum, every file go
    /// lists for it, its embedded files, and for cgo the native inputs its flags reach.
    fn add_package(
        &mut self,
        pkg: &ListedPackage,
        gomodcache: &Utf8Path,
        env: &BTreeMap<String, String>,
    ) {
        if let Some(go_mod) = pkg
            .module
            .as_ref()
            .and_then(|m| m.replace.as_deref().unwrap_or(m).go_mod.clone())
        {
            if !go_mod.starts_with(gomodcache) {
                self.files.push(go_mod.with_file_name("go.sum"));
                self.files.push(go_mod);
            }
        }
        self.dirs.push(pkg.dir.clone());
        let lists = [
            &pkg.go_files,
            &pkg.cgo_files,
            &pkg.c_files,
            &pkg.c_x_x_files,
            &pkg.m_files,
            &pkg.h_files,
            &pkg.f_files,
            &pkg.s_files,
            &pkg.swig_files,
            &pkg.swig_c_x_x_files,
            &pkg.syso_files,
            &pkg.ignored_go_files,
            &pkg.ignored_other_files,
        ];
        for name in lists.into_iter().flatten() {
            self.files.push(pkg.dir.join(name));
        }
        if !pkg.cgo_files.is_empty() {
            let sources: Vec<Utf8PathBuf> = [&pkg.cgo_files, &pkg.c_files, &pkg.c_x_x_files]
                .into_iter()
                .chain([&pkg.h_files, &pkg.m_files, &pkg.s_files])
                .flatten()
                .map(|name| pkg.dir.join(name))
                .collect();
            let flags = cgo::PackageFlags {
                dir: &pkg.dir,
                compile: [&pkg.cgo_cflags, &pkg.cgo_cppflags, &pkg.cgo_cxxflags]
                    .into_iter()
                    .flatten()
                    .map(String::as_str)
                    .collect(),
                link: pkg.cgo_ldflags.iter().map(String::as_str).collect(),
            };
            self.natives.add_package(&flags, &sources, env);
        }
        for embedded in &pkg.embed_files {
            let path = pkg.dir.join(embedded);
            // Every directory between the package and an embedded file: a new file there can
            // change what a pattern matches.
            let mut dir = path.parent();
            while let Some(d) = dir.filter(|d| d.starts_with(&pkg.dir) && *d != pkg.dir) {
                self.dirs.push(d.to_owned());
                dir = d.parent();
            }
            self.files.push(path);
        }
    }

    /// The set: paths relative to `root`, sorted; directories' listings and control files
    /// hashed; every source file's shape.
    fn into_set(self, root: &Utf8Path, reads: &ListingReads) -> Result<InputSet> {
        let Found {
            mut files,
            mut dirs,
            mut modules,
            natives,
        } = self;
        let relative = |p: &Utf8Path| {
            p.strip_prefix(root)
                .map_or_else(|_| p.to_string(), |r| r.to_string())
        };
        files.extend(natives.headers.iter().cloned());
        files.extend(natives.libs.iter().cloned());
        dirs.extend(natives.dirs.iter().cloned());
        let mut files: Vec<String> = files.iter().map(|f| relative(f)).collect();
        files.sort();
        files.dedup();
        let sorted = |paths: &std::collections::BTreeSet<Utf8PathBuf>| {
            let mut paths: Vec<String> = paths.iter().map(|f| relative(f)).collect();
            paths.sort();
            paths.dedup();
            paths
        };
        let (headers, libs) = (sorted(&natives.headers), sorted(&natives.libs));
        dirs.sort();
        dirs.dedup();
        let dirs = dirs
            .iter()
            .map(|d| {
                Ok(DirRecord {
                    path: relative(d),
                    listing: reads.listing(d).with_context(|| format!("listing {d}"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        modules.sort();
        modules.dedup();
        let control = files
            .iter()
            .filter(|f| is_control_file(f))
            .map(|f| (f.clone(), reads.control_hash(root, f)))
            .collect();
        let shapes = shapes_of(root, &files, reads);
        Ok(InputSet {
            format: FORMAT,
            files,
            dirs,
            modules,
            control,
            shapes,
            headers,
            libs,
        })
    }
}

/// The shape of every source file among `files` (a file that cannot be read has none, and
/// is then a changed shape for `changed_shape`).
fn shapes_of(root: &Utf8Path, files: &[String], reads: &ListingReads) -> BTreeMap<String, String> {
    let sources: Vec<(&String, SourceKind)> = files
        .iter()
        .filter_map(|f| Some((f, gosource::source_kind(f)?)))
        .collect();
    let shapes: Vec<_> = sources
        .par_iter()
        .map(|(file, kind)| Some(((*file).clone(), reads.shape(root, file, *kind)?)))
        .collect();
    shapes.into_iter().flatten().collect()
}

/// The absolute path of a stored (root-relative or absolute) path.
pub fn resolve(root: &Utf8Path, stored: &str) -> Utf8PathBuf {
    let path = Utf8Path::new(stored);
    if path.is_absolute() {
        path.to_owned()
    } else {
        root.join(path)
    }
}

/// sha256 over a directory's sorted entry names (one per line).
pub fn listing_hash(dir: &Utf8Path) -> std::io::Result<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    names.sort();
    let mut hasher = Sha256::new();
    for name in names {
        hasher.update(name.as_bytes());
        hasher.update(b"\n");
    }
    Ok(hex(&hasher.finalize()))
}

impl InputSet {
    /// Whether every recorded directory still lists the same names. `known` holds directory
    /// stamps under which the listing was last seen equal, to skip the read: a directory whose
    /// stamp is unchanged has not gained or lost an entry.
    pub fn dirs_unchanged(&self, root: &Utf8Path, known: &BTreeMap<String, FileStamp>) -> bool {
        self.dirs.iter().all(|d| {
            let path = resolve(root, &d.path);
            match (FileStamp::of(&path), known.get(&d.path)) {
                (Ok(now), Some(before)) if now == *before => true,
                _ => listing_hash(&path).is_ok_and(|h| h == d.listing),
            }
        })
    }

    /// The current stamps of the recorded directories (for `dirs_unchanged` next time), except
    /// those changed too recently to prove anything (racy): those are listed again next time.
    pub fn dir_stamps(&self, root: &Utf8Path) -> BTreeMap<String, FileStamp> {
        let now = crate::buildcache::statcache::now_ns();
        self.dirs
            .iter()
            .filter_map(|d| {
                FileStamp::of(&resolve(root, &d.path))
                    .ok()
                    .filter(|s| !s.is_recent(now))
                    .map(|s| (d.path.clone(), s))
            })
            .collect()
    }

    /// The first source file whose shape is no longer the one go listed with (so the set may
    /// not be this build's), or None when every shape holds. `now` maps each file to its
    /// current sha256 (the key's `files`); `proven` to contents whose shapes are known to hold
    /// (the last build's, made with this set): files equal there are not read again.
    pub fn changed_shape(
        &self,
        root: &Utf8Path,
        now: &BTreeMap<String, String>,
        proven: Option<&BTreeMap<String, String>>,
    ) -> Option<String> {
        let doubtful: Vec<(&String, &String)> = self
            .shapes
            .iter()
            .filter(|(file, _)| {
                let current = now.get(*file);
                current.is_none() || proven.and_then(|p| p.get(*file)) != current
            })
            .collect();
        let changed: Vec<_> = doubtful
            .par_iter()
            .map(|(file, shape)| {
                let kind = gosource::source_kind(file)?;
                let now = std::fs::read(resolve(root, file))
                    .ok()
                    .map(|bytes| gosource::shape(kind, &bytes));
                (now.as_ref() != Some(*shape)).then(|| (*file).clone())
            })
            .collect();
        changed.into_iter().flatten().next()
    }

    /// Checks what a stored input set claims before it is trusted: its format and its paths.
    pub fn validate(&self) -> Result<()> {
        if self.format != FORMAT {
            bail!("input set format {} (expected {FORMAT})", self.format);
        }
        let named = self.dirs.iter().map(|d| &d.path);
        let named = named.chain(self.shapes.keys()).chain(&self.libs);
        for path in self.files.iter().chain(named) {
            if Utf8Path::new(path)
                .components()
                .any(|c| matches!(c, camino::Utf8Component::ParentDir))
            {
                bail!("input set names `{path}`, which climbs out with `..`");
            }
        }
        Ok(())
    }
}
