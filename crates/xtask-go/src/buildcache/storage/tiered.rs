//! The tiered store: the local store first, then the remote; a remote hit fills the local store.
//! Writes land locally at once and are queued for the remote, where a small pool of uploader
//! threads sends them in the background of the run; `finish` waits for them (bounded) at exit.
//!
//! Order on the remote is kept per entry: `put_entry_with_blobs` makes one job of the blobs and
//! the entry that names them, uploaded in that order (a reader never finds a remote entry whose
//! blobs are missing).

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use camino::{Utf8Path, Utf8PathBuf};

use crate::buildcache::inputs::InputSet;
use crate::buildcache::key::CacheKey;
use crate::buildcache::storage::local::LocalStore;
use crate::buildcache::storage::remote::{RemoteFlags, RemoteSettings, RemoteStore};
use crate::buildcache::storage::{blob_path, BlobSource, CacheEntry, Storage};
use crate::util::report::Reporter;
use crate::workspace::project::Project;

/// Parallel uploads.
const UPLOADERS: usize = 4;
/// The longest `finish` waits for queued uploads before it abandons them with a warning.
const UPLOAD_WAIT: Duration = Duration::from_secs(60);

/// One remote write: blobs first, then the entry that names them.
struct Job {
    blobs: Vec<BlobSource>,
    key: CacheKey,
    entry: Vec<u8>,
}

/// Counts jobs queued and not yet done, so that `finish` can wait for zero.
#[derive(Default)]
struct Pending {
    count: Mutex<usize>,
    done: Condvar,
}

/// Local store plus remote store.
pub struct TieredStore {
    local: LocalStore,
    remote: Arc<RemoteStore>,
    queue: Mutex<Option<Sender<Job>>>,
    pending: Arc<Pending>,
}

/// What `BuildCache` keeps to finish the remote's work at the end of a run.
#[derive(Clone)]
pub struct RemoteHandle(Arc<TieredStore>);

impl RemoteHandle {
    /// Waits for queued uploads (at most [`UPLOAD_WAIT`]), then says whether the run must fail
    /// because a required remote failed.
    pub fn finish(&self) -> Result<()> {
        self.0.finish(UPLOAD_WAIT);
        self.0.remote.write_traffic();
        self.0.remote.check_required()
    }
}

/// A `Storage` over a shared tiered store.
struct Shared(Arc<TieredStore>);

/// The local store in front of the remote at `settings`, and the handle that finishes its
/// uploads (for a build run and for cacheprog alike). An error when the remote cannot be
/// used at all (its protocol is not built in, its TLS setup fails).
pub fn with_remote(
    local: LocalStore,
    settings: RemoteSettings,
    reporter: &Reporter,
) -> Result<(Box<dyn Storage>, RemoteHandle), (LocalStore, anyhow::Error)> {
    let remote = match RemoteStore::new(settings, reporter) {
        Ok(remote) => remote,
        Err(e) => return Err((local, e)),
    };
    let tiered = Arc::new(TieredStore::new(local, Arc::new(remote)));
    Ok((Box::new(Shared(tiered.clone())), RemoteHandle(tiered)))
}

/// The store of a run: the local one at `dir`, plus the remote when one is configured.
pub fn open(
    project: &Project,
    dir: &Utf8Path,
    flags: RemoteFlags,
    reporter: &Reporter,
) -> Result<(Box<dyn Storage>, Option<RemoteHandle>)> {
    let local = LocalStore::open(dir)
        .reporting_to(reporter)
        .crashing_at(project.settings.crash_at);
    let settings = match RemoteSettings::resolve(project, flags) {
        Ok(Some(settings)) => settings,
        Ok(None) => return Ok((Box::new(local), None)),
        Err(e) if flags.required => return Err(e),
        Err(e) => {
            reporter.warn(&format!("{e:#}; building without the remote cache"));
            return Ok((Box::new(local), None));
        }
    };
    let (store, handle) = match with_remote(local, settings, reporter) {
        Ok(tiered) => tiered,
        Err((_, e)) if flags.required => return Err(e),
        Err((local, e)) => {
            reporter.warn(&format!("{e:#}; building without the remote cache"));
            return Ok((Box::new(local), None));
        }
    };
    if flags.required {
        handle.0.remote.probe()?;
    }
    Ok((store, Some(handle)))
}

impl TieredStore {
    fn new(local: LocalStore, remote: Arc<RemoteStore>) -> TieredStore {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let pending = Arc::new(Pending::default());
        for _ in 0..UPLOADERS {
            let (receiver, remote, pending) = (receiver.clone(), remote.clone(), pending.clone());
            std::thread::spawn(move || upload_loop(&receiver, &remote, &pending));
        }
        TieredStore {
            local,
            remote,
            queue: Mutex::new(Some(sender)),
            pending,
        }
    }

