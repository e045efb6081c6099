//! `go-fetch`: every Go module the repo needs, downloaded once into the pinned GOMODCACHE, so that
//! builds can then run with GOPROXY=off.
//!
//! What is needed is read from go.mod / go.sum / go.work.sum alone ([`needs`]); what the cache already
//! holds is checked on disk, so a fetch with everything cached starts no go process. The rest is
//! downloaded by go itself (`go mod download -json m@v...`, which verifies against go.sum and
//! extracts), in batches on `jobs` threads, transient failures retried with backoff.

mod download;
pub mod needs;
mod problem;
mod rounds;
pub mod verify;

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;

pub use crate::go::offline::explain_offline_failure;
use crate::host::platform;
use crate::session::Session;
use crate::util::report::{human_duration, Reporter};
use crate::workspace::goenv::{EnvRequest, ModMode, PinnedEnv};
use needs::{CacheFiles, Need};
pub use problem::Problem;
use rounds::Downloads;

/// What `go-fetch` was asked to do.
#[derive(Debug, Clone)]
pub struct FetchRequest {
    /// go processes downloading at once.
    pub jobs: usize,
    /// Also hash the module cache against go.sum afterwards.
    pub verify: bool,
    /// Tries per module for transient failures (1: no retry).
    pub tries: u32,
    /// The wait before the first retry; it doubles for each further one.
    pub retry_delay: Duration,
}

impl Default for FetchRequest {
    fn default() -> Self {
        FetchRequest {
            jobs: 8,
            verify: false,
            tries: 3,
            retry_delay: Duration::from_millis(500),
        }
    }
}

/// How a fetch went.
#[derive(Debug, Clone, Default)]
pub struct FetchReport {
    pub needed: usize,
    pub cached: usize,
    pub fetched: usize,
    pub bytes: u64,
    pub retries: usize,
    pub problems: Vec<Problem>,
}

impl FetchReport {
    pub fn success(&self) -> bool {
        self.problems.is_empty()
    }
}

#[derive(Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
enum Event<'a> {
    FetchPlanned {
        repo_modules: usize,
        needed: usize,
        cached: usize,
        to_fetch: usize,
    },
    ModuleFetched {
        module: &'a str,
        version: &'a str,
        bytes: u64,
        tries: u32,
    },
    FetchRetry {
        module: &'a str,
        version: &'a str,
        attempt: u32,
        delay_ms: u64,
        error: &'a str,
    },
    FetchProblem {
        kind: &'a str,
        message: String,
    },
    FetchFinished {
        success: bool,
        fetched: usize,
        cached: usize,
        bytes: u64,
        retries: usize,
        problems: usize,
        duration_ms: u64,
    },
}

/// The environment downloads run with: the host's, `-mod=readonly`, never offline.
pub fn fetch_env(session: &Session) -> Result<PinnedEnv> {
    let host = platform::go_platform(platform::host_triple())?;
    let request = EnvRequest {
        platform: &host,
        cgo: false,
        mod_mode: ModMode::Readonly,
        gowork: session.modules.gowork.as_deref(),
        offline: false,
    };
    Ok(PinnedEnv::new(
        &session.project,
        &session.toolchain,
        &request,
    ))
}

/// Fetches everything the repo's modules need; problems are in the report, not errors.
pub fn fetch(
    session: &Session,
    request: &FetchRequest,
    reporter: &Reporter,
) -> Result<FetchReport> {
    let start = Instant::now();
    let needs = needs::collect(&session.modules)?;
    let env = fetch_env(session)?;
    let gomodcache = Utf8PathBuf::from(env.get("GOMODCACHE").unwrap_or_default());
    let proxy = env
        .get("GOPROXY")
        .unwrap_or("https://proxy.golang.org,direct (go's default)")
        .to_string();
    let mut report = FetchReport {
        needed: needs.needs.len(),
        ..FetchReport::default()
    };
    report
        .problems
        .extend(needs.missing.iter().cloned().map(Problem::MissingSum));

    let to_fetch = uncached(&needs.needs, &gomodcache, &mut report)?;
    reporter.event(&Event::FetchPlanned {
        repo_modules: needs.repo_modules,
        needed: needs.needs.len(),
        cached: report.cached,
        to_fetch: to_fetch.len(),
    });
    if !to_fetch.is_empty() {
        if proxy == "off" {
            bail!("GOPROXY=off in the environment, but {} modules are missing from {gomodcache}: unset GOPROXY (or set a proxy) for go-fetch", to_fetch.len());
        }
        let downloads = Downloads {
            session,
            request,
            reporter,
            env: &env.vars,
            proxy: &proxy,
        };
        downloads.run(&to_fetch, &mut report)?;
    }
    let mismatches = sum_mismatches(&needs.needs, &gomodcache, &proxy)?;
    report.problems.extend(mismatches);
    if request.verify {
        let tampered = verify::verify(&needs.needs, &gomodcache, request.jobs)?;
        if tampered.is_empty() {
            reporter.status(
                "Verified",
                &format!("{} modules against go.sum", needs.needs.len()),
            );
        }
        report
            .problems
            .extend(tampered.into_iter().map(Problem::Tampered));
    }
    finish(reporter, &report, start);
    Ok(report)
}

/// The needs the module cache does not hold complete; those it does are counted in `report`.
fn uncached<'a>(
    needs: &'a [Need],
    gomodcache: &Utf8Path,
    report: &mut FetchReport,
) -> Result<Vec<&'a Need>> {
    let mut to_fetch = Vec::new();
    for need in needs {
        if CacheFiles::of(gomodcache, &need.path, &need.version)?.complete(need) {
            report.cached += 1;
        } else {
            to_fetch.push(need);
        }
    }
    Ok(to_fetch)
}

/// go checked each download against one go.sum; every go.sum line must agree with the cache:
/// a problem for each that does not.
fn sum_mismatches(needs: &[Need], gomodcache: &Utf8Path, proxy: &str) -> Result<Vec<Problem>> {
    let mut problems = Vec::new();
    for need in needs.iter().filter(|n| n.zip) {
        let files = CacheFiles::of(gomodcache, &need.path, &need.version)?;
        let Ok(seen) = std::fs::read_to_string(&files.ziphash) else {
            continue;
        };
        let seen = seen.trim();
        for sum in need.zip_sums.iter().filter(|s| s.hash != seen) {
            problems.push(Problem::Mismatch {
                need: need.id(),
                go_sum_line: format!(
                    "{} says `{} {} {}`",
                    sum.file, need.path, need.version, sum.hash
                ),
                seen: format!("{seen} (in {})", files.ziphash),
                proxy: proxy.to_owned(),
            });
        }
    }
    Ok(problems)
}

/// Says how the fetch went: each problem, then the finished event and status line.
fn finish(reporter: &Reporter, report: &FetchReport, start: Instant) {
    for problem in &report.problems {
        reporter.error_block(&problem.to_string(), "");
        reporter.event(&Event::FetchProblem {
            kind: problem.kind(),
            message: problem.to_string(),
        });
    }
    reporter.event(&Event::FetchFinished {
        success: report.success(),
        fetched: report.fetched,
        cached: report.cached,
        bytes: report.bytes,
        retries: report.retries,
        problems: report.problems.len(),
        duration_ms: start.elapsed().as_millis() as u64,
    });
    reporter.status(
        "Fetched",
        &format!(
            "{} ({}) in {}, {} already cached",
            plural(report.fetched, "module"),
            crate::util::units::human_size(report.bytes),
            human_duration(start.elapsed()),
            report.cached
        ),
    );
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}
