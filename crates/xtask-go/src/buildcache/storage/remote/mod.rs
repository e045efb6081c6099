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
use std::time::Duration;

use anyhow::{bail, Result};

use crate::workspace::project::Project;

/// Failures in one run after which the remote is not asked again.
pub const BREAKER_LIMIT: usize = 3;

/// What the command line adds to the configuration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemoteFlags {
    /// `--remote-read-only`: read, never write (for untrusted jobs such as pull requests).
    pub read_only: bool,
    /// `--remote-required`: a remote that fails makes the run fail.
    pub required: bool,
}

static RUN_FLAGS: Mutex<RemoteFlags> = Mutex::new(RemoteFlags {
    read_only: false,
    required: false,
});

/// Remembers the command's flags for the parts of a run that are not handed them (the
/// GOCACHEPROG command line built with the pinned environment).
pub fn set_run_flags(flags: RemoteFlags) {
    *RUN_FLAGS.lock().unwrap() = flags;
}

pub fn run_flags() -> RemoteFlags {
    *RUN_FLAGS.lock().unwrap()
}

/// Everything the remote store needs to know.
#[derive(Debug, Clone)]
pub struct RemoteSettings {
    /// `http(s)://host[:port][/prefix]`, without a trailing `/`.
    pub url: String,
    pub token: Option<String>,
    pub signing_key: Option<Vec<u8>>,
    pub read_only: bool,
    pub required: bool,
    pub connect_timeout: Duration,
    /// The whole of one entry (`/ac/`) request, and of one blob (`/cas/`) request.
    pub entry_timeout: Duration,
    pub blob_timeout: Duration,
}

impl RemoteSettings {
    /// The remote of `project`: `XTASK_GO_REMOTE_CACHE`, else the config's `remote-cache`; None
    /// when neither names one (or the variable is `off`).
    pub fn resolve(project: &Project, flags: RemoteFlags) -> Result<Option<RemoteSettings>> {
        let config = &project.config;
        let (url, source) = match std::env::var("XTASK_GO_REMOTE_CACHE") {
            Ok(v) if v == "off" => return Ok(None),
            Ok(v) if !v.is_empty() => (v, "XTASK_GO_REMOTE_CACHE"),
            _ => match &config.remote_cache {
                Some(url) => (
                    url.clone(),
                    "`remote-cache` in [workspace.metadata.xtask-go]",
                ),
                None => return Ok(None),
            },
        };
        let env_read_only = std::env::var("XTASK_GO_REMOTE_READ_ONLY")
            .is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
        let mut settings = RemoteSettings::for_url(&url, source)?;
        settings.read_only = flags.read_only || config.remote_read_only || env_read_only;
        settings.required = flags.required;
        Ok(Some(settings))
    }

    /// Settings for `url` with the token, signing key and timeouts from the environment.
    pub fn for_url(url: &str, source: &str) -> Result<RemoteSettings> {
        let url = url.trim_end_matches('/').to_string();
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"));
        if rest.filter(|r| !r.is_empty()).is_none() {
            bail!(
                "{source} is `{url}`, which is not an http:// or https:// URL; \
                 set it to the base URL of a Bazel HTTP cache (e.g. http://cache.internal:8080)"
            );
        }
        let secret = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let override_ms = std::env::var("XTASK_GO_REMOTE_TIMEOUT_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_millis);
        Ok(RemoteSettings {
            url,
            token: secret("XTASK_GO_REMOTE_TOKEN"),
            signing_key: secret("XTASK_GO_CACHE_SIGNING_KEY").map(String::into_bytes),
            read_only: false,
            required: false,
            connect_timeout: override_ms
                .map_or(Duration::from_secs(2), |t| t.min(Duration::from_secs(2))),
            entry_timeout: override_ms.unwrap_or(Duration::from_secs(10)),
            blob_timeout: override_ms.unwrap_or(Duration::from_secs(30)),
        })
    }
}

/// A remote cache server, with the breaker that decides whether it is still asked.
pub struct RemoteStore {
    settings: RemoteSettings,
    agent: ureq::Agent,
    failures: AtomicUsize,
    tripped: AtomicBool,
    errors: Mutex<Vec<String>>,
    /// Blobs the server answered with wrong bytes: uploaded again without asking `HEAD` first.
    bad_blobs: Mutex<HashSet<String>>,
}

impl RemoteStore {
    pub fn new(settings: RemoteSettings) -> RemoteStore {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(settings.connect_timeout)
            .redirects(0)
            .build();
        RemoteStore {
            settings,
            agent,
            failures: AtomicUsize::new(0),
            tripped: AtomicBool::new(false),
            errors: Mutex::new(Vec::new()),
            bad_blobs: Mutex::new(HashSet::new()),
        }
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
            crate::util::report::warn(&format!(
                "remote cache {url}: {message}; building locally instead"
            ));
        }
        if n == BREAKER_LIMIT && !self.tripped.swap(true, Ordering::SeqCst) {
            crate::util::report::warn(&format!(
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
