//! The session snapshot: what loading a session learnt (config, go's `go env`, the modules and
//! targets), kept with the stamps of everything it was learnt from, so that a no-op run starts
//! without spawning cargo or go. Any stamp that moved, or a variable that changed, means a full load.
//! Discovery is also remembered in the build cache's store (`discovery_record.rs`).

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};
use serde::{Deserialize, Serialize};

use crate::buildcache::stamps::{self, StampList};
use crate::buildcache::statcache::FileStamp;
use crate::host::toolchain::{GoInfo, Toolchain};
use crate::session::Session;
use crate::util::env_vars::EnvVars;
use crate::util::fsutil;
use crate::workspace::discovery::ModuleSet;
use crate::workspace::project::{Config, Project};
use crate::workspace::settings::Settings;
use crate::workspace::source_filter::SourceFilter;
use crate::workspace::targets::Target;

/// Bump when the layout changes.
const FORMAT: u32 = 8;

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
    /// Each directory's listing hash: a directory whose stamp moved still holds if it lists the
    /// same names (an editor's atomic save renames a new file over the old one).
    /// Keyed by the path as a string: a map of paths orders them component by component, which
    /// costs a no-op's load ~1 ms for a few hundred directories.
    listings: BTreeMap<String, String>,
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

/// The moment a load begins, as the stamp of a marker written now (None if it cannot be).
pub fn load_began(root: &Utf8Path) -> Option<FileStamp> {
    let marker = snapshot_file(root).with_extension("started");
    std::fs::create_dir_all(marker.parent()?).ok()?;
    crate::buildcache::start_stamp_at(&marker).ok()
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
/// the modules (a new file or package shows as a directory whose stamp moved), with each
/// directory's listing hash.
///
/// A directory changed within the racy window is checked by its listing alone when it changed
/// before the load `began` (a marker's stamp, on the file system's clock): the load then saw it
/// as it is. One that changed later (or with no marker) gets its stamp, which `write_to` refuses.
fn sources(
    project: &Project,
    toolchain: &Toolchain,
    modules: &ModuleSet,
    now: i128,
    began: Option<&FileStamp>,
) -> (StampList, BTreeMap<String, String>) {
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
    let filter = SourceFilter::new(project).ok();
    for dir in roots.chain(modules.modules.iter().map(|m| m.dir.clone())) {
        walk_dirs(&dir, filter.as_ref(), &mut dirs);
    }
    // The ignore rules that kept directories out (an edited .gitignore can bring one back).
    files.push(project.root.join(".gitignore"));
    files.extend(filter.iter().flat_map(SourceFilter::rule_files));
    let mut list = StampList::default();
    for file in files {
        list.file(file.as_str(), FileStamp::of(&file).ok());
    }
    let mut listings = BTreeMap::new();
    let before_load =
        |s: &FileStamp| began.is_some_and(|b| s.mtime_ns.max(s.ctime_ns) < b.ctime_ns);
    for dir in dirs {
        let listing = crate::buildcache::inputs::listing_hash(&dir).ok();
        match FileStamp::of(&dir) {
            Ok(stamp) if stamp.is_recent(now) && before_load(&stamp) && listing.is_some() => {
                list.listed_dir(dir.as_str())
            }
            Ok(stamp) => list.dir(dir.as_str(), stamp),
            Err(_) => list.file(dir.as_str(), None),
        }
        if let Some(hash) = listing {
            listings.insert(dir.into_string(), hash);
        }
    }
    (list, listings)
}

/// `dir` and every directory below it that go would look into for packages and `filter` does
/// not skip (symlinks and directories with a non-UTF-8 name are not descended into).
pub(super) fn walk_dirs(dir: &Utf8Path, filter: Option<&SourceFilter>, out: &mut Vec<Utf8PathBuf>) {
    out.push(dir.to_owned());
    let below = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| {
            let Some(name) = e.file_name().to_str() else {
                return false;
            };
            let skipped = || {
                let dir = Utf8Path::from_path(e.path());
                filter.is_some_and(|f| dir.is_some_and(|d| f.skips_dir(d)))
            };
            !crate::go::gosource::is_ignored_dir(name) && e.file_type().is_dir() && !skipped()
        });
    out.extend(
        below
            .flatten()
            .filter_map(|e| Utf8PathBuf::from_path_buf(e.into_path()).ok()),
    );
}

impl Snapshot {
    /// Records a loaded session (best effort: a failure to write only costs a full load next
    /// time). `began` is the stamp `load_began` took before the load read anything.
    pub fn save(session: &Session, targets: Option<&[Target]>, began: Option<&FileStamp>) {
        let (project, toolchain, modules) =
            (&session.project, &session.toolchain, &session.modules);
        // A stamp from within the racy window proves nothing: keep no snapshot until all settle.
        let mut stamps = String::new();
        let now = crate::buildcache::statcache::now_ns();
        let (list, listings) = sources(project, toolchain, modules, now, began);
        if list.write_to(&mut stamps, now).is_none() {
            let _ = std::fs::remove_file(snapshot_file(&project.root));
            return;
        }
        let snapshot = Snapshot {
            format: FORMAT,
            env: env_now(),
            stamps,
            listings,
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
            && stamps::all_hold_or(&snapshot.stamps, root, |dir| {
                snapshot.listings.get(dir.as_str()).is_some_and(|before| {
                    crate::buildcache::inputs::listing_hash(dir).is_ok_and(|now| now == *before)
                })
            })
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
