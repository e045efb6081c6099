//! The local, on-disk store, the default backend of `Storage`.
//!
//! Layout (versioned bucket, like cargo's and uv's caches):
//! `<dir>/CACHEDIR.TAG`, `<dir>/v1/entries/<2 hex>/<key>.json`, `<dir>/v1/blobs/<2 hex>/<sha256>`
//! (`storage::blob_path`). Every write is atomic; a failed or corrupt read is a miss.

use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use crate::buildcache::key::CacheKey;
use crate::buildcache::storage::{blob_path, BlobSource, Storage, BUCKET};
use crate::util::crash::{self, CrashAt, CrashPoint};
use crate::util::fsutil::{self, Durability, PageCache};
use crate::util::report::Reporter;

/// A temp file with no pid in its name is another machine's (a shared store): stale after this.
const TEMP_MIN_AGE: Duration = Duration::from_secs(3600);

/// The default store: a directory on this machine.
pub struct LocalStore {
    root: Utf8PathBuf,
    reporter: Reporter,
    crash_at: CrashAt,
}

impl LocalStore {
    /// Opens (and creates if it can) the store at `root`. A read-only location still serves hits.
    /// Its warnings (a corrupt blob) go to stderr; a command's store uses [`LocalStore::reporting_to`].
    pub fn open(root: &Utf8Path) -> LocalStore {
        let store = LocalStore {
            root: root.to_owned(),
            reporter: Reporter::new(false),
            crash_at: None,
        };
        if std::fs::create_dir_all(store.bucket()).is_ok() {
            let _ = fsutil::write_cachedir_tag(root);
        }
        store
    }

    /// The same store, warning through the command's `reporter`.
    pub fn reporting_to(self, reporter: &Reporter) -> LocalStore {
        LocalStore {
            reporter: reporter.clone(),
            ..self
        }
    }

    /// The same store, aborting at `crash_at` (the settings' test-only crash point).
    pub fn crashing_at(mut self, crash_at: CrashAt) -> LocalStore {
        self.crash_at = crash_at;
        self
    }

    pub fn root(&self) -> &Utf8Path {
        &self.root
    }

    fn bucket(&self) -> Utf8PathBuf {
        self.root.join(BUCKET)
    }

    fn entry_path(&self, key: &CacheKey) -> Utf8PathBuf {
        let k = key.as_str();
        self.bucket()
            .join("entries")
            .join(&k[..2])
            .join(format!("{k}.json"))
    }

    fn blob_path(&self, sha256: &str) -> Utf8PathBuf {
        blob_path(&self.root, sha256)
    }

    /// Every entry file with its size and last use (its mtime, refreshed on each hit).
    pub fn entries(&self) -> Vec<(Utf8PathBuf, u64, SystemTime)> {
        files_below(&self.bucket().join("entries"))
    }

    /// Every blob file with its size and mtime.
    pub fn blobs(&self) -> Vec<(Utf8PathBuf, u64, SystemTime)> {
        files_below(&self.bucket().join("blobs"))
    }

    /// Removes stale temp files left by killed processes (see `fsutil::clean_temp_files`).
    pub fn clean_temp_files(&self) -> usize {
        fsutil::clean_temp_files(&self.bucket(), TEMP_MIN_AGE)
    }

    /// Before a write into the shard directory of `path`: the temp files dead processes left
    /// there (a killed write leaves its temp beside the file it was writing). One directory,
    /// not the whole store: `gc` sweeps everywhere.
    fn sweep_shard_of(&self, path: &Utf8Path) {
        if let Some(dir) = path.parent().filter(|d| d.is_dir()) {
            fsutil::clean_temp_files(dir, TEMP_MIN_AGE);
        }
    }
}

impl Storage for LocalStore {
    fn describe(&self) -> String {
        format!("local {}", self.root)
    }

