//! Keeping the local store in bounds: `cache stats`, `cache gc` (least recently used entries go
//! first, then blobs no entry names) and `cache clean`; also the automatic gc after a build.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use camino::Utf8Path;
use serde::Serialize;

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
/// that no remaining build entry names. Manifests (input sets) count as entries.
pub fn gc(store: &LocalStore, max_size: u64) -> GcReport {
    let mut report = GcReport {
        temp_files: store.clean_temp_files(),
        ..GcReport::default()
    };
    let mut entries = store.entries();
    let blobs = store.blobs();
    let mut total: u64 =
        entries.iter().map(|e| e.1).sum::<u64>() + blobs.iter().map(|b| b.1).sum::<u64>();
    entries.sort_by_key(|e| e.2);
    let mut kept = Vec::new();
    for (path, size, used) in entries {
        if total > max_size && std::fs::remove_file(&path).is_ok() {
            total -= size;
            report.removed_entries += 1;
            report.freed_bytes += size;
        } else {
            kept.push((path, size, used));
        }
    }
    let referenced: HashSet<String> = kept
        .iter()
        .filter_map(|(path, _, _)| std::fs::read(path).ok())
        .filter_map(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .flat_map(|v| v["outputs"].as_array().cloned().unwrap_or_default())
        .filter_map(|o| o["sha256"].as_str().map(String::from))
        .collect();
    for (path, size, _) in blobs {
        if !referenced.contains(path.file_name().unwrap_or_default())
            && std::fs::remove_file(&path).is_ok()
        {
            report.removed_blobs += 1;
            report.freed_bytes += size;
        }
    }
    report
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
    if fsutil::write_atomic(&stamp, b"").is_ok() {
        gc(store, max_size);
    }
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
