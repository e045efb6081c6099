//! The two remote caches `bench remote` runs on loopback: nginx with WebDAV (the Bazel HTTP
//! protocol; `.ci/setup-nginx.sh`) and BuildGrid (REAPI over gRPC, in-memory CAS and action
//! cache; `.ci/setup-buildgrid.sh`). Each is stopped on drop.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

/// A server the bench started.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:<port>` or `grpc://127.0.0.1:<port>`.
    pub url: String,
    /// What it is, for the table.
    pub name: &'static str,
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn wait_listening(child: &mut Child, port: u16, log: &Utf8Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline || child.try_wait()?.is_some() {
            bail!("the server did not listen on {port}; see {log}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

impl Server {
    /// nginx with WebDAV on a free loopback port, serving `dir/data`.
    pub fn nginx(dir: &Utf8Path) -> Result<Server> {
        let data = dir.join("data");
        std::fs::create_dir_all(&data)?;
        let port = free_port()?;
        let conf = format!(
            "user root;\nworker_processes 2;\ndaemon off;\npid {dir}/nginx.pid;\n\
             error_log {dir}/error.log;\nevents {{ worker_connections 256; }}\nhttp {{\n\
             access_log off;\nclient_body_temp_path {dir}/body;\nclient_max_body_size 0;\n\
             server {{ listen 127.0.0.1:{port}; root {data};\n\
             location / {{ dav_methods PUT DELETE; create_full_put_path on; }} }}\n}}\n"
        );
        std::fs::write(dir.join("nginx.conf"), conf)?;
        let mut child = Command::new("nginx")
            .args(["-p", dir.as_str(), "-c", dir.join("nginx.conf").as_str()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting nginx: run `bash .ci/setup-nginx.sh`")?;
        wait_listening(&mut child, port, &dir.join("error.log"))?;
        Ok(Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
            name: "HTTP (nginx WebDAV)",
        })
    }

    /// BuildGrid on a free loopback port, its CAS and action cache in memory.
    pub fn buildgrid(dir: &Utf8Path) -> Result<Server> {
        std::fs::create_dir_all(dir)?;
        let venv = match std::env::var("XTASK_GO_BUILDGRID_VENV") {
            Ok(v) if !v.is_empty() => Utf8PathBuf::from(v),
            _ => Utf8PathBuf::from(std::env::var("HOME").unwrap_or_default())
                .join(".cache/xtask-go/buildgrid-venv"),
        };
        let bgd = venv.join("bin/bgd");
        if !bgd.is_file() {
            bail!("no BuildGrid at {bgd}: run `bash .ci/setup-buildgrid.sh`");
        }
        let port = free_port()?;
        let config = format!(
            "server:\n  - !channel\n    address: \"127.0.0.1:{port}\"\n    insecure-mode: true\n\
             authorization:\n  method: none\n\
             storages:\n  - !lru-storage &cas\n    size: 2048M\n\
             caches:\n  - !lru-action-cache &ac\n    storage: *cas\n    max-cached-refs: 1000000\n\
             instances:\n  - name: \"\"\n    services:\n      - !action-cache\n        cache: *ac\n\
             \x20     - !cas\n        storage: *cas\n      - !bytestream\n        storage: *cas\n"
        );
        std::fs::write(dir.join("bgd.yml"), config)?;
        let log = dir.join("bgd.log");
        let out = std::fs::File::create(&log)?;
        let mut child = Command::new(&bgd)
            .args(["server", "start", dir.join("bgd.yml").as_str()])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {bgd}"))?;
        wait_listening(&mut child, port, &log)?;
        Ok(Server {
            child,
            url: format!("grpc://127.0.0.1:{port}"),
            name: "gRPC (BuildGrid)",
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM, so that nginx's master stops its workers too.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}
