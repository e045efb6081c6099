//! The remote cache: a second `Storage`, over one of two protocols: the Bazel HTTP
//! remote-cache protocol (`GET`/`PUT`/`HEAD` on `<base>/ac/<key>` and `<base>/cas/<sha256>`,
//! as bazel-remote and nginx with WebDAV serve it; `http.rs`) or the gRPC Remote Execution API
//! (ActionCache, CAS, ByteStream; `grpc/`, behind the `grpc` feature). Both store the same
//! values: every AC value is a REAPI `ActionResult` (`action_result.rs`, on `reapi.rs`).
//!
//! This file owns the [`Transport`] a protocol implements, the choice of one from the URL, and
//! the circuit breaker; `entries.rs` the `Storage` over any transport (what is uploaded in
//! which order, what is verified); `sign.rs` the entry MACs. A remote never fails a build:
//! every failure is a miss or a skipped upload, counted by the breaker, which stops asking
//! after [`BREAKER_LIMIT`] failures in a run. With `--remote-required` the failures are still
//! survived but the run ends with an error.

// Built without either protocol, the library cannot make a `RemoteStore` (a remote URL is an
// error that names the features), so the transport plumbing is compiled, type-checked and unused.
#![cfg_attr(
    not(any(feature = "http", feature = "grpc")),
    allow(dead_code, unused_variables, unused_imports)
)]

mod action_result;
mod entries;
#[cfg(feature = "grpc")]
mod grpc;
#[cfg(feature = "http")]
mod http;
mod reapi;
mod sign;

use std::collections::HashSet;
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Result};
use camino::Utf8PathBuf;

use crate::buildcache::key::CacheKey;
use crate::util::report::Reporter;
use crate::workspace::settings::Protocol;
use reapi::Digest;

/// Failures in one run after which the remote is not asked again.
pub const BREAKER_LIMIT: usize = 3;

pub use crate::workspace::settings::{RemoteFlags, RemoteSettings};

/// Where the bytes of a blob to upload are.
pub(crate) enum Source {
    /// A file the caller hashed (checked again when read: it may have changed since).
    File(Utf8PathBuf),
    Bytes(Vec<u8>),
}

/// One blob to upload.
pub(crate) struct Upload {
    pub digest: Digest,
    pub source: Source,
    /// Ask the server whether it holds the blob before sending it (false: send it anyway, as
    /// for a blob it served wrong in this run).
    pub ask_first: bool,
}

/// A downloaded blob's bytes, as they arrive; the caller verifies them.
pub(crate) type BlobReader<'a> = Box<dyn Read + Send + 'a>;

/// What a run asked of the remote: requests (HTTP requests, gRPC calls) and the bytes of the
/// values and blobs that went each way (not the protocol's framing).
#[derive(Default)]
pub(crate) struct Traffic {
    requests: AtomicU64,
    down: AtomicU64,
    up: AtomicU64,
}

