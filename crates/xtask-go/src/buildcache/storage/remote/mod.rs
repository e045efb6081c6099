//! The remote cache: a second `Storage` speaking the Bazel HTTP remote-cache protocol
//! (`GET`/`PUT`/`HEAD` on `<base>/ac/<sha256>` for entries and `<base>/cas/<sha256>` for blobs),
//! as bazel-remote, nginx with WebDAV and the hosted services serve it.
//!
//! This file owns the settings (where the remote is, token, signing key, read-only, required,
//! timeouts) and the circuit breaker; `client.rs` the HTTP exchanges; `sign.rs` the entry MACs.
//! A remote never fails a build: every failure is a miss or a skipped upload, counted by the
//! breaker, which stops asking after [`BREAKER_LIMIT`] failures in a run. With
//! `--remote-required` the failures are still survived but the run ends with an error.

mod client;
pub mod sign;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::util::report::Reporter;

use anyhow::{bail, Result};

/// Failures in one run after which the remote is not asked again.
pub const BREAKER_LIMIT: usize = 3;

pub use crate::workspace::settings::{RemoteFlags, RemoteSettings};

/// A remote cache server, with the breaker that decides whether it is still asked.
pub struct RemoteStore {
    settings: RemoteSettings,
    reporter: Reporter,
    agent: ureq::Agent,
    failures: AtomicUsize,
    tripped: AtomicBool,
    errors: Mutex<Vec<String>>,
    /// Blobs the server answered with wrong bytes: uploaded again without asking `HEAD` first.
    bad_blobs: Mutex<HashSet<String>>,
}

impl RemoteStore {
    /// A remote at `settings.url`; its warnings (the first failure, the breaker, an entry
    /// refused) go through `reporter`.
    pub fn new(settings: RemoteSettings, reporter: &Reporter) -> RemoteStore {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(settings.connect_timeout)
            .redirects(0)
            .build();
        RemoteStore {
            settings,
            reporter: reporter.clone(),
            agent,
            failures: AtomicUsize::new(0),
            tripped: AtomicBool::new(false),
            errors: Mutex::new(Vec::new()),
            bad_blobs: Mutex::new(HashSet::new()),
        }
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
