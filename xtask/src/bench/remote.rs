//! `cargo xtask bench remote`: a fresh machine and a warm remote cache (a real nginx with WebDAV
//! on loopback). Times until every output of a synthetic repo is in place: `go build` with an
//! empty GOCACHE, `go build` with GOCACHEPROG (`xtask cacheprog`) on the warm remote, and
//! `xtask go-build` restoring from the remote; writes the table to target/bench/remote.md.

use std::fmt::Write as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::Shell;

use super::util::{markdown_table, ratio, text_table, time_runs, Stats};

const PACKAGES: usize = 40;
const FILES: usize = 5;
const MAINS: usize = 4;

// Long: one scenario after another, set up and timed in the order the table shows them.
pub fn run(sh: &Shell, runs: usize) -> Result<()> {
    let runs = runs.max(3);
    let target = super::util::target_dir()?;
    let dir = target.join("bench/remote");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("wiping {dir}"))?;
    }
    let xtask = super::util::release_xtask(sh)?;
    let go = "go";
    let repo = dir.join("repo");
    write_repo(&repo)?;
    let server = Server::start(&dir.join("nginx"))?;
    let url = server.url.clone();
    let fresh = |name: &str, run: usize| dir.join(format!("{name}-{run}"));
    let go_env = |gocache: &Utf8Path| {
        let mut cmd = Command::new(go);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", std::env::var("HOME").unwrap_or_default())
            .envs([
                ("GOENV", "off"),
                ("GOTOOLCHAIN", "local"),
                ("GOWORK", "off"),
            ])
            .envs([
                ("GOPROXY", "off"),
                ("CGO_ENABLED", "0"),
                ("GOFLAGS", "-trimpath"),
            ])
            .env("GOCACHE", gocache)
            .current_dir(repo.join("go/bench"))
            .args(["build", "-o"])
            .arg(repo.join("out/"))
            .arg("./cmd/...");
        cmd
    };
    let prog = |store: &Utf8Path| format!("{xtask} cacheprog --dir {store} --remote {url}");
    let go_build = |run: usize| {
        let mut cmd = go_env(&fresh("gocache", run));
        succeed(&mut cmd, "go build")
    };
    let go_prog = |run: usize| {
        let mut cmd = go_env(&fresh("gocache-prog", run));
        cmd.env("GOCACHEPROG", prog(&fresh("store-prog", run)));
        succeed(&mut cmd, "go build with GOCACHEPROG")
    };
    let xtask_build = |run: usize| {
        let mut cmd = Command::new(&xtask);
        cmd.args(["go-build", "--jobs", "2"])
            .current_dir(fresh("clone", run))
            .env("XTASK_GO_REMOTE_CACHE", &url)
            .env("XTASK_GO_CACHE_DIR", fresh("store-xtask", run))
            .env("XTASK_GO_GOCACHE", fresh("gocache-xtask", run))
            .env("GOPROXY", "off");
        succeed(&mut cmd, "xtask go-build")
    };
    let wipe_out = |_run: usize| -> Result<()> {
        let _ = std::fs::remove_dir_all(repo.join("out"));
        Ok(())
    };
    let clone = |run: usize| -> Result<()> {
        copy_dir(&repo, &fresh("clone", run))?;
        Ok(())
    };
    eprintln!("bench remote: warming the remote ({url})");
    clone(1000)?;
    xtask_build(1000)?;
    go_prog(1000)?;
    let _ = sh;
    eprintln!("bench remote: go build, empty GOCACHE");
    let cold = time_runs(runs, wipe_out, go_build)?;
    eprintln!("bench remote: go build with GOCACHEPROG on the warm remote, empty GOCACHE");
    let prog_warm = time_runs(runs, wipe_out, go_prog)?;
    eprintln!("bench remote: xtask go-build on a fresh clone, warm remote");
    let xtask_warm = time_runs(runs, clone, xtask_build)?;
    let rows: Vec<(&str, &Stats)> = vec![
        ("`go build`, empty GOCACHE", &cold),
        (
            "`go build` + GOCACHEPROG (`xtask cacheprog`), warm remote, empty GOCACHE",
            &prog_warm,
        ),
        (
            "`xtask go-build`, fresh clone, empty local store, warm remote",
            &xtask_warm,
        ),
    ];
    let headers = ["scenario", "median ms (min-max)", "vs `go build` cold"].map(String::from);
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|(name, stats)| {
            vec![
                name.to_string(),
                stats.summary(),
                ratio(Some(stats.median()), Some(cold.median())),
            ]
        })
        .collect();
    eprint!("{}", text_table(&headers, &table));
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Synthetic repo: 1 module, {PACKAGES} packages x {FILES} files, {MAINS} programs; \
         {runs} runs each; nginx (WebDAV) on loopback as the remote.\n"
    );
    md.push_str(&markdown_table(&headers, &table));
    let out = target.join("bench/remote.md");
    std::fs::write(&out, &md).with_context(|| format!("writing {out}"))?;
    eprintln!("bench remote: wrote {out}");
    Ok(())
}