impl Traffic {
    pub(crate) fn request(&self, up: usize) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.up.fetch_add(up as u64, Ordering::Relaxed);
    }

    pub(crate) fn down(&self, bytes: usize) {
        self.down.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

/// What a protocol does; errors name the server and the request. A miss is `Ok(None)`.
pub(crate) trait Transport: Send + Sync {
    /// The AC value stored under `key`, raw.
    fn get_action_result(&self, key: &CacheKey) -> Result<Option<Vec<u8>>>;
    fn update_action_result(&self, key: &CacheKey, value: &[u8]) -> Result<()>;
    /// Sends the blobs the server lacks.
    fn upload(&self, blobs: Vec<Upload>) -> Result<()>;
    fn read_blob(&self, digest: &Digest) -> Result<Option<BlobReader<'_>>>;
    /// Asks the server once (for `--remote-required` and `doctor`): what it answered.
    fn probe(&self) -> Result<String>;
}

/// A remote cache server, with the breaker that decides whether it is still asked.
pub struct RemoteStore {
    settings: RemoteSettings,
    reporter: Reporter,
    transport: Box<dyn Transport>,
    traffic: Arc<Traffic>,
    failures: AtomicUsize,
    tripped: AtomicBool,
    errors: Mutex<Vec<String>>,
    /// Blobs the server answered with wrong bytes: uploaded again without asking first.
    bad_blobs: Mutex<HashSet<String>>,
}

fn transport(settings: &RemoteSettings, traffic: &Arc<Traffic>) -> Result<Box<dyn Transport>> {
    let traffic = traffic.clone();
    match settings.url.protocol() {
        #[cfg(feature = "http")]
        Protocol::Http => Ok(Box::new(http::HttpTransport::new(settings, traffic))),
        #[cfg(not(feature = "http"))]
        Protocol::Http => bail!(missing_feature(settings, "HTTP", "http")),
        #[cfg(feature = "grpc")]
        Protocol::Grpc { tls } => Ok(Box::new(grpc::GrpcTransport::new(settings, tls, traffic)?)),
        #[cfg(not(feature = "grpc"))]
        Protocol::Grpc { .. } => bail!(missing_feature(settings, "gRPC", "grpc")),
    }
}

/// The error for a remote whose protocol this build of the library leaves out.
#[cfg(not(all(feature = "http", feature = "grpc")))]
fn missing_feature(settings: &RemoteSettings, protocol: &str, feature: &str) -> String {
    format!(
        "the remote cache {} speaks {protocol}, but this xtask was built without the \
         `{feature}` feature of xtask-go; enable it (xtask-go = {{ version = \"..\", features = \
         [\"{feature}\"] }} in your xtask's Cargo.toml), or unset the remote (`remote-cache` in \
         [workspace.metadata.xtask-go], XTASK_GO_REMOTE_CACHE)",
        settings.url
    )
}

impl RemoteStore {
    /// A remote at `settings.url`; its warnings (the first failure, the breaker, an entry
    /// refused) go through `reporter`. An error when the URL's protocol is not built in.
    pub fn new(settings: RemoteSettings, reporter: &Reporter) -> Result<RemoteStore> {
        let traffic = Arc::new(Traffic::default());
        Ok(RemoteStore {
            transport: transport(&settings, &traffic)?,
            traffic,
            settings,
            reporter: reporter.clone(),
            failures: AtomicUsize::new(0),
            tripped: AtomicBool::new(false),
            errors: Mutex::new(Vec::new()),
            bad_blobs: Mutex::new(HashSet::new()),
        })
    }

    pub fn reporter(&self) -> &Reporter {
        &self.reporter
    }

    pub fn settings(&self) -> &RemoteSettings {
        &self.settings
    }

    /// Whether the breaker still lets requests through.
    pub fn available(&self) -> bool {
        !self.tripped.load(Ordering::SeqCst)
    }

    pub fn read_only(&self) -> bool {
        self.settings.read_only
    }

    /// Asks the server once, so that `--remote-required` fails before any build starts and
    /// `doctor` can say what it answered.
    pub fn probe(&self) -> Result<String> {
        use anyhow::Context;
        self.transport
            .probe()
            .with_context(|| format!("the remote cache {} does not answer", self.settings.url))
    }

    /// Counts a failure: the first warns, the [`BREAKER_LIMIT`]th trips the breaker (and warns).
    pub fn fail(&self, what: &str, error: &str) {
        let message = format!("{what}: {error}");
        self.errors.lock().unwrap().push(message.clone());
        let n = self.failures.fetch_add(1, Ordering::SeqCst) + 1;
        let url = &self.settings.url;
        if n == 1 {
            self.reporter.warn(&format!(
                "remote cache {url}: {message}; building locally instead"
            ));
        }
        if n == BREAKER_LIMIT && !self.tripped.swap(true, Ordering::SeqCst) {
            self.reporter.warn(&format!(
                "remote cache {url} failed {n} times in this run; not asking it again until the \
                 next run (check the server, XTASK_GO_REMOTE_CACHE and XTASK_GO_REMOTE_TOKEN)"
            ));
        }
    }

    fn note_bad_blob(&self, sha256: &str) {
        self.bad_blobs.lock().unwrap().insert(sha256.to_string());
    }

    fn is_bad_blob(&self, sha256: &str) -> bool {
        self.bad_blobs.lock().unwrap().contains(sha256)
    }

    /// Appends the run's traffic as one JSON line to the file `XTASK_GO_REMOTE_STATS` names
    /// (for `cargo xtask bench remote`; best effort).
    pub fn write_traffic(&self) {
        let Some(path) = self.settings.stats_file.as_ref() else {
            return;
        };
        let line = serde_json::json!({
            "url": self.settings.url.to_string(),
            "requests": self.traffic.requests.load(Ordering::Relaxed),
            "bytes_down": self.traffic.down.load(Ordering::Relaxed),
            "bytes_up": self.traffic.up.load(Ordering::Relaxed),
        });
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path);
        if let Ok(mut file) = file {
            use std::io::Write;
            let _ = writeln!(file, "{line}");
        }
    }

    /// Every failure of the run, for `--remote-required`.
    pub fn errors(&self) -> Vec<String> {
        self.errors.lock().unwrap().clone()
    }

    /// An error when the run must fail: the remote is required and something failed.
    pub fn check_required(&self) -> Result<()> {
        let errors = self.errors();
        if self.settings.required && !errors.is_empty() {
            bail!(
                "the remote cache {} is required (--remote-required) but {} of its requests \
                 failed; first: {}",
                self.settings.url,
                errors.len(),
                errors[0]
            );
        }
        Ok(())
    }
}
