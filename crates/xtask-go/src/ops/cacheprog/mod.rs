//! GOCACHEPROG (go 1.24+): `cargo xtask cacheprog` serves go's own per-package build cache from
//! the same storage as the build cache: the local store plus the remote.
//!
//! Protocol (src/cmd/go/internal/cacheprog): JSON lines on stdin/stdout; we first announce
//! `{"ID":0,"KnownCommands":["get","put","close"]}`; a `put` with `BodySize > 0` is followed by a
//! line holding the body as a JSON string of base64 (go 1.26 writes an empty line before it). Replies carry the request's ID, in any
//! order (a pool of workers answers them). `DiskPath` names the blob in the local store.
//!
//! go's ActionID → (OutputID, size) index lives in entries under keys derived from the ActionID
//! with a prefix of their own ([`prog_key`]), so they cannot collide with build entries; the
//! entries have the build entries' shape (one output named `output`), so `cache gc` and the
//! path checks treat them alike. Outputs are blobs, content-addressed as every other blob.
//! Several go processes may run this at once on one store: every write is atomic.

use std::io::{BufRead, Write};
use std::sync::mpsc;
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use base64::Engine;
use camino::Utf8PathBuf;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::buildcache::key::CacheKey;
use crate::buildcache::statcache;
use crate::buildcache::storage::local::LocalStore;
use crate::buildcache::storage::remote::RemoteSettings;
use crate::buildcache::storage::tiered::{self, RemoteHandle};
use crate::buildcache::storage::{BlobSource, CacheEntry, OutputRecord, Storage};
use crate::util::fsutil;
use crate::util::report::Reporter;

/// Requests answered at once.
const WORKERS: usize = 8;

/// Where and how `cacheprog` keeps go's cache.
#[derive(Debug, Clone)]
pub struct CacheprogOptions {
    /// The store directory (the build cache's).
    pub dir: Utf8PathBuf,
    /// The remote's URL (http(s):// or grpc(s)://), if any.
    pub remote: Option<String>,
    /// The REAPI instance name of a grpc:// remote.
    pub instance: Option<String>,
    pub read_only: bool,
}

/// The store key of go's ActionID: its own namespace, never a build entry's key.
pub fn prog_key(action_id: &[u8]) -> CacheKey {
    let mut hasher = Sha256::new();
    hasher.update(b"xtask-go gocacheprog v1\n");
    hasher.update(action_id);
    CacheKey::from_hex(statcache::hex(&hasher.finalize())).expect("sha256 hex is a key")
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Request {
    #[serde(rename = "ID")]
    id: i64,
    command: String,
    #[serde(rename = "ActionID", default)]
    action_id: Option<String>,
    #[serde(rename = "OutputID", default)]
    output_id: Option<String>,
    #[serde(default)]
    body_size: u64,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Response {
    #[serde(rename = "ID")]
    id: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    err: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    known_commands: Vec<&'static str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    miss: bool,
    #[serde(rename = "OutputID", skip_serializing_if = "Option::is_none")]
    output_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "String::is_empty")]
    disk_path: String,
}

/// A go index entry: a build entry's fields plus go's OutputID.
#[derive(Debug, Serialize, Deserialize)]
struct ProgEntry {
    #[serde(flatten)]
    entry: CacheEntry,
    output_id: String,
}

/// The storage behind the protocol: the build cache's store (with the remote tier when asked),
/// used through the `Storage` trait as a build uses it.
struct Backend {
    dir: Utf8PathBuf,
    store: Box<dyn Storage>,
    remote: Option<RemoteHandle>,
}

