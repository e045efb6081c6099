//! Establishing each vendored module's trusted contents: the module cache's directory if its
//! `h1:` hash equals go.sum's, else its zip if that does; otherwise (missing, or tampered: never
//! trusted) a download: into the pinned module cache when it holds nothing of the module (go
//! verifies it against go.sum on the way, and go-fetch, builds and the next check then find it),
//! into a private module cache when its copy is tampered; verified the same way; a local
//! replacement directory as it is.

use anyhow::Result;
use camino::{Utf8Path, Utf8PathBuf};

use super::cachedirs::{self, DirCheck, DirState};
use super::modules_txt::VendoredModule;
use super::source::{self, ModuleFiles, Origin, ZipState};
use super::verified::VerifiedDirs;
use super::VendorTree;
use crate::go::gomod::GoMod;
use crate::go::gosum::GoSum;
use crate::session::Session;
use crate::util::report::Reporter;
use crate::workspace::goenv::PinnedEnv;
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
    Dir(Utf8PathBuf, ModuleFiles),
    Zip {
        zip: Result<ZipState>,
        dir_mismatch: Option<(Utf8PathBuf, String)>,
    },
}

/// What was established of one module's contents.
#[derive(Default)]
pub(super) struct ModuleTrust {
    /// Where its trusted contents are.
    pub(super) origin: Option<Origin>,
    /// Its files, when its module cache directory was verified (read on the way).
    pub(super) preloaded: Option<ModuleFiles>,
    /// Why its contents could not be established.
    pub(super) unchecked: Option<String>,
    /// Its module cache directory or zip that did not match go.sum: (path, what is wrong).
    pub(super) tampered: Vec<(Utf8PathBuf, String)>,
}

/// The outcome for the modules of one tree.
pub(super) struct Trusted {
    /// By index into the tree's module list.
    pub(super) modules: Vec<ModuleTrust>,
    /// Scratch space: the private module cache of fresh downloads (of modules whose cached
    /// copy failed its hash) and go's working directories (remove with
    /// `source::remove_private_cache`).
    pub(super) scratch: Utf8PathBuf,
}

/// A download one module needs, verified against `want` (go.sum's hash); `pinned` when into
/// the pinned module cache (it holds nothing of the module), else into a private one (its copy
/// is not trusted).
struct Download {
    module: usize,
    path: String,
    version: String,
    want: String,
    pinned: bool,
}

/// Finds trusted contents for every module of `modules`.
pub(super) fn resolve(
    session: &Session,
    tree: &VendorTree,
    shown: &str,
    reporter: &Reporter,
    gomods: &[GoMod],
    modules: &[&VendoredModule],
) -> Result<Trusted> {
    let sums = read_sums(tree, gomods)?;
    let mut out: Vec<ModuleTrust> = modules.iter().map(|_| ModuleTrust::default()).collect();
    let proofs: Vec<Option<Proof>> = modules
        .iter()
        .zip(&mut out)
        .map(|(m, t)| {
            proof(tree, &sums, m)
                .map_err(|e| t.unchecked = Some(e))
                .ok()
        })
        .collect();
    let env = super::vendor_env(session, tree)?;
    let offline = session.project.settings.offline;
    let gomodcache = env.get("GOMODCACHE").unwrap_or_default().to_owned();
    let cache = Utf8Path::new(&gomodcache);
    let memo = VerifiedDirs::load(&session.project.go_dir().join("vendor-verified"));
    let states = cache_states(cache, modules, &proofs, &memo, reporter)?;
    if let Err(e) = memo.save() {
        reporter.warn(&format!(
            "{e:#} (the next check hashes the module cache again)"
        ));
    }
    let mut downloads = Vec::new();
    for (i, ((t, state), proof)) in out.iter_mut().zip(states).zip(&proofs).enumerate() {
        downloads.extend(decide(i, t, state, proof.as_ref()));
    }
    let scratch = session
        .project
        .go_dir()
        .join(format!("vendor-check-{}", std::process::id()));
    if !downloads.is_empty() {
        if offline {
            for d in &downloads {
                let (path, version) = (&d.path, &d.version);
                out[d.module].unchecked = Some(format!("{path}@{version} has no trusted zip in the module cache, and --offline forbids a download"));
            }
        } else {
            let fallback = Fallback {
                session,
                env: &env,
                cache,
                scratch: &scratch,
                sums: &sums,
                reporter,
                shown,
            };
            fallback.download(&downloads, &mut out);
        }
    }
    Ok(Trusted {
        modules: out,
        scratch,
    })
}

