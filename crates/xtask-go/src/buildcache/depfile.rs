//! A unit's depfile (`target/go/<triple>/<profile>/.deps/<target>.json`): its input set, the
//! stamps of the set's directories, and the last build's key with its outputs' and inputs'
//! stamps; written atomically, with the fast path's `<target>.stamps` beside it.

use std::collections::BTreeMap;

use camino::Utf8Path;
use serde::{Deserialize, Serialize};

use crate::buildcache::fastpath;
use crate::buildcache::inputs::InputSet;
use crate::buildcache::key::{CacheKey, KeyInputs};
use crate::buildcache::stamps::StampPacks;
use crate::buildcache::statcache::FileStamp;
use crate::buildcache::storage::OutputRecord;
use crate::util::crash::{self, CrashAt, CrashPoint};
use crate::util::fsutil;

/// Bump when the depfile layout changes.
const DEPFILE_FORMAT: u32 = 4;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PlacedOutput {
    pub(crate) record: OutputRecord,
    pub(crate) stamp: FileStamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LastBuild {
    pub(crate) key: CacheKey,
    pub(crate) key_inputs: KeyInputs,
    pub(crate) outputs: Vec<PlacedOutput>,
    /// Each input file's stamp when the key was computed (None: absent), and when that was
    /// (no later than the first stamp: the racy rule counts from it): a no-op run that finds
    /// every stamp unchanged (and none racy) reads no file at all. Written to the fast path's
    /// stamp pack, not to the depfile (a third of its bytes, which no reader of it used).
    #[serde(skip)]
    pub(crate) stamps: BTreeMap<String, Option<FileStamp>>,
    pub(crate) stamped_at_ns: i128,
}

impl LastBuild {
    pub(crate) fn new(
        key: CacheKey,
        key_inputs: KeyInputs,
        outputs: Vec<PlacedOutput>,
        set: &InputSet,
        stamps: Vec<Option<FileStamp>>,
        stamped_at_ns: i128,
    ) -> LastBuild {
        let stamps = set.files.iter().cloned().zip(stamps).collect();
        LastBuild {
            key,
            key_inputs,
            outputs,
            stamps,
            stamped_at_ns,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Depfile {
    pub(crate) format: u32,
    pub(crate) manifest_key: CacheKey,
    pub(crate) inputs: InputSet,
    pub(crate) dir_stamps: BTreeMap<String, FileStamp>,
    pub(crate) last: Option<LastBuild>,
}

impl Depfile {
    /// The depfile at `path`, if it is one of this format.
    pub(crate) fn load(path: &Utf8Path) -> Option<Depfile> {
        let bytes = std::fs::read(path).ok()?;
        serde_json::from_slice::<Depfile>(&bytes)
            .ok()
            .filter(|d| d.format == DEPFILE_FORMAT)
    }

    /// The depfile of `set` (and `last`, when a build's outputs are in place).
    pub(crate) fn new(
        root: &Utf8Path,
        manifest_key: &CacheKey,
        set: &InputSet,
        last: Option<LastBuild>,
    ) -> Depfile {
        Depfile {
            format: DEPFILE_FORMAT,
            manifest_key: manifest_key.clone(),
            inputs: set.clone(),
            dir_stamps: set.dir_stamps(root),
            last,
        }
    }

    /// Writes it to `path` (scratch durability: a lost depfile is a miss), then the fast
    /// path's stamp list for the control files `control`.
    pub(crate) fn write(
        &self,
        path: &Utf8Path,
        control: &[String],
        crash_at: CrashAt,
        packs: &StampPacks,
    ) {
        if let Ok(bytes) = serde_json::to_vec(self) {
            let temp_written = || crash::reached(crash_at, CrashPoint::DepfileTemp);
            let scratch = fsutil::Durability::Scratch;
            let _ = fsutil::write_atomic_then(path, &bytes, scratch, &temp_written);
        }
        // What the next no-op checks instead of reading the depfile.
        let last = self
            .last
            .as_ref()
            .filter(|last| fastpath::covers_control(&last.stamps, control));
        let stamps = last.map(|last| fastpath::LastStamps {
            key: &last.key,
            settings: fastpath::settings_digest(&last.key_inputs, control),
            outputs: last
                .outputs
                .iter()
                .map(|o| (o.record.name.as_str(), o.stamp))
                .collect(),
            files: &last.stamps,
            dirs: self
                .inputs
                .dirs
                .iter()
                .map(|d| (d.path.as_str(), self.dir_stamps.get(&d.path).copied()))
                .collect(),
            stamped_at_ns: last.stamped_at_ns,
        });
        fastpath::write(path, stamps.as_ref(), packs);
    }
}

/// Whether every output is in place with the stamp it had when recorded.
pub(crate) fn outputs_in_place(dir: &Utf8Path, outputs: &[PlacedOutput]) -> bool {
    outputs
        .iter()
        .all(|o| FileStamp::of(&dir.join(&o.record.name)).is_ok_and(|s| s == o.stamp))
}
