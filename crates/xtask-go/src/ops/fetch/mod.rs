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
pub mod verify;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde::Serialize;

pub use crate::go::offline::explain_offline_failure;
use crate::host::platform;
use crate::session::Session;
use crate::util::report::{human_duration, Reporter};
use crate::workspace::goenv::{EnvRequest, ModMode, PinnedEnv};
use download::Outcome;
use needs::{CacheFiles, Need};
pub use problem::Problem;

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
    let gomodcache = camino::Utf8PathBuf::from(env.get("GOMODCACHE").unwrap_or_default());
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

    let mut to_fetch = Vec::new();
    for need in &needs.needs {
        if CacheFiles::of(&gomodcache, &need.path, &need.version)?.complete(need) {
            report.cached += 1;
        } else {
            to_fetch.push(need);
        }
    }
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
        download_all(
            session,
            request,
            reporter,
            &env.vars,
            &to_fetch,
            &proxy,
            &mut report,
        )?;
    }
    // go checked each download against one go.sum; every go.sum line must agree with the cache.
    for need in needs.needs.iter().filter(|n| n.zip) {
        let files = CacheFiles::of(&gomodcache, &need.path, &need.version)?;
        let Ok(seen) = std::fs::read_to_string(&files.ziphash) else {
            continue;
        };
        let seen = seen.trim();
        for sum in need.zip_sums.iter().filter(|s| s.hash != seen) {
            report.problems.push(Problem::Mismatch {
                need: need.id(),
                go_sum_line: format!(
                    "{} says `{} {} {}`",
                    sum.file, need.path, need.version, sum.hash
                ),
                seen: format!("{seen} (in {})", files.ziphash),
                proxy: proxy.clone(),
            });
        }
    }
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
    Ok(report)
}

/// Downloads `needs` in rounds: a round runs every batch on `jobs` threads; transient failures
/// go to the next round after a backoff, until `tries` is spent.
#[allow(clippy::too_many_arguments)]
fn download_all(
    session: &Session,
    request: &FetchRequest,
    reporter: &Reporter,
    env: &BTreeMap<String, String>,
    needs: &[&Need],
    proxy: &str,
    report: &mut FetchReport,
) -> Result<()> {
    reporter.start_progress("Downloading", needs.len() as u64);
    let bytes = AtomicU64::new(0);
    let done = AtomicUsize::new(0);
    let mut pending: Vec<&Need> = needs.to_vec();
    let mut attempt = 1;
    while !pending.is_empty() {
        let batches = batches(session, &pending, request.jobs);
        let outcomes: Mutex<Vec<(&Need, Outcome)>> = Mutex::new(Vec::new());
        let next = AtomicUsize::new(0);
        let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
        std::thread::scope(|s| {
            for _ in 0..request.jobs.clamp(1, batches.len()) {
                s.spawn(|| {
                    while let Some((dir, batch)) = batches.get(next.fetch_add(1, Ordering::SeqCst))
                    {
                        match download::run_batch(&session.toolchain, env, dir, batch) {
                            Ok(results) => {
                                for (need, outcome) in batch.iter().zip(results) {
                                    if let Outcome::Done { bytes: b } = outcome {
                                        let total = bytes.fetch_add(b, Ordering::SeqCst) + b;
                                        let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                                        reporter.status(
                                            "Downloaded",
                                            &format!("{} {}", need.path, need.version),
                                        );
                                        reporter.advance(&format!(
                                            "{n} modules, {}",
                                            crate::util::units::human_size(total)
                                        ));
                                        reporter.event(&Event::ModuleFetched {
                                            module: &need.path,
                                            version: &need.version,
                                            bytes: b,
                                            tries: attempt,
                                        });
                                    }
                                    outcomes.lock().unwrap().push((need, outcome));
                                }
                            }
                            Err(e) => *failure.lock().unwrap() = Some(e),
                        }
                    }
                });
            }
        });
        if let Some(e) = failure.into_inner().unwrap() {
            reporter.finish_progress();
            return Err(e);
        }
        let delay = request.retry_delay * 2u32.saturating_pow(attempt - 1);
        let mut retry = Vec::new();
        for (need, outcome) in outcomes.into_inner().unwrap() {
            match outcome {
                Outcome::Done { .. } => {}
                Outcome::Transient(message) if attempt < request.tries => {
                    reporter.warn(&format!(
                        "{} from {proxy}: {message}; retrying in {} (try {} of {})",
                        need.id(),
                        human_duration(delay),
                        attempt + 1,
                        request.tries
                    ));
                    reporter.event(&Event::FetchRetry {
                        module: &need.path,
                        version: &need.version,
                        attempt: attempt + 1,
                        delay_ms: delay.as_millis() as u64,
                        error: &message,
                    });
                    report.retries += 1;
                    retry.push(need);
                }
                Outcome::Aborted if attempt < request.tries => retry.push(need),
                Outcome::Transient(message) => report.problems.push(Problem::Failed {
                    need: need.id(),
                    proxy: proxy.to_string(),
                    tries: attempt,
                    transient: true,
                    message,
                }),
                Outcome::Failed(message) => report.problems.push(Problem::Failed {
                    need: need.id(),
                    proxy: proxy.to_string(),
                    tries: attempt,
                    transient: false,
                    message,
                }),
                Outcome::Aborted => report.problems.push(Problem::Failed {
                    need: need.id(),
                    proxy: proxy.to_string(),
                    tries: attempt,
                    transient: false,
                    message: "go stopped at another module's checksum mismatch".into(),
                }),
                Outcome::Mismatch {
                    downloaded,
                    recorded,
                } => {
                    let sum = need
                        .zip_sums
                        .iter()
                        .chain(&need.mod_sums)
                        .find(|s| s.hash == recorded);
                    let go_sum_line = match sum {
                        Some(s) if need.mod_sums.contains(s) => format!(
                            "{} says `{} {}/go.mod {}`",
                            s.file, need.path, need.version, s.hash
                        ),
                        Some(s) => format!(
                            "{} says `{} {} {}`",
                            s.file, need.path, need.version, s.hash
                        ),
                        None => format!("go.sum says {recorded}"),
                    };
                    report.problems.push(Problem::Mismatch {
                        need: need.id(),
                        go_sum_line,
                        seen: downloaded,
                        proxy: proxy.to_string(),
                    });
                }
            }
        }
        if !retry.is_empty() {
            std::thread::sleep(delay);
        }
        pending = retry;
        attempt += 1;
    }
    reporter.finish_progress();
    report.fetched = done.into_inner();
    report.bytes = bytes.into_inner();
    Ok(())
}

/// Splits `needs` into about `jobs` batches, each run in one directory, zips and `.mod`-only apart.
fn batches<'a>(
    session: &Session,
    needs: &[&'a Need],
    jobs: usize,
) -> Vec<(camino::Utf8PathBuf, Vec<&'a Need>)> {
    let size = needs.len().div_ceil(jobs.max(1)).max(1);
    let workspace_dir = session
        .modules
        .gowork
        .as_ref()
        .and_then(|_| session.modules.modules.first())
        .map(|m| m.dir.clone());
    let mut groups: BTreeMap<(camino::Utf8PathBuf, bool), Vec<&'a Need>> = BTreeMap::new();
    for need in needs {
        let dir = workspace_dir
            .clone()
            .unwrap_or_else(|| need.owner_dir.clone());
        groups.entry((dir, need.zip)).or_default().push(need);
    }
    let mut out = Vec::new();
    for ((dir, _), group) in groups {
        for chunk in group.chunks(size) {
            out.push((dir.clone(), chunk.to_vec()));
        }
    }
    out
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}
