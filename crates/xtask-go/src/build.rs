//! Building Go targets: one `go build` per (target, platform), in parallel, with outputs placed
//! atomically in `target/go/<triple>/<profile>/`.
//!
//! Policy: every unit runs to the end even when another failed (cargo's `--keep-going`), so a
//! single run reports every broken target; the run then fails as a whole.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;

use crate::discovery::Target;
use crate::goenv;
use crate::platform::{self, GoPlatform};
use crate::report::{human_duration, Reporter};
use crate::session::Session;
use crate::toolchain;

/// What `go-build` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct BuildRequest {
    /// Target names; empty means all.
    pub targets: Vec<String>,
    /// Rust target triples; empty means the host.
    pub triples: Vec<String>,
    pub release: bool,
    /// Parallel go builds; 0 means the number of cores.
    pub jobs: usize,
    /// GOPROXY=off: build only from the module cache.
    pub offline: bool,
}

/// One (target, platform) pair to build.
#[derive(Debug, Clone)]
pub struct BuildUnit {
    pub target: Target,
    pub platform: GoPlatform,
    /// Where the output lands.
    pub output: Utf8PathBuf,
}

/// How one unit ended.
#[derive(Debug, Clone, Serialize)]
pub struct UnitResult {
    pub target: String,
    pub triple: String,
    pub output: Utf8PathBuf,
    pub success: bool,
    /// go's own diagnostics, whole.
    pub stderr: String,
    #[serde(serialize_with = "as_millis")]
    pub duration: Duration,
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

/// Every unit's result, in plan order.
#[derive(Debug, Clone, Serialize)]
pub struct BuildReport {
    pub units: Vec<UnitResult>,
}

impl BuildReport {
    pub fn success(&self) -> bool {
        self.units.iter().all(|u| u.success)
    }
    pub fn failed(&self) -> impl Iterator<Item = &UnitResult> {
        self.units.iter().filter(|u| !u.success)
    }
}

#[derive(Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
enum Event<'a> {
    TargetStarted {
        target: &'a str,
        triple: &'a str,
        package: &'a str,
    },
    TargetFinished(&'a UnitResult),
    BuildFinished {
        success: bool,
        units: usize,
        failed: usize,
        duration_ms: u64,
    },
}

/// `debug` or `release`: the profile directory under `target/go/<triple>/`.
pub fn profile_name(release: bool) -> &'static str {
    if release {
        "release"
    } else {
        "debug"
    }
}

/// The output file(s) of a target on a platform: an executable, or `lib<name>.a` / `.so` for C buildmodes.
pub fn output_file_name(target: &Target, platform: &GoPlatform) -> String {
    match target.buildmode.as_str() {
        "c-archive" => format!("lib{}.a", target.output),
        "c-shared" => match platform.goos {
            "windows" => format!("{}.dll", target.output),
            "darwin" | "ios" => format!("lib{}.dylib", target.output),
            _ => format!("lib{}.so", target.output),
        },
        _ => platform.exe_name(&target.output),
    }
}

/// Expands the request into units: each selected target for each requested triple it supports.
pub fn plan(session: &Session, request: &BuildRequest) -> Result<Vec<BuildUnit>> {
    let targets = session.select_targets(&request.targets)?;
    let triples = if request.triples.is_empty() {
        vec![platform::host_triple().to_string()]
    } else {
        request.triples.clone()
    };
    let mut units = Vec::new();
    for triple in &triples {
        let platform = platform::go_platform(triple)?;
        let dir = session
            .project
            .go_dir()
            .join(triple)
            .join(profile_name(request.release));
        for target in &targets {
            if !target.platforms.is_empty() && !target.platforms.contains(triple) {
                continue;
            }
            let output = dir.join(output_file_name(target, &platform));
            units.push(BuildUnit {
                target: target.clone(),
                platform: platform.clone(),
                output,
            });
        }
    }
    Ok(units)
}