/// The go.sum files of the main modules and, in workspace mode, the go.work.sum.
fn read_sums(tree: &VendorTree, gomods: &[GoMod]) -> Result<Vec<GoSum>> {
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
    Ok(sums)
}

/// Where `m`'s reference contents are to come from: its local replacement directory, or the
/// module (or replacement) version whose hash go.sum records; else why there is none.
fn proof(tree: &VendorTree, sums: &[GoSum], m: &VendoredModule) -> Result<Proof, String> {
    let (path, version) = match &m.replacement {
        Some(r) if r.version.is_empty() => {
            return Ok(Proof::Dir(absolute_in(&tree.root, Utf8Path::new(&r.path))))
        }
        Some(r) => (r.path.clone(), r.version.clone()),
        None => (m.key.path.clone(), m.key.version.clone()),
    };
    match source::want_hash(sums, &path, &version) {
        Some(want) => Ok(Proof::Zip {
            path,
            version,
            want: want.to_owned(),
        }),
        None => Err(format!(
            "go.sum has no hash for {path}@{version}; run `go mod download {path}`"
        )),
    }
}

/// What the module cache holds for each module with a zip proof, by index into `proofs`: its
/// directories are checked first (by their stamps where `memo` remembers them verified), then the zips of those without a verified one, in parallel.
fn cache_states(
    cache: &Utf8Path,
    modules: &[&VendoredModule],
    proofs: &[Option<Proof>],
    memo: &VerifiedDirs,
    reporter: &Reporter,
) -> Result<Vec<Option<CacheState>>> {
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
    let dir_states = cachedirs::check_cached_dirs(cache, &checks, memo);
    let mut states: Vec<Option<CacheState>> = (0..proofs.len()).map(|_| None).collect();
    let mut zip_wanted = Vec::new();
    cachedirs::say_verified(&dir_states, reporter);
    for (&(i, path, version, want), dir_state) in zip_proofs.iter().zip(dir_states) {
        // A directory that cannot be read is no reason to fail: the zip is checked instead.
        match dir_state {
            Ok(DirState::Verified { files, .. }) => {
                let dir = source::cached_dir(cache, path, version)?;
                states[i] = Some(CacheState::Dir(dir, files));
            }
            Ok(DirState::Mismatch { dir, found }) => {
                zip_wanted.push((i, path, version, want, Some((dir, found))))
            }
            Ok(DirState::Missing) | Err(_) => zip_wanted.push((i, path, version, want, None)),
        }
    }
    let zip_states = crate::util::par::io_map(&zip_wanted, |&(_, path, version, want, _)| {
        source::check_cached_zip(cache, path, version, want)
    });
    for ((i, _, _, _, dir_mismatch), zip) in zip_wanted.into_iter().zip(zip_states) {
        states[i] = Some(CacheState::Zip { zip, dir_mismatch });
    }
    Ok(states)
}

