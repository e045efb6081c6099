//! `cargo xtask bench build`: times xtask-go's `go-build` next to a plain `go build` loop, go-task
//! and Turborepo on a synthetic repo (cold, no-op, fresh clone with a warm cache, one leaf edit),
//! plus the floor (stat every input in-process); prints the table and writes target/bench/build.md.

mod peers;
pub(super) mod repo;
mod report;
mod tools;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::{cmd, Shell};

use super::util::{self, Stats};
use peers::Peers;
use repo::Shape;
use report::{machine, report};
use tools::{Kind, Tool};

/// The scenarios, in the order they run for each tool (each leaves the state the next one needs).
const SCENARIOS: [&str; 4] = [
    "cold",
    "no-op",
    "fresh clone, warm cache",
    "one leaf file edited",
];
/// No-op runs are cheap: take more of them (with the floor between them) for a steadier median.
const NOOP_RUNS: usize = 15;
/// Alternations of the one-edit loop at least: go alone varies by ±30% from run to run here, so
/// the median of five says little about a 10% goal.
const EDIT_ALTERNATIONS: usize = 15;
/// The extra row: go alone, building only the module whose leaf was edited.
const EDIT_ALONE: &str = "one leaf file edited, `go build` of that module only";

/// What one tool measured: a `Stats` per scenario (None where it failed or does not apply).
struct ToolResult {
    tool: String,
    scenarios: Vec<Option<Stats>>,
    /// The floor, stat of every input in-process, measured between the tool's no-op runs.
    floor: Stats,
    /// A process that does nothing (`true`), started and waited for as the tool's runs are,
    /// between the same no-op runs: what any no-op pays the bench's runner and the kernel.
    empty_process: Stats,
}

pub fn run(sh: &Shell, runs: usize, large: bool) -> Result<()> {
    // One run is allowed (the large shape's cold builds take minutes each); a median wants 3.
    let runs = runs.max(1);
    let mut shapes = vec![("default", Shape::DEFAULT)];
    if large {
        shapes.push(("large", Shape::LARGE));
    }
    // XTASK_BENCH_SHAPES=large measures the large shape alone (with --large).
    shapes.retain(|(label, _)| util::picked("XTASK_BENCH_SHAPES", label));
    if shapes.is_empty() {
        bail!("XTASK_BENCH_SHAPES names no shape of this run: default, or large with --large");
    }
    let target = super::util::target_dir()?;
    let xtask = util::release_xtask(sh)?;
    let bench_dir = target.join("bench/build");
    if bench_dir.exists() {
        std::fs::remove_dir_all(&bench_dir).with_context(|| format!("wiping {bench_dir}"))?;
    }
    let peers = Peers::find_or_install(sh, &target.join("bench/tools"));
    let mut markdown = machine(sh, &peers);
    for (label, shape) in &shapes {
        let dir = bench_dir.join(label);
        let section = bench_shape(sh, &dir, *shape, runs, &xtask, &peers)?;
        markdown.push_str(&section);
    }
    let md = target.join("bench/build.md");
    std::fs::write(&md, &markdown).with_context(|| format!("writing {md}"))?;
    eprintln!("bench: wrote {md}");
    Ok(())
}

