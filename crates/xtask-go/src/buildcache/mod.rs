//! The build cache: decides per unit whether its outputs are fresh, can be restored from the
//! store, or must be built; and records a successful build. A miss is always safe; a stale hit
//! is the one thing this module must never produce, so whenever in doubt it misses.
//!
//! Per unit, a depfile under `target/go/<triple>/<profile>/.deps/` remembers the input set, the
//! directory stamps and the last key with its outputs' stamps. A no-op run stats the inputs,
//! computes the key, sees the outputs in place and reads nothing else. The store also keeps
//! input sets under a "manifest key" (spec, env, toolchain, go.mod/go.sum/go.work contents), so
//! a fresh clone finds its input sets, and then its outputs, without running go.

mod depfile;
pub mod fastpath;
mod hashed_inputs;
pub mod inputs;
pub mod key;
pub mod maintenance;
mod record;

pub use hashed_inputs::HashedInputs;
pub use record::start_stamp_at;
pub mod stamps;
pub mod statcache;
pub mod storage;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::util::report::Reporter;

use anyhow::Result;
use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;

use crate::util::crash::CrashAt;
use crate::util::fsutil;
use crate::workspace::project::Project;
use depfile::{outputs_in_place, Depfile, LastBuild, PlacedOutput};
use inputs::InputSet;
use key::{CacheKey, Change, KeyInputs};
use stamps::StampPacks;
use statcache::{FileStamp, StatCache};
use storage::{remote, tiered};
use storage::{CacheEntry, Storage};

/// Files' digests by root-relative name (`absent` for a missing one), with their stamps in the
/// order they were asked for.
type FileDigests = (BTreeMap<String, String>, Vec<Option<FileStamp>>);

/// The store directory (resolved with the settings).
pub fn cache_dir(project: &Project) -> Utf8PathBuf {
    project.settings.cache_dir.clone()
}

/// What the cache said about a unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The outputs in place are those of the current key: nothing to do.
    Fresh,
    /// The outputs were copied from the store.
    Restored,
    /// go must build; `changes` says what differs from the last build's key, if known.
    Miss,
}

/// The verdict with its reasons, for `--explain` and the JSON events.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub verdict: Verdict,
    pub key: Option<String>,
    pub reason: Option<String>,
    pub changes: Vec<Change>,
}

/// The cache of one build run: the store, the stat cache, and the project root.
pub struct BuildCache {
    root: Utf8PathBuf,
    store: Box<dyn Storage>,
    /// Loaded on first use: a no-op run never needs it.
    stats: OnceLock<StatCache>,
    stat_file: Utf8PathBuf,
    write_warned: AtomicBool,
    /// The remote tier's uploads and failures, finished by `finish`.
    remote: Option<tiered::RemoteHandle>,
    /// The command's reporter: a build changed under us, a store that cannot be written.
    reporter: Reporter,
    /// Test-only: where a write aborts (`util::crash`).
    crash_at: CrashAt,
    /// Dead processes' temp files are swept from an output directory when a unit there is
    /// first looked at past the fast path (the store sweeps the shards it writes to).
    swept_dirs: Mutex<HashSet<Utf8PathBuf>>,
    /// The fast paths' stamp packs: read once a run, the blocks proved, the blocks to write.
    stamp_packs: StampPacks,
}

/// The part of a unit's key known before any file is read, and where its depfile lives.
pub struct UnitKey {
    /// spec, env and toolchain sections; files and modules are filled per lookup.
    pub base: KeyInputs,
    /// The project-wide control files (go.work, go.mod, go.sum, vendor/modules.txt, default.pgo).
    pub control: Vec<Utf8PathBuf>,
    /// Where outputs land, and their names.
    pub output_dir: Utf8PathBuf,
    pub output_names: Vec<String>,
    pub depfile: Utf8PathBuf,
    pub target: String,
    pub triple: String,
}

impl BuildCache {
    /// Opens the project's store (with the remote tier when one is configured, see `remote/`)
    /// and its stat cache; a store that cannot be created only warns later. Fails only
    /// when `--remote-required` and the remote is unusable.
    pub fn open_with_remote(
        project: &Project,
        flags: remote::RemoteFlags,
        reporter: &Reporter,
    ) -> Result<BuildCache> {
        let (store, handle) = tiered::open(project, &cache_dir(project), flags, reporter)?;
        let mut cache = BuildCache::with_store(project, store, reporter);
        cache.remote = handle;
        Ok(cache)
    }

    pub fn with_store(
        project: &Project,
        store: Box<dyn Storage>,
        reporter: &Reporter,
    ) -> BuildCache {
        let stat_file = project.go_dir().join("stat-cache");
        BuildCache {
            root: project.root.clone(),
            store,
            stats: OnceLock::new(),
            stat_file,
            write_warned: AtomicBool::new(false),
            remote: None,
            reporter: reporter.clone(),
            crash_at: project.settings.crash_at,
            swept_dirs: Mutex::new(HashSet::new()),
            stamp_packs: StampPacks::default(),
        }
    }

