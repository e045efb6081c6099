//! The tools the build bench times, and how each one builds, forgets its caches, keeps them warm for
//! a fresh clone, and where it puts the binaries. Each tool gets its own caches under its bench dir.

use std::time::SystemTime;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::{cmd, Cmd, Shell};

use super::repo::Shape;

/// GOFLAGS as xtask-go composes them for this repo (no config, no vendor tree).
const GOFLAGS: &str = "-trimpath -buildvcs=false -mod=readonly";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `target/release/xtask go-build` in the repo root.
    XtaskGo,
    /// Another build of it (`XTASK_BENCH_BASELINE`: an earlier commit's release binary), to set
    /// a change beside the code before it in one run.
    Baseline,
    /// `cargo xtask go-build` as a user types it (the alias: `cargo run --package xtask
    /// --no-default-features --`, a dev build), so cargo's own start and freshness check are timed too.
    CargoXtask,
    /// A shell loop: `go build -o out/<name> ./cmd/<name>` in each module, one after the other.
    GoLoop,
    /// `task` with one `method: checksum` task per module.
    GoTask,
    /// `turbo run build` over an npm workspace per module.
    Turbo,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::XtaskGo => "xtask-go",
            Kind::Baseline => "xtask-go baseline",
            Kind::CargoXtask => "cargo xtask",
            Kind::GoLoop => "go build loop",
            Kind::GoTask => "go-task",
            Kind::Turbo => "Turborepo",
        }
    }

    /// Its directory name, and its name in `XTASK_BENCH_TOOLS`.
    pub fn slug(self) -> &'static str {
        match self {
            Kind::XtaskGo => "xtask-go",
            Kind::Baseline => "baseline",
            Kind::CargoXtask => "cargo-xtask",
            Kind::GoLoop => "go",
            Kind::GoTask => "go-task",
            Kind::Turbo => "turbo",
        }
    }
}

/// One tool, with its binary and its own directory (its clones, GOCACHE and cache live there).
pub struct Tool {
    pub kind: Kind,
    pub bin: Utf8PathBuf,
    pub dir: Utf8PathBuf,
    modules: Vec<String>,
}

impl Tool {
    pub fn new(kind: Kind, bin: Utf8PathBuf, shape_dir: &Utf8Path, shape: Shape) -> Tool {
        Tool {
            kind,
            bin,
            dir: shape_dir.join(kind.slug()),
            modules: shape.module_names(),
        }
    }

    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// go's build cache for this tool (xtask-go adds the triple below it).
    fn gocache(&self) -> Utf8PathBuf {
        self.dir.join("gocache")
    }

    /// The tool's own cache: XTASK_GO_CACHE_DIR, or Turborepo's --cache-dir.
    fn cache(&self) -> Utf8PathBuf {
        self.dir.join("cache")
    }

    /// Builds every target of the repo at `repo`; fails with the tool's output if it fails.
    pub fn build(&self, sh: &Shell, repo: &Utf8Path) -> Result<()> {
        let _cd = sh.push_dir(repo);
        let bin = &self.bin;
        let command = match self.kind {
            Kind::XtaskGo | Kind::Baseline => self.xtask_env(cmd!(sh, "{bin} go-build")),
            Kind::CargoXtask => {
                let target = crate::bench::util::target_dir()?;
                self.xtask_env(cmd!(
                    sh,
                    "cargo run -q --manifest-path {bin} --target-dir {target} -p xtask --no-default-features -- go-build"
                ))
            }
            Kind::GoLoop => {
                let modules = self.modules.join(" ");
                let script = format!(
                    "set -e\nfor m in {modules}; do (cd go/$m && {bin} build -o out/$m ./cmd/$m); done"
                );
                self.go_env(cmd!(sh, "sh -c {script}"))
            }
            Kind::GoTask => self.go_env(cmd!(sh, "{bin} --silent")),
            Kind::Turbo => {
                let cache = self.cache();
                let args = ["--output-logs=errors-only", "--ui=stream"];
                self.go_env(cmd!(sh, "{bin} run build {args...} --cache-dir={cache}"))
                    .env("TURBO_TELEMETRY_DISABLED", "1")
                    .env("DO_NOT_TRACK", "1")
                    .env("TURBO_NO_UPDATE_NOTIFIER", "1")
            }
        };
        checked(command, &format!("{} in {repo}", self.name()))
    }