/// Generates the synthetic repo of one shape, measures every tool on it; returns its markdown.
fn bench_shape(
    sh: &Shell,
    dir: &Utf8Path,
    shape: Shape,
    runs: usize,
    xtask: &Utf8Path,
    peers: &Peers,
) -> Result<String> {
    let src = dir.join("src");
    std::fs::create_dir_all(&src).with_context(|| format!("creating {src}"))?;
    eprintln!(
        "bench: generating {} modules x {} packages x {} files ({} .go files) in {src}",
        shape.modules,
        shape.packages,
        shape.files,
        shape.go_files()
    );
    repo::write_sources(sh, &src, shape)?;
    peers::write_configs(sh, &src, shape, peers)?;
    repo::commit(sh, &src)?;

    let mut tools = vec![Tool::new(Kind::XtaskGo, xtask.to_owned(), dir, shape)];
    // XTASK_BENCH_BASELINE=<an earlier commit's target/release/xtask>: that code beside this.
    if let Ok(baseline) = std::env::var("XTASK_BENCH_BASELINE") {
        tools.push(Tool::new(Kind::Baseline, baseline.into(), dir, shape));
    }
    let manifest = super::util::repo_root()?.join("Cargo.toml");
    tools.push(Tool::new(Kind::CargoXtask, manifest, dir, shape));
    tools.push(Tool::new(Kind::GoLoop, "go".into(), dir, shape));
    match &peers.task {
        Some(task) => tools.push(Tool::new(Kind::GoTask, task.clone(), dir, shape)),
        None => eprintln!("bench: go-task is not available: its column stays empty"),
    }
    match &peers.turbo {
        Some(turbo) => tools.push(Tool::new(Kind::Turbo, turbo.clone(), dir, shape)),
        None => eprintln!("bench: Turborepo is not available: its column stays empty"),
    }
    // XTASK_BENCH_TOOLS=xtask-go,baseline,cargo-xtask,go,go-task,turbo picks some tools (e.g. to
    // re-measure xtask-go alone).
    tools.retain(|t| util::picked("XTASK_BENCH_TOOLS", t.kind.slug()));
    let mut results = Vec::new();
    for tool in &tools {
        tool.prepare(sh)?;
        let (scenarios, floor, empty_process) = match measure(sh, tool, &src, shape, runs) {
            Ok(measured) => measured,
            Err(e) if tool.kind != Kind::XtaskGo => {
                eprintln!("bench: {} failed, so it is left out: {e:#}", tool.name());
                let none = Stats::default();
                (vec![None; SCENARIOS.len() + 1], none.clone(), none)
            }
            Err(e) => return Err(e),
        };
        results.push(ToolResult {
            tool: tool.name().to_string(),
            scenarios,
            floor,
            empty_process,
        });
    }
    interleave(sh, &tools, &mut results, shape, runs)?;
    let title = format!(
        "{} modules x {} packages x {} files + 1 main package each ({} .go files), {runs} runs",
        shape.modules,
        shape.packages,
        shape.files,
        shape.go_files()
    );
    let inputs = repo::input_files(&src)?.len();
    Ok(report(&title, &results, inputs))
}

/// The one-edit goal compares xtask-go with go alone: measured apart, minutes apart, machine
/// load alone moved the ratio by 25%, so the figures in the table come from one loop that
/// rotates the two (and the baseline), in the clones their own runs left warm.
fn interleave(
    sh: &Shell,
    tools: &[Tool],
    results: &mut [ToolResult],
    shape: Shape,
    runs: usize,
) -> Result<()> {
    let position = |kind: Kind| tools.iter().position(|t| t.kind == kind);
    if let (Some(x), Some(g)) = (position(Kind::XtaskGo), position(Kind::GoLoop)) {
        if results[x].scenarios[3].is_some() && results[g].scenarios[4].is_some() {
            let base = position(Kind::Baseline).filter(|&b| results[b].scenarios[3].is_some());
            let mut looped: Vec<&Tool> = vec![&tools[x], &tools[g]];
            looped.extend(base.map(|b| &tools[b]));
            let stats = interleaved_edits(sh, &looped, shape, runs)?;
            eprintln!(
                "bench: one edit, interleaved: xtask-go {} ms, go build of that module {} ms",
                stats[0].summary(),
                stats[1].summary()
            );
            results[x].scenarios[3] = Some(stats[0].clone());
            results[g].scenarios[4] = Some(stats[1].clone());
            if let Some(b) = base {
                results[b].scenarios[3] = Some(stats[2].clone());
            }
        }
    }
    Ok(())
}

