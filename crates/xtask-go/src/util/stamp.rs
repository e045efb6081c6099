//! A file's stamp (size, mtime, ctime, inode) and the racy rule: what the stat cache, stamp lists
//! and the toolchain's memos trust instead of reading a file.

use std::time::{SystemTime, UNIX_EPOCH};

use camino::Utf8Path;
use serde::{Deserialize, Serialize};

/// How close to the save time a change must be for an entry to count as racy (ns). Generous:
/// some file systems keep coarse timestamps, and a re-hash costs little.
pub const RACY_WINDOW_NS: i128 = 2_000_000_000;

/// What `stat` says of a file: enough to notice any change, including a restored mtime
/// (`touch -d` cannot restore the ctime).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "StampTuple", into = "StampTuple")]
pub struct FileStamp {
    pub size: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
    pub inode: u64,
}

/// How a stamp is written: `[size, mtime_ns, ctime_ns, inode]`, half the bytes of an object,
/// and a no-op parses thousands of them.
type StampTuple = (u64, i128, i128, u64);

impl From<StampTuple> for FileStamp {
    fn from((size, mtime_ns, ctime_ns, inode): StampTuple) -> FileStamp {
        FileStamp {
            size,
            mtime_ns,
            ctime_ns,
            inode,
        }
    }
}

impl From<FileStamp> for StampTuple {
    fn from(s: FileStamp) -> StampTuple {
        (s.size, s.mtime_ns, s.ctime_ns, s.inode)
    }
}

impl FileStamp {
    /// Stats `path`, following symlinks: a symlinked input is its target.
    pub fn of(path: &Utf8Path) -> std::io::Result<FileStamp> {
        let meta = std::fs::metadata(path)?;
        Ok(FileStamp::from_metadata(&meta))
    }

    /// Changed so recently (within the racy window before `now_ns`) that a further change in the
    /// same timestamp tick could keep this stamp: such a stamp proves nothing.
    pub fn is_recent(&self, now_ns: i128) -> bool {
        self.mtime_ns.max(self.ctime_ns) + RACY_WINDOW_NS >= now_ns
    }

    pub fn from_metadata(meta: &std::fs::Metadata) -> FileStamp {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            FileStamp {
                size: meta.len(),
                mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
                ctime_ns: meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128,
                inode: meta.ino(),
            }
        }
        #[cfg(not(unix))]
        {
            let ns = |t: std::io::Result<SystemTime>| {
                t.ok()
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos() as i128)
            };
            FileStamp {
                size: meta.len(),
                mtime_ns: ns(meta.modified()),
                ctime_ns: ns(meta.created()),
                inode: 0,
            }
        }
    }
}

pub fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}
