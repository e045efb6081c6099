//! The stat cache: each input's (size, mtime, ctime, inode) and the sha256 of its content, so an
//! unchanged file is never read twice; racy entries (changed within the timestamp granularity of
//! when the cache was saved) are always re-hashed, as git does for its index.

use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::util::fsutil;

/// Bump when the file's layout changes; an old file is then ignored.
const FORMAT: u32 = 3;

pub use crate::util::stamp::{now_ns, FileStamp};

/// A directory opened once, so that its files are stat'ed by name: the kernel then walks one
/// path component per file instead of the whole path (a no-op stats thousands of files).
pub struct OpenDir {
    #[cfg(unix)]
    fd: std::os::fd::OwnedFd,
    #[cfg(not(unix))]
    path: Utf8PathBuf,
}

impl OpenDir {
    pub fn open(path: &Utf8Path) -> std::io::Result<OpenDir> {
        #[cfg(unix)]
        {
            use rustix::fs::{Mode, OFlags};
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
            let fd = rustix::fs::open(path.as_std_path(), flags, Mode::empty())?;
            Ok(OpenDir { fd })
        }
        #[cfg(not(unix))]
        {
            if !std::fs::metadata(path)?.is_dir() {
                return Err(std::io::ErrorKind::NotADirectory.into());
            }
            Ok(OpenDir {
                path: path.to_owned(),
            })
        }
    }

    /// The directory's own stamp.
    pub fn stamp(&self) -> std::io::Result<FileStamp> {
        #[cfg(unix)]
        {
            Ok(from_stat(&rustix::fs::fstat(&self.fd)?))
        }
        #[cfg(not(unix))]
        {
            FileStamp::of(&self.path)
        }
    }

    /// The stamp of the entry `name`, following symlinks as `FileStamp::of` does.
    pub fn stamp_of(&self, name: &str) -> std::io::Result<FileStamp> {
        #[cfg(unix)]
        {
            let stat = rustix::fs::statat(&self.fd, name, rustix::fs::AtFlags::empty())?;
            Ok(from_stat(&stat))
        }
        #[cfg(not(unix))]
        {
            FileStamp::of(&self.path.join(name))
        }
    }
}

/// The same numbers `FileStamp::from_metadata` takes from std's `Metadata` (the casts let one
/// line serve the field types of every unix).
#[cfg(unix)]
#[allow(clippy::unnecessary_cast)]
fn from_stat(s: &rustix::fs::Stat) -> FileStamp {
    FileStamp {
        size: s.st_size as u64,
        mtime_ns: s.st_mtime as i128 * 1_000_000_000 + s.st_mtime_nsec as i128,
        ctime_ns: s.st_ctime as i128 * 1_000_000_000 + s.st_ctime_nsec as i128,
        inode: s.st_ino as u64,
    }
}

#[derive(Debug, Clone)]
struct Entry {
    stamp: FileStamp,
    sha256: String,
}

/// The file's first line; the format (a line per entry, not JSON) keeps a load and a save of a
/// few thousand entries at about a millisecond each, for they sit on every miss's path.
const HEADER: &str = "xtask-go stat cache";

/// `<HEADER> <FORMAT> <saved_at_ns>`, then `<sha256> <size> <mtime_ns> <ctime_ns> <inode> <path>`
/// per entry. Anything unexpected makes the whole file an empty cache.
fn parse(text: &str) -> Option<(i128, HashMap<String, Entry>)> {
    let mut lines = text.lines();
    let header = lines.next()?.strip_prefix(HEADER)?;
    let (format, saved_at_ns) = header.trim_start().split_once(' ')?;
    if format.parse::<u32>().ok()? != FORMAT {
        return None;
    }
    let mut entries = HashMap::new();
    for line in lines {
        let (sha256, rest) = line.split_once(' ')?;
        let (stamp, path) = crate::buildcache::stamps::parse_stamp(rest)?;
        if sha256.len() != 64 {
            return None;
        }
        let sha256 = sha256.to_string();
        entries.insert(path.to_string(), Entry { stamp, sha256 });
    }
    Some((saved_at_ns.parse().ok()?, entries))
}

fn render(saved_at_ns: i128, entries: &HashMap<String, Entry>) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(64 + entries.len() * 160);
    let _ = writeln!(out, "{HEADER} {FORMAT} {saved_at_ns}");
    for (path, e) in entries {
        if path.contains(['\n', '\r']) {
            continue;
        }
        let s = &e.stamp;
        let _ = writeln!(
            out,
            "{} {} {} {} {} {path}",
            e.sha256, s.size, s.mtime_ns, s.ctime_ns, s.inode
        );
    }
    out
}

