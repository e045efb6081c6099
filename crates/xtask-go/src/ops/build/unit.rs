//! One unit's life: ask the cache, else run `go build` (with `go list -deps` beside it when the
//! input set is unknown), place the outputs atomically, and record a successful build.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use super::staging::{go_build_args, place_outputs, seed_staged_output, ScratchDir};
use super::{BuildUnit, Event, RunContext, UnitResult};
use crate::buildcache::inputs::{self, InputSet};
use crate::buildcache::{self as cache, Explanation, HashedInputs, UnitKey, Verdict};
use crate::go::golist;
use crate::host::toolchain::{self, ProcessSpec};
use crate::session::Session;
use crate::workspace::goenv::{self, PinnedEnv};

/// A unit the cache could not serve: what its build needs.
pub(super) struct Missed {
    pub(super) env: PinnedEnv,
    pub(super) unit_key: UnitKey,
    /// The input set, when the cache proved it current (no listing needed).
    pub(super) known: Option<InputSet>,
    pub(super) explanation: Option<Explanation>,
    pub(super) start: Instant,
}

/// How asking the cache ended: a hit (reported and finished), or a miss to build.
pub(super) enum Looked {
    Done(UnitResult),
    Missed(Box<Missed>),
}

/// Asks the cache for one unit; a hit is reported and finished here.
pub(super) fn look_up(
    ctx: &RunContext<'_>,
    unit: &BuildUnit,
    hashed: Option<&HashedInputs>,
) -> Looked {
    let session = ctx.session;
    let start = Instant::now();
    let env = unit.rust_libs.iter().fold(
        session.target_env(&unit.target, &unit.platform),
        |env, lib| lib.add_to(env),
    );
    let unit_key = super::unit_key::unit_key(session, ctx.request.release, unit, &env);
    let (explanation, known) = ctx
        .cache
        .map(|cache| cache.lookup(&unit_key, hashed))
        .map_or((None, None), |(explanation, set)| (Some(explanation), set));
    let verdict = explanation.as_ref().map(|e| e.verdict.clone());
    if verdict == Some(Verdict::Fresh) || verdict == Some(Verdict::Restored) {
        if verdict == Some(Verdict::Restored) {
            ctx.reporter.status(
                "Restored",
                &format!(
                    "{} ({}) for {} from the cache",
                    unit.target.name,
                    where_(ctx, unit),
                    unit.platform.triple
                ),
            );
        }
        let mut result = empty_result(unit, start);
        result.cache = explanation;
        return Looked::Done(finish(ctx, unit, result));
    }
    Looked::Missed(Box::new(Missed {
        env,
        unit_key,
        known,
        explanation,
        start,
    }))
}

/// `go/app/cmd/tool`: where a unit's package is, for status lines.
fn where_(ctx: &RunContext<'_>, unit: &BuildUnit) -> String {
    ctx.session
        .project
        .display_path(&unit.target.package_dir)
        .to_string()
}

fn empty_result(unit: &BuildUnit, start: Instant) -> UnitResult {
    UnitResult {
        target: unit.target.name.clone(),
        triple: unit.platform.triple.clone(),
        output: unit.output.clone(),
        success: true,
        stderr: String::new(),
        duration: start.elapsed(),
        cache: None,
    }
}

/// The `Compiling` line and the started event of a unit go is about to build.
pub(super) fn announce(ctx: &RunContext<'_>, unit: &BuildUnit) {
    let target = &unit.target;
    ctx.reporter.status(
        "Compiling",
        &format!(
            "{} ({}) for {}",
            target.name,
            where_(ctx, unit),
            unit.platform.triple
        ),
    );
    ctx.reporter.event(&Event::TargetStarted {
        target: &target.name,
        triple: &unit.platform.triple,
        package: &target.package,
    });
}

/// Builds a missed unit on its own with go.
pub(super) fn build_missed(ctx: &RunContext<'_>, unit: &BuildUnit, missed: Missed) -> UnitResult {
    let run = run_go(
        ctx,
        unit,
        &missed.env,
        &missed.unit_key,
        missed.known.clone(),
    );
    conclude(ctx, unit, missed, run)
}