    /// Saves the stat cache and the fast paths' stamp packs (a failure only costs re-hashing or
    /// a slow no-op next time) and waits for the remote's uploads; an error only when a
    /// required remote failed.
    pub fn finish(&self) -> Result<()> {
        self.save_stats();
        self.stamp_packs.flush(fastpath::blocks_named_in);
        self.remote.as_ref().map_or(Ok(()), |r| r.finish())
    }

    /// Saves what the stat cache learned so far (nothing when nothing changed); `build` calls it
    /// while go runs, so that a miss does not wait for it at the end.
    pub fn save_stats(&self) {
        if let Some(stats) = self.stats.get() {
            let _ = stats.save();
        }
    }

    fn stats(&self) -> &StatCache {
        self.stats.get_or_init(|| StatCache::load(&self.stat_file))
    }

    /// Hashes `paths` into the `files` map of key inputs, root-relative; a missing file is `absent`.
    fn hash_files(&self, paths: &[String]) -> FileDigests {
        let absolute: Vec<Utf8PathBuf> = paths
            .iter()
            .map(|p| inputs::resolve(&self.root, p))
            .collect();
        let hashed = self.stats().hash_all(&absolute);
        let mut files = BTreeMap::new();
        let mut stamps = Vec::new();
        for (name, (digest, stamp)) in paths.iter().zip(hashed) {
            files.insert(name.clone(), digest.unwrap_or_else(|| "absent".into()));
            stamps.push(stamp);
        }
        (files, stamps)
    }

    /// The manifest key: the key of a unit's input set, from what decides it besides listings.
    fn manifest_key(&self, unit: &UnitKey) -> CacheKey {
        let mut inputs = unit.base.clone();
        inputs.spec.insert("kind".into(), "manifest".into());
        let control = fastpath::control_names(&self.root, &unit.control);
        inputs.files = self.hash_files(&control).0;
        inputs.key()
    }

    /// The full key inputs of a unit for an input set, its files through `hashed`.
    fn key_inputs(
        &self,
        unit: &UnitKey,
        set: &InputSet,
        hashed: Option<&HashedInputs>,
    ) -> (KeyInputs, Vec<Option<FileStamp>>) {
        let mut inputs = unit.base.clone();
        let (files, stamps) = self.digests_of(&set.files, hashed);
        inputs.files = files;
        inputs.modules = set
            .modules
            .iter()
            .map(|m| (m.clone(), String::new()))
            .collect();
        (inputs, stamps)
    }

    /// Decides whether `unit` needs a go build; restores its outputs from the store when it can.
    /// Returns the input set when it is known to be current (so the build need not list again).
    /// `hashed`: the run's lookups share their files' stats.
    pub fn lookup(
        &self,
        unit: &UnitKey,
        hashed: Option<&HashedInputs>,
    ) -> (Explanation, Option<InputSet>) {
        if let Some(key) = self.unchanged_since_last_build(unit) {
            return (Explanation::hit(Verdict::Fresh, &key), None);
        }
        self.sweep_output_dir(&unit.output_dir);
        let depfile = Depfile::load(&unit.depfile);
        let manifest_key = self.manifest_key(unit);
        let last = depfile.as_ref().and_then(|d| d.last.clone());
        let (set, proven) = match self.current_input_set(depfile, &manifest_key) {
            Ok(found) => found,
            Err(reason) => return (Explanation::miss(None, Some(reason), Vec::new()), None),
        };
        let stamped_at = hashed.map_or_else(statcache::now_ns, |h| h.stamped_at_ns);
        let (key_inputs, stamps) = self.key_inputs(unit, &set, hashed);
        // The set is this build's only if no changed file changed its shape (imports, build
        // constraints, embed patterns, cgo directives, includes) since it was listed. Files
        // equal to the last build's (made with this very set) are known to keep theirs.
        let proven = last
            .as_ref()
            .filter(|_| proven)
            .map(|l| &l.key_inputs.files);
        if let Some(file) = set.changed_shape(&self.root, &key_inputs.files, proven) {
            let reason = format!(
                "{file}: imports, build constraints, embed patterns or cgo directives changed"
            );
            return (Explanation::miss(None, Some(reason), Vec::new()), None);
        }
        let key = key_inputs.key();
        // The outputs in place are the key's (the stamps the fast path missed, racy then or
        // touched, are renewed so the next no-op reads nothing); else the store's, restored.
        let in_place = last
            .as_ref()
            .filter(|l| l.key == key && outputs_in_place(&unit.output_dir, &l.outputs))
            .map(|l| (Verdict::Fresh, l.outputs.clone()));
        let found = in_place.or_else(|| {
            let bytes = self.store.get_entry(&key)?;
            let entry = CacheEntry::parse(&bytes, &key).ok()?;
            Some((Verdict::Restored, self.restore(unit, &entry)?))
        });
        if let Some((verdict, outputs)) = found {
            let last = LastBuild::new(key.clone(), key_inputs, outputs, &set, stamps, stamped_at);
            self.write_depfile(unit, &manifest_key, &set, Some(last));
            return (Explanation::hit(verdict, &key), Some(set));
        }
        let changes = last
            .map(|l| key_inputs.changes_since(&l.key_inputs))
            .unwrap_or_default();
        let reason = changes.is_empty().then(|| "not in the cache".to_string());
        (Explanation::miss(Some(key), reason, changes), Some(set))
    }

