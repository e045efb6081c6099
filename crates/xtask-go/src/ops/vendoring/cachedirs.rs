//! Module cache directories checked against go.sum's `h1:` hash (what `go mod verify` checks),
//! keeping the files vendoring can need: hashed whole the first time, then, while every stamp
//! of the directory holds (`verified`), trusted by their stamps: only the needed files are
//! read, and each is stat'ed again after the read.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::{ensure, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use super::expected::may_be_needed;
use super::source::{cached_dir, read_needed, ModuleFiles};
use super::verified::{DirStamps, Key, VerifiedDirs};
use crate::go::dirhash;
use crate::util::fsutil;
use crate::util::report::Reporter;
use crate::util::stamp::FileStamp;

/// A module's files (module-relative paths) and their contents.
type Files = BTreeMap<String, Vec<u8>>;

/// Module-relative paths with their stamps.
type Stamped = Vec<(String, FileStamp)>;

/// One module whose module cache directory is to be checked against go.sum.
pub struct DirCheck<'a> {
    pub path: &'a str,
    pub version: &'a str,
    /// go.sum's `h1:` hash of the module.
    pub want: &'a str,
    /// The package directories vendoring can need files of (module-relative).
    pub package_dirs: BTreeSet<String>,
}

impl DirCheck<'_> {
    fn key(&self, dir: &Utf8Path) -> Key {
        Key {
            module: format!("{}@{}", self.path, self.version),
            hash: self.want.to_owned(),
            dir: dir.to_owned(),
        }
    }
}

/// The result of checking a module cache directory against go.sum.
pub enum DirState {
    /// It matches; with the files vendoring can need, read on the way; `by_stamps` when its
    /// stamps held since it was verified (its other files were not read).
    Verified {
        files: ModuleFiles,
        by_stamps: bool,
    },
    Missing,
    Mismatch {
        dir: Utf8PathBuf,
        found: String,
    },
}