/// Records a successful go run in the cache and reports the unit's end, either way.
pub(super) fn conclude(
    ctx: &RunContext<'_>,
    unit: &BuildUnit,
    missed: Missed,
    run: Result<GoRun>,
) -> UnitResult {
    let Missed {
        unit_key,
        mut explanation,
        start,
        ..
    } = missed;
    let mut result = empty_result(unit, start);
    // Read before `record` replaces the depfile, and only for a miss it will explain.
    let previous = explanation
        .as_ref()
        .filter(|e| e.changes.is_empty())
        .and(ctx.cache)
        .and_then(|c| c.last_key_inputs(&unit_key));
    match run {
        Ok(run) if run.success => {
            result.stderr = run.stderr;
            if let (Some(cache), Some(set)) = (ctx.cache, run.set) {
                match cache.record(&unit_key, &set, run.started, run.hashed.as_deref()) {
                    // A miss explained without changes (a new set) names the key it built.
                    Ok((_, key_inputs)) => {
                        if let Some(e) = explanation.as_mut().filter(|e| e.changes.is_empty()) {
                            e.changes = previous
                                .map(|p| key_inputs.changes_since(&p))
                                .unwrap_or_default();
                            e.key = Some(key_inputs.key().to_string());
                        }
                    }
                    Err(e) => ctx
                        .reporter
                        .warn(&format!("not caching `{}`: {e:#}", unit.target.name)),
                }
            }
        }
        Ok(run) => (result.success, result.stderr) = (false, run.stderr),
        Err(e) => (result.success, result.stderr) = (false, format!("{e:#}")),
    }
    result.cache = explanation;
    if !result.success {
        let mut shown = crate::go::offline::explain_offline_failure(&result.stderr)
            .unwrap_or_else(|| result.stderr.clone());
        if let Some(hint) = super::rustlib::undeclared_link_hint(ctx.session, unit, &result.stderr)
        {
            shown = format!("{}\nhint: {hint}", shown.trim_end());
        }
        ctx.reporter.error_block(
            &format!(
                "could not build `{}` ({}) for {}:",
                unit.target.name,
                where_(ctx, unit),
                unit.platform.triple
            ),
            &shown,
        );
    }
    result.duration = start.elapsed();
    finish(ctx, unit, result)
}

fn finish(ctx: &RunContext<'_>, unit: &BuildUnit, result: UnitResult) -> UnitResult {
    if let (true, Some(explanation)) = (ctx.request.explain, &result.cache) {
        ctx.reporter.status(
            "Explain",
            &format!(
                "{} ({}): {}",
                unit.target.name,
                unit.platform.triple,
                describe(explanation)
            ),
        );
        ctx.reporter.event(&Event::TargetExplained {
            target: &unit.target.name,
            triple: &unit.platform.triple,
            cache: explanation,
        });
    }
    ctx.reporter.event(&Event::TargetFinished(&result));
    result
}

/// `hit (fresh)`, `miss: file changed: go/app/main.go; env GOARCH: ...`.
fn describe(e: &Explanation) -> String {
    match e.verdict {
        Verdict::Fresh => "hit: outputs in place are current".into(),
        Verdict::Restored => "hit: restored from the cache".into(),
        Verdict::Miss if !e.changes.is_empty() => {
            let shown: Vec<String> = e.changes.iter().take(10).map(|c| c.to_string()).collect();
            let more = e.changes.len().saturating_sub(10);
            let more = if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            };
            format!("miss: {}{more}", shown.join("; "))
        }
        Verdict::Miss => format!("miss: {}", e.reason.as_deref().unwrap_or("unknown")),
    }
}

pub(super) struct GoRun {
    pub(super) success: bool,
    pub(super) stderr: String,
    /// The input set go built from: the known one, or the one `go list` gave beside the build.
    pub(super) set: Option<InputSet>,
    /// The stamp of the marker written as the build began: an input stamped later moved.
    pub(super) started: crate::buildcache::statcache::FileStamp,
    /// A batch's input files, hashed and stat'ed once after its build for all of its units.
    pub(super) hashed: Option<Arc<HashedInputs>>,
}

