//! The remote as a `Storage`, over any [`Transport`]: an entry is uploaded as its blobs (the
//! outputs the server lacks, the entry blob, the signature), then its ActionResult; a lookup
//! reads the ActionResult, then the entry blob (and signature), and accepts the entry only when
//! every byte checks out: blobs by sha256 and size, the signature over the canonical message,
//! the ActionResult against the entry. Every downloaded blob is streamed into a temp file,
//! hashed and checked before it is renamed into place.

use std::io::Read;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use sha2::{Digest as _, Sha256};

use super::action_result::{self, Decoded, Refused, MAX_ENTRY_BLOB};
use super::reapi::{Digest, OutputFile};
use super::{sign, RemoteStore, Source, Upload};
use crate::buildcache::key::CacheKey;
use crate::buildcache::storage::{BlobSource, Storage};
use crate::util::fsutil::{self, Durability};

/// How reading a small blob into memory ended, when the server answered.
enum Small {
    Found(Vec<u8>),
    Missing,
}

impl RemoteStore {
    /// A small blob named by an entry, in memory and verified: inlined by the server when it
    /// did, else read. Err when the server failed or lied (counted by the caller).
    fn small_blob(&self, file: &OutputFile) -> Result<Small> {
        let digest = file.digest.clone().context("no digest")?;
        let size = digest.size().context("a negative size")?;
        if size > MAX_ENTRY_BLOB {
            bail!("the blob {digest} is larger than any entry blob");
        }
        let bytes = if !file.contents.is_empty() {
            file.contents.clone()
        } else {
            let Some(reader) = self.transport.read_blob(&digest)? else {
                return Ok(Small::Missing);
            };
            let mut bytes = Vec::new();
            reader
                .take(MAX_ENTRY_BLOB + 1)
                .read_to_end(&mut bytes)
                .with_context(|| format!("reading the blob {digest}"))?;
            bytes
        };
        let actual = crate::util::hex(&Sha256::digest(&bytes));
        if actual != digest.hash || bytes.len() as u64 != size {
            self.note_bad_blob(&digest.hash);
            bail!(
                "the blob {digest} the server sent has sha256 {actual} and {} bytes",
                bytes.len()
            );
        }
        Ok(Small::Found(bytes))
    }

    /// The entry of a decoded ActionResult, or why not: Ok(None) for a quiet miss.
    fn open_entry(&self, key: &CacheKey, decoded: &Decoded) -> Result<Option<Vec<u8>>, String> {
        // A missing blob is a miss; wrong bytes are the server's failure, counted.
        let fetch = |file: &OutputFile| match self.small_blob(file) {
            Ok(Small::Found(bytes)) => Some(bytes),
            Ok(Small::Missing) => None,
            Err(e) => {
                self.fail(&format!("the entry {key} was not used"), &format!("{e:#}"));
                None
            }
        };
        if let Some(signing_key) = self.settings.signing_key.as_deref() {
            let Some(file) = &decoded.signature else {
                return Err("it is not signed".into());
            };
            let Some(blob) = fetch(file) else {
                return Ok(None);
            };
            let message = sign::canonical(key.as_str(), &decoded.signed);
            sign::verify(signing_key, &message, &blob)?;
        }
        let Some(blob) = fetch(&decoded.entry) else {
            return Ok(None);
        };
        match action_result::open(decoded, &blob, key) {
            Ok(entry) => Ok(Some(entry)),
            Err(Refused::NotOurs) => Ok(None),
            Err(Refused::Bad(why)) => Err(why),
        }
    }

    /// Reads the file of `blob` and checks it still has its sha256.
    fn upload_of(&self, blob: &BlobSource) -> Result<Upload> {
        let size = std::fs::metadata(&blob.path)
            .with_context(|| format!("reading {}", blob.path))?
            .len();
        Ok(Upload {
            digest: Digest::new(&blob.sha256, size),
            source: Source::File(blob.path.clone()),
            ask_first: !self.is_bad_blob(&blob.sha256),
        })
    }
}

impl Upload {
    /// The bytes to send, checked against the digest (a file may have changed since it was hashed).
    pub(crate) fn bytes(&self) -> Result<Vec<u8>> {
        let bytes = match &self.source {
            Source::Bytes(bytes) => bytes.clone(),
            Source::File(path) => std::fs::read(path).with_context(|| format!("reading {path}"))?,
        };
        let actual = crate::util::hex(&Sha256::digest(&bytes));
        if actual != self.digest.hash {
            let what = match &self.source {
                Source::File(path) => path.to_string(),
                Source::Bytes(_) => "an entry blob".into(),
            };
            bail!(
                "{what} changed before it was uploaded (sha256 {actual}, expected {})",
                self.digest.hash
            );
        }
        Ok(bytes)
    }
}

impl Storage for RemoteStore {
    fn describe(&self) -> String {
        format!("remote {}", self.settings.url)
    }

    fn get_entry(&self, key: &CacheKey) -> Option<Vec<u8>> {
        if !self.available() {
            return None;
        }
        let value = match self.transport.get_action_result(key) {
            Ok(Some(value)) => value,
            Ok(None) => return None,
            Err(e) => {
                self.fail("an entry lookup failed", &format!("{e:#}"));
                return None;
            }
        };
        let opened = match action_result::decode(&value) {
            Ok(decoded) => self.open_entry(key, &decoded),
            // An entry of an older format, or not ours: a miss, as any unknown key.
            Err(Refused::NotOurs) => Ok(None),
            Err(Refused::Bad(why)) => Err(why),
        };
        opened.unwrap_or_else(|why| {
            // Not a server failure: a miss, said once per entry.
            self.reporter.warn(&format!(
                "remote cache entry {} {key} is ignored: {why} (a miss; it will be rebuilt)",
                self.settings.url
            ));
            None
        })
    }

    fn put_entry_with_blobs(
        &self,
        key: &CacheKey,
        bytes: &[u8],
        blobs: &[BlobSource],
    ) -> Result<()> {
        if self.read_only() || !self.available() {
            return Ok(());
        }
        let encoded = action_result::encode(key, bytes, self.settings.signing_key.as_deref())?;
        let mut uploads = blobs
            .iter()
            .map(|blob| self.upload_of(blob))
            .collect::<Result<Vec<_>>>()?;
        // Entry and signature blobs are new with the entry: sent without asking.
        uploads.extend(encoded.blobs.into_iter().map(|blob| Upload {
            digest: blob.digest,
            source: Source::Bytes(blob.bytes),
            ask_first: false,
        }));
        self.transport.upload(uploads)?;
        self.transport
            .update_action_result(key, &encoded.action_result)
    }

    fn get_blob(&self, sha256: &str, size: u64, dest: &Utf8Path, mode: u32) -> bool {
        if !self.available() {
            return false;
        }
        let digest = Digest::new(sha256, size);
        let mut reader = match self.transport.read_blob(&digest) {
            Ok(Some(reader)) => reader,
            Ok(None) => return false,
            Err(e) => {
                self.fail("a blob download failed", &format!("{e:#}"));
                return false;
            }
        };
        let what = format!("the blob {digest} the remote served");
        let placed = fsutil::write_verified(
            &mut reader,
            &what,
            dest,
            sha256,
            Some(mode),
            Durability::Scratch,
        );
        match placed {
            Ok(()) => true,
            Err(e) => {
                self.note_bad_blob(sha256);
                self.fail(&format!("blob {digest} was not used"), &format!("{e:#}"));
                false
            }
        }
    }

    /// A remote has no local files.
    fn local_path(&self, _sha256: &str, _size: u64) -> Option<Utf8PathBuf> {
        None
    }
}
