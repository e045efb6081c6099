//! Timing helpers shared by the bench suites: timed runs, min/median/max, and text/markdown tables.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::{cmd, Shell};

/// The durations of several timed runs of one measurement.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub samples: Vec<Duration>,
    /// Each run's CPU time (user + system) over the whole process tree it waited for, where
    /// `/proc` tells it (`rotate` fills it): steadier than wall time on a shared machine.
    pub cpu: Vec<Duration>,
}

impl Stats {
    /// The CPU times as a `Stats` of their own (for `summary`, `median`, `paired_ratio`).
    pub fn cpu_stats(&self) -> Stats {
        Stats {
            samples: self.cpu.clone(),
            cpu: Vec::new(),
        }
    }

    pub fn min(&self) -> Duration {
        self.sorted().first().copied().unwrap_or_default()
    }

    pub fn max(&self) -> Duration {
        self.sorted().last().copied().unwrap_or_default()
    }

    /// The median (the mean of the two middle samples for an even count).
    pub fn median(&self) -> Duration {
        let sorted = self.sorted();
        match sorted.len() {
            0 => Duration::ZERO,
            n if n % 2 == 1 => sorted[n / 2],
            n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
        }
    }

    /// `median ms (min-max)`, e.g. `65.2 (61.0-70.3)`.
    pub fn summary(&self) -> String {
        if self.samples.len() < 2 {
            return ms(self.median());
        }
        format!(
            "{} ({}-{})",
            ms(self.median()),
            ms(self.min()),
            ms(self.max())
        )
    }

    fn sorted(&self) -> Vec<Duration> {
        let mut sorted = self.samples.clone();
        sorted.sort();
        sorted
    }
}

/// `cargo build --release -p xtask` in the repo this xtask lives in; returns the binary, so that
/// timings are of optimized code and exclude cargo's startup.
pub fn release_xtask(sh: &Shell) -> Result<Utf8PathBuf> {
    let _cd = sh.push_dir(repo_root()?);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("bench: cargo build --release -p xtask");
    cmd!(sh, "{cargo} build --release -p xtask")
        .quiet()
        .run()
        .context("building xtask in release mode")?;
    Ok(target_dir()?.join("release/xtask"))
}

/// Whether `name` is one of the comma-separated names in environment variable `var`; true for
/// every name when `var` is unset (the bench's "measure only these": XTASK_BENCH_TOOLS, ...).
pub fn picked(var: &str, name: &str) -> bool {
    std::env::var(var).map_or(true, |only| only.split(',').any(|s| s.trim() == name))
}

/// The root of the repo this xtask lives in.
pub fn repo_root() -> Result<Utf8PathBuf> {
    Utf8Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Utf8Path::to_owned)
        .context("xtask has a parent dir")
}

/// Cargo's target dir for this repo (where the bench suites keep their work).
pub fn target_dir() -> Result<Utf8PathBuf> {
    Ok(std::env::var("CARGO_TARGET_DIR")
        .map(Utf8PathBuf::from)
        .unwrap_or_else(|_| repo_root().map(|r| r.join("target")).unwrap_or_default()))
}

/// Runs `setup` then times `action`, `runs` times; only `action` is timed. Both get the run index.
pub fn time_runs(
    runs: usize,
    mut setup: impl FnMut(usize) -> Result<()>,
    mut action: impl FnMut(usize) -> Result<()>,
) -> Result<Stats> {
    let mut stats = Stats::default();
    for run in 0..runs {
        setup(run)?;
        let start = Instant::now();
        action(run)?;
        stats.samples.push(start.elapsed());
    }
    Ok(stats)
}

/// Times two commands `runs` times each in one loop, alternating which goes first, so that both
/// see the same machine. `prepare(first)` runs untimed before each: `first` says which.
pub fn alternate(
    runs: usize,
    prepare: &mut dyn FnMut(bool) -> Result<()>,
    first: &mut dyn FnMut() -> Result<()>,
    second: &mut dyn FnMut() -> Result<()>,
) -> Result<(Stats, Stats)> {
    let mut stats = rotate(runs, &mut |i| prepare(i == 0), &mut [first, second])?;
    let second = stats.pop().unwrap_or_default();
    Ok((stats.pop().unwrap_or_default(), second))
}