/// Builds into the scratch dir (listing the inputs at the same time when they are unknown),
/// then renames the outputs into place: a failed build leaves the old outputs alone.
fn run_go(
    ctx: &RunContext<'_>,
    unit: &BuildUnit,
    env: &PinnedEnv,
    unit_key: &UnitKey,
    known: Option<InputSet>,
) -> Result<GoRun> {
    let session = ctx.session;
    let tmp_root = goenv::tmp_root(&session.project, &unit.platform.triple);
    let scratch = ScratchDir::create(&tmp_root, &unit.target.name)?;
    std::fs::create_dir_all(unit_key.depfile.parent().expect("depfile has a parent"))?;
    // The build-start marker: any input stamped at or after it moved during the build.
    let marker = unit_key.depfile.with_extension("started");
    let started = cache::start_stamp_at(&marker)?;
    let env = env.clone().with_tmpdir(&scratch.0);
    let staged_dir = scratch.0.join("out");
    let staged = staged_dir.join(&unit_key.output_names[0]);
    seed_staged_output(unit, unit_key, &staged);
    let want_list = ctx.cache.is_some() && known.is_none();
    let gomodcache = goenv::gomodcache(&session.project, &session.toolchain);
    let list = session
        .toolchain
        .go(&unit.target.module_dir, &env.vars)
        .args(golist::deps_args(&unit.target.tags, &unit.target.package));
    // A cgo build names the contents of the headers and C libraries go does not track in its
    // flags: they are known only from a listing, so a cgo unit whose set is unknown lists
    // before it builds, not beside.
    let cgo = env.vars.get("CGO_ENABLED").is_some_and(|v| v == "1");
    let listed_first = (want_list && cgo)
        .then(|| list_inputs(&list, &session.project.root, &gomodcache, &unit_key.control));
    let set_now = match &listed_first {
        Some(listed) => listed.as_ref().ok(),
        None => known.as_ref(),
    };
    let env = with_native_inputs(session, env, set_now)?;
    let build = session
        .toolchain
        .go(&unit.target.module_dir, &env.vars)
        .args(go_build_args(unit, ctx.request.release, &staged));
    let (out, listed) = std::thread::scope(|s| {
        let listing = (want_list && !cgo).then(|| {
            s.spawn(|| list_inputs(&list, &session.project.root, &gomodcache, &unit_key.control))
        });
        let out = toolchain::run(&build);
        (
            out,
            listing
                .map(|h| h.join().expect("go list thread panicked"))
                .or(listed_first),
        )
    });
    let out = out?;
    // A failed build leaves the outputs in place alone, and its set unused.
    let set = match (out.success(), listed) {
        (false, _) => None,
        (true, None) => known,
        (true, Some(Ok(set))) => Some(set),
        (true, Some(Err(e))) => {
            ctx.reporter.warn(&format!(
                "not caching `{}`: listing its inputs failed: {e:#}",
                unit.target.name
            ));
            None
        }
    };
    if out.success() {
        place_outputs(&staged_dir, unit_key)?;
    }
    Ok(GoRun {
        success: out.success(),
        stderr: out.stderr_str(),
        set,
        started,
        hashed: None,
    })
}

/// `env` naming the digest of the native inputs go does not track (`InputSet::native_digest`).
fn with_native_inputs(
    session: &Session,
    env: PinnedEnv,
    set: Option<&InputSet>,
) -> Result<PinnedEnv> {
    match set.and_then(|set| set.native_digest(&session.project.root)) {
        Some(digest) => env
            .with_native_digest(&session.project, &digest)
            .context("creating the native inputs' directory"),
        None => Ok(env),
    }
}

/// Runs `go list -deps` for a unit's package and reads its input set from the listing.
fn list_inputs(
    spec: &ProcessSpec,
    root: &Utf8Path,
    gomodcache: &Utf8Path,
    control: &[Utf8PathBuf],
) -> Result<InputSet> {
    let packages = run_listing(spec)?;
    let packages: Vec<&golist::ListedPackage> = packages.iter().collect();
    let reads = inputs::ListingReads::default();
    inputs::from_listing(&packages, root, gomodcache, control, &spec.env, &reads)
}

/// Runs a `go list -deps -json` (one package's or a batch's) and parses it.
pub(super) fn run_listing(spec: &ProcessSpec) -> Result<Vec<golist::ListedPackage>> {
    let out = toolchain::run(spec)?;
    if !out.success() {
        bail!(
            "`{}` failed:\n{}",
            spec.display(),
            out.stderr_str().trim_end()
        );
    }
    golist::parse_packages(&out.stdout)
}