/// Module `i`'s outcome from its proof and what the module cache holds: its origin, what of
/// the cache is tampered, or the download it needs.
fn decide(
    i: usize,
    t: &mut ModuleTrust,
    state: Option<CacheState>,
    proof: Option<&Proof>,
) -> Option<Download> {
    let (zip_state, dir_mismatch, path, version, want) = match (state, proof) {
        (_, Some(Proof::Dir(dir))) => {
            t.origin = Some(Origin::Dir(dir.clone()));
            return None;
        }
        (Some(CacheState::Dir(dir, files)), _) => {
            t.origin = Some(Origin::CacheDir(dir));
            t.preloaded = Some(files);
            return None;
        }
        (
            Some(CacheState::Zip { zip, dir_mismatch }),
            Some(Proof::Zip {
                path,
                version,
                want,
            }),
        ) => (zip, dir_mismatch, path, version, want),
        _ => return None,
    };
    let dir_tampered = dir_mismatch.is_some();
    if let Some((dir, found)) = dir_mismatch {
        let detail = format!(
            "the module cache directory {dir} hashes to {found}, but go.sum says \
             {want}: its files were changed (go builds outside vendor mode use them); \
             it is not trusted"
        );
        t.tampered.push((dir, detail));
    }
    let download = |pinned| Download {
        module: i,
        path: path.clone(),
        version: version.clone(),
        want: want.clone(),
        pinned,
    };
    match zip_state {
        Ok(ZipState::Verified(zip)) => t.origin = Some(Origin::Zip { zip, fresh: false }),
        // Nothing of it in the module cache: go downloads it there, verified against go.sum.
        Ok(ZipState::Missing) => return Some(download(!dir_tampered)),
        Ok(ZipState::Mismatch { zip, found }) => {
            let detail = format!(
                "the module cache zip {zip} hashes to {found}, but go.sum says {want}: \
                 the cache was tampered with or corrupted; it is not trusted"
            );
            t.tampered.push((zip, detail));
            return Some(download(false));
        }
        Err(e) => t.unchecked = Some(format!("{e:#}")),
    }
    None
}

/// Downloading what the module cache lacks or holds tampered.
struct Fallback<'a> {
    session: &'a Session,
    env: &'a PinnedEnv,
    /// The pinned module cache.
    cache: &'a Utf8Path,
    scratch: &'a Utf8Path,
    sums: &'a [GoSum],
    reporter: &'a Reporter,
    shown: &'a str,
}

impl Fallback<'_> {
    /// Into the pinned module cache what it lacks (go-fetch and builds use it too, and the next
    /// check finds it); a copy to replace a tampered one into a private cache. Each download is
    /// verified against go.sum, its outcome recorded in `out`.
    fn download(&self, downloads: &[Download], out: &mut [ModuleTrust]) {
        for pinned in [true, false] {
            let group: Vec<&Download> = downloads.iter().filter(|d| d.pinned == pinned).collect();
            if group.is_empty() {
                continue;
            }
            let (target, place) = if pinned {
                (self.cache.to_owned(), "into the module cache")
            } else {
                (
                    self.scratch.join("modcache"),
                    "afresh (the module cache's copy is not trusted)",
                )
            };
            self.reporter.status(
                "Downloading",
                &format!(
                    "{} modules {place} to check {}/vendor",
                    group.len(),
                    self.shown
                ),
            );
            let wanted: Vec<(String, String)> = group
                .iter()
                .map(|d| (d.path.clone(), d.version.clone()))
                .collect();
            let cwd = self.scratch.join(if pinned { "pinned" } else { "private" });
            let go_sum = source::go_sum_lines(self.sums, &wanted);
            let downloaded = source::download(
                &self.session.toolchain,
                &self.env.vars,
                &target,
                &cwd,
                &go_sum,
                &wanted,
            );
            for d in group {
                let result = match &downloaded {
                    Ok(map) => map[&(d.path.clone(), d.version.clone())].clone(),
                    Err(e) => Err(format!("{e:#}")),
                };
                match verify_download(d, result) {
                    Ok(origin) => out[d.module].origin = Some(origin),
                    Err(reason) => out[d.module].unchecked = Some(reason),
                }
            }
        }
    }
}

/// A fresh download's zip, if its hash is go.sum's; else why the module stays unchecked.
fn verify_download(d: &Download, result: Result<Utf8PathBuf, String>) -> Result<Origin, String> {
    let (path, version, want) = (&d.path, &d.version, &d.want);
    let hashed = result.map(|zip| {
        let found = crate::go::dirhash::hash_zip(&zip).map_err(|e| format!("{e:#}"));
        (found, zip)
    });
    match hashed {
        Ok((Ok(found), zip)) if &found == want => Ok(Origin::Zip { zip, fresh: true }),
        Ok((Ok(found), _)) => Err(format!(
            "a fresh download of {path}@{version} hashes to {found}, but go.sum says {want}"
        )),
        Ok((Err(e), _)) | Err(e) => Err(format!("could not download {path}@{version}: {e}")),
    }
}