/// Content hashes of files, reused while their stat is unchanged. Shared by the build's threads.
pub struct StatCache {
    file: Utf8PathBuf,
    /// When the cache was last saved (loaded, then each save): entries stamped within the
    /// racy window before it are re-hashed. Nanoseconds since the epoch (an i64 lasts to 2262).
    saved_at_ns: AtomicI64,
    entries: Mutex<HashMap<String, Entry>>,
    /// Bumped (under the `entries` lock) whenever an entry is added.
    changes: AtomicU64,
    /// The `changes` count the file on disk holds; held for a whole save, so that two saves
    /// (one while go runs, one at the end) never write out of order.
    saved: Mutex<u64>,
}

/// A file's content hash, or the fact that it does not exist.
pub type Digest256 = Option<String>;

impl StatCache {
    /// Loads the cache at `file`; a missing, old or corrupt file is an empty cache.
    pub fn load(file: &Utf8Path) -> StatCache {
        let (saved_at_ns, entries) = std::fs::read_to_string(file)
            .ok()
            .and_then(|text| parse(&text))
            .unwrap_or_default();
        StatCache {
            file: file.to_owned(),
            saved_at_ns: AtomicI64::new(saved_at_ns as i64),
            entries: Mutex::new(entries),
            changes: AtomicU64::new(0),
            saved: Mutex::new(0),
        }
    }

    /// The sha256 (hex) of each path's content, None for a missing file; hashes in parallel
    /// what the cache cannot vouch for. Returns the stamps seen, for a later "did it move" check.
    pub fn hash_all(&self, paths: &[Utf8PathBuf]) -> Vec<(Digest256, Option<FileStamp>)> {
        let mut results: Vec<Option<(Digest256, Option<FileStamp>)>> = vec![None; paths.len()];
        let mut to_hash = Vec::new();
        // The stats come first, outside the lock: the units of a batch record side by side.
        let stamps: Vec<_> = paths.iter().map(|p| FileStamp::of(p)).collect();
        {
            let entries = self.entries.lock().unwrap();
            for (i, (path, stamp)) in paths.iter().zip(stamps).enumerate() {
                match stamp {
                    Err(_) => results[i] = Some((None, None)),
                    Ok(stamp) => match entries.get(path.as_str()) {
                        Some(e) if e.stamp == stamp && !self.is_racy(&stamp) => {
                            results[i] = Some((Some(e.sha256.clone()), Some(stamp)))
                        }
                        _ => to_hash.push((i, stamp)),
                    },
                }
            }
        }
        if !to_hash.is_empty() {
            let hashed = hash_files_parallel(paths, &to_hash);
            let mut entries = self.entries.lock().unwrap();
            for (i, stamp, steady, digest) in hashed {
                if let (Some(sha), true) = (&digest, steady) {
                    let known = entries
                        .get(paths[i].as_str())
                        .is_some_and(|e| e.stamp == stamp && e.sha256 == *sha);
                    // A racy file (edited within the window of the last save) hashed again to
                    // what is known gives nothing to save: it is hashed again next time, a few
                    // microseconds, where a save costs milliseconds.
                    if !known {
                        let sha256 = sha.clone();
                        entries.insert(paths[i].to_string(), Entry { stamp, sha256 });
                        self.changes.fetch_add(1, Ordering::SeqCst);
                    }
                }
                results[i] = Some((digest, Some(stamp)));
            }
        }
        results
            .into_iter()
            .map(|r| r.expect("every path was looked at"))
            .collect()
    }

    /// Racy: modified so close to the last save that a later change within the same
    /// timestamp tick could have kept the stamp; its hash cannot be trusted.
    fn is_racy(&self, stamp: &FileStamp) -> bool {
        stamp.is_recent(self.saved_at_ns.load(Ordering::SeqCst) as i128)
    }

    /// Writes the cache back if anything changed since the last save (atomically; a failure
    /// only costs re-hashing). Safe to call from several threads and more than once.
    pub fn save(&self) -> Result<()> {
        let mut saved = self.saved.lock().unwrap();
        let (changes, now, text) = {
            let entries = self.entries.lock().unwrap();
            let changes = self.changes.load(Ordering::SeqCst);
            if changes == *saved {
                return Ok(());
            }
            let now = now_ns();
            (changes, now, render(now, &entries))
        };
        fsutil::write_atomic_with(&self.file, text.as_bytes(), fsutil::Durability::Scratch)
            .with_context(|| format!("saving the stat cache {}", self.file))?;
        *saved = changes;
        // As after a load of what was just written: the files hashed before `now` and stamped
        // well before it are trusted from here on (git's racy rule, against the new save time).
        self.saved_at_ns.store(now as i64, Ordering::SeqCst);
        Ok(())
    }
}