    /// Before the first timed run: `cargo xtask` finds its xtask fresh, so no timed run
    /// pays for a rebuild that only the bench's own environment would cause.
    pub fn prepare(&self, sh: &Shell) -> Result<()> {
        if self.kind == Kind::CargoXtask {
            let (bin, target) = (&self.bin, crate::bench::util::target_dir()?);
            let build = cmd!(
                sh,
                "cargo build -q --manifest-path {bin} --target-dir {target} -p xtask --no-default-features"
            );
            checked(self.xtask_env(build), "cargo build of the release xtask")?;
        }
        Ok(())
    }

    /// xtask-go's own caches for this tool, and none of the caller's go or cargo variables.
    fn xtask_env<'a>(&self, command: Cmd<'a>) -> Cmd<'a> {
        command
            .env("XTASK_GO_GOCACHE", self.gocache())
            .env("XTASK_GO_CACHE_DIR", self.cache())
            .env_remove("GOFLAGS")
            .env_remove("GOCACHE")
            .env_remove("GOWORK")
            .env_remove("CARGO_TARGET_DIR")
    }

    /// `true`, started as [`Tool::build`] starts xtask-go (same runner, xtask-go's environment,
    /// same directory): what the bench and the kernel add to any run's time.
    pub fn run_nothing(&self, sh: &Shell, repo: &Utf8Path) -> Result<()> {
        let _cd = sh.push_dir(repo);
        checked(self.xtask_env(cmd!(sh, "true")), "true")
    }

    /// `go build` of one module's main only (go alone, for the one-edit comparison).
    pub fn build_one(&self, sh: &Shell, repo: &Utf8Path, name: &str) -> Result<()> {
        let _cd = sh.push_dir(repo.join("go").join(name));
        let go = &self.bin;
        let out = format!("out/{name}");
        let package = format!("./cmd/{name}");
        checked(
            self.go_env(cmd!(sh, "{go} build -o {out} {package}")),
            &format!("go build of {name} in {repo}"),
        )
    }

    /// The pinned go environment that xtask-go would give go, for the peers.
    fn go_env<'a>(&self, command: Cmd<'a>) -> Cmd<'a> {
        command
            .env("GOCACHE", self.gocache())
            .env("GOFLAGS", GOFLAGS)
            .env("GOTOOLCHAIN", "local")
            .env("GOENV", "off")
            .env("CGO_ENABLED", "0")
            .env_remove("GOWORK")
    }

    /// Forgets every output and cache: the state of a cold build.
    pub fn wipe(&self, repo: &Utf8Path) -> Result<()> {
        remove(&self.gocache())?;
        remove(&self.cache())?;
        remove(&repo.join("target"))?;
        remove(&repo.join(".task"))?;
        remove(&repo.join(".turbo"))?;
        for name in &self.modules {
            remove(&repo.join("go").join(name).join("out"))?;
        }
        Ok(())
    }

    /// What a warm cache means beyond the shared directories: go-task keeps its checksums in the
    /// checkout (`.task/`), so a CI cache would restore that directory into the clone.
    pub fn keep_warm(&self, work: &Utf8Path, clone: &Utf8Path) -> Result<()> {
        if self.kind == Kind::GoTask && work.join(".task").is_dir() {
            copy_dir(&work.join(".task"), &clone.join(".task"))?;
        }
        Ok(())
    }

    /// The modification time of target `name`'s binary, if it exists.
    pub fn output_mtime(&self, repo: &Utf8Path, name: &str) -> Option<SystemTime> {
        let path = match self.kind {
            Kind::XtaskGo | Kind::Baseline | Kind::CargoXtask => {
                let go = repo.join("target/go");
                // The triple's directory (target/go also holds the session and stat cache).
                let triple = go
                    .read_dir_utf8()
                    .ok()?
                    .flatten()
                    .find(|e| e.path().join("debug").is_dir())?;
                triple.path().join("debug").join(name)
            }
            _ => repo.join("go").join(name).join("out").join(name),
        };
        std::fs::metadata(path).ok()?.modified().ok()
    }
}

/// Runs a command with its output captured; on failure, the error carries that output.
fn checked(command: Cmd<'_>, what: &str) -> Result<()> {
    let out = command
        .quiet()
        .ignore_status()
        .output()
        .with_context(|| format!("running {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn remove(path: &Utf8Path) -> Result<()> {
    if path.exists() {
        std::fs::remove_dir_all(path).with_context(|| format!("removing {path}"))?;
    }
    Ok(())
}

fn copy_dir(from: &Utf8Path, to: &Utf8Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {to}"))?;
    for entry in from.read_dir_utf8()? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), &dest)
                .with_context(|| format!("copying {} to {dest}", entry.path()))?;
        }
    }
    Ok(())
}