/// Checks the module cache directories of `modules` against go.sum, keeping the files
/// vendoring can need; `memo` vouches for those whose stamps all hold since they were verified,
/// and learns those verified now. The files of all modules are read on one pool of threads:
/// with a cold page cache, many reads in flight are what makes this fast. A directory that
/// cannot be listed or read is an error for its module alone.
pub fn check_cached_dirs(
    gomodcache: &Utf8Path,
    modules: &[DirCheck<'_>],
    memo: &VerifiedDirs,
) -> Vec<Result<DirState>> {
    let dirs: Vec<Result<Option<Utf8PathBuf>>> = modules
        .iter()
        .map(|m| {
            let dir = cached_dir(gomodcache, m.path, m.version)?;
            Ok(dir.is_dir().then_some(dir))
        })
        .collect();
    let indices: Vec<usize> = (0..modules.len()).collect();
    let remembered = crate::util::par::io_map(&indices, |&i| {
        let dir = dirs[i].as_ref().ok()?.as_ref()?;
        let files = memo.holding(&modules[i].key(dir))?;
        read_remembered(dir, &files, &modules[i].package_dirs)
    });
    let to_hash: Vec<(usize, &Utf8Path)> = dirs
        .iter()
        .enumerate()
        .filter(|(i, _)| remembered[*i].is_none())
        .filter_map(|(i, d)| Some((i, d.as_ref().ok()?.as_deref()?)))
        .collect();
    let mut hashed = hash_dirs(modules, &to_hash, memo).into_iter();
    let mut remembered = remembered.into_iter();
    dirs.into_iter()
        .map(|dir| {
            let from_memo = remembered.next().expect("one per module");
            match dir? {
                None => Ok(DirState::Missing),
                Some(_) => match from_memo {
                    Some(files) => Ok(DirState::Verified {
                        files,
                        by_stamps: true,
                    }),
                    None => hashed.next().expect("one per directory hashed"),
                },
            }
        })
        .collect()
}

/// Says how many directories were hashed (a mismatch too) and how many trusted by their stamps.
pub fn say_verified(states: &[Result<DirState>], reporter: &Reporter) {
    let (mut hashed, mut by_stamps) = (0, 0);
    for state in states {
        match state {
            Ok(DirState::Verified {
                by_stamps: true, ..
            }) => by_stamps += 1,
            Ok(DirState::Verified { .. } | DirState::Mismatch { .. }) => hashed += 1,
            _ => {}
        }
    }
    if hashed + by_stamps > 0 {
        let all = hashed + by_stamps;
        reporter.status(
            "Verified",
            &format!(
                "{all} module cache directories against go.sum: {hashed} hashed, {by_stamps} \
                 by their files' stamps (unchanged since verified)"
            ),
        );
    }
}

/// The files of a remembered directory that vendoring of `package_dirs` can need, each read
/// and then stat'ed through the open file: None (hash it all again) if any stamp moved from the
/// one it was verified with, before or while it was read.
fn read_remembered(
    dir: &Utf8Path,
    files: &Stamped,
    package_dirs: &BTreeSet<String>,
) -> Option<ModuleFiles> {
    let verified: HashMap<&str, FileStamp> = files.iter().map(|(r, s)| (r.as_str(), *s)).collect();
    let names = files.iter().map(|(rel, _)| rel.clone()).collect();
    read_needed(names, package_dirs, |rel| {
        let path = dir.join(rel);
        let want = verified.get(rel).copied();
        let size = want.map_or(0, |s| s.size as usize);
        let mut file = std::fs::File::open(&path).with_context(|| format!("opening {path}"))?;
        let bytes =
            fsutil::read_sized(&mut file, size).with_context(|| format!("reading {path}"))?;
        // After the read, through the open file: a ctime never goes back, so the stamp it was
        // verified with, seen now, means no write since then, before or while it was read.
        let after = FileStamp::from_metadata(&file.metadata()?);
        ensure!(Some(after) == want, "{path} changed since it was verified");
        Ok(bytes)
    })
    .ok()
}

/// Opens `path`, takes its stamp from the open file, then reads it: a change after the stamp
/// was taken moves it, so a stamp remembered from here proves the bytes read.
fn read_stamped(path: &Utf8Path) -> Result<(Vec<u8>, FileStamp)> {
    let mut file = std::fs::File::open(path).with_context(|| format!("opening {path}"))?;
    read_open(&mut file, path)
}

/// The stamp of an open file (one fstat), then its bytes.
fn read_open(file: &mut std::fs::File, path: &Utf8Path) -> Result<(Vec<u8>, FileStamp)> {
    let meta = file.metadata().with_context(|| format!("reading {path}"))?;
    let bytes =
        fsutil::read_sized(file, meta.len() as usize).with_context(|| format!("reading {path}"))?;
    Ok((bytes, FileStamp::from_metadata(&meta)))
}

/// A module directory listed as go's dirhash sees it: every directory's stamp (taken before it
/// is listed), and every file below (a symlink counts as one, not followed) by module-relative
/// path, sorted.
fn list_stamped(root: &Utf8Path) -> Result<(Stamped, Vec<String>)> {
    let mut dirs = Vec::new();
    let mut files = Vec::new();
    let mut pending = vec![String::from(".")];
    while let Some(rel) = pending.pop() {
        let path = if rel == "." {
            root.to_owned()
        } else {
            root.join(&rel)
        };
        let meta =
            std::fs::metadata(&path).with_context(|| format!("reading module dir {path}"))?;
        ensure!(meta.is_dir(), "{path} is not a directory");
        dirs.push((rel.clone(), FileStamp::from_metadata(&meta)));
        for entry in path
            .read_dir_utf8()
            .with_context(|| format!("listing module dir {path}"))?
        {
            let entry = entry.with_context(|| format!("listing module dir {path}"))?;
            let name = entry.file_name();
            ensure!(
                !name.contains('\n'),
                "file name with a newline in {path}: {name:?}"
            );
            let below = if rel == "." {
                name.to_owned()
            } else {
                format!("{rel}/{name}")
            };
            let kind = entry
                .file_type()
                .with_context(|| format!("reading {}", entry.path()))?;
            if kind.is_dir() {
                pending.push(below);
            } else {
                files.push(below);
            }
        }
    }
    files.sort();
    Ok((dirs, files))
}

/// Hashes the directories `to_hash` ((module index, directory)) whole, on the I/O pool;
/// remembers in `memo` each that matches go.sum. In the order of `to_hash`.
fn hash_dirs(
    modules: &[DirCheck<'_>],
    to_hash: &[(usize, &Utf8Path)],
    memo: &VerifiedDirs,
) -> Vec<Result<DirState>> {
    // Per directory: what is hashed, its stamps and the files kept; and its files to read.
    type Hashing = (Vec<(String, [u8; 32])>, DirStamps, Files);
    let mut results: Vec<Result<Hashing>> = Vec::with_capacity(to_hash.len());
    let mut file_lists: Vec<Vec<String>> = Vec::with_capacity(to_hash.len());
    for (_, dir) in to_hash {
        let (result, files) = match list_stamped(dir) {
            Ok((dirs, files)) => {
                let stamps = DirStamps {
                    dirs,
                    files: Vec::with_capacity(files.len()),
                };
                (
                    Ok((Vec::with_capacity(files.len()), stamps, Files::new())),
                    files,
                )
            }
            Err(e) => (Err(e), Vec::new()),
        };
        results.push(result);
        file_lists.push(files);
    }
    // (position in to_hash, module-relative path) of every file of every listed directory.
    let all: Vec<(usize, &str)> = file_lists
        .iter()
        .enumerate()
        .flat_map(|(k, files)| files.iter().map(move |f| (k, f.as_str())))
        .collect();
    let read = crate::util::par::io_map(&all, |&(k, rel)| {
        let (i, dir) = to_hash[k];
        let (bytes, stamp) = read_stamped(&dir.join(rel))?;
        let keep = may_be_needed(rel, &modules[i].package_dirs);
        Ok((dirhash::sha256(&bytes), stamp, keep.then_some(bytes)))
    });
    for (&(k, rel), outcome) in all.iter().zip(read) {
        let Ok((hashed, stamps, kept)) = &mut results[k] else {
            continue;
        };
        match outcome {
            Ok((digest, stamp, bytes)) => {
                let m = &modules[to_hash[k].0];
                hashed.push((format!("{}@{}/{rel}", m.path, m.version), digest));
                stamps.files.push((rel.to_owned(), stamp));
                kept.extend(bytes.map(|b| (rel.to_owned(), b)));
            }
            Err(e) => results[k] = Err(e),
        }
    }
    results
        .into_iter()
        .zip(to_hash)
        .map(|(result, &(i, dir))| {
            let (hashed, stamps, mut kept) = result?;
            let found = dirhash::hash1(hashed);
            if found != modules[i].want {
                return Ok(DirState::Mismatch {
                    dir: dir.to_owned(),
                    found,
                });
            }
            memo.remember(modules[i].key(dir), &stamps);
            let names = stamps.files.into_iter().map(|(rel, _)| rel).collect();
            // What vendoring needs is among what was kept (all below a package, go.mod, LICENSEs).
            let files = read_needed(names, &modules[i].package_dirs, |rel| {
                Ok(kept.remove(rel).unwrap_or_default())
            })?;
            Ok(DirState::Verified {
                files,
                by_stamps: false,
            })
        })
        .collect()
}