/// Runs every scenario for one tool, `runs` times each, in its own clone of `src`; returns them
/// with the floor and the empty process, measured before each no-op run so that all see the
/// same machine load.
fn measure(
    sh: &Shell,
    tool: &Tool,
    src: &Utf8Path,
    shape: Shape,
    runs: usize,
) -> Result<(Vec<Option<Stats>>, Stats, Stats)> {
    let work = tool.dir.join("work");
    let clone = tool.dir.join("clone");
    git_clone(sh, src, &work)?;
    let progress = |scenario: &str, stats: &Stats| {
        eprintln!(
            "bench: {:<14} {:<26} {} ms",
            tool.name(),
            scenario,
            stats.summary()
        );
    };
    let cold = util::time_runs(runs, |_| tool.wipe(&work), |_| tool.build(sh, &work))?;
    progress(SCENARIOS[0], &cold);
    let inputs = repo::input_files(&work)?;
    let (noop, floor, empty_process) = time_noops(sh, tool, &work, &inputs, runs)?;
    progress(SCENARIOS[1], &noop);
    progress("floor", &floor);
    progress("empty process", &empty_process);
    let fresh = util::time_runs(
        runs,
        |_| {
            remove(&clone)?;
            git_clone(sh, src, &clone)?;
            tool.keep_warm(&work, &clone)
        },
        |_| tool.build(sh, &clone),
    )?;
    remove(&clone)?;
    progress(SCENARIOS[2], &fresh);
    let stamp = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64 % 1_000_000_000_000)
    };
    let first = shape.module_name(0);
    let before = tool.output_mtime(&work, &first);
    let edit = util::time_runs(
        runs,
        |_| repo::edit_leaf(&work, shape, stamp()),
        |_| tool.build(sh, &work),
    )?;
    if tool.output_mtime(&work, &first) == before {
        eprintln!(
            "bench: warning: {} did not rewrite {first} after the edit",
            tool.name()
        );
    }
    progress(SCENARIOS[3], &edit);
    let alone = if tool.kind == Kind::GoLoop {
        let stats = util::time_runs(
            runs,
            |_| repo::edit_leaf(&work, shape, stamp()),
            |_| tool.build_one(sh, &work, &first),
        )?;
        progress("one edit, that module only", &stats);
        Some(stats)
    } else {
        None
    };
    Ok((
        vec![Some(cold), Some(noop), Some(fresh), Some(edit), alone],
        floor,
        empty_process,
    ))
}

/// The no-op runs, with the floor and the empty process timed before each (the same machine
/// load for all three).
fn time_noops(
    sh: &Shell,
    tool: &Tool,
    work: &Utf8Path,
    inputs: &[Utf8PathBuf],
    runs: usize,
) -> Result<(Stats, Stats, Stats)> {
    let (mut floor, mut empty_process) = (Stats::default(), Stats::default());
    let noop = util::time_runs(
        runs.max(NOOP_RUNS),
        |_| {
            let start = std::time::Instant::now();
            stat_all(inputs)?;
            floor.samples.push(start.elapsed());
            let start = std::time::Instant::now();
            tool.run_nothing(sh, work)?;
            empty_process.samples.push(start.elapsed());
            Ok(())
        },
        |_| tool.build(sh, work),
    )?;
    Ok((noop, floor, empty_process))
}

/// One leaf edit then a build, in rounds ([`util::rotate`]): xtask-go (`go-build`), go alone
/// (`go build` of the edited module: `tools[1]`), and any other xtask-go build given;
/// `runs` rounds at least [`EDIT_ALTERNATIONS`]. Stats in the order of `tools`.
fn interleaved_edits(sh: &Shell, tools: &[&Tool], shape: Shape, runs: usize) -> Result<Vec<Stats>> {
    let first = shape.module_name(0);
    let works: Vec<Utf8PathBuf> = tools.iter().map(|t| t.dir.join("work")).collect();
    let mut stamp = 2_000_000_000_000u64;
    let mut commands: Vec<Box<dyn FnMut() -> Result<()> + '_>> = tools
        .iter()
        .zip(&works)
        .map(|(tool, work)| -> Box<dyn FnMut() -> Result<()> + '_> {
            if tool.kind == Kind::GoLoop {
                Box::new(|| tool.build_one(sh, work, &first))
            } else {
                Box::new(|| tool.build(sh, work))
            }
        })
        .collect();
    let mut commands: Vec<&mut dyn FnMut() -> Result<()>> =
        commands.iter_mut().map(|c| &mut **c as _).collect();
    util::rotate(
        runs.max(EDIT_ALTERNATIONS),
        &mut |i| {
            stamp += 1;
            repo::edit_leaf(&works[i], shape, stamp)
        },
        &mut commands,
    )
}

fn git_clone(sh: &Shell, src: &Utf8Path, dest: &Utf8Path) -> Result<()> {
    cmd!(sh, "git clone -q {src} {dest}")
        .quiet()
        .run()
        .with_context(|| format!("cloning {src} into {dest}"))
}

fn remove(path: &Utf8Path) -> Result<()> {
    if path.exists() {
        std::fs::remove_dir_all(path).with_context(|| format!("removing {path}"))?;
    }
    Ok(())
}

fn stat_all(files: &[Utf8PathBuf]) -> Result<()> {
    for file in files {
        std::fs::metadata(file).with_context(|| format!("stat {file}"))?;
    }
    Ok(())
}