    fn get_entry(&self, key: &CacheKey) -> Option<Vec<u8>> {
        let path = self.entry_path(key);
        let bytes = std::fs::read(&path).ok()?;
        // LRU bookkeeping: a hit makes the entry recent. Failing (read-only store) is harmless.
        if let Ok(file) = std::fs::File::options().write(true).open(&path) {
            let _ = file.set_modified(SystemTime::now());
        }
        Some(bytes)
    }

    fn put_entry_with_blobs(
        &self,
        key: &CacheKey,
        bytes: &[u8],
        blobs: &[BlobSource],
    ) -> Result<()> {
        for blob in blobs {
            self.put_blob(&blob.sha256, &blob.path)?;
        }
        if !blobs.is_empty() {
            crash::reached(self.crash_at, CrashPoint::BlobRenamed);
        }
        self.sweep_shard_of(&self.entry_path(key));
        // Not fsynced: an entry a crash emptied or cut fails to parse, a miss.
        fsutil::write_atomic_with(&self.entry_path(key), bytes, Durability::Scratch)
    }

    fn local_path(&self, sha256: &str, _size: u64) -> Option<Utf8PathBuf> {
        let path = self.blob_path(sha256);
        path.is_file().then_some(path)
    }

    fn get_blob(&self, sha256: &str, _size: u64, dest: &Utf8Path, mode: u32) -> bool {
        let blob = self.blob_path(sha256);
        if !blob.is_file() {
            return false;
        }
        let temp_written = || crash::reached(self.crash_at, CrashPoint::MidRestore);
        let copied = fsutil::copy_verified(
            &blob,
            dest,
            sha256,
            Some(mode),
            Durability::Scratch,
            &temp_written,
        );
        match copied {
            Ok(()) => true,
            Err(e) => {
                // A flipped bit or a truncated blob: drop it, so the next build stores a good one.
                self.reporter.warn(&format!(
                    "cache blob {blob} is corrupt ({e:#}); removing it and rebuilding"
                ));
                let _ = std::fs::remove_file(&blob);
                false
            }
        }
    }
}

impl LocalStore {
    /// Stores `src`, which the caller has just hashed, as the blob `sha256`: a copy, or
    /// nothing when a blob of that name and size is there (an edit go compiled to the same
    /// program: not hashed again, 15 MB each). Not a hard link: an output later changed in place
    /// would change the blob with it. Not fsynced: every read of a blob verifies its content
    /// (restore, GOCACHEPROG, upload), so a blob a crash truncated or a disk flipped is a miss.
    pub fn put_blob(&self, sha256: &str, src: &Utf8Path) -> Result<()> {
        let blob = self.blob_path(sha256);
        let size = |path: &Utf8Path| std::fs::metadata(path).map(|m| m.len()).ok();
        if size(&blob).is_some_and(|stored| Some(stored) == size(src)) {
            return Ok(());
        }
        self.sweep_shard_of(&blob);
        let temp_written = || crash::reached(self.crash_at, CrashPoint::BlobTemp);
        // The caller hashed `src` a moment ago, and every read of a blob verifies it, so a copy
        // with no second hash can at worst cost a miss. Past the page cache: a blob is read
        // rarely, and filling fresh pages with it was most of an edit's cost after go on a VM.
        fsutil::copy_atomic(src, &blob, Some(0o644), PageCache::Bypass, &temp_written)
            .with_context(|| format!("storing {src} in the cache"))
    }
}

