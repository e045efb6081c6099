//! `cargo xtask bench remote`: a fresh machine and a warm remote cache, over both protocols in
//! one run (nginx with WebDAV for HTTP, BuildGrid for gRPC, both on loopback). On the 10-module
//! repo of the build bench, times until every program is in place: plain `go build` with an
//! empty GOCACHE; `go build` with GOCACHEPROG (`xtask cacheprog`) on the warm remote, empty
//! GOCACHE; `xtask go-build` on a fresh clone with an empty local store. Requests and bytes come
//! from `XTASK_GO_REMOTE_STATS`; the table goes to target/bench/remote.md.

use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::Shell;

use super::build::repo::{self, Shape};
use super::remote_servers::Server;
use super::util::{markdown_table, ratio, text_table, time_runs, Stats};

const SHAPE: Shape = Shape::DEFAULT;

/// What one scenario measured: times, and the remote traffic of its runs.
struct Measured {
    stats: Stats,
    requests: u64,
    bytes_down: u64,
    runs: u64,
}

/// The bench's directories and commands.
struct Bench {
    dir: Utf8PathBuf,
    repo: Utf8PathBuf,
    xtask: Utf8PathBuf,
}

impl Bench {
    fn fresh(&self, name: &str) -> Utf8PathBuf {
        self.dir.join(name)
    }

    /// The plain loop a user would run: `go build` per module, pinned as xtask-go pins go.
    fn go_loop(&self, repo: &Utf8Path, gocache: &Utf8Path, prog: Option<String>) -> Result<()> {
        for module in SHAPE.module_names() {
            let mut cmd = Command::new("go");
            cmd.env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("HOME", std::env::var("HOME").unwrap_or_default())
                .envs([
                    ("GOENV", "off"),
                    ("GOTOOLCHAIN", "local"),
                    ("GOPROXY", "off"),
                ])
                .envs([
                    ("CGO_ENABLED", "0"),
                    ("GOFLAGS", "-trimpath -buildvcs=false -mod=readonly"),
                ])
                .env("GOCACHE", gocache)
                .current_dir(repo.join("go").join(&module))
                .args(["build", "-o"])
                .arg(repo.join("out").join(&module))
                .arg(format!("./cmd/{module}"));
            if let Some(prog) = &prog {
                cmd.env("GOCACHEPROG", prog);
                cmd.env("XTASK_GO_REMOTE_STATS", self.dir.join("stats.jsonl"));
            }
            succeed(&mut cmd, "go build")?;
        }
        Ok(())
    }

    /// `xtask go-build` in `clone` with the store `store-<name>` and GOCACHE `gocache-<cache>`.
    fn xtask_build(&self, clone: &Utf8Path, url: &str, name: &str, cache: &str) -> Result<()> {
        let mut cmd = Command::new(&self.xtask);
        // The clone's own target dir: an inherited CARGO_TARGET_DIR would share outputs and
        // depfiles between clones, so that a later "fresh" clone would find them in place.
        cmd.args(["go-build", "--jobs", "2"])
            .current_dir(clone)
            .env_remove("CARGO_TARGET_DIR")
            .env("XTASK_GO_REMOTE_CACHE", url)
            .env("XTASK_GO_CACHE_DIR", self.fresh(&format!("store-{name}")))
            .env("XTASK_GO_GOCACHE", self.fresh(&format!("gocache-{cache}")))
            .env("XTASK_GO_REMOTE_STATS", self.dir.join("stats.jsonl"))
            .env("GOPROXY", "off");
        succeed(&mut cmd, "xtask go-build")
    }

    /// The traffic the runs since the last call appended, summed; the file is emptied.
    fn take_traffic(&self) -> Result<(u64, u64)> {
        let path = self.dir.join("stats.jsonl");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let _ = std::fs::remove_file(&path);
        let mut sums = (0, 0);
        for line in text.lines() {
            let value: serde_json::Value = serde_json::from_str(line)?;
            sums.0 += value["requests"].as_u64().unwrap_or(0);
            sums.1 += value["bytes_down"].as_u64().unwrap_or(0);
        }
        Ok(sums)
    }

    /// Times `action` `runs` times (after `setup`), with the traffic of the timed runs.
    fn measure(
        &self,
        runs: usize,
        setup: impl FnMut(usize) -> Result<()>,
        action: impl FnMut(usize) -> Result<()>,
    ) -> Result<Measured> {
        self.take_traffic()?;
        let stats = time_runs(runs, setup, action)?;
        let (requests, bytes_down) = self.take_traffic()?;
        Ok(Measured {
            stats,
            requests,
            bytes_down,
            runs: runs as u64,
        })
    }
}

