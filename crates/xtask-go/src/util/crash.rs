//! Test-only fault injection: the named points of a cache write or restore where a run can be
//! made to die as `kill -9` would (`XTASK_GO_TEST_CRASH_AT=<point>`), so a test can prove that
//! the next run is correct whatever was half-written. Read once, with the settings.

use anyhow::{bail, Result};

/// A moment in the cache's write sequence, named by what has happened so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    /// A blob's temp file is written (and synced) in the store, not renamed.
    BlobTemp,
    /// Every blob of the build is in place; its entry is not written.
    BlobRenamed,
    /// The build's entry is written; the manifest entry (its input set) is not.
    EntryWritten,
    /// The manifest entry is written; the depfile (the last build, per unit) is not.
    ManifestWritten,
    /// A restore's temp file is written in the output directory, not renamed.
    MidRestore,
    /// The depfile's temp file is written, not renamed (its stamp list neither).
    DepfileTemp,
}

impl CrashPoint {
    /// Every point, in the order a build that stores and records meets them (a restore meets
    /// `MidRestore` instead of the store's points).
    pub const ALL: [CrashPoint; 6] = [
        CrashPoint::BlobTemp,
        CrashPoint::BlobRenamed,
        CrashPoint::EntryWritten,
        CrashPoint::ManifestWritten,
        CrashPoint::MidRestore,
        CrashPoint::DepfileTemp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CrashPoint::BlobTemp => "blob-temp",
            CrashPoint::BlobRenamed => "blob-renamed",
            CrashPoint::EntryWritten => "entry-written",
            CrashPoint::ManifestWritten => "manifest-written",
            CrashPoint::MidRestore => "mid-restore",
            CrashPoint::DepfileTemp => "depfile-temp",
        }
    }

    pub fn parse(name: &str) -> Result<CrashPoint> {
        match CrashPoint::ALL.into_iter().find(|p| p.as_str() == name) {
            Some(point) => Ok(point),
            None => {
                let names: Vec<&str> = CrashPoint::ALL.iter().map(|p| p.as_str()).collect();
                bail!(
                    "unknown crash point `{name}`; the points are {}",
                    names.join(", ")
                )
            }
        }
    }
}

/// Where this run dies, if anywhere: None in every run but a fault-injection test's.
pub type CrashAt = Option<CrashPoint>;

/// Dies at once, without unwinding, destructors or temp-file cleanup, when `here` is `at`.
pub fn reached(at: CrashAt, here: CrashPoint) {
    if at == Some(here) {
        eprintln!(
            "xtask-go: crashing at `{}` (test fault injection)",
            here.as_str()
        );
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_points_parse_from_their_names() {
        for point in CrashPoint::ALL {
            assert_eq!(CrashPoint::parse(point.as_str()).unwrap(), point);
        }
        assert_eq!(
            CrashPoint::parse("entry-written").unwrap(),
            CrashPoint::EntryWritten
        );
        let err = CrashPoint::parse("blob_temp").unwrap_err().to_string();
        assert!(err.contains("unknown crash point `blob_temp`"), "{err}");
        assert!(err.contains("blob-temp, blob-renamed"), "{err}");
        assert!(CrashPoint::parse("").is_err());
    }
}