fn files_below(dir: &Utf8Path) -> Vec<(Utf8PathBuf, u64, SystemTime)> {
    let mut out = Vec::new();
    let Ok(shards) = std::fs::read_dir(dir) else {
        return out;
    };
    for shard in shards.flatten() {
        let Ok(files) = std::fs::read_dir(shard.path()) else {
            continue;
        };
        for file in files.flatten() {
            let name = file.file_name().to_string_lossy().into_owned();
            if name.starts_with(fsutil::TEMP_PREFIX) {
                continue;
            }
            let (Ok(meta), Some(path)) = (
                file.metadata(),
                Utf8PathBuf::from_path_buf(file.path()).ok(),
            ) else {
                continue;
            };
            out.push((
                path,
                meta.len(),
                meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buildcache::storage::{is_plain_file_name, CacheEntry};

    #[test]
    fn entry_names_must_stay_in_the_output_dir() {
        assert!(is_plain_file_name("hello.exe"));
        for bad in ["", ".", "..", "../x", "/etc/passwd", "a/b", "a\\b"] {
            assert!(!is_plain_file_name(bad), "{bad:?}");
        }
        let key = CacheKey::from_hex("ab".repeat(32)).unwrap();
        let sha = "0".repeat(64);
        let json = |name: &str| {
            format!(
                r#"{{"key":"{key}","target":"t","triple":"x","outputs":[{{"name":"{name}","sha256":"{sha}","size":1,"mode":420}}]}}"#
            )
        };
        assert!(CacheEntry::parse(json("ok").as_bytes(), &key).is_ok());
        assert!(CacheEntry::parse(json("../evil").as_bytes(), &key).is_err());
        assert!(CacheEntry::parse(json("/abs").as_bytes(), &key).is_err());
    }

    /// A store in a temp dir, and an output `out` there holding `binary`, with its sha256.
    fn store_and_output() -> (
        tempfile::TempDir,
        Utf8PathBuf,
        LocalStore,
        Utf8PathBuf,
        String,
    ) {
        let temp = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(temp.path()).unwrap().to_owned();
        let store = LocalStore::open(&dir.join("cache"));
        let src = dir.join("out");
        std::fs::write(&src, b"binary").unwrap();
        let sha = crate::buildcache::statcache::sha256_file(&src).unwrap();
        (temp, dir, store, src, sha)
    }

    #[test]
    fn a_corrupt_blob_is_a_miss_and_is_removed() {
        let (_temp, dir, store, src, sha) = store_and_output();
        store.put_blob(&sha, &src).unwrap();
        assert!(store.get_blob(&sha, 6, &dir.join("restored"), 0o755));
        std::fs::write(store.blob_path(&sha), b"binarz").unwrap();
        assert!(!store.get_blob(&sha, 6, &dir.join("restored2"), 0o755));
        assert!(!store.blob_path(&sha).exists());
        assert!(!dir.join("restored2").exists());
        assert!(dir.join("cache/CACHEDIR.TAG").is_file());
    }

    #[test]
    #[cfg(unix)]
    fn storing_over_a_cut_blob_replaces_it_and_over_a_whole_one_keeps_it() {
        let (_temp, _dir, store, src, sha) = store_and_output();
        std::fs::create_dir_all(store.blob_path(&sha).parent().unwrap()).unwrap();
        std::fs::write(store.blob_path(&sha), b"bin").unwrap();
        store.put_blob(&sha, &src).unwrap();
        assert_eq!(std::fs::read(store.blob_path(&sha)).unwrap(), b"binary");
        let kept = std::fs::metadata(store.blob_path(&sha)).unwrap();
        store.put_blob(&sha, &src).unwrap();
        let again = std::fs::metadata(store.blob_path(&sha)).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(kept.ino(), again.ino(), "a whole blob is not written again");
    }

    /// A program above the size written past the page cache: stored and restored byte for
    /// byte, whether or not the file system takes direct writes.
    #[test]
    fn a_large_blob_round_trips_exactly() {
        let (_temp, dir, store, src, _) = store_and_output();
        let size = crate::util::uncached_copy::MIN_UNCACHED_BYTES as usize * 2 + 12_345;
        let binary: Vec<u8> = (0..size).map(|i| (i % 253) as u8).collect();
        std::fs::write(&src, &binary).unwrap();
        let sha = crate::buildcache::statcache::sha256_file(&src).unwrap();
        store.put_blob(&sha, &src).unwrap();
        assert_eq!(
            std::fs::metadata(store.blob_path(&sha)).unwrap().len(),
            size as u64
        );
        let restored = dir.join("restored");
        assert!(store.get_blob(&sha, size as u64, &restored, 0o755));
        assert!(std::fs::read(&restored).unwrap() == binary);
    }
}
