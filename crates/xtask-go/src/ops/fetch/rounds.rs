//! Downloading what the module cache lacks: batches (one go process each) on `jobs` threads, in
//! rounds; transient failures go to the next round after a backoff, until the tries are spent.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Result;
use camino::Utf8PathBuf;

use super::download::{self, Outcome};
use super::needs::Need;
use super::{Event, FetchReport, FetchRequest, Problem};
use crate::session::Session;
use crate::util::report::{human_duration, Reporter};

/// One fetch's downloads: what runs them, and the proxy problems name.
pub(super) struct Downloads<'a> {
    pub(super) session: &'a Session,
    pub(super) request: &'a FetchRequest,
    pub(super) reporter: &'a Reporter,
    /// The environment go runs with.
    pub(super) env: &'a BTreeMap<String, String>,
    /// GOPROXY, as problems name it.
    pub(super) proxy: &'a str,
}

/// The modules downloaded so far and their bytes, counted by every thread.
#[derive(Default)]
struct Progress {
    bytes: AtomicU64,
    done: AtomicUsize,
}

impl Downloads<'_> {
    /// Downloads `needs` in rounds: a round runs every batch on `jobs` threads; transient
    /// failures go to the next round after a backoff, until `tries` is spent.
    pub(super) fn run(&self, needs: &[&Need], report: &mut FetchReport) -> Result<()> {
        self.reporter
            .start_progress("Downloading", needs.len() as u64);
        let progress = Progress::default();
        let mut pending: Vec<&Need> = needs.to_vec();
        let mut attempt = 1;
        while !pending.is_empty() {
            let outcomes = match self.round(&pending, attempt, &progress) {
                Ok(outcomes) => outcomes,
                Err(e) => {
                    self.reporter.finish_progress();
                    return Err(e);
                }
            };
            let delay = self.request.retry_delay * 2u32.saturating_pow(attempt - 1);
            let retry = self.settle(outcomes, attempt, delay, report);
            if !retry.is_empty() {
                std::thread::sleep(delay);
            }
            pending = retry;
            attempt += 1;
        }
        self.reporter.finish_progress();
        report.fetched = progress.done.into_inner();
        report.bytes = progress.bytes.into_inner();
        Ok(())
    }

    /// One round: every batch of `pending` on `jobs` threads; each need's outcome, or the
    /// error of a batch go could not be run for.
    fn round<'n>(
        &self,
        pending: &[&'n Need],
        attempt: u32,
        progress: &Progress,
    ) -> Result<Vec<(&'n Need, Outcome)>> {
        let batches = batches(self.session, pending, self.request.jobs);
        let results = crate::util::par::map_on(self.request.jobs, &batches, |(dir, batch)| {
            let results = download::run_batch(&self.session.toolchain, self.env, dir, batch)?;
            let mut outcomes = Vec::with_capacity(batch.len());
            for (need, outcome) in batch.iter().zip(results) {
                if let Outcome::Done { bytes } = outcome {
                    self.downloaded(need, bytes, attempt, progress);
                }
                outcomes.push((*need, outcome));
            }
            anyhow::Ok(outcomes)
        });
        let mut outcomes = Vec::new();
        for result in results {
            outcomes.extend(result?);
        }
        Ok(outcomes)
    }

    /// Counts and reports one module downloaded (`bytes` its zip's size) on try `attempt`.
    fn downloaded(&self, need: &Need, bytes: u64, attempt: u32, progress: &Progress) {
        let total = progress.bytes.fetch_add(bytes, Ordering::SeqCst) + bytes;
        let n = progress.done.fetch_add(1, Ordering::SeqCst) + 1;
        let reporter = self.reporter;
        reporter.status("Downloaded", &format!("{} {}", need.path, need.version));
        reporter.advance(&format!(
            "{n} modules, {}",
            crate::util::units::human_size(total)
        ));
        reporter.event(&Event::ModuleFetched {
            module: &need.path,
            version: &need.version,
            bytes,
            tries: attempt,
        });
    }

    /// Sorts the outcomes of round `attempt`: the needs to retry after `delay` are returned,
    /// problems go to `report`.
    fn settle<'n>(
        &self,
        outcomes: Vec<(&'n Need, Outcome)>,
        attempt: u32,
        delay: Duration,
        report: &mut FetchReport,
    ) -> Vec<&'n Need> {
        let tries = self.request.tries;
        let failed = |need: &Need, transient: bool, message: String| Problem::Failed {
            need: need.id(),
            proxy: self.proxy.to_string(),
            tries: attempt,
            transient,
            message,
        };
        let mut retry = Vec::new();
        for (need, outcome) in outcomes {
            let problem = match outcome {
                Outcome::Done { .. } => continue,
                Outcome::Transient(message) if attempt < tries => {
                    self.retrying(need, &message, attempt, delay);
                    report.retries += 1;
                    retry.push(need);
                    continue;
                }
                Outcome::Aborted if attempt < tries => {
                    retry.push(need);
                    continue;
                }
                Outcome::Transient(message) => failed(need, true, message),
                Outcome::Failed(message) => failed(need, false, message),
                Outcome::Aborted => failed(
                    need,
                    false,
                    "go stopped at another module's checksum mismatch".into(),
                ),
                Outcome::Mismatch {
                    downloaded,
                    recorded,
                } => mismatch(need, downloaded, &recorded, self.proxy),
            };
            report.problems.push(problem);
        }
        retry
    }

    /// Says that `need` failed transiently on try `attempt` and is retried after `delay`.
    fn retrying(&self, need: &Need, message: &str, attempt: u32, delay: Duration) {
        self.reporter.warn(&format!(
            "{} from {}: {message}; retrying in {} (try {} of {})",
            need.id(),
            self.proxy,
            human_duration(delay),
            attempt + 1,
            self.request.tries
        ));
        self.reporter.event(&Event::FetchRetry {
            module: &need.path,
            version: &need.version,
            attempt: attempt + 1,
            delay_ms: delay.as_millis() as u64,
            error: message,
        });
    }
}

/// A download of `need` that hashes to `downloaded`, not to `recorded` (go.sum's), naming the
/// go.sum line that records it.
fn mismatch(need: &Need, downloaded: String, recorded: &str, proxy: &str) -> Problem {
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
    Problem::Mismatch {
        need: need.id(),
        go_sum_line,
        seen: downloaded,
        proxy: proxy.to_string(),
    }
}

/// Splits `needs` into about `jobs` batches, each run in one directory, zips and `.mod`-only apart.
fn batches<'a>(
    session: &Session,
    needs: &[&'a Need],
    jobs: usize,
) -> Vec<(Utf8PathBuf, Vec<&'a Need>)> {
    let size = needs.len().div_ceil(jobs.max(1)).max(1);
    let workspace_dir = session
        .modules
        .gowork
        .as_ref()
        .and_then(|_| session.modules.modules.first())
        .map(|m| m.dir.clone());
    let mut groups: BTreeMap<(Utf8PathBuf, bool), Vec<&'a Need>> = BTreeMap::new();
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