    /// The input set to reuse: the depfile's (whether that proves files equal to the last
    /// build's kept their shapes: true), else the store's for this manifest key; either only
    /// while its directories list the same names and its control files hold what go listed
    /// with. Err: why the set is unknown.
    fn current_input_set(
        &self,
        depfile: Option<Depfile>,
        manifest_key: &CacheKey,
    ) -> Result<(InputSet, bool), String> {
        let had_build = depfile.as_ref().is_some_and(|d| d.last.is_some());
        let local = depfile
            .filter(|d| {
                &d.manifest_key == manifest_key
                    && d.inputs.dirs_unchanged(&self.root, &d.dir_stamps)
            })
            .map(|d| d.inputs);
        let from_depfile = local.is_some();
        local
            .or_else(|| self.stored_input_set(manifest_key))
            .filter(|set| self.control_unchanged(set))
            .map(|set| (set, from_depfile))
            .ok_or_else(|| {
                if had_build {
                    "go.mod, go.sum, go.work or a package directory changed".into()
                } else {
                    "no earlier build".into()
                }
            })
    }

    /// The no-op fast path (see `fastpath`): the key of the last build when its settings are
    /// the unit's, no input or directory stamp moved, and the outputs are in place.
    fn unchanged_since_last_build(&self, unit: &UnitKey) -> Option<CacheKey> {
        let settings = fastpath::settings_digest(
            &unit.base,
            &fastpath::control_names(&self.root, &unit.control),
        );
        fastpath::unchanged_key(
            &unit.depfile,
            &self.root,
            &settings,
            &unit.output_dir,
            &self.stamp_packs,
        )
    }

    /// Removes the temp files dead processes left in `dir` (a restore's, a depfile's), once a run.
    fn sweep_output_dir(&self, dir: &Utf8Path) {
        if self.swept_dirs.lock().unwrap().insert(dir.to_owned()) {
            fsutil::clean_temp_files(dir, Duration::from_secs(3600));
        }
    }

    /// Whether the files that decide the package closure still hold what go listed with.
    fn control_unchanged(&self, set: &InputSet) -> bool {
        let names: Vec<String> = set.control.keys().cloned().collect();
        let (now, _) = self.hash_files(&names);
        now == set.control
    }

    fn stored_input_set(&self, manifest_key: &CacheKey) -> Option<InputSet> {
        let bytes = self.store.get_entry(manifest_key)?;
        let set: InputSet = serde_json::from_slice(&bytes).ok()?;
        set.validate().ok()?;
        let no_stamps = BTreeMap::new();
        set.dirs_unchanged(&self.root, &no_stamps).then_some(set)
    }

    /// Copies every output of `entry` into place, verified; None (a miss) if any blob is bad.
    fn restore(&self, unit: &UnitKey, entry: &CacheEntry) -> Option<Vec<PlacedOutput>> {
        let mut placed = Vec::new();
        for record in &entry.outputs {
            let dest = unit.output_dir.join(&record.name);
            if !self
                .store
                .get_blob(&record.sha256, record.size, &dest, record.mode)
            {
                return None;
            }
            placed.push(PlacedOutput {
                record: record.clone(),
                stamp: FileStamp::of(&dest).ok()?,
            });
        }
        Some(placed)
    }

    fn write_depfile(
        &self,
        unit: &UnitKey,
        manifest_key: &CacheKey,
        set: &InputSet,
        last: Option<LastBuild>,
    ) {
        let control = fastpath::control_names(&self.root, &unit.control);
        Depfile::new(&self.root, manifest_key, set, last).write(
            &unit.depfile,
            &control,
            self.crash_at,
            &self.stamp_packs,
        );
    }

    /// The key inputs of the last recorded build, if any.
    pub fn last_key_inputs(&self, unit: &UnitKey) -> Option<KeyInputs> {
        Depfile::load(&unit.depfile)
            .and_then(|d| d.last)
            .map(|l| l.key_inputs)
    }
}

impl Explanation {
    /// Fresh or restored under `key`.
    fn hit(verdict: Verdict, key: &CacheKey) -> Explanation {
        Explanation {
            verdict,
            key: Some(key.to_string()),
            reason: None,
            changes: Vec::new(),
        }
    }

    fn miss(key: Option<CacheKey>, reason: Option<String>, changes: Vec<Change>) -> Explanation {
        Explanation {
            verdict: Verdict::Miss,
            key: key.map(|k| k.to_string()),
            reason,
            changes,
        }
    }
}
