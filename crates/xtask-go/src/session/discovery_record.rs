//! Discovery remembered in the build cache's store, so that a fresh clone (no session
//! snapshot, new stamps everywhere) finds its targets without running `go list`.

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::buildcache::key::{CacheKey, KeyInputs};
use crate::buildcache::statcache;
use crate::buildcache::storage::local::LocalStore;
use crate::buildcache::storage::Storage;
use crate::host::toolchain::Toolchain;
use crate::workspace::discovery::ModuleSet;
use crate::workspace::project::Project;
use crate::workspace::targets::Target;

/// Bump when the discovery record's layout changes.
const DISCOVERY_FORMAT: u32 = 1;

/// Discovery remembered in the build cache's store, so that a fresh clone (no snapshot, new
/// stamps everywhere) finds its targets without running `go list`. It is keyed by the config,
/// the go version and the go.work/go.mod contents, and trusted only if every directory of the
/// modules lists the same names and every .go file under them has the same content (a package
/// clause is all it takes to make a main package). Paths are root-relative.
#[derive(Debug, Serialize, Deserialize)]
struct DiscoveryRecord {
    format: u32,
    targets: Vec<Target>,
    tree: String,
}

fn discovery_key(
    project: &Project,
    toolchain: &Toolchain,
    modules: &ModuleSet,
) -> Result<CacheKey> {
    let mut inputs = KeyInputs::default();
    inputs.spec.insert("kind".into(), "discovery".into());
    inputs
        .spec
        .insert("config".into(), serde_json::to_string(&project.config)?);
    inputs
        .spec
        .insert("host".into(), crate::host::platform::host_triple().into());
    inputs
        .toolchain
        .insert("GOVERSION".into(), toolchain.info.version.clone());
    let mut files: Vec<Utf8PathBuf> = modules.gowork.iter().cloned().collect();
    files.extend(modules.modules.iter().map(|m| m.gomod.file.clone()));
    for file in files {
        let rel = project.display_path(&file).to_string();
        inputs.files.insert(
            rel,
            statcache::sha256_file(&file).with_context(|| format!("hashing {file}"))?,
        );
    }
    Ok(inputs.key())
}

/// sha256 over every directory's listing and every .go file's content below the modules.
fn tree_digest(project: &Project, modules: &ModuleSet) -> Result<String> {
    let mut dirs = Vec::new();
    let filter = crate::workspace::source_filter::SourceFilter::new(project).ok();
    for module in &modules.modules {
        super::snapshot::walk_dirs(&module.dir, filter.as_ref(), &mut dirs);
    }
    dirs.sort();
    dirs.dedup();
    let mut lines = Vec::new();
    let mut go_files = Vec::new();
    for dir in &dirs {
        lines.push(format!(
            "dir {} {}",
            project.display_path(dir),
            crate::buildcache::inputs::listing_hash(dir)?
        ));
        for entry in std::fs::read_dir(dir)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".go") {
                go_files.push(dir.join(name));
            }
        }
    }
    let hashed: Vec<String> = go_files
        .par_iter()
        .map(|f| {
            format!(
                "file {} {}",
                project.display_path(f),
                statcache::sha256_file(f).unwrap_or_default()
            )
        })
        .collect();
    lines.extend(hashed);
    lines.sort();
    Ok(statcache::hex(&Sha256::digest(lines.join("\n").as_bytes())))
}

fn relative_targets(project: &Project, targets: &[Target], to_relative: bool) -> Vec<Target> {
    let convert = |p: &Utf8Path| {
        if to_relative {
            project.display_path(p).to_owned()
        } else {
            project.root.join(p)
        }
    };
    targets
        .iter()
        .map(|t| Target {
            module_dir: convert(&t.module_dir),
            package_dir: convert(&t.package_dir),
            ..t.clone()
        })
        .collect()
}

/// The targets an earlier `go list` found for exactly this tree, if the store has them.
pub fn recall_targets(
    project: &Project,
    toolchain: &Toolchain,
    modules: &ModuleSet,
) -> Option<Vec<Target>> {
    let key = discovery_key(project, toolchain, modules).ok()?;
    let store = LocalStore::open(&crate::buildcache::cache_dir(project));
    let record: DiscoveryRecord = serde_json::from_slice(&store.get_entry(&key)?).ok()?;
    // A record is data from a store: names must stay plain files, paths inside the root.
    let plain = |t: &Target| {
        crate::buildcache::storage::is_plain_file_name(&t.name)
            && crate::buildcache::storage::is_plain_file_name(&t.output)
            && [&t.module_dir, &t.package_dir].iter().all(|p| {
                p.is_relative()
                    && !p
                        .components()
                        .any(|c| matches!(c, camino::Utf8Component::ParentDir))
            })
    };
    let current = record.format == DISCOVERY_FORMAT
        && record.targets.iter().all(plain)
        && tree_digest(project, modules).ok()? == record.tree;
    current.then(|| relative_targets(project, &record.targets, false))
}

/// Keeps what `go list` found, for `recall_targets` in another checkout (best effort).
pub fn remember_targets(
    project: &Project,
    toolchain: &Toolchain,
    modules: &ModuleSet,
    targets: &[Target],
) {
    let (Ok(key), Ok(tree)) = (
        discovery_key(project, toolchain, modules),
        tree_digest(project, modules),
    ) else {
        return;
    };
    let record = DiscoveryRecord {
        format: DISCOVERY_FORMAT,
        targets: relative_targets(project, targets, true),
        tree,
    };
    if let Ok(bytes) = serde_json::to_vec(&record) {
        let _ = LocalStore::open(&crate::buildcache::cache_dir(project)).put_entry(&key, &bytes);
    }
}