/// Times several commands `runs` times each in one loop of rounds: each round runs every command
/// once, starting one further along than the round before, so that each sees the same machine
/// and the same position in a round as often as the others. `prepare(i)` runs untimed before
/// command `i`. Sample `r` of every command comes from round `r` (see [`paired_ratio`]).
pub fn rotate(
    runs: usize,
    prepare: &mut dyn FnMut(usize) -> Result<()>,
    commands: &mut [&mut dyn FnMut() -> Result<()>],
) -> Result<Vec<Stats>> {
    let n = commands.len();
    let mut stats = vec![Stats::default(); n];
    for round in 0..runs {
        for step in 0..n {
            let i = (round + step) % n;
            prepare(i)?;
            let (start, cpu) = (Instant::now(), children_cpu());
            commands[i]()?;
            stats[i].samples.push(start.elapsed());
            if let (Some(before), Some(after)) = (cpu, children_cpu()) {
                stats[i].cpu.push(after.saturating_sub(before));
            }
        }
    }
    Ok(stats)
}

/// The user + system time of every child this process has waited for, and of theirs (Linux's
/// `cutime` + `cstime` in /proc/self/stat, in the 100 Hz ticks its ABI fixes); None elsewhere.
fn children_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name, which ends at the last ')': state is the first, and
    // cutime, cstime are the 16th and 17th of the whole line.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    Some(Duration::from_millis((ticks(13)? + ticks(14)?) * 10))
}

/// The median over rounds of `a`'s sample divided by `b`'s from the same round (of a
/// [`rotate`]d loop): a drift of the machine's load between rounds moves both sides of each
/// ratio, where it widens the spread of each median alone. None without paired samples.
pub fn paired_ratio(a: &Stats, b: &Stats) -> Option<f64> {
    if a.samples.is_empty() || a.samples.len() != b.samples.len() {
        return None;
    }
    let mut ratios: Vec<f64> = a
        .samples
        .iter()
        .zip(&b.samples)
        .map(|(a, b)| a.as_secs_f64() / b.as_secs_f64().max(1e-9))
        .collect();
    ratios.sort_by(f64::total_cmp);
    let n = ratios.len();
    Some(if n % 2 == 1 {
        ratios[n / 2]
    } else {
        (ratios[n / 2 - 1] + ratios[n / 2]) / 2.0
    })
}

/// Milliseconds with a precision that suits the size: `0.42`, `12.3`, `1234`.
pub fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2}")
    } else if ms < 1000.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.0}")
    }
}

/// `a / b` as `2.5x`, or `n/a` when either side is missing.
pub fn ratio(a: Option<Duration>, b: Option<Duration>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if !b.is_zero() => format!("{:.2}x", a.as_secs_f64() / b.as_secs_f64()),
        _ => "n/a".to_string(),
    }
}

/// A GitHub-flavoured markdown table.
pub fn markdown_table(headers: &[String], rows: &[Vec<String>]) -> String {
    let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
    let mut out = line(headers);
    out.push_str(&line(&vec!["---".to_string(); headers.len()]));
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

/// A plain-text table with aligned columns, for the terminal.
pub fn text_table(headers: &[String], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(headers);
    out.push_str(&line(
        &widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>(),
    ));
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_min_max() {
        let ms = |n| Duration::from_millis(n);
        let stats = Stats {
            samples: vec![ms(30), ms(10), ms(20)],
            ..Stats::default()
        };
        assert_eq!(
            (stats.min(), stats.median(), stats.max()),
            (ms(10), ms(20), ms(30))
        );
        let even = Stats {
            samples: vec![ms(10), ms(40), ms(20), ms(30)],
            ..Stats::default()
        };
        assert_eq!(even.median(), ms(25));
    }

    #[test]
    fn a_rotated_loop_counts_the_cpu_of_the_children_it_waits_for() {
        let sh = Shell::new().unwrap();
        // A child that spins a fixed count (~0.6 s of CPU here, however loaded); one that sleeps.
        let spin = "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done";
        let stats = rotate(
            1,
            &mut |_| Ok(()),
            &mut [
                &mut || Ok(cmd!(sh, "sh -c {spin}").quiet().run()?),
                &mut || Ok(cmd!(sh, "sleep 0.2").quiet().run()?),
            ],
        )
        .unwrap();
        let (spun, slept) = (stats[0].cpu[0], stats[1].cpu[0]);
        assert!(spun >= Duration::from_millis(150), "{spun:?}");
        assert!(slept <= Duration::from_millis(50), "{slept:?}");
    }

    #[test]
    fn tables() {
        let headers = vec!["a".to_string(), "bb".to_string()];
        let rows = vec![vec!["xxx".to_string(), "y".to_string()]];
        assert_eq!(
            markdown_table(&headers, &rows),
            "| a | bb |\n| --- | --- |\n| xxx | y |\n"
        );
        assert_eq!(text_table(&headers, &rows), "a    bb\n---  --\nxxx  y\n");
    }
}
