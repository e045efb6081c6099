//! Building Go targets: the (target, platform) units and the parallel run over them,
//! with outputs in `target/go/<triple>/<profile>/`. One unit's life is in `unit.rs`.
//!
//! Policy: every unit runs to the end even when another failed (cargo's `--keep-going`), so a
//! single run reports every broken target; the run then fails as a whole.

mod batch;
mod preflight;
mod rustlib;
mod staging;
mod unit;
mod unit_key;

pub use preflight::linked_libraries;
pub use rustlib::PlacedLib;

pub use staging::{go_build_args, ScratchDir};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use camino::Utf8PathBuf;
use serde::Serialize;

use crate::buildcache::maintenance;
use crate::buildcache::storage::local::LocalStore;
use crate::buildcache::{cache_dir, BuildCache, Verdict};
use crate::host::platform::{self, GoPlatform};
use crate::session::Session;
use crate::util::report::{human_duration, Reporter};
use crate::workspace::project::BuildMode;
use crate::workspace::targets::Target;

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
    /// Skip the build cache: always run go, store nothing.
    pub no_cache: bool,
    /// Say per unit why it was fresh, restored or rebuilt.
    pub explain: bool,
}

/// One (target, platform) pair to build.
#[derive(Debug, Clone)]
pub struct BuildUnit {
    pub target: Target,
    pub platform: GoPlatform,
    /// Where the output lands.
    pub output: Utf8PathBuf,
    /// The Rust libraries it links, built and placed for its triple (`rustlib.rs`).
    pub rust_libs: Vec<rustlib::PlacedLib>,
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
    #[serde(serialize_with = "as_millis", rename = "duration_ms")]
    pub duration: Duration,
    /// What the build cache decided (absent with `--no-cache`).
    pub cache: Option<crate::buildcache::Explanation>,
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

/// Every unit's result, in the order of the units.
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
    TargetExplained {
        target: &'a str,
        triple: &'a str,
        cache: &'a crate::buildcache::Explanation,
    },
    TargetFinished(&'a UnitResult),
    BuildFinished {
        success: bool,
        units: usize,
        failed: usize,
        duration_ms: u64,
    },
}

/// What every unit of one run shares.
struct RunContext<'a> {
    session: &'a Session,
    request: &'a BuildRequest,
    reporter: &'a Reporter,
    cache: Option<&'a BuildCache>,
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
    match target.buildmode {
        BuildMode::CArchive => format!("lib{}.a", target.output),
        BuildMode::CShared => match platform.goos {
            "windows" => format!("{}.dll", target.output),
            "darwin" | "ios" => format!("lib{}.dylib", target.output),
            _ => format!("lib{}.so", target.output),
        },
        _ => platform.exe_name(&target.output),
    }
}

