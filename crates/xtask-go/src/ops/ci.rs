//! `ci`: what a CI job runs, in order: fetch the modules, check the vendor trees, build, test;
//! then a summary table (step, status, time). A failed fetch or build skips what depends on it.

use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use crate::ops::fetch::{self, FetchRequest};
use crate::ops::mixed::{self, MixedRequest};
use crate::ops::vendoring::{self as vendor, CheckOutcome};
use crate::session::Session;
use crate::util::report::{human_duration, Reporter};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    Passed,
    Failed,
    Skipped,
}

/// How one step ended.
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub step: &'static str,
    pub status: StepStatus,
    #[serde(rename = "duration_ms", serialize_with = "millis")]
    pub duration: Duration,
    /// Why it was skipped or what failed, in a few words.
    pub note: String,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

#[derive(Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
enum Event<'a> {
    CiStep(&'a StepResult),
    CiFinished {
        success: bool,
        steps: &'a [StepResult],
    },
}

/// Runs the steps; an error inside a step fails that step (with its message), not the run.
pub fn run(
    session: &Session,
    request: &MixedRequest,
    reporter: &Reporter,
) -> Result<Vec<StepResult>> {
    let mut results: Vec<StepResult> = Vec::new();
    let mut step =
        |name: &'static str, skip: Option<&str>, f: &mut dyn FnMut() -> Result<(bool, String)>| {
            let start = Instant::now();
            let (status, note) = match skip {
                Some(why) => (StepStatus::Skipped, why.to_string()),
                None => {
                    reporter.status("Step", name);
                    match f() {
                        Ok((true, note)) => (StepStatus::Passed, note),
                        Ok((false, note)) => (StepStatus::Failed, note),
                        Err(e) => {
                            reporter.error_block(
                                &format!("step `{name}` could not run"),
                                &format!("{e:#}"),
                            );
                            (StepStatus::Failed, "could not run".to_string())
                        }
                    }
                }
            };
            let result = StepResult {
                step: name,
                status,
                duration: start.elapsed(),
                note,
            };
            reporter.event(&Event::CiStep(&result));
            results.push(result);
            status
        };
    let fetched = step(
        "fetch",
        session.project.settings.offline.then_some("--offline"),
        &mut || {
            let report = fetch::fetch(session, &FetchRequest::default(), reporter)?;
            Ok((report.success(), String::new()))
        },
    );
    let has_vendor = session.modules.modules.iter().any(|m| m.vendored);
    step(
        "vendor-check",
        (!has_vendor).then_some("no vendor trees"),
        &mut || {
            let trees = vendor::vendor_trees(session, &[])?;
            let report = vendor::check(session, &trees, reporter)?;
            let ok = report.outcome() == CheckOutcome::Clean;
            if !ok {
                eprint!("{}", vendor::render::human(&report));
            }
            Ok((ok, vendor::render::verdict(&report)))
        },
    );
    let blocked = (fetched == StepStatus::Failed).then_some("fetch failed");
    let built = step("build", blocked, &mut || {
        Ok((mixed::build_all(session, request, reporter)?, String::new()))
    });
    let blocked = blocked.or((built == StepStatus::Failed).then_some("build failed"));
    step("test", blocked, &mut || {
        Ok((
            mixed::test_all(session, request, None, reporter)?,
            String::new(),
        ))
    });
    let success = results.iter().all(|r| r.status != StepStatus::Failed);
    reporter.event(&Event::CiFinished {
        success,
        steps: &results,
    });
    Ok(results)
}

/// The summary table, for people.
pub fn summary_table(results: &[StepResult]) -> String {
    let mut out = format!("{:<14} {:<8} {:>9}  {}\n", "step", "status", "time", "note");
    for r in results {
        let status = match r.status {
            StepStatus::Passed => "ok",
            StepStatus::Failed => "FAILED",
            StepStatus::Skipped => "skipped",
        };
        out.push_str(&format!(
            "{:<14} {:<8} {:>9}  {}\n",
            r.step,
            status,
            human_duration(r.duration),
            r.note
        ));
    }
    out
}