// Long: the run in the order the table shows it, each protocol warmed then timed.
pub fn run(sh: &Shell, runs: usize) -> Result<()> {
    let runs = runs.max(1);
    let target = super::util::target_dir()?;
    let dir = target.join("bench/remote");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("wiping {dir}"))?;
    }
    let bench = Bench {
        repo: dir.join("repo"),
        xtask: super::util::release_xtask(sh)?,
        dir: dir.clone(),
    };
    std::fs::create_dir_all(&bench.repo)?;
    repo::write_sources(sh, &bench.repo, SHAPE)?;
    let wipe_out = |_: usize| -> Result<()> {
        let _ = std::fs::remove_dir_all(bench.repo.join("out"));
        Ok(())
    };
    eprintln!("bench remote: go build, empty GOCACHE ({runs} runs)");
    let cold = bench.measure(runs, wipe_out, |run| {
        bench.go_loop(
            &bench.repo,
            &bench.fresh(&format!("gocache-cold-{run}")),
            None,
        )
    })?;
    let mut rows = vec![row(
        "`go build` per module, empty GOCACHE",
        "-",
        &cold,
        &cold,
    )];
    for start in [Server::nginx, Server::buildgrid] {
        let server = start(&dir.join(format!("server-{}", rows.len())))?;
        let (url, proto) = (server.url.clone(), server.name);
        let prog = |store: &Utf8Path| {
            let xtask = &bench.xtask;
            format!("{xtask} cacheprog --dir {store} --remote {url}")
        };
        eprintln!("bench remote: warming {proto} ({url})");
        let tag = rows.len();
        let warm = bench.fresh(&format!("warm-{tag}"));
        copy_dir(&bench.repo, &warm)?;
        // One GOCACHE for both warm-ups (the second protocol's go builds compile nothing);
        // each its own store, so that every entry goes to the remote.
        bench.xtask_build(&warm, &url, &format!("warm-{tag}"), "warm")?;
        let gocache = bench.fresh(&format!("gocache-warm-prog-{tag}"));
        let store = bench.fresh(&format!("store-warm-prog-{tag}"));
        bench.go_loop(&warm, &gocache, Some(prog(&store)))?;
        eprintln!("bench remote: {proto}: go build + GOCACHEPROG, empty GOCACHE");
        let with_prog = bench.measure(runs, wipe_out, |run| {
            let gocache = bench.fresh(&format!("gocache-prog-{tag}-{run}"));
            let store = bench.fresh(&format!("store-prog-{tag}-{run}"));
            bench.go_loop(&bench.repo, &gocache, Some(prog(&store)))
        })?;
        eprintln!("bench remote: {proto}: xtask go-build, fresh clone, empty local store");
        let clone = |run: usize| bench.fresh(&format!("clone-{tag}-{run}"));
        let fresh_clone = bench.measure(
            runs,
            |run| copy_dir(&bench.repo, &clone(run)),
            |run| {
                let name = format!("clone-{tag}-{run}");
                bench.xtask_build(&clone(run), &url, &name, &name)
            },
        )?;
        rows.push(row(
            "`go build` + GOCACHEPROG (`xtask cacheprog`), warm remote, empty GOCACHE",
            proto,
            &with_prog,
            &cold,
        ));
        rows.push(row(
            "`xtask go-build`, fresh clone, empty local store and GOCACHE, warm remote",
            proto,
            &fresh_clone,
            &cold,
        ));
    }
    write_table(&target, runs, &rows)
}

fn row(scenario: &str, protocol: &str, m: &Measured, cold: &Measured) -> Vec<String> {
    let units = SHAPE.modules as f64 * m.runs as f64;
    let (requests, down) = if m.requests == 0 {
        ("-".to_string(), "-".to_string())
    } else {
        (
            format!("{:.1}", m.requests as f64 / units),
            format!("{:.1}", m.bytes_down as f64 / m.runs as f64 / 1e6),
        )
    };
    vec![
        scenario.to_string(),
        protocol.to_string(),
        m.stats.summary(),
        ratio(Some(m.stats.median()), Some(cold.stats.median())),
        format!(
            "{:.1}x",
            cold.stats.median().as_secs_f64()
                / m.stats.median().max(Duration::from_millis(1)).as_secs_f64()
        ),
        requests,
        down,
    ]
}

fn write_table(target: &Utf8Path, runs: usize, rows: &[Vec<String>]) -> Result<()> {
    let headers = [
        "scenario",
        "remote",
        "median ms (min-max)",
        "vs `go build`",
        "speed-up",
        "requests / program",
        "MB down / run",
    ]
    .map(String::from);
    eprint!("{}", text_table(&headers, rows));
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Synthetic repo: {} modules x {} packages x {} files in a go.work, one program per \
         module; {runs} runs each; nginx (WebDAV) and BuildGrid 0.4.4 (in-memory CAS) on loopback.\n",
        SHAPE.modules, SHAPE.packages, SHAPE.files
    );
    md.push_str(&markdown_table(&headers, rows));
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

fn copy_dir(from: &Utf8Path, to: &Utf8Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry
            .file_name()
            .into_string()
            .map_err(|_| anyhow::anyhow!("a file name that is not UTF-8 in {from}"))?;
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
