//! Keeping the local store in bounds: `cache stats`, `cache gc` (least recently used entries go
//! first, then blobs no entry names) and `cache clean`; also the automatic gc after a build.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use serde::{Deserialize, Serialize};

use crate::buildcache::storage::local::LocalStore;
use crate::util::fsutil;

/// How often the automatic gc may walk the store.
const AUTO_GC_INTERVAL: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Serialize)]
pub struct CacheStats {
    pub location: String,
    pub entries: usize,
    pub blobs: usize,
    pub entry_bytes: u64,
    pub blob_bytes: u64,
}

impl CacheStats {
    pub fn total_bytes(&self) -> u64 {
        self.entry_bytes + self.blob_bytes
    }
}

pub fn stats(store: &LocalStore) -> CacheStats {
    let entries = store.entries();
    let blobs = store.blobs();
    CacheStats {
        location: store.root().to_string(),
        entries: entries.len(),
        blobs: blobs.len(),
        entry_bytes: entries.iter().map(|e| e.1).sum(),
        blob_bytes: blobs.iter().map(|b| b.1).sum(),
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct GcReport {
    pub removed_entries: usize,
    pub removed_blobs: usize,
    pub freed_bytes: u64,
    pub temp_files: usize,
}

/// Removes least recently used entries until the store is under `max_size`, then every blob
/// that no remaining build entry names. Manifests (input sets) count as entries. The size
/// counted is what would remain: the entries kept and the blobs they name (a blob shared by two
/// entries is freed with the last of them), so an entry's removal frees its outputs too, and the
/// most recent entries that fit stay whole.
pub fn gc(store: &LocalStore, max_size: u64) -> GcReport {
    let mut report = GcReport {
        temp_files: store.clean_temp_files(),
        ..GcReport::default()
    };
    let mut entries: Vec<(Utf8PathBuf, u64, SystemTime, Vec<String>)> = store
        .entries()
        .into_iter()
        .map(|(path, size, used)| {
            let named = blobs_named(&path);
            (path, size, used, named)
        })
        .collect();
    entries.sort_by_key(|e| e.2);
    let blobs: HashMap<String, (Utf8PathBuf, u64)> = store
        .blobs()
        .into_iter()
        .map(|(path, size, _)| {
            (
                path.file_name().unwrap_or_default().to_owned(),
                (path, size),
            )
        })
        .collect();
    let mut references: HashMap<&str, usize> = HashMap::new();
    for (_, _, _, named) in &entries {
        for sha in named {
            *references.entry(sha.as_str()).or_default() += 1;
        }
    }
    let blob_size = |sha: &str| blobs.get(sha).map_or(0, |b| b.1);
    let mut total: u64 = entries.iter().map(|e| e.1).sum::<u64>()
        + references.keys().map(|sha| blob_size(sha)).sum::<u64>();
    for (path, size, _, named) in &entries {
        if total <= max_size {
            break;
        }
        if std::fs::remove_file(path).is_err() {
            continue;
        }
        total -= size;
        report.removed_entries += 1;
        report.freed_bytes += size;
        for sha in named {
            let count = references.get_mut(sha.as_str()).expect("counted above");
            *count -= 1;
            if *count == 0 {
                total -= blob_size(sha);
            }
        }
    }
    for (sha, (path, size)) in &blobs {
        if references.get(sha.as_str()).is_none_or(|&n| n == 0)
            && std::fs::remove_file(path).is_ok()
        {
            report.removed_blobs += 1;
            report.freed_bytes += size;
        }
    }
    report
}

/// The blobs an entry file names (its `outputs`' sha256s); none for a manifest or a record.
/// Read into just those fields: a manifest names thousands of files (a tree of `Value`s for
/// each of 40 manifests of 250 KB took a tenth of a second after a cold build).
fn blobs_named(path: &Utf8Path) -> Vec<String> {
    #[derive(Deserialize)]
    struct Named {
        #[serde(default)]
        outputs: Vec<Output>,
    }
    #[derive(Deserialize)]
    struct Output {
        sha256: String,
    }
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Named>(&bytes).ok())
        .map(|named| named.outputs.into_iter().map(|o| o.sha256).collect())
        .unwrap_or_default()
}

/// Runs `gc` with `max_size` if the last automatic run is older than the interval.
pub fn auto_gc(store: &LocalStore, max_size: u64) {
    let stamp = store.root().join("last-gc");
    let recent = std::fs::metadata(&stamp)
        .ok()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age < AUTO_GC_INTERVAL);
    if recent {
        return;
    }
    if fsutil::write_atomic(&stamp, b"").is_err() {
        return;
    }
    // Under its limit (every file counted, blobs no entry names too) a store has nothing to
    // drop but dead processes' temp files: reading every entry for the blobs it names (after a
    // cold build of 40 programs, 40 manifests of 250 KB) waits until it is over.
    if stats(store).total_bytes() <= max_size {
        store.clean_temp_files();
        return;
    }
    gc(store, max_size);
}

/// Deletes the whole store directory (it must look like one of ours).
pub fn clean(root: &Utf8Path) -> Result<()> {
    if !root.exists() {
        return Ok(());
    }
    if !root.join("CACHEDIR.TAG").is_file() {
        bail!("{root} has no CACHEDIR.TAG; refusing to delete a directory that is not an xtask-go cache");
    }
    std::fs::remove_dir_all(root).with_context(|| format!("removing {root}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buildcache::key::CacheKey;
    use crate::buildcache::storage::{BlobSource, Storage};

    #[test]
    fn the_automatic_gc_reads_entries_only_when_the_store_is_over_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(dir.path()).unwrap();
        let store = LocalStore::open(&dir.join("store"));
        let output = dir.join("output");
        std::fs::write(&output, vec![7u8; 4096]).unwrap();
        let sha256 = crate::buildcache::statcache::sha256_file(&output).unwrap();
        let key = CacheKey::from_hex("ab".repeat(32)).unwrap();
        let entry = format!(r#"{{"outputs":[{{"sha256":"{sha256}"}}]}}"#);
        let blob = BlobSource {
            sha256: sha256.clone(),
            path: output.clone(),
        };
        store
            .put_entry_with_blobs(&key, entry.as_bytes(), &[blob])
            .unwrap();
        // A blob no entry names (a crash between blob and entry) waits while under the limit.
        store.put_blob(&"cd".repeat(32), &output).unwrap();
        auto_gc(&store, 1 << 20);
        assert_eq!((stats(&store).entries, stats(&store).blobs), (1, 2));
        // Within the interval nothing runs, even over the limit.
        auto_gc(&store, 1);
        assert_eq!(stats(&store).blobs, 2);
        // Over the limit once the interval passed: the entry goes, then every blob.
        std::fs::remove_file(store.root().join("last-gc")).unwrap();
        auto_gc(&store, 1);
        assert_eq!((stats(&store).entries, stats(&store).blobs), (0, 0));
    }
}
