//! File-system primitives the cache relies on: atomic writes (temp file in the same directory,
//! fsync for what must be durable, rename), verified copies, and `CACHEDIR.TAG`.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use sha2::{Digest, Sha256};

use crate::util::uncached_copy::{self, MIN_UNCACHED_BYTES};

/// Prefix of every temp file this crate writes; `clean_temp_files` removes stale ones.
pub const TEMP_PREFIX: &str = ".xtask-go-tmp-";

/// A fresh temp path next to `path` (same directory, so the rename is atomic).
pub fn temp_path_for(path: &Utf8Path) -> Utf8PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Utf8Path::new("."));
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(
        "{TEMP_PREFIX}{}-{n}-{}",
        std::process::id(),
        path.file_name().unwrap_or("file")
    ))
}

/// The bytes of an open file expected to hold about `size`: read into a buffer of that size
/// plus one byte, so that no stat or seek is needed to size it (as `std::fs::read` does).
pub fn read_sized(file: &mut std::fs::File, size: usize) -> std::io::Result<Vec<u8>> {
    let mut bytes = vec![0; size + 1];
    let mut n = 0;
    loop {
        if n == bytes.len() {
            bytes.resize(n * 2, 0);
        }
        match file.read(&mut bytes[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    bytes.truncate(n);
    Ok(bytes)
}

/// Whether a write must also survive a crash, or only be atomic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync before the rename: for a file that is trusted without being checked when read.
    Durable,
    /// Atomic only: files that any doubt re-derives or that every read verifies (the store's
    /// blobs and entries, restored outputs, depfiles, stamp files, the snapshot), as cargo
    /// writes its own. A crash can lose the new version; a lost or emptied file is a miss.
    Scratch,
}

/// Writes `bytes` to `path` durably, so that readers see the old file or the whole new one.
pub fn write_atomic(path: &Utf8Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, bytes, Durability::Durable)
}

/// The one atomic-replace sequence: `fill` writes a temp file beside `to`, `temp_written` runs
/// (the crash points sit there), then the temp file is renamed over `to`; on any error the temp
/// file is removed and `to` is left alone.
fn replace_via_temp(
    to: &Utf8Path,
    temp_written: &dyn Fn(),
    fill: impl FnOnce(&Utf8Path) -> Result<()>,
) -> Result<()> {
    let dir = to
        .parent()
        .context("a file to write has a parent directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {dir}"))?;
    let temp = temp_path_for(to);
    let result = fill(&temp).and_then(|()| {
        temp_written();
        std::fs::rename(&temp, to).with_context(|| format!("renaming {temp} to {to}"))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Writes `bytes` to `path` so that readers see the old file or the whole new one, never a part.
pub fn write_atomic_with(path: &Utf8Path, bytes: &[u8], durability: Durability) -> Result<()> {
    write_atomic_then(path, bytes, durability, &|| {})
}

/// `write_atomic_with`, calling `temp_written` between the temp file's write and its rename
/// (where the crash points sit).
pub fn write_atomic_then(
    path: &Utf8Path,
    bytes: &[u8],
    durability: Durability,
    temp_written: &dyn Fn(),
) -> Result<()> {
    replace_via_temp(path, temp_written, |temp| {
        let mut file = std::fs::File::create(temp).with_context(|| format!("creating {temp}"))?;
        file.write_all(bytes)
            .with_context(|| format!("writing {temp}"))?;
        if durability == Durability::Durable {
            file.sync_all().with_context(|| format!("syncing {temp}"))?;
        }
        Ok(())
    })
}

/// Whether a copy's bytes stay in the page cache on their way to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageCache {
    /// A file read soon after (a library go links next).
    Fill,
    /// A file read rarely (a store's blob): written past the page cache where the file system
    /// takes it and the file is large (`uncached_copy`), with the kernel's copy otherwise.
    Bypass,
}

/// Copies `from` to `to` atomically with no hash: for a caller that hashed `from` just before
/// and a store whose every read verifies, or one that needs no hash. `mode` is applied on unix;
/// `temp_written` runs between the temp file's write and its rename.
pub fn copy_atomic(
    from: &Utf8Path,
    to: &Utf8Path,
    mode: Option<u32>,
    page_cache: PageCache,
    temp_written: &dyn Fn(),
) -> Result<()> {
    replace_via_temp(to, temp_written, |temp| {
        let large = || std::fs::metadata(from).is_ok_and(|m| m.len() >= MIN_UNCACHED_BYTES);
        let bypassed =
            page_cache == PageCache::Bypass && large() && uncached_copy::copy(from, temp).is_ok();
        if !bypassed {
            std::fs::copy(from, temp).with_context(|| format!("copying {from} to {temp}"))?;
        }
        set_mode(temp, mode)
    })
}

/// Copies `from` to `to` atomically while hashing it, and fails (leaving `to` alone) unless the
/// content's sha256 is `expected` (hex). `mode` is applied on unix. `temp_written` runs between
/// the temp file's write and its rename (where the crash points sit).
pub fn copy_verified(
    from: &Utf8Path,
    to: &Utf8Path,
    expected: &str,
    mode: Option<u32>,
    durability: Durability,
    temp_written: &dyn Fn(),
) -> Result<()> {
    let mut src = std::fs::File::open(from).with_context(|| format!("opening {from}"))?;
    let what = from.as_str();
    write_verified_then(&mut src, what, to, expected, mode, durability, temp_written)
}

/// Streams `src` (named `what` in errors) into a temp file next to `to` while hashing it, and
/// renames it into place only if its sha256 is `expected` (hex); otherwise `to` is left alone.
pub fn write_verified(
    src: &mut dyn Read,
    what: &str,
    to: &Utf8Path,
    expected: &str,
    mode: Option<u32>,
    durability: Durability,
) -> Result<()> {
    write_verified_then(src, what, to, expected, mode, durability, &|| {})
}

fn write_verified_then(
    src: &mut dyn Read,
    what: &str,
    to: &Utf8Path,
    expected: &str,
    mode: Option<u32>,
    durability: Durability,
    temp_written: &dyn Fn(),
) -> Result<()> {
    replace_via_temp(to, temp_written, |temp| {
        let mut dst = std::fs::File::create(temp).with_context(|| format!("creating {temp}"))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = src
                .read(&mut buf)
                .with_context(|| format!("reading {what}"))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            dst.write_all(&buf[..n])
                .with_context(|| format!("writing {temp}"))?;
        }
        let actual = crate::util::hex(&hasher.finalize());
        if actual != expected {
            bail!("{what} has sha256 {actual}, expected {expected}");
        }
        if durability == Durability::Durable {
            dst.sync_all().with_context(|| format!("syncing {temp}"))?;
        }
        set_mode(temp, mode)
    })
}

#[cfg(unix)]
fn set_mode(path: &Utf8Path, mode: Option<u32>) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(mode) = mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o777))
            .with_context(|| format!("chmod {path}"))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn set_mode(_path: &Utf8Path, _mode: Option<u32>) -> Result<()> {
    Ok(())
}

