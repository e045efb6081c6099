//! A real nginx with WebDAV on a free loopback port, serving a temp dir: a Bazel HTTP remote
//! cache (GET/PUT/HEAD under /ac/ and /cas/) for the remote-cache tests. Stopped on drop.
//! `.ci/setup-nginx.sh` installs it.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use camino::Utf8PathBuf;

pub struct Nginx {
    _dir: tempfile::TempDir,
    child: Option<Child>,
    /// What it serves: `<data>/ac/<key>`, `<data>/cas/<sha256>`.
    pub data: Utf8PathBuf,
    pub url: String,
}

fn nginx_binary() -> String {
    for candidate in ["/usr/sbin/nginx", "/usr/local/sbin/nginx"] {
        if std::path::Path::new(candidate).is_file() {
            return candidate.to_string();
        }
    }
    panic!("no nginx: run `bash .ci/setup-nginx.sh` (Debian's nginx with the dav module)")
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Nginx {
    pub fn start() -> Nginx {
        let dir = tempfile::Builder::new()
            .prefix("xtask-go-nginx-")
            .tempdir()
            .unwrap();
        let root = Utf8PathBuf::from_path_buf(dir.path().to_path_buf()).unwrap();
        let data = root.join("data");
        std::fs::create_dir_all(&data).unwrap();
        let port = free_port();
        let conf = format!(
            "user root;\nworker_processes 1;\ndaemon off;\npid {root}/nginx.pid;\n\
             error_log {root}/error.log;\nevents {{ worker_connections 128; }}\n\
             http {{\n  access_log {root}/access.log;\n  client_body_temp_path {root}/body;\n\
               proxy_temp_path {root}/proxy;\n  fastcgi_temp_path {root}/fastcgi;\n\
               uwsgi_temp_path {root}/uwsgi;\n  scgi_temp_path {root}/scgi;\n\
               client_max_body_size 0;\n\
               server {{\n    listen 127.0.0.1:{port};\n    root {data};\n\
                 location / {{\n      dav_methods PUT DELETE;\n      create_full_put_path on;\n\
                   dav_access user:rw group:r all:r;\n    }}\n  }}\n}}\n"
        );
        std::fs::write(root.join("nginx.conf"), conf).unwrap();
        let child = Command::new(nginx_binary())
            .args(["-p", root.as_str(), "-c", root.join("nginx.conf").as_str()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting nginx");
        let nginx = Nginx {
            _dir: dir,
            child: Some(child),
            data,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not listen on {port}: {}",
                std::fs::read_to_string(root.join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        nginx
    }

    /// The pid of the master process, for a test that stops it from a script.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Every file the server holds under `ac` or `cas`.
    pub fn files(&self, kind: &str) -> Vec<Utf8PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.data.join(kind)) else {
            return Vec::new();
        };
        let mut files: Vec<Utf8PathBuf> = entries
            .map(|e| Utf8PathBuf::from_path_buf(e.unwrap().path()).unwrap())
            .collect();
        files.sort();
        files
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGTERM: a fast shutdown of master and workers.
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

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
    }
}
