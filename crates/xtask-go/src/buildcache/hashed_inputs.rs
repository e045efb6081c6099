//! `HashedInputs`: input files stat'ed (and hashed, through the stat cache) once for all the
//! units of one phase of a run, the lookups before any build or the records after one batch's
//! build. The 40 mains of one module share ~3,000 files, which each unit stat'ed again.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use crate::buildcache::inputs::InputSet;
use crate::buildcache::statcache::{self, FileStamp};
use crate::buildcache::{BuildCache, FileDigests};

/// Digests and stamps of input files by root-relative name, each taken at most once since the
/// memo was made: every stamp in it is as good as one a unit would take itself at that point of
/// the run (a record's, after its build ended; a lookup's, before any build began). The moment
/// it was made is what the last build's `stamped_at` names (the racy rule counts from it).
pub struct HashedInputs {
    files: Mutex<HashMap<String, (String, Option<FileStamp>)>>,
    pub(super) stamped_at_ns: i128,
}

impl BuildCache {
    /// An empty memo, filled as units ask for their files.
    pub fn hashed_inputs(&self) -> HashedInputs {
        HashedInputs {
            files: Mutex::new(HashMap::new()),
            stamped_at_ns: statcache::now_ns(),
        }
    }

    /// A memo holding the files of `sets`, each hashed once. While go still builds (the memo
    /// then only warms the stat cache, and `record` after the build stats them again: a file
    /// that moved meanwhile is hashed again there), and once after a batch's build for all of
    /// its units.
    pub fn hash_inputs<'a>(&self, sets: impl Iterator<Item = &'a InputSet>) -> HashedInputs {
        let hashed = self.hashed_inputs();
        let mut names: Vec<String> = sets.flat_map(|s| s.files.iter().cloned()).collect();
        names.sort_unstable();
        names.dedup();
        self.digests_of(&names, Some(&hashed));
        hashed
    }

    /// The digests and stamps of `names` (as `hash_files` gives them), from `hashed` where it
    /// has them; the others are hashed now and kept there.
    pub(super) fn digests_of(
        &self,
        names: &[String],
        hashed: Option<&HashedInputs>,
    ) -> FileDigests {
        let Some(hashed) = hashed else {
            return self.hash_files(names);
        };
        let missing: Vec<String> = {
            let files = hashed.files.lock().unwrap();
            names
                .iter()
                .filter(|n| !files.contains_key(*n))
                .cloned()
                .collect()
        };
        // Stat'ed outside the lock: two units may hash one file twice, never wait for each other.
        let (mut digests, stamps) = self.hash_files(&missing);
        let mut files = hashed.files.lock().unwrap();
        for (name, stamp) in missing.into_iter().zip(stamps) {
            let digest = digests.remove(&name).unwrap_or_else(|| "absent".into());
            files.insert(name, (digest, stamp));
        }
        let mut digests = BTreeMap::new();
        let mut stamps = Vec::with_capacity(names.len());
        for name in names {
            let (digest, stamp) = &files[name];
            digests.insert(name.clone(), digest.clone());
            stamps.push(*stamp);
        }
        (digests, stamps)
    }
}