/// The unix permission bits of a file (0o644 elsewhere).
pub fn file_mode(meta: &std::fs::Metadata) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o777
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        0o644
    }
}

/// Marks `dir` as a cache directory (https://bford.info/cachedir/) so backup tools skip it.
pub fn write_cachedir_tag(dir: &Utf8Path) -> Result<()> {
    let tag = dir.join("CACHEDIR.TAG");
    if tag.is_file() {
        return Ok(());
    }
    let text = "Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by xtask-go.\n\
                # For information about cache directory tags see https://bford.info/cachedir/\n";
    write_atomic(&tag, text.as_bytes())
}

/// Removes the temp files below `dir` that a dead process left (killed before its rename): those
/// whose name carries the pid of no live process on this machine, and those with no pid in the
/// name older than `min_age`. A live process's temp file is never touched; our own are live.
/// (A store shared between machines over a network file system sees other hosts' pids as dead:
/// removing their temp file fails their rename, which is a failed store write, never a stale hit.)
pub fn clean_temp_files(dir: &Utf8Path, min_age: std::time::Duration) -> usize {
    let mut removed = 0;
    // Directories with a name that is not UTF-8 are not descended into; symlinks not followed.
    let walk = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| !e.file_type().is_dir() || e.file_name().to_str().is_some());
    for entry in walk.flatten() {
        if entry.file_type().is_dir() {
            continue;
        }
        let path = entry.path();
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(TEMP_PREFIX)) else {
            continue;
        };
        let stale = match temp_owner(rest) {
            Some(pid) => !process_alive(pid),
            None => entry
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age >= min_age),
        };
        if stale && std::fs::remove_file(path).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// The pid in a temp name after its prefix (`<pid>-<n>-<name>`, as `temp_path_for` makes them).
fn temp_owner(rest: &str) -> Option<u32> {
    let (pid, after) = rest.split_once('-')?;
    let (n, _) = after.split_once('-')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

/// Whether a process with this pid runs on this machine (ours always does). Where that cannot be
/// asked, every process is taken to be alive.
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    #[cfg(unix)]
    {
        let Some(pid) = i32::try_from(pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        else {
            return true;
        };
        // EPERM: it exists, as another user's.
        !matches!(
            rustix::process::test_kill_process(pid),
            Err(rustix::io::Errno::SRCH)
        )
    }
    #[cfg(not(unix))]
    {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_sized_reads_the_whole_file_whatever_the_size_said() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        for guess in [0, 3, 10, 64] {
            let mut file = std::fs::File::open(&path).unwrap();
            assert_eq!(
                read_sized(&mut file, guess).unwrap(),
                b"0123456789",
                "{guess}"
            );
        }
    }

    #[test]
    fn temp_files_of_dead_processes_are_swept_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(dir.path()).unwrap();
        let ours = temp_path_for(&dir.join("sub/blob"));
        // pid 1 (init) is alive: a concurrent writer whose temp file must stay.
        let live = dir.join(format!("{TEMP_PREFIX}1-0-blob"));
        // Above any pid_max: no process has it.
        let dead_pid = i32::MAX as u32;
        assert!(!process_alive(dead_pid));
        let dead = dir.join(format!("sub/{TEMP_PREFIX}{dead_pid}-0-blob"));
        let unnamed = dir.join(format!("{TEMP_PREFIX}blob"));
        let other = dir.join("sub/blob");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        for path in [&ours, &live, &dead, &unnamed, &other] {
            std::fs::write(path, b"x").unwrap();
        }
        assert_eq!(temp_owner(&format!("{dead_pid}-0-blob")), Some(dead_pid));
        assert_eq!(temp_owner("blob"), None);
        assert_eq!(
            clean_temp_files(dir, std::time::Duration::from_secs(3600)),
            1
        );
        assert!(!dead.exists());
        assert!(ours.exists() && live.exists() && unnamed.exists() && other.exists());
        assert_eq!(clean_temp_files(dir, std::time::Duration::ZERO), 1);
        assert!(!unnamed.exists() && ours.exists() && live.exists());
    }
}
