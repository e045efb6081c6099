//! The session snapshot: what loading a session learnt (config, go's `go env`, the modules and
//! targets), kept with the stamps of everything it was learnt from, so that a no-op run starts
//! without spawning cargo or go. Any stamp that moved, or a variable that changed, means a full load.
//! Discovery is also remembered in the build cache's store (`recall_targets`), for fresh clones.

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};
use serde::{Deserialize, Serialize};

use anyhow::{Context, Result};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::buildcache::key::{CacheKey, KeyInputs};
use crate::buildcache::stamps::{self, StampList};
use crate::buildcache::statcache;
use crate::buildcache::statcache::FileStamp;
use crate::buildcache::storage::local::LocalStore;
use crate::buildcache::storage::Storage;
use crate::host::toolchain::{GoInfo, Toolchain};
use crate::util::env_vars::EnvVars;
use crate::util::fsutil;
use crate::workspace::discovery::ModuleSet;
use crate::workspace::project::{Config, Project};
use crate::workspace::settings::Settings;
use crate::workspace::targets::Target;

/// Bump when the layout changes.
const FORMAT: u32 = 6;

/// Variables that decide what a full load would find.
const ENV: &[&str] = &[
    "GO",
    "PATH",
    "HOME",
    "GOMODCACHE",
    "GOPATH",
    "CARGO_HOME",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO",
];

#[derive(Debug, Serialize, Deserialize)]
pub struct Snapshot {
    format: u32,
    env: BTreeMap<String, Option<String>>,
    /// The stamps of the files and directories the load read, as a stamp list (stamps.rs).
    stamps: String,
    root: Utf8PathBuf,
    target_dir: Utf8PathBuf,
    config: Config,
    go: Utf8PathBuf,
    go_info: GoInfo,
    /// The `go` found is not the binary of its GOROOT (a version manager's shim, a wrapper): it
    /// is asked `go env` again on every load, since its stamp stays put when it switches.
    go_is_shim: bool,
    gowork: Option<Utf8PathBuf>,
    gomods: Vec<Utf8PathBuf>,
    /// None when the command that loaded the session never needed them.
    targets: Option<Vec<Target>>,
}

/// Where a project's snapshot lives: under the target dir cargo would use without config files.
pub fn snapshot_file(root: &Utf8Path) -> Utf8PathBuf {
    let target = std::env::var(EnvVars::CARGO_TARGET_DIR)
        .map(Utf8PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    crate::workspace::project::absolute_in(root, &target)
        .join("go")
        .join("session.json")
}

fn env_now() -> BTreeMap<String, Option<String>> {
    ENV.iter()
        .map(|name| (name.to_string(), std::env::var(name).ok()))
        .collect()
}

/// What a session was loaded from: cargo's inputs, go, go.work/go.mod, and every directory of
/// the modules (a new file or package shows as a directory whose stamp moved).
fn sources(project: &Project, toolchain: &Toolchain, modules: &ModuleSet) -> StampList {
    let cargo_home = std::env::var(EnvVars::CARGO_HOME)
        .map(Utf8PathBuf::from)
        .unwrap_or_else(|_| {
            Utf8PathBuf::from(std::env::var(EnvVars::HOME).unwrap_or_default()).join(".cargo")
        });
    let mut files = vec![
        project.root.join("Cargo.toml"),
        project.root.join(".cargo/config.toml"),
        project.root.join(".cargo/config"),
        cargo_home.join("config.toml"),
    ];
    files.extend(toolchain.identity_files());
    files.extend(
        project
            .config
            .roots
            .iter()
            .map(|r| crate::workspace::project::absolute_in(&project.root, r).join("go.work")),
    );
    files.push(project.root.join("go.work"));
    files.extend(crate::workspace::rust::manifests(project));
    for module in &modules.modules {
        files.push(module.gomod.file.clone());
        files.push(module.dir.join("vendor/modules.txt"));
    }
    let mut dirs: Vec<Utf8PathBuf> = Vec::new();
    let roots = project
        .config
        .roots
        .iter()
        .map(|r| crate::workspace::project::absolute_in(&project.root, r));
    for dir in roots.chain(modules.modules.iter().map(|m| m.dir.clone())) {
        walk_dirs(&dir, &mut dirs);
    }
    let mut list = StampList::default();
    for file in files {
        list.file(file.as_str(), FileStamp::of(&file).ok());
    }
    for dir in dirs {
        match FileStamp::of(&dir) {
            Ok(stamp) => list.dir(dir.as_str(), stamp),
            Err(_) => list.file(dir.as_str(), None),
        }
    }
    list
}

/// `dir` and every directory below it that go would look into for packages (symlinks and
/// directories with a non-UTF-8 name are not descended into).
fn walk_dirs(dir: &Utf8Path, out: &mut Vec<Utf8PathBuf>) {
    out.push(dir.to_owned());
    let below = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| {
            let Some(name) = e.file_name().to_str() else {
                return false;
            };
            !crate::go::gosource::is_ignored_dir(name) && e.file_type().is_dir()
        });
    out.extend(
        below
            .flatten()
            .filter_map(|e| Utf8PathBuf::from_path_buf(e.into_path()).ok()),
    );
}

