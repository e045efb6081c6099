//! The tiered store: the local store first, then the remote; a remote hit fills the local store.
//! Writes land locally at once and are queued for the remote, where a small pool of uploader
//! threads sends them in the background of the run; `finish` waits for them (bounded) at exit.
//!
//! Order on the remote is kept per entry: the blobs a unit stored are uploaded before the entry
//! that names them, in one job (a reader never finds a remote entry whose blobs are missing).

use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use anyhow::Result;
use camino::{Utf8Path, Utf8PathBuf};

use crate::buildcache::inputs::InputSet;
use crate::buildcache::key::CacheKey;
use crate::buildcache::storage::local::{CacheEntry, LocalStore, Storage, BUCKET};
use crate::buildcache::storage::remote::{RemoteFlags, RemoteSettings, RemoteStore};
use crate::util::report::Reporter;
use crate::workspace::project::Project;

/// Parallel uploads.
const UPLOADERS: usize = 4;
/// The longest `finish` waits for queued uploads before it abandons them with a warning.
const UPLOAD_WAIT: Duration = Duration::from_secs(60);

/// One remote write: blobs first, then the entry that names them.
struct Job {
    blobs: Vec<(String, Utf8PathBuf)>,
    entry: Option<(CacheKey, Vec<u8>)>,
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
    /// Blobs stored by a thread and not yet followed by their entry.
    blobs: Mutex<HashMap<ThreadId, Vec<(String, Utf8PathBuf)>>>,
}

/// What `BuildCache` keeps to finish the remote's work at the end of a run.
#[derive(Clone)]
pub struct RemoteHandle(Arc<TieredStore>);

impl RemoteHandle {
    /// Waits for queued uploads (at most [`UPLOAD_WAIT`]), then says whether the run must fail
    /// because a required remote failed.
    pub fn finish(&self) -> Result<()> {
        self.0.finish(UPLOAD_WAIT);
        self.0.remote.check_required()
    }
}

/// A `Storage` over a shared tiered store.
struct Shared(Arc<TieredStore>);

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
    let remote = RemoteStore::new(settings, reporter);
    if flags.required {
        remote.probe()?;
    }
    let tiered = Arc::new(TieredStore::new(local, Arc::new(remote)));
    Ok((Box::new(Shared(tiered.clone())), Some(RemoteHandle(tiered))))
}

impl TieredStore {
    pub fn new(local: LocalStore, remote: Arc<RemoteStore>) -> TieredStore {
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
            blobs: Mutex::new(HashMap::new()),
        }
    }

    fn local_blob(&self, sha256: &str) -> Utf8PathBuf {
        self.local
            .root()
            .join(BUCKET)
            .join("blobs")
            .join(&sha256[..2])
            .join(sha256)
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
    pub fn finish(&self, wait: Duration) {
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
            let result = (|| -> Result<()> {
                for (sha256, src) in &job.blobs {
                    remote.put_blob(sha256, src)?;
                }
                if let Some((key, bytes)) = &job.entry {
                    remote.put_entry(key, bytes)?;
                }
                Ok(())
            })();
            if let Err(e) = result {
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

impl TieredStore {
    pub fn get_entry_checked(
        &self,
        key: &CacheKey,
        valid: impl Fn(&[u8]) -> bool,
    ) -> Option<Vec<u8>> {
        if let Some(bytes) = self.local.get_entry(key) {
            return Some(bytes);
        }
        let bytes = self.remote.get_entry(key)?;
        if !valid(&bytes) {
            self.remote.reporter().warn(&format!(
                "remote cache entry {}/ac/{key} is malformed or names a file outside the output \
                 directory; ignored (a miss)",
                self.remote.settings().url
            ));
            return None;
        }
        let _ = self.local.put_entry(key, &bytes);
        Some(bytes)
    }

    pub fn get_blob(&self, sha256: &str, dest: &Utf8Path, mode: u32) -> bool {
        if self.local.get_blob(sha256, dest, mode) {
            return true;
        }
        // Into the local store first (verified there), then the usual verified copy.
        if self
            .remote
            .get_blob(sha256, &self.local_blob(sha256), 0o644)
        {
            return self.local.get_blob(sha256, dest, mode);
        }
        false
    }

    /// Downloads a blob from the remote into the local store (verified); whether it is there.
    pub fn fetch_into_local(&self, sha256: &str) -> bool {
        self.remote
            .get_blob(sha256, &self.local_blob(sha256), 0o644)
    }

    pub fn put_blob(&self, sha256: &str, src: &Utf8Path) -> Result<()> {
        let local = self.local.put_blob(sha256, src);
        let from = if local.is_ok() {
            self.local_blob(sha256)
        } else {
            src.to_owned()
        };
        let id = std::thread::current().id();
        self.blobs
            .lock()
            .unwrap()
            .entry(id)
            .or_default()
            .push((sha256.to_string(), from));
        // A local store that cannot be written (read-only, full) does not keep the remote from
        // getting the blob: the job reads it from the output itself.
        if self.remote.read_only() {
            local
        } else {
            Ok(())
        }
    }

    pub fn put_entry(&self, key: &CacheKey, bytes: &[u8]) -> Result<()> {
        let local = self.local.put_entry(key, bytes);
        let blobs = self
            .blobs
            .lock()
            .unwrap()
            .remove(&std::thread::current().id())
            .unwrap_or_default();
        self.enqueue(Job {
            blobs,
            entry: Some((key.clone(), bytes.to_vec())),
        });
        local
    }

    pub fn describe(&self) -> String {
        format!("{} + {}", self.local.describe(), self.remote.describe())
    }
}

impl Storage for Shared {
    fn describe(&self) -> String {
        self.0.describe()
    }
    fn get_entry(&self, key: &CacheKey) -> Option<Vec<u8>> {
        self.0
            .get_entry_checked(key, |bytes| valid_entry(bytes, key))
    }
    fn put_entry(&self, key: &CacheKey, bytes: &[u8]) -> Result<()> {
        self.0.put_entry(key, bytes)
    }
    fn get_blob(&self, sha256: &str, dest: &Utf8Path, mode: u32) -> bool {
        self.0.get_blob(sha256, dest, mode)
    }
    fn put_blob(&self, sha256: &str, src: &Utf8Path) -> Result<()> {
        self.0.put_blob(sha256, src)
    }
    fn sweep_temp_files(&self) -> usize {
        self.0.local.clean_temp_files()
    }
}
