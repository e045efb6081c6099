//! Establishing each vendored module's trusted contents: the module cache's directory if its
//! `h1:` hash equals go.sum's, else its zip if that does; otherwise (missing, or tampered: never
//! trusted) a download: into the pinned module cache when it holds nothing of the module (go
//! verifies it against go.sum on the way, and go-fetch, builds and the next check then find it),
//! into a private module cache when its copy is tampered; verified the same way; a local
//! replacement directory as it is.

use std::collections::BTreeMap;

use anyhow::Result;
use camino::{Utf8Path, Utf8PathBuf};

use super::contents;
use super::modules_txt::VendoredModule;
use super::source::{self, DirCheck, DirState, Origin, ZipState};
use super::VendorTree;
use crate::go::gomod::GoMod;
use crate::go::gosum::GoSum;
use crate::session::Session;
use crate::util::report::Reporter;
use crate::workspace::project::absolute_in;

/// Where one module's reference contents are to come from.
enum Proof {
    Dir(Utf8PathBuf),
    Zip {
        path: String,
        version: String,
        want: String,
    },
}

/// What the module cache holds for one module: a verified directory (with the files read while
/// hashing it), or else the state of its zip and, if the directory did not match, why.
enum CacheState {
    Dir(Utf8PathBuf, BTreeMap<String, Vec<u8>>),
    Zip {
        zip: Result<ZipState>,
        dir_mismatch: Option<(Utf8PathBuf, String)>,
    },
}

/// The outcome for the modules of one tree, by index into its module list.
pub(super) struct Trusted {
    pub origins: Vec<Option<Origin>>,
    /// The files of modules whose module cache directory was verified, read on the way.
    pub preloaded: Vec<Option<BTreeMap<String, Vec<u8>>>>,
    /// Modules whose contents could not be established, and why.
    pub unchecked: BTreeMap<usize, String>,
    /// Module cache directories and zips that did not match go.sum: (module, path, what is wrong).
    pub tampered: Vec<(usize, Utf8PathBuf, String)>,
    /// Scratch space: the private module cache of fresh downloads (of modules whose cached
    /// copy failed its hash) and go's working directories (remove with
    /// `source::remove_private_cache`).
    pub scratch: Utf8PathBuf,
}