    fn local_blob(&self, sha256: &str) -> Utf8PathBuf {
        blob_path(self.local.root(), sha256)
    }

    fn enqueue(&self, job: Job) {
        if self.remote.read_only() || !self.remote.available() {
            return;
        }
        if let Some(queue) = self.queue.lock().unwrap().as_ref() {
            *self.pending.count.lock().unwrap() += 1;
            if queue.send(job).is_err() {
                *self.pending.count.lock().unwrap() -= 1;
            }
        }
    }

    /// Stops taking uploads and waits up to `wait` for the queued ones.
    fn finish(&self, wait: Duration) {
        self.queue.lock().unwrap().take();
        let deadline = Instant::now() + wait;
        let mut count = self.pending.count.lock().unwrap();
        while *count > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.remote.reporter().warn(&format!(
                    "abandoning {} upload(s) to the remote cache {} after waiting {}s",
                    *count,
                    self.remote.settings().url,
                    wait.as_secs()
                ));
                return;
            }
            count = self.pending.done.wait_timeout(count, left).unwrap().0;
        }
    }
}

fn upload_loop(receiver: &Mutex<Receiver<Job>>, remote: &RemoteStore, pending: &Pending) {
    loop {
        let job = receiver.lock().unwrap().recv();
        let Ok(job) = job else { return };
        if remote.available() {
            if let Err(e) = remote.put_entry_with_blobs(&job.key, &job.entry, &job.blobs) {
                remote.fail("an upload failed", &format!("{e:#}"));
            }
        }
        let mut count = pending.count.lock().unwrap();
        *count -= 1;
        pending.done.notify_all();
    }
}

/// Whether bytes from the remote are one of the entries this cache writes, valid for `key`:
/// a build entry (`CacheEntry::parse` rejects `..`, absolute and other non-plain names whole)
/// or an input set.
pub fn valid_entry(bytes: &[u8], key: &CacheKey) -> bool {
    if CacheEntry::parse(bytes, key).is_ok() {
        return true;
    }
    let is_build_entry = serde_json::from_slice::<serde_json::Value>(bytes)
        .is_ok_and(|v| v.get("outputs").is_some());
    !is_build_entry
        && serde_json::from_slice::<InputSet>(bytes).is_ok_and(|set| set.validate().is_ok())
}

impl Storage for Shared {
    fn describe(&self) -> String {
        format!("{} + {}", self.0.local.describe(), self.0.remote.describe())
    }

    /// Local first; a remote entry is checked (`valid_entry`) before it is kept locally.
    fn get_entry(&self, key: &CacheKey) -> Option<Vec<u8>> {
        let tiered = &self.0;
        if let Some(bytes) = tiered.local.get_entry(key) {
            return Some(bytes);
        }
        let bytes = tiered.remote.get_entry(key)?;
        if !valid_entry(&bytes, key) {
            tiered.remote.reporter().warn(&format!(
                "remote cache entry {} {key} is malformed or names a file outside the output \
                 directory; ignored (a miss)",
                tiered.remote.settings().url
            ));
            return None;
        }
        let _ = tiered.local.put_entry(key, &bytes);
        Some(bytes)
    }

    /// Locally at once; the same blobs and entry are queued as one job for the remote. A local
    /// store that cannot be written (read-only, full) does not keep the remote from getting
    /// them: the job reads each blob from its source then.
    fn put_entry_with_blobs(
        &self,
        key: &CacheKey,
        bytes: &[u8],
        blobs: &[BlobSource],
    ) -> Result<()> {
        let tiered = &self.0;
        let local = tiered.local.put_entry_with_blobs(key, bytes, blobs);
        let blobs = blobs
            .iter()
            .map(|blob| match tiered.local.local_path(&blob.sha256, 0) {
                Some(path) if local.is_ok() => BlobSource {
                    sha256: blob.sha256.clone(),
                    path,
                },
                _ => blob.clone(),
            })
            .collect();
        tiered.enqueue(Job {
            blobs,
            key: key.clone(),
            entry: bytes.to_vec(),
        });
        if tiered.remote.read_only() {
            local
        } else {
            Ok(())
        }
    }

    fn get_blob(&self, sha256: &str, size: u64, dest: &Utf8Path, mode: u32) -> bool {
        let tiered = &self.0;
        tiered.local.get_blob(sha256, size, dest, mode)
            || (tiered
                .remote
                .get_blob(sha256, size, &tiered.local_blob(sha256), 0o644)
                && tiered.local.get_blob(sha256, size, dest, mode))
    }

    fn local_path(&self, sha256: &str, size: u64) -> Option<Utf8PathBuf> {
        let tiered = &self.0;
        tiered.local.local_path(sha256, size).or_else(|| {
            let path = tiered.local_blob(sha256);
            tiered
                .remote
                .get_blob(sha256, size, &path, 0o644)
                .then_some(path)
        })
    }
}