/// Builds every unit of the request; the report says which failed.
pub fn build(
    session: &Session,
    request: &BuildRequest,
    reporter: &Reporter,
) -> Result<BuildReport> {
    let start = Instant::now();
    let units = plan(session, request)?;
    let jobs = if request.jobs == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        request.jobs
    };
    reporter.start_progress("Building", units.len() as u64);
    let next = AtomicUsize::new(0);
    let running: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let results: Mutex<Vec<Option<UnitResult>>> = Mutex::new(vec![None; units.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(units.len()) {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::SeqCst);
                let Some(unit) = units.get(index) else { break };
                let label = format!("{} ({})", unit.target.name, unit.platform.triple);
                running.lock().unwrap().push(label.clone());
                reporter.set_running(&running.lock().unwrap().join(", "));
                let result = build_unit(session, request, unit, reporter);
                running.lock().unwrap().retain(|l| l != &label);
                reporter.advance(&running.lock().unwrap().join(", "));
                results.lock().unwrap()[index] = Some(result);
            });
        }
    });
    reporter.finish_progress();
    let report = BuildReport {
        units: results
            .into_inner()
            .unwrap()
            .into_iter()
            .map(|r| r.expect("every unit ran"))
            .collect(),
    };
    let failed = report.failed().count();
    reporter.event(&Event::BuildFinished {
        success: failed == 0,
        units: report.units.len(),
        failed,
        duration_ms: start.elapsed().as_millis() as u64,
    });
    if failed == 0 {
        let profile = profile_name(request.release);
        reporter.status(
            "Finished",
            &format!(
                "`{profile}` profile [go] {} in {}",
                plural(report.units.len(), "target"),
                human_duration(start.elapsed())
            ),
        );
    }
    Ok(report)
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// Runs one `go build`, reporting it; never fails the whole run (errors become a failed result).
fn build_unit(
    session: &Session,
    request: &BuildRequest,
    unit: &BuildUnit,
    reporter: &Reporter,
) -> UnitResult {
    let target = &unit.target;
    let triple = unit.platform.triple.as_str();
    reporter.status(
        "Compiling",
        &format!(
            "{} ({}) for {triple}",
            target.name,
            session.project.display_path(&target.package_dir)
        ),
    );
    reporter.event(&Event::TargetStarted {
        target: &target.name,
        triple,
        package: &target.package,
    });
    let start = Instant::now();
    let (success, stderr) = match run_go_build(session, request, unit) {
        Ok(out) => out,
        Err(e) => (false, format!("{e:#}")),
    };
    let result = UnitResult {
        target: target.name.clone(),
        triple: triple.to_string(),
        output: unit.output.clone(),
        success,
        stderr,
        duration: start.elapsed(),
    };
    if !success {
        let where_ = session.project.display_path(&target.package_dir);
        reporter.error_block(
            &format!("could not build `{}` ({where_}) for {triple}:", target.name),
            &result.stderr,
        );
    }
    reporter.event(&Event::TargetFinished(&result));
    result
}

/// The `go build` arguments for a unit, writing to `out`.
pub fn go_build_args(unit: &BuildUnit, release: bool, out: &Utf8Path) -> Vec<String> {
    let target = &unit.target;
    let mut args = vec!["build".to_string(), "-o".into(), out.to_string()];
    let ldflags: Vec<&str> = release
        .then_some("-s -w")
        .into_iter()
        .chain(target.ldflags.as_deref())
        .collect();
    if !ldflags.is_empty() {
        args.push(format!("-ldflags={}", ldflags.join(" ")));
    }
    if let Some(gcflags) = &target.gcflags {
        args.push(format!("-gcflags={gcflags}"));
    }
    if !target.tags.is_empty() {
        args.push(format!("-tags={}", target.tags.join(",")));
    }
    if target.buildmode != "exe" {
        args.push(format!("-buildmode={}", target.buildmode));
    }
    args.push(target.package.clone());
    args
}

/// A fresh GOTMPDIR for one go process: created now, removed when dropped.
pub struct ScratchDir(pub Utf8PathBuf);

impl ScratchDir {
    pub fn create(parent: &Utf8Path, name: &str) -> Result<ScratchDir> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = parent.join(format!(
            "{name}.{}.{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating GOTMPDIR {dir}"))?;
        Ok(ScratchDir(dir))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Builds into the scratch dir, then renames into place: a failed build leaves the old output alone.
fn run_go_build(
    session: &Session,
    request: &BuildRequest,
    unit: &BuildUnit,
) -> Result<(bool, String)> {
    let triple = &unit.platform.triple;
    let scratch = ScratchDir::create(
        &goenv::tmp_root(&session.project, triple),
        &unit.target.name,
    )?;
    let env = session
        .target_env(&unit.target, &unit.platform, request.offline)
        .with_tmpdir(&scratch.0);
    let staged = scratch
        .0
        .join("out")
        .join(unit.output.file_name().expect("output has a file name"));
    let spec = session
        .toolchain
        .go(&unit.target.module_dir, &env.vars)
        .args(go_build_args(unit, request.release, &staged));
    let out = toolchain::run(&spec)?;
    if !out.success() {
        return Ok((false, out.stderr_str()));
    }
    let dir = unit.output.parent().expect("output has a parent");
    std::fs::create_dir_all(dir).with_context(|| format!("creating {dir}"))?;
    for (from, to) in staged_outputs(&staged, &unit.output) {
        std::fs::rename(&from, &to).with_context(|| format!("moving {from} to {to}"))?;
    }
    Ok((true, out.stderr_str()))
}

/// The staged files and where they go: the output, plus the C header of a c-archive / c-shared build.
fn staged_outputs(staged: &Utf8Path, output: &Utf8Path) -> Vec<(Utf8PathBuf, Utf8PathBuf)> {
    let mut moves = vec![(staged.to_owned(), output.to_owned())];
    let header = staged.with_extension("h");
    if header.is_file() {
        moves.push((header, output.with_extension("h")));
    }
    moves
}