/// Finds trusted contents for every module of `modules`.
pub(super) fn resolve(
    session: &Session,
    tree: &VendorTree,
    shown: &str,
    offline: bool,
    reporter: &Reporter,
    gomods: &[GoMod],
    modules: &[&VendoredModule],
) -> Result<Trusted> {
    let mut sums = Vec::new();
    for m in gomods {
        let file = m.dir().join("go.sum");
        if file.is_file() {
            sums.push(GoSum::read(&file)?);
        }
    }
    if let Some(work) = &tree.gowork {
        let file = work.dir().join("go.work.sum");
        if file.is_file() {
            sums.push(GoSum::read(&file)?);
        }
    }
    let mut unchecked: BTreeMap<usize, String> = BTreeMap::new();
    let mut proofs: Vec<Option<Proof>> = Vec::new();
    for (i, m) in modules.iter().enumerate() {
        let proof = match &m.replacement {
            Some(r) if r.version.is_empty() => {
                Some(Proof::Dir(absolute_in(&tree.root, Utf8Path::new(&r.path))))
            }
            other => {
                let (path, version) = match other {
                    Some(r) => (r.path.clone(), r.version.clone()),
                    None => (m.key.path.clone(), m.key.version.clone()),
                };
                match source::want_hash(&sums, &path, &version) {
                    Some(want) => Some(Proof::Zip {
                        path,
                        version,
                        want: want.to_owned(),
                    }),
                    None => {
                        unchecked.insert(i, format!("go.sum has no hash for {path}@{version}; run `go mod download {path}`"));
                        None
                    }
                }
            }
        };
        proofs.push(proof);
    }
    let env = super::vendor_env(session, tree, offline)?;
    let gomodcache = env.get("GOMODCACHE").unwrap_or_default().to_owned();
    let cache = Utf8Path::new(&gomodcache);
    // The module cache's directories first, then the zips of those without a verified one.
    let zip_proofs: Vec<(usize, &str, &str, &str)> = proofs
        .iter()
        .enumerate()
        .filter_map(|(i, proof)| match proof {
            Some(Proof::Zip {
                path,
                version,
                want,
            }) => Some((i, path.as_str(), version.as_str(), want.as_str())),
            _ => None,
        })
        .collect();
    let checks: Vec<DirCheck<'_>> = zip_proofs
        .iter()
        .map(|&(i, path, version, want)| DirCheck {
            path,
            version,
            want,
            package_dirs: super::expected::package_dirs(modules[i]),
        })
        .collect();
    let dir_states = source::check_cached_dirs(cache, &checks);
    let mut states: Vec<Option<CacheState>> = (0..proofs.len()).map(|_| None).collect();
    let mut zip_wanted = Vec::new();
    for (&(i, path, version, want), dir_state) in zip_proofs.iter().zip(dir_states) {
        // A directory that cannot be read is no reason to fail: the zip is checked instead.
        match dir_state {
            Ok(DirState::Verified(files)) => {
                let dir = source::cached_dir(cache, path, version)?;
                states[i] = Some(CacheState::Dir(dir, files));
            }
            Ok(DirState::Mismatch { dir, found }) => {
                zip_wanted.push((i, path, version, want, Some((dir, found))))
            }
            Ok(DirState::Missing) | Err(_) => zip_wanted.push((i, path, version, want, None)),
        }
    }
    let zip_states = contents::par_map(&zip_wanted, |&(_, path, version, want, _)| {
        source::check_cached_zip(cache, path, version, want)
    });
    for ((i, _, _, _, dir_mismatch), zip) in zip_wanted.into_iter().zip(zip_states) {
        states[i] = Some(CacheState::Zip { zip, dir_mismatch });
    }
    let mut origins: Vec<Option<Origin>> = vec![None; modules.len()];
    let mut preloaded = vec![None; modules.len()];
    let mut to_download = Vec::new();
    let mut tampered = Vec::new();
    for (i, state) in states.into_iter().enumerate() {
        let mut dir_tampered = false;
        let (zip_state, proof) = match (state, &proofs[i]) {
            (_, Some(Proof::Dir(dir))) => {
                origins[i] = Some(Origin::Dir(dir.clone()));
                continue;
            }
            (Some(CacheState::Dir(dir, files)), _) => {
                origins[i] = Some(Origin::CacheDir(dir));
                preloaded[i] = Some(files);
                continue;
            }
            (
                Some(CacheState::Zip { zip, dir_mismatch }),
                Some(proof @ Proof::Zip { want, .. }),
            ) => {
                if let Some((dir, found)) = dir_mismatch {
                    dir_tampered = true;
                    let detail = format!(
                        "the module cache directory {dir} hashes to {found}, but go.sum says \
                         {want}: its files were changed (go builds outside vendor mode use them); \
                         it is not trusted"
                    );
                    tampered.push((i, dir, detail));
                }
                (zip, proof)
            }
            _ => continue,
        };
        let Proof::Zip {
            path,
            version,
            want,
        } = proof
        else {
            continue;
        };
        match zip_state {
            Ok(ZipState::Verified(zip)) => origins[i] = Some(Origin::Zip { zip, fresh: false }),
            // Nothing of it in the module cache: go downloads it there, verified against go.sum.
            Ok(ZipState::Missing) if !dir_tampered => {
                to_download.push((i, path.clone(), version.clone(), true))
            }
            Ok(ZipState::Missing) => to_download.push((i, path.clone(), version.clone(), false)),
            Ok(ZipState::Mismatch { zip, found }) => {
                let detail = format!(
                    "the module cache zip {zip} hashes to {found}, but go.sum says {want}: \
                     the cache was tampered with or corrupted; it is not trusted"
                );
                tampered.push((i, zip.clone(), detail));
                to_download.push((i, path.clone(), version.clone(), false));
            }
            Err(e) => {
                unchecked.insert(i, format!("{e:#}"));
            }
        }
    }
    let scratch = session
        .project
        .go_dir()
        .join(format!("vendor-check-{}", std::process::id()));
    let private = scratch.join("modcache");
    if !to_download.is_empty() {
        if offline {
            for (i, path, version, _) in &to_download {
                unchecked.insert(*i, format!("{path}@{version} has no trusted zip in the module cache, and --offline forbids a download"));
            }
        } else {
            // Into the pinned module cache what it lacks (go-fetch and builds use it too, and the
            // next check finds it); a copy to replace a tampered one into a private cache.
            for pinned in [true, false] {
                let group: Vec<&(usize, String, String, bool)> =
                    to_download.iter().filter(|d| d.3 == pinned).collect();
                if group.is_empty() {
                    continue;
                }
                let (target, place) = if pinned {
                    (cache.to_owned(), "into the module cache")
                } else {
                    (
                        private.clone(),
                        "afresh (the module cache's copy is not trusted)",
                    )
                };
                reporter.status(
                    "Downloading",
                    &format!("{} modules {place} to check {shown}/vendor", group.len()),
                );
                let wanted: Vec<(String, String)> =
                    group.iter().map(|d| (d.1.clone(), d.2.clone())).collect();
                let cwd = scratch.join(if pinned { "pinned" } else { "private" });
                let go_sum = source::go_sum_lines(&sums, &wanted);
                let downloaded = source::download(
                    &session.toolchain,
                    &env.vars,
                    &target,
                    &cwd,
                    &go_sum,
                    &wanted,
                );
                for (i, path, version, _) in group {
                    let result = match &downloaded {
                        Ok(map) => map[&(path.clone(), version.clone())].clone(),
                        Err(e) => Err(format!("{e:#}")),
                    };
                    let Some(Proof::Zip { want, .. }) = &proofs[*i] else {
                        continue;
                    };
                    let hashed = result.map(|zip| {
                        let found = crate::go::gosum::hash_zip(&zip).map_err(|e| format!("{e:#}"));
                        (found, zip)
                    });
                    match hashed {
                        Ok((Ok(found), zip)) if &found == want => {
                            origins[*i] = Some(Origin::Zip { zip, fresh: true })
                        }
                        Ok((Ok(found), _)) => {
                            unchecked.insert(*i, format!("a fresh download of {path}@{version} hashes to {found}, but go.sum says {want}"));
                        }
                        Ok((Err(e), _)) | Err(e) => {
                            unchecked
                                .insert(*i, format!("could not download {path}@{version}: {e}"));
                        }
                    }
                }
            }
        }
    }

    Ok(Trusted {
        origins,
        preloaded,
        unchecked,
        tampered,
        scratch,
    })
}
