//! Where cache entries and output blobs are kept: the one `Storage` trait, what an entry is, and
//! the backends, one file each: `local` (a directory), `remote/` (the Bazel HTTP protocol or
//! gRPC REAPI, storing REAPI ActionResults) and
//! `tiered` (local in front of a remote). A failed or corrupt read is a miss, never a failure
//! (sccache's rule).

pub mod local;
pub mod remote;
pub mod tiered;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use serde::{Deserialize, Serialize};

use crate::buildcache::key::CacheKey;

/// The bucket name: bump when the entry or blob layout changes.
pub const BUCKET: &str = "v1";

/// One output file of a cached build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputRecord {
    /// A plain file name inside the output directory (validated: no `/`, `..` or absolute path).
    pub name: String,
    pub sha256: String,
    pub size: u64,
    pub mode: u32,
}

/// What a key maps to: the outputs of one successful build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheEntry {
    pub key: String,
    pub target: String,
    pub triple: String,
    pub outputs: Vec<OutputRecord>,
}

impl CacheEntry {
    /// Parses and validates an entry; an entry naming anything but a plain file is rejected whole.
    pub fn parse(bytes: &[u8], key: &CacheKey) -> Result<CacheEntry> {
        let entry: CacheEntry =
            serde_json::from_slice(bytes).context("cache entry is not valid JSON")?;
        if entry.key != key.as_str() {
            bail!("cache entry is for key {}, not {key}", entry.key);
        }
        if entry.outputs.is_empty() {
            bail!("cache entry lists no outputs");
        }
        for output in &entry.outputs {
            if !is_plain_file_name(&output.name) {
                bail!(
                    "cache entry names the output `{}`, which is not a plain file name",
                    output.name
                );
            }
            if output.sha256.len() != 64 || !output.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                bail!("cache entry has a malformed sha256 for `{}`", output.name);
            }
        }
        Ok(entry)
    }
}

/// A name that stays inside its directory: not empty, no separator, not `.`/`..`, not absolute.
pub fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
        && !Utf8Path::new(name).is_absolute()
}

/// The file of blob `sha256` in a local store at `root`: the one place the blob layout is written.
pub fn blob_path(root: &Utf8Path, sha256: &str) -> Utf8PathBuf {
    root.join(BUCKET)
        .join("blobs")
        .join(&sha256[..2])
        .join(sha256)
}

/// A blob to store: its sha256 and a file that holds it.
#[derive(Debug, Clone)]
pub struct BlobSource {
    pub sha256: String,
    pub path: Utf8PathBuf,
}

/// A place to keep entries and blobs. Reads that fail return `None` or false (a miss).
pub trait Storage: Send + Sync {
    /// For messages: `local /path` or a URL.
    fn describe(&self) -> String;
    fn get_entry(&self, key: &CacheKey) -> Option<Vec<u8>>;
    /// Stores `blobs`, then the entry that names them: no reader finds an entry whose blobs
    /// are missing (on a remote too: they travel as one upload job).
    fn put_entry_with_blobs(
        &self,
        key: &CacheKey,
        bytes: &[u8],
        blobs: &[BlobSource],
    ) -> Result<()>;
    /// An entry that names no blob (an input set, a discovery record).
    fn put_entry(&self, key: &CacheKey, bytes: &[u8]) -> Result<()> {
        self.put_entry_with_blobs(key, bytes, &[])
    }
    /// Copies the blob (`size` bytes) to `dest` atomically, verifying its sha256; false on a
    /// miss or a bad blob.
    fn get_blob(&self, sha256: &str, size: u64, dest: &Utf8Path, mode: u32) -> bool;
    /// The blob's file in this machine's store (fetched into it first, from a remote tier),
    /// for a reader that uses it in place; None on a miss or for a store with no local files.
    fn local_path(&self, sha256: &str, size: u64) -> Option<Utf8PathBuf>;
}