impl Backend {
    fn open(options: &CacheprogOptions) -> Result<Backend> {
        let local = LocalStore::open(&options.dir);
        let (store, remote) = match &options.remote {
            None => (Box::new(local) as Box<dyn Storage>, None),
            Some(url) => {
                let mut settings = RemoteSettings::for_url(url, "cacheprog --remote")?;
                settings.read_only = options.read_only;
                settings.instance = options.instance.clone().unwrap_or_default();
                // Warnings go to stderr: stdout speaks the protocol.
                let reporter = Reporter::new(false);
                match tiered::with_remote(local, settings, &reporter) {
                    Ok((store, handle)) => (store, Some(handle)),
                    Err((local, e)) => {
                        reporter.warn(&format!("{e:#}; serving go from the local store only"));
                        (Box::new(local) as Box<dyn Storage>, None)
                    }
                }
            }
        };
        Ok(Backend {
            dir: options.dir.clone(),
            store,
            remote,
        })
    }

    /// The entry and the blob's file for go to read, verified; a corrupt local blob is
    /// dropped and fetched again (from the remote tier, if any).
    fn get(&self, action_id: &[u8]) -> Option<(ProgEntry, Utf8PathBuf)> {
        let key = prog_key(action_id);
        let entry = parse_entry(&self.store.get_entry(&key)?, &key)?;
        let (sha256, size) = (
            entry.entry.outputs[0].sha256.clone(),
            entry.entry.outputs[0].size,
        );
        let verified = |path: &Utf8PathBuf| statcache::sha256_file(path).is_ok_and(|s| s == sha256);
        let path = self.store.local_path(&sha256, size)?;
        if verified(&path) {
            return Some((entry, path));
        }
        let _ = std::fs::remove_file(&path);
        let path = self.store.local_path(&sha256, size)?;
        verified(&path).then_some((entry, path))
    }

    /// Stores go's output (written to a temp file in the store's directory, then stored as a
    /// blob with its entry) and says where go can read it.
    fn put(&self, action_id: &[u8], output_id: &[u8], body: &[u8]) -> Result<Utf8PathBuf> {
        let sha256 = statcache::hex(&Sha256::digest(body));
        let key = prog_key(action_id);
        let entry = ProgEntry {
            entry: CacheEntry {
                key: key.to_string(),
                target: "gocacheprog".into(),
                triple: String::new(),
                outputs: vec![OutputRecord {
                    name: "output".into(),
                    sha256: sha256.clone(),
                    size: body.len() as u64,
                    mode: 0o644,
                }],
            },
            output_id: statcache::hex(output_id),
        };
        let bytes = serde_json::to_vec(&entry)?;
        let staged = fsutil::temp_path_for(&self.dir.join(&sha256));
        fsutil::write_atomic_with(&staged, body, fsutil::Durability::Scratch)
            .with_context(|| format!("writing {staged}"))?;
        let blob = BlobSource {
            sha256: sha256.clone(),
            path: staged.clone(),
        };
        // The store keeps a blob already there with the right size unread, and go reads what it
        // is handed unverified: one already there is checked first, and dropped if bad, so that
        // the put writes it anew (a new blob is a copy of the bytes hashed above).
        let size = body.len() as u64;
        if let Some(old) = self.store.local_path(&sha256, size) {
            if !statcache::sha256_file(&old).is_ok_and(|s| s == sha256) {
                let _ = std::fs::remove_file(&old);
            }
        }
        let stored = self.store.put_entry_with_blobs(&key, &bytes, &[blob]);
        let _ = std::fs::remove_file(&staged);
        stored?;
        self.store
            .local_path(&sha256, size)
            .with_context(|| format!("the store at {} kept no blob {sha256}", self.dir))
    }
}

fn parse_entry(bytes: &[u8], key: &CacheKey) -> Option<ProgEntry> {
    CacheEntry::parse(bytes, key).ok()?;
    let entry: ProgEntry = serde_json::from_slice(bytes).ok()?;
    let ok = entry.entry.outputs.len() == 1 && entry.output_id.len() == 64;
    ok.then_some(entry)
}

fn decode(field: Option<&str>, what: &str) -> Result<Vec<u8>> {
    let text = field.with_context(|| format!("request has no {what}"))?;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .with_context(|| format!("{what} is not base64"))
}

/// One request with its body, ready for a worker.
struct Work {
    request: Request,
    body: Vec<u8>,
}

