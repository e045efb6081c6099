//! What the build bench prints and writes: the machine, the table of scenarios by tool, and
//! the ratios the issues' goals are about.

use std::fmt::Write as _;
use std::time::Duration;

use camino::Utf8PathBuf;
use xshell::{cmd, Shell};

use super::peers::{self, Peers};
use super::tools::Kind;
use super::{ToolResult, EDIT_ALONE, SCENARIOS};
use crate::bench::util::{self, markdown_table, ratio, text_table, Stats};

/// nproc, CPU, RAM and the tools' versions, as markdown.
pub(super) fn machine(sh: &Shell, peers: &Peers) -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']))
        })
        .unwrap_or("?");
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let ram_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse::<f64>().ok())
        .map_or("?".to_string(), |kb| {
            format!("{:.0} GiB", kb / 1024.0 / 1024.0)
        });
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let go = cmd!(sh, "go version").quiet().read().unwrap_or_default();
    let version = |tool: &Option<Utf8PathBuf>| {
        tool.as_deref()
            .map_or("not installed".to_string(), |t| peers::version(sh, t))
    };
    format!(
        "Machine: {cores} cores ({cpu}), {ram_gib} RAM; {go}; Turborepo {}; go-task {}.\n",
        version(&peers.turbo),
        version(&peers.task)
    )
}

/// The table (scenario x tool) and the ratios the goals are about: printed and returned as
/// markdown.
pub(super) fn report(title: &str, results: &[ToolResult], inputs: usize) -> String {
    let mut headers = vec!["scenario (median ms, min-max)".to_string()];
    headers.extend(results.iter().map(|r| r.tool.clone()));
    let mut rows: Vec<Vec<String>> = Vec::new();
    for (i, scenario) in SCENARIOS.iter().chain([&EDIT_ALONE]).enumerate() {
        let mut row = vec![scenario.to_string()];
        row.extend(results.iter().map(|r| {
            r.scenarios[i]
                .as_ref()
                .map_or("-".to_string(), Stats::summary)
        }));
        rows.push(row);
    }
    let x = Kind::XtaskGo.name();
    let xtask_go = results.iter().find(|r| r.tool == x);
    let floor = xtask_go.map(|r| r.floor.clone()).unwrap_or_default();
    let empty = xtask_go
        .map(|r| r.empty_process.clone())
        .unwrap_or_default();
    let ratio_headers = vec!["ratio".to_string(), "value".to_string(), "goal".to_string()];
    let mut ratio_rows = ratio_rows(results, &floor);
    // Context, no goal: what is left of the no-op once the empty process's cost is taken off.
    if let (Some(noop), false) = (
        xtask_go.and_then(|r| r.scenarios[1].as_ref()),
        floor.samples.is_empty() || empty.samples.is_empty(),
    ) {
        let left = noop.median().saturating_sub(empty.median());
        ratio_rows.insert(
            2,
            vec![
                "no-op less the empty process: xtask-go / floor (context)".to_string(),
                ratio(Some(left), Some(floor.median())),
                "-".to_string(),
            ],
        );
    }
    let floor_line = format!(
        "floor: stat of the {inputs} input files (go.work, go.mod, .go) in-process, between xtask-go's no-op runs: {} ms; an empty process (`true`) started the same way as the tools, between the same runs: {} ms",
        floor.summary(),
        empty.summary()
    );
    println!("\n{title}\n");
    print!("{}", text_table(&headers, &rows));
    println!("{floor_line}\n");
    print!("{}", text_table(&ratio_headers, &ratio_rows));
    let mut md = String::new();
    let _ = write!(
        md,
        "\n### {title}\n\n{}\n{floor_line}; cold also compiles std (every tool starts from an empty GOCACHE); the one-edit figures of xtask-go and of go alone come from one loop that alternates them.\n\n{}",
        markdown_table(&headers, &rows),
        markdown_table(&ratio_headers, &ratio_rows)
    );
    md
}

/// The ratios the goals are about, as rows (what, value, goal); `floor` is xtask-go's.
fn ratio_rows(results: &[ToolResult], floor: &Stats) -> Vec<Vec<String>> {
    let median = |tool: &str, i: usize| -> Option<Duration> {
        let result = results.iter().find(|r| r.tool == tool)?;
        result.scenarios[i].as_ref().map(Stats::median)
    };
    let x = Kind::XtaskGo.name();
    let go = Kind::GoLoop.name();
    let turbo = Kind::Turbo.name();
    let through_cargo = Kind::CargoXtask.name();
    let baseline = Kind::Baseline.name();
    let r = ratio;
    let samples = |tool: &str, i: usize| {
        let result = results.iter().find(|r| r.tool == tool)?;
        result.scenarios[i].clone()
    };
    // Of one rotated loop's rounds (the one-edit scenario): the median of the per-round ratios.
    let paired = |a: Option<Stats>, b: Option<Stats>| {
        a.zip(b)
            .and_then(|(a, b)| util::paired_ratio(&a, &b))
            .map_or("n/a".to_string(), |q| format!("{q:.2}x"))
    };
    let mut ratios = vec![
        (
            "no-op: xtask-go / Turborepo",
            r(median(x, 1), median(turbo, 1)),
            "<= 0.40",
        ),
        (
            "no-op: xtask-go / floor",
            r(
                median(x, 1),
                (!floor.samples.is_empty()).then(|| floor.median()),
            ),
            "<= 2.0",
        ),
        (
            "no-op: cargo xtask / Turborepo",
            r(median(through_cargo, 1), median(turbo, 1)),
            "<= 0.50",
        ),
        (
            "fresh clone: xtask-go / Turborepo",
            r(median(x, 2), median(turbo, 2)),
            "<= 0.67",
        ),
        (
            "one edit: xtask-go / go loop",
            r(median(x, 3), median(go, 3)),
            "-",
        ),
        (
            "one edit: xtask-go / go build of that module alone (medians)",
            r(median(x, 3), median(go, 4)),
            "<= 1.10",
        ),
        (
            "one edit: xtask-go / go build of that module alone (median of paired rounds)",
            paired(samples(x, 3), samples(go, 4)),
            "<= 1.10",
        ),
    ];
    if results.iter().any(|r| r.tool == baseline) {
        ratios.extend([
            (
                "no-op: xtask-go / baseline",
                r(median(x, 1), median(baseline, 1)),
                "~1.0",
            ),
            (
                "one edit: xtask-go / baseline (median of paired rounds)",
                paired(samples(x, 3), samples(baseline, 3)),
                "~1.0",
            ),
        ]);
    }
    ratios
        .into_iter()
        .map(|(what, value, goal)| vec![what.to_string(), value, goal.to_string()])
        .collect()
}
