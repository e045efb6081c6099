//! The build cache: decides per unit whether its outputs are fresh, can be restored from the
//! store, or must be built; and records a successful build. A miss is always safe; a stale hit
//! is the one thing this module must never produce, so whenever in doubt it misses.
//!
//! Per unit, a depfile under `target/go/<triple>/<profile>/.deps/` remembers the input set, the
//! directory stamps and the last key with its outputs' stamps. A no-op run stats the inputs,
//! computes the key, sees the outputs in place and reads nothing else. The store also keeps
//! input sets under a "manifest key" (spec, env, toolchain, go.mod/go.sum/go.work contents), so
//! a fresh clone finds its input sets, and then its outputs, without running go.

pub mod fastpath;
pub mod inputs;
pub mod key;
pub mod maintenance;
pub mod stamps;
pub mod statcache;
pub mod storage;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once, OnceLock};
use std::time::Duration;

use crate::util::report::Reporter;

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use serde::{Deserialize, Serialize};

use crate::util::crash::{self, CrashAt, CrashPoint};
use crate::util::fsutil;
use crate::workspace::project::Project;
use inputs::InputSet;
use key::{CacheKey, Change, KeyInputs};
use statcache::{FileStamp, StatCache};
use storage::local::LocalStore;
use storage::{BlobSource, CacheEntry, OutputRecord, Storage};
use storage::{remote, tiered};