/// Expands the request into units: each selected target for each requested triple it supports.
pub fn units(session: &Session, request: &BuildRequest) -> Result<Vec<BuildUnit>> {
    let targets = session.select_targets(&request.targets)?;
    let triples = if request.triples.is_empty() {
        vec![platform::host_triple().to_string()]
    } else {
        request.triples.clone()
    };
    let mut units: Vec<BuildUnit> = Vec::new();
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
            if let Some(other) = units.iter().find(|u| u.output == output) {
                bail!(
                    "Go targets `{}` ({}) and `{}` ({}) would both write {output}; give one another `output` in [workspace.metadata.xtask-go]",
                    other.target.name, other.target.package, target.name, target.package
                );
            }
            units.push(BuildUnit {
                target: target.clone(),
                platform: platform.clone(),
                output,
                rust_libs: Vec::new(),
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
    let mut units = units(session, request)?;
    preflight::check_cross_compilers(session, &units)?;
    preflight::link_rust_libraries(session, &mut units, request.release, reporter)?;
    let jobs = if request.jobs == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        request.jobs
    };
    let remote_flags = session.project.settings.remote;
    let cache = if request.no_cache {
        None
    } else {
        Some(BuildCache::open_with_remote(
            &session.project,
            remote_flags,
            reporter,
        )?)
    };
    let ctx = RunContext {
        session,
        request,
        reporter,
        cache: cache.as_ref(),
    };
    let results = run_units(&ctx, &units, jobs);
    reporter.finish_progress();
    let mut remote_result = Ok(());
    if let Some(cache) = &cache {
        remote_result = cache.finish();
        maintenance::auto_gc(
            &LocalStore::open(&cache_dir(&session.project)).reporting_to(reporter),
            session.project.settings.cache_max_size,
        );
    }
    let report = BuildReport { units: results };
    let failed = report.failed().count();
    reporter.event(&Event::BuildFinished {
        success: failed == 0,
        units: report.units.len(),
        failed,
        duration_ms: start.elapsed().as_millis() as u64,
    });
    if failed == 0 {
        reporter.status("Finished", &finished_line(&report, request.release, start));
    }
    remote_result?;
    Ok(report)
}

/// Runs the units: every lookup first (on `jobs` threads), then the misses, batched where one
/// go invocation can build several (`batch.rs`), the batches on `jobs` threads; a progress bar
/// shows what runs. Results in unit order.
fn run_units(ctx: &RunContext<'_>, units: &[BuildUnit], jobs: usize) -> Vec<UnitResult> {
    let reporter = ctx.reporter;
    reporter.start_progress("Building", units.len() as u64);
    let results: Mutex<Vec<Option<UnitResult>>> = Mutex::new(vec![None; units.len()]);
    let done = |index: usize, result: UnitResult| {
        reporter.advance("");
        results.lock().unwrap()[index] = Some(result);
    };
    let indices: Vec<usize> = (0..units.len()).collect();
    // The lookups share their stats: the mains of one module read mostly the same files.
    let hashed = ctx.cache.map(|c| c.hashed_inputs());
    let looked = on_threads(jobs, &indices, |&i| {
        unit::look_up(ctx, &units[i], hashed.as_ref())
    });
    drop(hashed);
    let mut missed = Vec::new();
    for (index, looked) in looked.into_iter().enumerate() {
        match looked {
            unit::Looked::Done(result) => done(index, result),
            unit::Looked::Missed(m) => missed.push((index, *m)),
        }
    }
    let batches: Vec<Mutex<Option<Vec<batch::MissedUnit>>>> = batch::group(ctx, units, missed)
        .into_iter()
        .map(|b| Mutex::new(Some(b)))
        .collect();
    let build_batches = || {
        on_threads(jobs, &batches, |slot| {
            let batch = slot.lock().unwrap().take().expect("each batch runs once");
            let labels: Vec<String> = batch
                .iter()
                .map(|(i, _)| format!("{} ({})", units[*i].target.name, units[*i].platform.triple))
                .collect();
            reporter.set_running(&labels.join(", "));
            let alone = if batch.len() == 1 {
                batch
            } else {
                match batch::build(ctx, units, batch) {
                    Ok(built) => {
                        built.into_iter().for_each(|(i, r)| done(i, r));
                        return;
                    }
                    Err(back) => back,
                }
            };
            let announced = alone.len() > 1;
            for (index, m) in alone {
                if !announced {
                    unit::announce(ctx, &units[index]);
                }
                done(index, unit::build_missed(ctx, &units[index], m));
            }
        })
    };
    match ctx.cache.filter(|_| !batches.is_empty()) {
        // The stat cache learned the edited files' hashes in the lookups: saved while go runs.
        Some(cache) => std::thread::scope(|s| {
            s.spawn(|| cache.save_stats());
            build_batches();
        }),
        None => {
            build_batches();
        }
    }
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every unit ran"))
        .collect()
}

/// `work` over `items` on `jobs` threads; results in item order.
fn on_threads<T: Sync, R: Send>(jobs: usize, items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(items.len()) {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(index) else { break };
                let result = work(item);
                results.lock().unwrap()[index] = Some(result);
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}

/// cargo's `Finished` line: `` `debug` profile [go] 3 targets (2 fresh) in 0.12s ``.
fn finished_line(report: &BuildReport, release: bool, start: Instant) -> String {
    let profile = profile_name(release);
    let verdicts = |v: Verdict| {
        report
            .units
            .iter()
            .filter(|u| u.cache.as_ref().is_some_and(|c| c.verdict == v))
            .count()
    };
    let (fresh, restored) = (verdicts(Verdict::Fresh), verdicts(Verdict::Restored));
    let mut detail = Vec::new();
    if fresh > 0 {
        detail.push(format!("{fresh} fresh"));
    }
    if restored > 0 {
        detail.push(format!("{restored} restored from cache"));
    }
    let detail = if detail.is_empty() {
        String::new()
    } else {
        format!(" ({})", detail.join(", "))
    };
    format!(
        "`{profile}` profile [go] {}{detail} in {}",
        plural(report.units.len(), "target"),
        human_duration(start.elapsed())
    )
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}