fn answer(backend: &Backend, work: &Work) -> Response {
    let mut response = Response {
        id: work.request.id,
        ..Response::default()
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let result = (|| -> Result<()> {
        let action_id = decode(work.request.action_id.as_deref(), "ActionID")?;
        match work.request.command.as_str() {
            // An entry whose output ID is not hex is corrupt: a miss, as any unreadable entry.
            "get" => match backend
                .get(&action_id)
                .and_then(|(entry, path)| Some((hex::decode(&entry.output_id).ok()?, entry, path)))
            {
                Some((output_id, entry, path)) => {
                    response.output_id = Some(b64.encode(output_id));
                    response.size = Some(entry.entry.outputs[0].size);
                    response.disk_path = path.to_string();
                }
                None => response.miss = true,
            },
            "put" => {
                let output_id = decode(work.request.output_id.as_deref(), "OutputID")?;
                let path = backend.put(&action_id, &output_id, &work.body)?;
                response.disk_path = path.to_string();
            }
            other => bail!("unknown command `{other}`"),
        }
        Ok(())
    })();
    if let Err(e) = result {
        response.err = format!("{e:#}");
    }
    response
}

/// Serves the protocol on `input`/`output` until `close` or the end of the input.
pub fn serve(
    options: &CacheprogOptions,
    input: impl BufRead,
    output: impl Write + Send,
) -> Result<()> {
    let backend = Backend::open(options)?;
    let output = Mutex::new(output);
    let send = |response: &Response| -> Result<()> {
        let mut line = serde_json::to_vec(response)?;
        line.push(b'\n');
        let mut out = output.lock().unwrap();
        out.write_all(&line)
            .and_then(|()| out.flush())
            .context("writing to go")
    };
    send(&Response {
        known_commands: vec!["get", "put", "close"],
        ..Response::default()
    })?;
    let (sender, receiver) = mpsc::channel::<Work>();
    let receiver = Mutex::new(receiver);
    let mut close_id = None;
    std::thread::scope(|scope| -> Result<()> {
        for _ in 0..WORKERS {
            scope.spawn(|| loop {
                let work = receiver.lock().unwrap().recv();
                let Ok(work) = work else { return };
                let _ = send(&answer(&backend, &work));
            });
        }
        let mut lines = input.lines();
        while let Some(line) = lines.next() {
            let line = line.context("reading go's requests")?;
            if line.trim().is_empty() {
                continue;
            }
            let request: Request = serde_json::from_str(&line)
                .with_context(|| format!("malformed request from go: {line}"))?;
            if request.command == "close" {
                close_id = Some(request.id);
                break;
            }
            let body = if request.command == "put" && request.body_size > 0 {
                read_put_body(&mut lines, request.body_size)?
            } else {
                Vec::new()
            };
            sender.send(Work { request, body }).expect("workers run");
        }
        drop(sender);
        Ok(())
    })?;
    if let Some(remote) = &backend.remote {
        // Waits for the uploads (bounded); a failed remote was already a warning.
        let _ = remote.finish();
    }
    if let Some(id) = close_id {
        send(&Response {
            id,
            ..Response::default()
        })?;
    }
    Ok(())
}

/// The body of a `put`: go writes an empty line after every request (json.Encoder's newline,
/// then its own), so it is the next line that is not empty, a JSON string of base64.
fn read_put_body(
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
    size: u64,
) -> Result<Vec<u8>> {
    let next = loop {
        let line = lines.next().context("a put without its body")??;
        if !line.trim().is_empty() {
            break line;
        }
    };
    let text: String = serde_json::from_str(&next).context("a put body")?;
    let body = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .context("a put body is not base64")?;
    if body.len() as u64 != size {
        bail!("a put body of {} bytes, announced {size}", body.len());
    }
    Ok(body)
}

/// `cargo xtask cacheprog`: serves stdin/stdout.
pub fn serve_stdio(options: &CacheprogOptions) -> Result<()> {
    let stdin = std::io::stdin().lock();
    serve(options, stdin, std::io::stdout())
}

#[cfg(test)]
mod tests;
