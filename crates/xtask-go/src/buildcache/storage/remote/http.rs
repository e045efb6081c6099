//! The Bazel HTTP remote-cache protocol: `GET`/`PUT`/`HEAD` on `<base>/ac/<key>` (the
//! ActionResult) and `<base>/cas/<sha256>` (blobs), as bazel-remote, nginx with WebDAV and the
//! hosted HTTP caches serve it; bounded timeouts; the token as `authorization: Bearer` or in a
//! named header.

use std::io::Read;
use std::sync::Arc;

use anyhow::{bail, Result};

use super::reapi::Digest;
use super::{BlobReader, Traffic, Transport, Upload};
use crate::buildcache::key::CacheKey;
use crate::workspace::settings::RemoteSettings;

/// An AC value is a small ActionResult; a bigger answer is not one of ours.
const MAX_ACTION_RESULT: u64 = 16 << 20;

/// A reader that counts what it reads as downloaded.
pub(crate) struct Counted<'a, R> {
    pub inner: R,
    pub traffic: &'a Traffic,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.traffic.down(n);
        Ok(n)
    }
}

/// How a request ended, when it did not fail.
enum Answer {
    Found(Box<ureq::Response>),
    Missing,
}

pub(crate) struct HttpTransport {
    settings: RemoteSettings,
    agent: ureq::Agent,
    traffic: Arc<Traffic>,
}

impl HttpTransport {
    pub(crate) fn new(settings: &RemoteSettings, traffic: Arc<Traffic>) -> HttpTransport {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(settings.connect_timeout)
            .redirects(0)
            .build();
        HttpTransport {
            settings: settings.clone(),
            agent,
            traffic,
        }
    }

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
        match (&self.settings.token, &self.settings.token_header) {
            (Some(token), Some(header)) => request.set(header, token),
            (Some(token), None) => request.set("Authorization", &format!("Bearer {token}")),
            (None, _) => request,
        }
    }

    /// GET or HEAD: 200 is found, 404 a miss, anything else (or no answer) an error.
    fn fetch(&self, method: &str, url: &str, blob: bool) -> Result<Answer> {
        self.traffic.request(0);
        match self.request(method, url, blob).call() {
            Ok(response) if response.status() == 200 => Ok(Answer::Found(Box::new(response))),
            Ok(response) => bail!("{method} {url} answered {}", response.status()),
            Err(ureq::Error::Status(404, _)) => Ok(Answer::Missing),
            Err(ureq::Error::Status(code, _)) => bail!("{method} {url} answered {code}"),
            Err(e) => bail!("{method} {url}: {e}"),
        }
    }

    fn put(&self, url: &str, body: &[u8], blob: bool) -> Result<()> {
        self.traffic.request(body.len());
        match self.request("PUT", url, blob).send_bytes(body) {
            Ok(_) => Ok(()),
            Err(ureq::Error::Status(code, _)) => bail!("PUT {url} answered {code}"),
            Err(e) => bail!("PUT {url}: {e}"),
        }
    }
}

impl Transport for HttpTransport {
    fn get_action_result(&self, key: &CacheKey) -> Result<Option<Vec<u8>>> {
        let url = self.url("ac", key.as_str());
        let Answer::Found(response) = self.fetch("GET", &url, false)? else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        if let Err(e) = response
            .into_reader()
            .take(MAX_ACTION_RESULT)
            .read_to_end(&mut bytes)
        {
            bail!("reading {url}: {e}");
        }
        self.traffic.down(bytes.len());
        Ok(Some(bytes))
    }

    fn update_action_result(&self, key: &CacheKey, value: &[u8]) -> Result<()> {
        self.put(&self.url("ac", key.as_str()), value, false)
    }

    /// One `HEAD` per blob that may be there, one `PUT` per blob that is not.
    fn upload(&self, blobs: Vec<Upload>) -> Result<()> {
        for blob in blobs {
            let url = self.url("cas", &blob.digest.hash);
            if blob.ask_first && matches!(self.fetch("HEAD", &url, false)?, Answer::Found(_)) {
                continue;
            }
            self.put(&url, &blob.bytes()?, true)?;
        }
        Ok(())
    }

    fn read_blob(&self, digest: &Digest) -> Result<Option<BlobReader<'_>>> {
        let url = self.url("cas", &digest.hash);
        match self.fetch("GET", &url, true)? {
            Answer::Found(response) => Ok(Some(Box::new(Counted {
                inner: response.into_reader(),
                traffic: &self.traffic,
            }))),
            Answer::Missing => Ok(None),
        }
    }

    /// A `GET` of an AC key nobody writes: 200 or 404 is a server that answers.
    fn probe(&self) -> Result<String> {
        let url = self.url("ac", &"0".repeat(64));
        self.fetch("GET", &url, false)?;
        Ok(format!("GET {url} answered"))
    }
}