/// Hashes `paths[i]` for each `(i, stamp)` on rayon's global pool (one thread per core). Returns
/// the stamp seen after reading and whether it was steady: a file that moved while it was read is
/// not cached.
fn hash_files_parallel(
    paths: &[Utf8PathBuf],
    work: &[(usize, FileStamp)],
) -> Vec<(usize, FileStamp, bool, Digest256)> {
    work.par_iter()
        .map(|&(i, stamp)| {
            let digest = sha256_file(&paths[i]).ok();
            let after = FileStamp::of(&paths[i]).unwrap_or(stamp);
            (i, after, after == stamp, digest)
        })
        .collect()
}

/// The sha256 of a file's content, hex (sha2 picks SHA-NI where the CPU has it).
pub fn sha256_file(path: &Utf8Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

pub use crate::util::hex;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_directory_stamps_as_a_path_does() {
        let dir = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(dir.path()).unwrap();
        std::fs::write(dir.join("a.go"), "package a\n").unwrap();
        let opened = OpenDir::open(dir).unwrap();
        assert_eq!(opened.stamp().unwrap(), FileStamp::of(dir).unwrap());
        let a = FileStamp::of(&dir.join("a.go")).unwrap();
        assert_eq!(opened.stamp_of("a.go").unwrap(), a);
        assert!(opened.stamp_of("b.go").is_err());
        assert!(
            OpenDir::open(&dir.join("a.go")).is_err(),
            "a file is no directory"
        );
    }

    #[test]
    fn the_saved_file_round_trips_and_anything_odd_is_an_empty_cache() {
        let stamp = FileStamp {
            size: 3,
            mtime_ns: 10,
            ctime_ns: 11,
            inode: 12,
        };
        let sha256 = "ab".repeat(32);
        let entries = HashMap::from([(
            "/a dir/x.go".to_string(),
            Entry {
                stamp,
                sha256: sha256.clone(),
            },
        )]);
        let text = render(99, &entries);
        let (saved_at, parsed) = parse(&text).unwrap();
        assert_eq!(saved_at, 99);
        let e = &parsed["/a dir/x.go"];
        assert_eq!((e.stamp, e.sha256.as_str()), (stamp, sha256.as_str()));
        assert!(
            parse(&text.replace(" 3 10 ", " x 10 ")).is_none(),
            "a bad number"
        );
        assert!(
            parse(&text.replace(&sha256, "abc")).is_none(),
            "a short hash"
        );
        assert!(
            parse(&text.replacen("3 99", "2 99", 1)).is_none(),
            "an old format"
        );
        assert!(parse("{\"format\":2}").is_none(), "the old JSON file");
    }

    #[test]
    fn saves_only_what_is_new_and_a_racy_file_hashed_again_is_not_new() {
        let dir = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(dir.path()).unwrap();
        let (file, cache_file) = (dir.join("a.go"), dir.join("stat-cache"));
        std::fs::write(&file, "package a\n").unwrap();
        let cache = StatCache::load(&cache_file);
        let paths = std::slice::from_ref(&file);
        cache.hash_all(paths);
        cache.save().unwrap();
        assert!(cache_file.is_file(), "a new hash is saved");
        std::fs::remove_file(&cache_file).unwrap();
        // Written just now, the file is racy: hashed again, to what the cache knows.
        assert_eq!(
            cache.hash_all(paths)[0].0,
            Some(sha256_file(&file).unwrap())
        );
        cache.save().unwrap();
        assert!(!cache_file.exists(), "nothing new, nothing written");
        std::fs::write(&file, "package b\n").unwrap();
        cache.hash_all(paths);
        cache.save().unwrap();
        assert!(cache_file.is_file(), "a changed file is new again");
    }

    #[test]
    fn reuses_hashes_until_the_stamp_moves_and_rehashes_racy_entries() {
        let dir = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(dir.path()).unwrap();
        let file = dir.join("a.go");
        std::fs::write(&file, "package a\n").unwrap();
        let cache_file = dir.join("stat-cache");
        let cache = StatCache::load(&cache_file);
        let first = cache.hash_all(std::slice::from_ref(&file));
        assert_eq!(
            first[0].0.as_deref(),
            Some(sha256_file(&file).unwrap().as_str())
        );
        cache.save().unwrap();
        // Same size, content changed: the ctime moves even if the mtime is put back.
        let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
        std::fs::write(&file, "package b\n").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        let cache = StatCache::load(&cache_file);
        let second = cache.hash_all(std::slice::from_ref(&file));
        assert_ne!(first[0].0, second[0].0);
        assert_eq!(cache.hash_all(&[dir.join("missing.go")])[0].0, None);
    }
}
