//! A real BuildGrid (a REAPI server: Capabilities, CAS, ByteStream, ActionCache over gRPC) on
//! a free loopback port, with an in-memory CAS and action cache (or a CAS on disk, for a test
//! that corrupts what it stores). Stopped on drop. `.ci/setup-buildgrid.sh` installs it into a
//! venv; `XTASK_GO_BUILDGRID_VENV` moves that venv.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use camino::Utf8PathBuf;

use crate::nginx::free_port;

pub struct BuildGrid {
    _dir: tempfile::TempDir,
    child: Option<Child>,
    root: Utf8PathBuf,
    /// `grpc://127.0.0.1:<port>`.
    pub url: String,
    /// Where a disk CAS keeps its blobs (`<dir>/cas/objects/<2 hex>/<62 hex>`), if on disk.
    pub cas_dir: Option<Utf8PathBuf>,
}

/// The venv `.ci/setup-buildgrid.sh` installs into.
pub fn venv() -> Utf8PathBuf {
    match std::env::var("XTASK_GO_BUILDGRID_VENV") {
        Ok(dir) if !dir.is_empty() => Utf8PathBuf::from(dir),
        _ => Utf8PathBuf::from(std::env::var("HOME").expect("HOME is set"))
            .join(".cache/xtask-go/buildgrid-venv"),
    }
}

/// `bgd`, BuildGrid's server command; panics with the fix when it is not installed.
pub fn bgd() -> Utf8PathBuf {
    let bgd = venv().join("bin/bgd");
    assert!(
        bgd.is_file(),
        "no BuildGrid at {bgd}: run `bash .ci/setup-buildgrid.sh` (PyPI buildgrid 0.4.4 in a venv)"
    );
    bgd
}

/// The server's YAML: one channel on loopback, no auth, one instance (`""` is the default)
/// with the action cache, CAS and ByteStream over `storage`.
fn config(port: u16, storage: &str, instance: &str) -> String {
    format!(
        "server:\n  - !channel\n    address: \"127.0.0.1:{port}\"\n    insecure-mode: true\n\
         authorization:\n  method: none\n\
         storages:\n  - {storage}\n\
         caches:\n  - !lru-action-cache &ac\n    storage: *cas\n    max-cached-refs: 100000\n\
         \x20   allow-updates: true\n    cache-failed-actions: true\n\
         instances:\n  - name: \"{instance}\"\n    services:\n      - !action-cache\n        cache: *ac\n\
         \x20     - !cas\n        storage: *cas\n      - !bytestream\n        storage: *cas\n"
    )
}

impl BuildGrid {
    /// A server whose CAS and action cache live in memory.
    pub fn start() -> BuildGrid {
        BuildGrid::start_with(false, "")
    }

    /// A server whose CAS is a directory (`cas_dir`), so a test can change what it serves.
    pub fn start_on_disk() -> BuildGrid {
        BuildGrid::start_with(true, "")
    }

    /// A server whose only instance is `instance` (in memory).
    pub fn start_with_instance(instance: &str) -> BuildGrid {
        BuildGrid::start_with(false, instance)
    }

    fn start_with(on_disk: bool, instance: &str) -> BuildGrid {
        let dir = tempfile::Builder::new()
            .prefix("xtask-go-buildgrid-")
            .tempdir()
            .unwrap();
        let root = Utf8PathBuf::from_path_buf(dir.path().to_path_buf()).unwrap();
        let port = free_port();
        let cas_dir = on_disk.then(|| root.join("cas-root"));
        let storage = match &cas_dir {
            Some(path) => format!("!disk-storage &cas\n    path: {path}"),
            None => "!lru-storage &cas\n    size: 1024M".to_string(),
        };
        std::fs::write(root.join("bgd.yml"), config(port, &storage, instance)).unwrap();
        let log = std::fs::File::create(root.join("bgd.log")).unwrap();
        let child = Command::new(bgd())
            .args(["server", "start", root.join("bgd.yml").as_str()])
            .current_dir(&root)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting BuildGrid");
        let mut server = BuildGrid {
            _dir: dir,
            child: Some(child),
            root,
            url: format!("grpc://127.0.0.1:{port}"),
            cas_dir,
        };
        server.wait_listening(port);
        server
    }

    fn wait_listening(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = self.child.as_mut().unwrap().try_wait().unwrap();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "BuildGrid did not listen on {port} ({exited:?}): {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What the server printed.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("bgd.log")).unwrap_or_default()
    }

    /// The pid of the server, for a test that stops it from a script.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Every blob file of a disk CAS.
    pub fn cas_files(&self) -> Vec<Utf8PathBuf> {
        let objects = self
            .cas_dir
            .as_ref()
            .expect("a disk CAS")
            .join("cas/objects");
        let mut files = Vec::new();
        for shard in std::fs::read_dir(objects).into_iter().flatten() {
            for file in std::fs::read_dir(shard.unwrap().path()).unwrap() {
                files.push(Utf8PathBuf::from_path_buf(file.unwrap().path()).unwrap());
            }
        }
        files.sort();
        files
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for BuildGrid {
    fn drop(&mut self) {
        self.stop();
    }
}