/// Bump when the depfile layout changes.
const DEPFILE_FORMAT: u32 = 3;

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

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PlacedOutput {
    record: OutputRecord,
    stamp: FileStamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct LastBuild {
    key: CacheKey,
    key_inputs: KeyInputs,
    outputs: Vec<PlacedOutput>,
    /// Each input file's stamp when the key was computed (None: absent), and when that was:
    /// a no-op run that finds every stamp unchanged (and none racy) reads no file at all.
    stamps: BTreeMap<String, Option<FileStamp>>,
    stamped_at_ns: i128,
}

impl LastBuild {
    fn new(
        key: CacheKey,
        key_inputs: KeyInputs,
        outputs: Vec<PlacedOutput>,
        set: &InputSet,
        stamps: Vec<Option<FileStamp>>,
    ) -> LastBuild {
        let stamps = set.files.iter().cloned().zip(stamps).collect();
        LastBuild {
            key,
            key_inputs,
            outputs,
            stamps,
            stamped_at_ns: statcache::now_ns(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Depfile {
    format: u32,
    manifest_key: CacheKey,
    inputs: InputSet,
    dir_stamps: BTreeMap<String, FileStamp>,
    last: Option<LastBuild>,
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
    /// Dead processes' temp files are swept from the store before this run's first write, and
    /// from an output directory when a unit there is first looked at past the fast path.
    store_swept: Once,
    swept_dirs: Mutex<HashSet<Utf8PathBuf>>,
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
    /// Opens the project's store and stat cache; a store that cannot be created only warns later.
    pub fn open(project: &Project, reporter: &Reporter) -> BuildCache {
        let store = LocalStore::open(&cache_dir(project))
            .reporting_to(reporter)
            .crashing_at(project.settings.crash_at);
        BuildCache::with_store(project, Box::new(store), reporter)
    }

    /// Like `open`, with the remote tier when one is configured (see `remote/`). Fails only
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
        let stat_file = project.go_dir().join("stat-cache.json");
        BuildCache {
            root: project.root.clone(),
            store,
            stats: OnceLock::new(),
            stat_file,
            write_warned: AtomicBool::new(false),
            remote: None,
            reporter: reporter.clone(),
            crash_at: project.settings.crash_at,
            store_swept: Once::new(),
            swept_dirs: Mutex::new(HashSet::new()),
        }
    }

    /// Saves the stat cache (a failure only costs re-hashing next time) and waits for the
    /// remote's uploads; an error only when a required remote failed.
    pub fn finish(&self) -> Result<()> {
        if let Some(stats) = self.stats.get() {
            let _ = stats.save();
        }
        self.remote.as_ref().map_or(Ok(()), |r| r.finish())
    }

    fn stats(&self) -> &StatCache {
        self.stats.get_or_init(|| StatCache::load(&self.stat_file))
    }

    /// Hashes `paths` into the `files` map of key inputs, root-relative; a missing file is `absent`.
    fn hash_files(&self, paths: &[String]) -> (BTreeMap<String, String>, Vec<Option<FileStamp>>) {
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

    /// The full key inputs of a unit for an input set.
    fn key_inputs(&self, unit: &UnitKey, set: &InputSet) -> (KeyInputs, Vec<Option<FileStamp>>) {
        let mut inputs = unit.base.clone();
        let (files, stamps) = self.hash_files(&set.files);
        inputs.files = files;
        inputs.modules = set
            .modules
            .iter()
            .map(|m| (m.clone(), String::new()))
            .collect();
        (inputs, stamps)
    }

    fn load_depfile(&self, unit: &UnitKey) -> Option<Depfile> {
        let bytes = std::fs::read(&unit.depfile).ok()?;
        serde_json::from_slice::<Depfile>(&bytes)
            .ok()
            .filter(|d| d.format == DEPFILE_FORMAT)
    }

    /// Decides whether `unit` needs a go build; restores its outputs from the store when it can.
    /// Returns the input set when it is known to be current (so the build need not list again).
    pub fn lookup(&self, unit: &UnitKey) -> (Explanation, Option<InputSet>) {
        if let Some(key) = self.unchanged_since_last_build(unit) {
            let fresh = Explanation {
                verdict: Verdict::Fresh,
                key: Some(key.to_string()),
                reason: None,
                changes: Vec::new(),
            };
            return (fresh, None);
        }
        self.sweep_output_dir(&unit.output_dir);
        let depfile = self.load_depfile(unit);
        let manifest_key = self.manifest_key(unit);
        let last = depfile.as_ref().and_then(|d| d.last.clone());
        let local_set = depfile
            .filter(|d| {
                d.manifest_key == manifest_key && d.inputs.dirs_unchanged(&self.root, &d.dir_stamps)
            })
            .map(|d| d.inputs);
        let from_depfile = local_set.is_some();
        let set = local_set
            .or_else(|| self.stored_input_set(&manifest_key))
            .filter(|set| self.control_unchanged(set));
        let Some(set) = set else {
            let reason = if last.is_some() {
                "go.mod, go.sum, go.work or a package directory changed"
            } else {
                "no earlier build"
            };
            return (miss(None, Some(reason.into()), Vec::new()), None);
        };
        let (key_inputs, stamps) = self.key_inputs(unit, &set);
        // The set is this build's only if no changed file changed its shape (imports, build
        // constraints, embed patterns, cgo directives, includes) since it was listed. Files
        // equal to the last build's (made with this very set) are known to keep theirs.
        let proven = last
            .as_ref()
            .filter(|_| from_depfile)
            .map(|l| &l.key_inputs.files);
        if let Some(file) = set.changed_shape(&self.root, &key_inputs.files, proven) {
            let reason = format!(
                "{file}: imports, build constraints, embed patterns or cgo directives changed"
            );
            return (miss(None, Some(reason), Vec::new()), None);
        }
        let key = key_inputs.key();
        if let Some(last) = last.as_ref().filter(|l| l.key == key) {
            if outputs_in_place(&unit.output_dir, &last.outputs) {
                // The stamps the fast path missed (racy then, or touched): renew them, so that
                // the next no-op reads nothing.
                let renewed =
                    LastBuild::new(key.clone(), key_inputs, last.outputs.clone(), &set, stamps);
                self.write_depfile(unit, &manifest_key, &set, Some(renewed));
                return (
                    Explanation {
                        verdict: Verdict::Fresh,
                        key: Some(key.to_string()),
                        reason: None,
                        changes: Vec::new(),
                    },
                    Some(set),
                );
            }
        }
        if let Some(entry) = self
            .store
            .get_entry(&key)
            .and_then(|bytes| CacheEntry::parse(&bytes, &key).ok())
        {
            if let Some(placed) = self.restore(unit, &entry) {
                self.write_depfile(
                    unit,
                    &manifest_key,
                    &set,
                    Some(LastBuild::new(
                        key.clone(),
                        key_inputs,
                        placed,
                        &set,
                        stamps,
                    )),
                );
                return (
                    Explanation {
                        verdict: Verdict::Restored,
                        key: Some(key.to_string()),
                        reason: None,
                        changes: Vec::new(),
                    },
                    Some(set),
                );
            }
        }
        let changes = last
            .map(|l| key_inputs.changes_since(&l.key_inputs))
            .unwrap_or_default();
        let reason = changes.is_empty().then(|| "not in the cache".to_string());
        (miss(Some(key), reason, changes), Some(set))
    }

    /// The no-op fast path (see `fastpath`): the key of the last build when its settings are
    /// the unit's, no input or directory stamp moved, and the outputs are in place.
    fn unchanged_since_last_build(&self, unit: &UnitKey) -> Option<CacheKey> {
        let settings = fastpath::settings_digest(
            &unit.base,
            &fastpath::control_names(&self.root, &unit.control),
        );
        fastpath::unchanged_key(&unit.depfile, &self.root, &settings, &unit.output_dir)
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
            if !self.store.get_blob(&record.sha256, &dest, record.mode) {
                return None;
            }
            placed.push(PlacedOutput {
                record: record.clone(),
                stamp: FileStamp::of(&dest).ok()?,
            });
        }
        Some(placed)
    }

    /// Records a successful build: its input set, key and outputs, unless an input moved after
    /// `started` (the stamp of a file created when the build began). Returns the key it was
    /// stored under (None when it was not stored) and the key inputs.
    pub fn record(
        &self,
        unit: &UnitKey,
        set: &InputSet,
        started: FileStamp,
    ) -> Result<(Option<CacheKey>, KeyInputs)> {
        let manifest_key = self.manifest_key(unit);
        let (key_inputs, stamps) = self.key_inputs(unit, set);
        let after_start = |s: &FileStamp| s.mtime_ns.max(s.ctime_ns) >= started.ctime_ns;
        let moved_file = set
            .files
            .iter()
            .zip(&stamps)
            .find(|(_, s)| s.as_ref().is_some_and(after_start))
            .map(|(f, _)| f.clone());
        let dir_stamps = set.dir_stamps(&self.root);
        let moved = moved_file.or_else(|| {
            dir_stamps
                .iter()
                .find(|(_, s)| after_start(s))
                .map(|(d, _)| format!("{d}/"))
        });
        if let Some(file) = moved {
            self.reporter.warn(&format!(
                "{file} changed while `{}` was building; not caching this build",
                unit.target
            ));
            let _ = std::fs::remove_file(&unit.depfile);
            fastpath::write(&unit.depfile, None);
            return Ok((None, key_inputs));
        }
        let key = key_inputs.key();
        let mut outputs = Vec::new();
        for name in &unit.output_names {
            let path = unit.output_dir.join(name);
            let meta = std::fs::metadata(&path)
                .with_context(|| format!("go reported success but wrote no {path}"))?;
            let sha256 =
                statcache::sha256_file(&path).with_context(|| format!("hashing {path}"))?;
            let record = OutputRecord {
                name: name.clone(),
                sha256,
                size: meta.len(),
                mode: fsutil::file_mode(&meta),
            };
            outputs.push(PlacedOutput {
                record,
                stamp: FileStamp::from_metadata(&meta),
            });
        }
        let entry = CacheEntry {
            key: key.to_string(),
            target: unit.target.clone(),
            triple: unit.triple.clone(),
            outputs: outputs.iter().map(|o| o.record.clone()).collect(),
        };
        let stored = self.store_entry(unit, &key, &entry, &manifest_key, set);
        self.write_depfile(
            unit,
            &manifest_key,
            set,
            Some(LastBuild::new(
                key.clone(),
                key_inputs.clone(),
                outputs,
                set,
                stamps,
            )),
        );
        Ok((stored.then_some(key), key_inputs))
    }

    /// Blobs first, then the entry, then the manifest: a reader never sees an entry without blobs.
    /// The crash points name each step done; the depfile comes after (`record`).
    fn store_entry(
        &self,
        unit: &UnitKey,
        key: &CacheKey,
        entry: &CacheEntry,
        manifest_key: &CacheKey,
        set: &InputSet,
    ) -> bool {
        self.store_swept.call_once(|| {
            self.store.sweep_temp_files();
        });
        let blobs: Vec<BlobSource> = entry
            .outputs
            .iter()
            .map(|output| BlobSource {
                sha256: output.sha256.clone(),
                path: unit.output_dir.join(&output.name),
            })
            .collect();
        let result = (|| -> Result<()> {
            // Blobs, then the entry (the store aborts at `blob-renamed` between the two).
            self.store
                .put_entry_with_blobs(key, &serde_json::to_vec(entry)?, &blobs)?;
            crash::reached(self.crash_at, CrashPoint::EntryWritten);
            self.store
                .put_entry(manifest_key, &serde_json::to_vec(set)?)?;
            crash::reached(self.crash_at, CrashPoint::ManifestWritten);
            Ok(())
        })();
        if let Err(e) = &result {
            if !self.write_warned.swap(true, Ordering::SeqCst) {
                self.reporter.warn(&format!(
                    "could not write to the build cache ({}): {e:#}; builds go on without storing",
                    self.store.describe()
                ));
            }
        }
        result.is_ok()
    }

    fn write_depfile(
        &self,
        unit: &UnitKey,
        manifest_key: &CacheKey,
        set: &InputSet,
        last: Option<LastBuild>,
    ) {
        let depfile = Depfile {
            format: DEPFILE_FORMAT,
            manifest_key: manifest_key.clone(),
            inputs: set.clone(),
            dir_stamps: set.dir_stamps(&self.root),
            last,
        };
        if let Ok(bytes) = serde_json::to_vec(&depfile) {
            let temp_written = || crash::reached(self.crash_at, CrashPoint::DepfileTemp);
            let scratch = fsutil::Durability::Scratch;
            let _ = fsutil::write_atomic_then(&unit.depfile, &bytes, scratch, &temp_written);
        }
        // What the next no-op checks instead of reading the depfile.
        let control = fastpath::control_names(&self.root, &unit.control);
        let last = depfile
            .last
            .as_ref()
            .filter(|last| fastpath::covers_control(&last.stamps, &control));
        let stamps = last.map(|last| fastpath::LastStamps {
            key: &last.key,
            settings: fastpath::settings_digest(&last.key_inputs, &control),
            outputs: last
                .outputs
                .iter()
                .map(|o| (o.record.name.as_str(), o.stamp))
                .collect(),
            files: &last.stamps,
            dirs: set
                .dirs
                .iter()
                .map(|d| (d.path.as_str(), depfile.dir_stamps.get(&d.path).copied()))
                .collect(),
            stamped_at_ns: last.stamped_at_ns,
        });
        fastpath::write(&unit.depfile, stamps.as_ref());
    }

    /// The key inputs of the last recorded build, if any.
    pub fn last_key_inputs(&self, unit: &UnitKey) -> Option<KeyInputs> {
        self.load_depfile(unit)
            .and_then(|d| d.last)
            .map(|l| l.key_inputs)
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

fn outputs_in_place(dir: &Utf8Path, outputs: &[PlacedOutput]) -> bool {
    outputs
        .iter()
        .all(|o| FileStamp::of(&dir.join(&o.record.name)).is_ok_and(|s| s == o.stamp))
}

/// Writes `marker` afresh: its stamp is the moment a build began, on the file system's own clock.
pub fn start_stamp_at(marker: &Utf8Path) -> Result<FileStamp> {
    let _ = std::fs::remove_file(marker);
    std::fs::write(marker, b"").with_context(|| format!("writing {marker}"))?;
    FileStamp::of(marker).with_context(|| format!("stat {marker}"))
}