fn succeed(cmd: &mut Command, what: &str) -> Result<()> {
    let out = cmd.output().with_context(|| format!("running {what}"))?;
    if !out.status.success() {
        bail!("{what} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

fn write_repo(repo: &Utf8Path) -> Result<()> {
    let module = repo.join("go/bench");
    let write = |path: Utf8PathBuf, text: String| -> Result<()> {
        std::fs::create_dir_all(path.parent().expect("has a parent"))?;
        std::fs::write(&path, text).with_context(|| format!("writing {path}"))
    };
    write(
        repo.join("Cargo.toml"),
        "[workspace]\nmembers = []\n".into(),
    )?;
    write(
        module.join("go.mod"),
        "module example.com/bench\n\ngo 1.21\n".into(),
    )?;
    for p in 0..PACKAGES {
        for f in 0..FILES {
            let mut text = format!("package p{p:02}\n\n");
            if p > 0 && f == 0 {
                let _ = writeln!(text, "import \"example.com/bench/p{:02}\"\n", p - 1);
                let _ = writeln!(text, "func Prev() int {{ return p{:02}.F0(1) }}\n", p - 1);
            }
            for g in 0..8 {
                let _ = writeln!(
                    text,
                    "func F{f}{g}(x int) int {{ s := 0; for i := 0; i < x; i++ {{ s += i * {g} }}; return s }}\n"
                );
            }
            if f == 0 {
                text.push_str("func F0(x int) int { return F00(x) + 1 }\n");
            }
            write(module.join(format!("p{p:02}/f{f}.go")), text)?;
        }
    }
    for m in 0..MAINS {
        let top = PACKAGES - 1 - m * 3;
        write(
            module.join(format!("cmd/tool{m}/main.go")),
            format!(
                "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/bench/p{top:02}\"\n)\n\n\
                 func main() {{ fmt.Println(p{top:02}.F0(3), p{top:02}.Prev()) }}\n"
            ),
        )?;
    }
    Ok(())
}

fn copy_dir(from: &Utf8Path, to: &Utf8Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry
            .file_name()
            .into_string()
            .map_err(|_| anyhow::anyhow!("name"))?;
        if entry.file_type()?.is_dir() {
            if name != "out" && name != "target" {
                copy_dir(&from.join(&name), &to.join(&name))?;
            }
        } else {
            std::fs::copy(from.join(&name), to.join(&name))?;
        }
    }
    Ok(())
}

/// nginx with WebDAV on a free loopback port (installed by `.ci/setup-nginx.sh`).
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(dir: &Utf8Path) -> Result<Server> {
        let data = dir.join("data");
        std::fs::create_dir_all(&data)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let conf = format!(
            "user root;\nworker_processes 2;\ndaemon off;\npid {dir}/nginx.pid;\n\
             error_log {dir}/error.log;\nevents {{ worker_connections 256; }}\nhttp {{\n\
             access_log off;\nclient_body_temp_path {dir}/body;\nclient_max_body_size 0;\n\
             server {{ listen 127.0.0.1:{port}; root {data};\n\
             location / {{ dav_methods PUT DELETE; create_full_put_path on; }} }}\n}}\n"
        );
        std::fs::write(dir.join("nginx.conf"), conf)?;
        let child = Command::new("nginx")
            .args(["-p", dir.as_str(), "-c", dir.join("nginx.conf").as_str()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting nginx: run `bash .ci/setup-nginx.sh`")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("nginx did not start; see {dir}/error.log");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM, so that the master stops its workers too.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}
