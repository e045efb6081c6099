//! Recording a successful build: its outputs hashed, blobs and entry stored (in that order),
//! the input set stored under the manifest key, and the depfile written; nothing is stored when
//! an input moved after the build began.

use std::sync::atomic::Ordering;

use anyhow::{Context, Result};
use camino::Utf8Path;

use crate::buildcache::depfile::{LastBuild, PlacedOutput};
use crate::buildcache::inputs::InputSet;
use crate::buildcache::key::{CacheKey, KeyInputs};
use crate::buildcache::statcache::{self, FileStamp};
use crate::buildcache::storage::{BlobSource, CacheEntry, OutputRecord};
use crate::buildcache::{fastpath, BuildCache, HashedInputs, UnitKey};
use crate::util::crash::{self, CrashPoint};
use crate::util::fsutil;

impl BuildCache {
    /// Records a successful build: its input set, key and outputs, unless an input moved after
    /// `started` (the stamp of a file created when the build began). Returns the key it was
    /// stored under (None when it was not stored) and the key inputs.
    /// `hashed`: the batch's input files, hashed and stat'ed once after its build ended.
    pub fn record(
        &self,
        unit: &UnitKey,
        set: &InputSet,
        started: FileStamp,
        hashed: Option<&HashedInputs>,
    ) -> Result<(Option<CacheKey>, KeyInputs)> {
        let manifest_key = self.manifest_key(unit);
        let stamped_at = hashed.map_or_else(statcache::now_ns, |h| h.stamped_at_ns);
        // The outputs (megabytes) hash on their own thread while the inputs are stat'ed.
        let (key_inputs, stamps, outputs) = std::thread::scope(|s| {
            let outputs = s.spawn(|| placed_outputs(unit));
            let (key_inputs, stamps) = self.key_inputs(unit, set, hashed);
            let outputs = outputs.join().expect("the output hashing thread panicked");
            (key_inputs, stamps, outputs)
        });
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
            fastpath::remove(&unit.depfile);
            return Ok((None, key_inputs));
        }
        let key = key_inputs.key();
        let outputs = outputs?;
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
                stamped_at,
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
}

/// The unit's outputs in place: hashed, with their stamps.
fn placed_outputs(unit: &UnitKey) -> Result<Vec<PlacedOutput>> {
    let mut outputs = Vec::new();
    for name in &unit.output_names {
        let path = unit.output_dir.join(name);
        let meta = std::fs::metadata(&path)
            .with_context(|| format!("go reported success but wrote no {path}"))?;
        let sha256 = statcache::sha256_file(&path).with_context(|| format!("hashing {path}"))?;
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
    Ok(outputs)
}

/// The moment a build began, on the file system's own clock: the stamp of a file created now
/// beside `marker`, under a name of this process's own (two builds of one target at once each
/// stat their own file; one shared name let the other remove it between write and stat).
pub fn start_stamp_at(marker: &Utf8Path) -> Result<FileStamp> {
    let file = fsutil::temp_path_for(marker);
    std::fs::write(&file, b"").with_context(|| format!("writing {file}"))?;
    let stamp = FileStamp::of(&file).with_context(|| format!("stat {file}"));
    let _ = std::fs::remove_file(&file);
    stamp
}