impl Snapshot {
    /// Records a loaded session (best effort: a failure to write only costs a full load next time).
    pub fn save(
        project: &Project,
        toolchain: &Toolchain,
        modules: &ModuleSet,
        targets: Option<&[Target]>,
    ) {
        // A stamp from within the racy window proves nothing: keep no snapshot until all settle.
        let mut stamps = String::new();
        let now = crate::buildcache::statcache::now_ns();
        if sources(project, toolchain, modules)
            .write_to(&mut stamps, now)
            .is_none()
        {
            let _ = std::fs::remove_file(snapshot_file(&project.root));
            return;
        }
        let snapshot = Snapshot {
            format: FORMAT,
            env: env_now(),
            stamps,
            root: project.root.clone(),
            target_dir: project.target_dir.clone(),
            config: project.config.clone(),
            go: toolchain.go.clone(),
            go_info: toolchain.info.clone(),
            go_is_shim: !toolchain.is_plain_install(),
            gowork: modules.gowork.clone(),
            gomods: modules
                .modules
                .iter()
                .map(|m| m.gomod.file.clone())
                .collect(),
            targets: targets.map(<[Target]>::to_vec),
        };
        if let Ok(bytes) = serde_json::to_vec(&snapshot) {
            let _ = fsutil::write_atomic_with(
                &snapshot_file(&project.root),
                &bytes,
                fsutil::Durability::Scratch,
            );
        }
    }

    /// The snapshot of the project at `root`, if nothing it was learnt from has changed.
    pub fn load(root: &Utf8Path) -> Option<Snapshot> {
        let bytes = std::fs::read(snapshot_file(root)).ok()?;
        let snapshot: Snapshot = serde_json::from_slice(&bytes).ok()?;
        let current = snapshot.format == FORMAT
            && snapshot.root == root
            && snapshot.env == env_now()
            && stamps::all_hold(snapshot.stamps.lines(), root)
            && (!snapshot.go_is_shim
                || Toolchain::at(snapshot.go.clone())
                    .is_ok_and(|now| now.info == snapshot.go_info));
        current.then_some(snapshot)
    }

    /// The parts of a session, rebuilt without spawning anything (go.mod files are re-parsed).
    #[allow(clippy::type_complexity)]
    pub fn into_parts(
        self,
    ) -> anyhow::Result<(Project, Toolchain, ModuleSet, Option<Vec<Target>>)> {
        let project = Project {
            settings: Settings::resolve(&self.root, &self.target_dir, &self.config)?,
            root: self.root,
            target_dir: self.target_dir,
            config: self.config,
            cargo: None,
        };
        let toolchain = Toolchain {
            go: self.go,
            info: self.go_info,
        };
        let modules = ModuleSet::from_files(self.gowork, &self.gomods)?;
        Ok((project, toolchain, modules, self.targets))
    }
}

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
    for module in &modules.modules {
        walk_dirs(&module.dir, &mut dirs);
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
