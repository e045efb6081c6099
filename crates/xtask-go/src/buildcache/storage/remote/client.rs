//! The HTTP exchanges of the remote store: `GET`/`PUT`/`HEAD` on `/ac/<key>` and `/cas/<sha256>`,
//! with bounded timeouts, the bearer token, signed entries, and every downloaded blob streamed
//! into a temp file, hashed and checked before it is renamed into place.

use std::io::Read;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use sha2::{Digest, Sha256};

use super::{sign, RemoteStore};
use crate::buildcache::key::CacheKey;
use crate::buildcache::storage::{BlobSource, Storage};
use crate::util::fsutil::{self, Durability};

/// Entries are small JSON documents; a bigger answer is not one of ours.
const MAX_ENTRY_BYTES: u64 = 16 << 20;

/// How a request ended, when it did not fail.
enum Answer {
    Found(Box<ureq::Response>),
    Missing,
}

impl RemoteStore {
    fn url(&self, kind: &str, hash: &str) -> String {
        format!("{}/{kind}/{hash}", self.settings.url)
    }

    fn request(&self, method: &str, url: &str, blob: bool) -> ureq::Request {
        let timeout = if blob {
            self.settings.blob_timeout
        } else {
            self.settings.entry_timeout
        };
        let request = self.agent.request(method, url).timeout(timeout);
        match &self.settings.token {
            Some(token) => request.set("Authorization", &format!("Bearer {token}")),
            None => request,
        }
    }

    /// GET or HEAD: 200 is found, 404 a miss, anything else (or no answer) an error.
    fn fetch(&self, method: &str, url: &str, blob: bool) -> Result<Answer> {
        match self.request(method, url, blob).call() {
            Ok(response) if response.status() == 200 => Ok(Answer::Found(Box::new(response))),
            Ok(response) => bail!("{method} {url} answered {}", response.status()),
            Err(ureq::Error::Status(404, _)) => Ok(Answer::Missing),
            Err(ureq::Error::Status(code, _)) => bail!("{method} {url} answered {code}"),
            Err(e) => bail!("{method} {url}: {e}"),
        }
    }

    fn put(&self, url: &str, body: &[u8], blob: bool) -> Result<()> {
        match self.request("PUT", url, blob).send_bytes(body) {
            Ok(_) => Ok(()),
            Err(ureq::Error::Status(code, _)) => bail!("PUT {url} answered {code}"),
            Err(e) => bail!("PUT {url}: {e}"),
        }
    }

    /// Asks the server once, so that `--remote-required` fails before any build starts.
    pub fn probe(&self) -> Result<()> {
        let url = self.url("ac", &"0".repeat(64));
        self.fetch("GET", &url, false)
            .map(|_| ())
            .with_context(|| format!("the remote cache {} does not answer", self.settings.url))
    }

    /// Streams `response` into a temp file next to `dest`, and renames it into place only if its
    /// sha256 is `sha256`.
    fn place_verified(
        &self,
        response: Box<ureq::Response>,
        sha256: &str,
        dest: &Utf8Path,
        mode: u32,
    ) -> Result<()> {
        let mut reader = response.into_reader();
        let what = "the blob the remote served";
        fsutil::write_verified(
            &mut reader,
            what,
            dest,
            sha256,
            Some(mode),
            Durability::Scratch,
        )
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
        let url = self.url("ac", key.as_str());
        let served = match self.fetch("GET", &url, false) {
            Ok(Answer::Missing) => return None,
            Ok(Answer::Found(response)) => {
                let mut bytes = Vec::new();
                match response
                    .into_reader()
                    .take(MAX_ENTRY_BYTES)
                    .read_to_end(&mut bytes)
                {
                    Ok(_) => bytes,
                    Err(e) => {
                        self.fail(&format!("reading {url}"), &e.to_string());
                        return None;
                    }
                }
            }
            Err(e) => {
                self.fail("an entry lookup failed", &format!("{e:#}"));
                return None;
            }
        };
        match sign::unwrap(self.settings.signing_key.as_deref(), key.as_str(), &served) {
            Ok(entry) => Some(entry),
            Err(why) => {
                // Not a server failure: a miss, said once per entry.
                self.reporter.warn(&format!(
                    "remote cache entry {url} is ignored: {why} (a miss; it will be rebuilt)"
                ));
                None
            }
        }
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
        for blob in blobs {
            self.put_blob(&blob.sha256, &blob.path)?;
        }
        let body = sign::wrap(self.settings.signing_key.as_deref(), key.as_str(), bytes);
        self.put(&self.url("ac", key.as_str()), &body, false)
    }

    fn get_blob(&self, sha256: &str, dest: &Utf8Path, mode: u32) -> bool {
        if !self.available() {
            return false;
        }
        let url = self.url("cas", sha256);
        let response = match self.fetch("GET", &url, true) {
            Ok(Answer::Found(response)) => response,
            Ok(Answer::Missing) => return false,
            Err(e) => {
                self.fail("a blob download failed", &format!("{e:#}"));
                return false;
            }
        };
        match self.place_verified(response, sha256, dest, mode) {
            Ok(()) => true,
            Err(e) => {
                self.note_bad_blob(sha256);
                self.fail(&format!("blob {url} was not used"), &format!("{e:#}"));
                false
            }
        }
    }

    /// A remote has no local files.
    fn local_path(&self, _sha256: &str) -> Option<Utf8PathBuf> {
        None
    }
}

impl RemoteStore {
    /// Uploads the blob (unless the server holds it), checking it still has its sha256.
    fn put_blob(&self, sha256: &str, src: &Utf8Path) -> Result<()> {
        let url = self.url("cas", sha256);
        // A blob the server holds is not sent again, unless it served it wrong in this run.
        if !self.is_bad_blob(sha256) && matches!(self.fetch("HEAD", &url, false)?, Answer::Found(_))
        {
            return Ok(());
        }
        let bytes = std::fs::read(src).with_context(|| format!("reading {src}"))?;
        let actual = crate::buildcache::statcache::hex(&Sha256::digest(&bytes));
        if actual != sha256 {
            bail!("{src} changed before it was uploaded (sha256 {actual}, expected {sha256})");
        }
        self.put(&url, &bytes, true)
    }
}
