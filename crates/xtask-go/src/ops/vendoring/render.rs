//! Showing a [`VendorReport`]: a summary table and one line per finding for people, or one JSON
//! record per finding (then the skew, the unchecked modules and a final summary) for machines.

use std::fmt::Write as _;

use serde::Serialize;

use super::{
    CheckOutcome, Finding, FindingKind, RepoExcluded, Unchecked, VendorReport, VersionSkew,
};

/// The JSON records, one per line: `finding`, `could-not-check`, `version-skew`, then `summary`.
#[derive(Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Record<'a> {
    Finding(&'a Finding),
    CouldNotCheck(&'a Unchecked),
    /// A file go would write that the repository's ignore rules exclude (not drift).
    ExcludedByRepo(&'a RepoExcluded),
    VersionSkew(&'a VersionSkew),
    Summary(Summary),
}

/// The totals of a report.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub outcome: &'static str,
    /// The exit code `go-vendor --check` ends with: 0 clean, 1 drift, 2 could not check.
    pub exit_code: u8,
    pub trees: usize,
    pub modules: usize,
    pub files: usize,
    pub bytes: u64,
    pub modified: usize,
    pub missing: usize,
    pub extra: usize,
    pub inconsistent: usize,
    pub anomaly: usize,
    pub unchecked: usize,
    /// Files go would write that the repository's ignore rules exclude (not counted as drift).
    pub excluded_by_repo: usize,
}

pub fn summary(report: &VendorReport) -> Summary {
    Summary {
        outcome: match report.outcome() {
            CheckOutcome::Clean => "clean",
            CheckOutcome::Drift => "drift",
            CheckOutcome::CouldNotCheck => "could-not-check",
        },
        exit_code: report.outcome().exit_code(),
        trees: report.trees.len(),
        modules: report.modules.len(),
        files: report.modules.iter().map(|m| m.files).sum(),
        bytes: report.modules.iter().map(|m| m.bytes).sum(),
        modified: report.count(FindingKind::Modified),
        missing: report.count(FindingKind::Missing),
        extra: report.count(FindingKind::Extra),
        inconsistent: report.count(FindingKind::Inconsistent),
        anomaly: report.count(FindingKind::Anomaly),
        unchecked: report.unchecked.len(),
        excluded_by_repo: report.excluded.len(),
    }
}

/// Every record of the report, in output order.
pub fn records(report: &VendorReport) -> Vec<Record<'_>> {
    let mut out: Vec<Record<'_>> = report.findings.iter().map(Record::Finding).collect();
    out.extend(report.excluded.iter().map(Record::ExcludedByRepo));
    out.extend(report.unchecked.iter().map(Record::CouldNotCheck));
    out.extend(report.skew.iter().map(Record::VersionSkew));
    out.push(Record::Summary(summary(report)));
    out
}

/// The human report: per tree a table of modules and the finding lines, then version skew.
pub fn human(report: &VendorReport) -> String {
    let mut out = String::new();
    for tree in &report.trees {
        let modules: Vec<_> = report.modules.iter().filter(|m| &m.tree == tree).collect();
        let _ = writeln!(out, "{tree}/vendor:");
        let width = modules
            .iter()
            .map(|m| m.module.len())
            .max()
            .unwrap_or(6)
            .max(6);
        let _ = writeln!(
            out,
            "  {:<width$}  {:>6}  {:>9}  {:>6}  {:>8}  {:>7}  {:>5}",
            "MODULE", "FILES", "BYTES", "NON-GO", "MODIFIED", "MISSING", "EXTRA"
        );
        for m in &modules {
            let _ = writeln!(
                out,
                "  {:<width$}  {:>6}  {:>9}  {:>6}  {:>8}  {:>7}  {:>5}",
                m.module, m.files, m.bytes, m.non_go, m.modified, m.missing, m.extra
            );
        }
        let files: usize = modules.iter().map(|m| m.files).sum();
        let bytes: u64 = modules.iter().map(|m| m.bytes).sum();
        let _ = writeln!(out, "  {:<width$}  {files:>6}  {bytes:>9}", "total");
        for f in report.findings.iter().filter(|f| &f.tree == tree) {
            let module = if f.module.is_empty() { "-" } else { &f.module };
            let _ = writeln!(
                out,
                "{:<12}  {module}  {} ({})",
                f.kind.as_str(),
                f.path,
                f.detail
            );
        }
        for e in report.excluded.iter().filter(|e| &e.tree == tree) {
            let _ = writeln!(
                out,
                "{:<12}  {}  {} ({})",
                "ignored", e.module, e.path, e.detail
            );
        }
        for u in report.unchecked.iter().filter(|u| &u.tree == tree) {
            let _ = writeln!(out, "{:<12}  {}  ({})", "unchecked", u.module, u.detail);
        }
    }
    if !report.skew.is_empty() {
        let _ = writeln!(out, "vendored at different versions across modules:");
        for s in &report.skew {
            let versions: Vec<String> = s
                .versions
                .iter()
                .map(|(v, trees)| format!("{v} in {}", trees.join(", ")))
                .collect();
            let _ = writeln!(out, "  {}: {}", s.module, versions.join("; "));
        }
    }
    out
}

/// The one-line verdict for the status line: the counts, the files the repository's ignore
/// rules exclude, and each module that could not be checked with the reason (exit code 2).
pub fn verdict(report: &VendorReport) -> String {
    let s = summary(report);
    let mut out = format!(
        "{} vendor tree(s), {} modules, {} files: {} modified, {} missing, {} extra, {} inconsistent, {} anomalies",
        s.trees, s.modules, s.files, s.modified, s.missing, s.extra, s.inconsistent, s.anomaly,
    );
    if s.excluded_by_repo > 0 {
        let _ = write!(
            out,
            "; {} file(s) excluded by the repo's ignore rules (not drift)",
            s.excluded_by_repo
        );
    }
    if s.unchecked > 0 {
        let modules: Vec<String> = report
            .unchecked
            .iter()
            .map(|u| format!("{} in {}/vendor ({})", u.module, u.tree, u.detail))
            .collect();
        let _ = write!(
            out,
            "; {} module(s) could not be checked, so the exit code is 2: {}",
            s.unchecked,
            modules.join("; ")
        );
    }
    out
}
