//! One unit's life: ask the cache, else run `go build` (with `go list -deps` beside it when the
//! input set is unknown), place the outputs atomically, and record a successful build.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use super::{BuildUnit, Event, RunContext, UnitResult};
use crate::buildcache::inputs::{self, InputSet};
use crate::buildcache::{self as cache, Explanation, UnitKey, Verdict};
use crate::go::golist;
use crate::host::toolchain::{self, ProcessSpec};
use crate::session::Session;
use crate::workspace::goenv::{self, PinnedEnv};
use crate::workspace::project::BuildMode;

/// Runs one unit, reporting it; never fails the whole run (errors become a failed result).
pub(super) fn build_unit(ctx: &RunContext<'_>, unit: &BuildUnit) -> UnitResult {
    let (session, reporter) = (ctx.session, ctx.reporter);
    let target = &unit.target;
    let triple = unit.platform.triple.as_str();
    let start = Instant::now();
    let env = session.target_env(target, &unit.platform);
    let unit_key = super::unit_key::unit_key(session, ctx.request.release, unit, &env);
    let (mut explanation, known_set) = ctx
        .cache
        .map(|cache| cache.lookup(&unit_key))
        .map_or((None, None), |(explanation, set)| (Some(explanation), set));
    let where_ = session
        .project
        .display_path(&target.package_dir)
        .to_string();
    let mut result = UnitResult {
        target: target.name.clone(),
        triple: triple.to_string(),
        output: unit.output.clone(),
        success: true,
        stderr: String::new(),
        duration: start.elapsed(),
        cache: None,
    };
    let verdict = explanation.as_ref().map(|e| e.verdict.clone());
    if verdict == Some(Verdict::Fresh) || verdict == Some(Verdict::Restored) {
        if verdict == Some(Verdict::Restored) {
            reporter.status(
                "Restored",
                &format!("{} ({where_}) for {triple} from the cache", target.name),
            );
        }
        result.cache = explanation;
        return finish(ctx, unit, result);
    }
    reporter.status(
        "Compiling",
        &format!("{} ({where_}) for {triple}", target.name),
    );
    reporter.event(&Event::TargetStarted {
        target: &target.name,
        triple,
        package: &target.package,
    });
    let previous = ctx.cache.and_then(|c| c.last_key_inputs(&unit_key));
    match run_go(ctx, unit, &env, &unit_key, known_set) {
        Ok(run) if run.success => {
            result.stderr = run.stderr;
            if let (Some(cache), Some(set)) = (ctx.cache, run.set) {
                match cache.record(&unit_key, &set, run.started) {
                    // A miss explained without changes (a new set) names the key it built.
                    Ok((_, key_inputs)) => {
                        if let Some(e) = explanation.as_mut().filter(|e| e.changes.is_empty()) {
                            e.changes = previous
                                .map(|p| key_inputs.changes_since(&p))
                                .unwrap_or_default();
                            e.key = Some(key_inputs.key().to_string());
                        }
                    }
                    Err(e) => reporter.warn(&format!("not caching `{}`: {e:#}", target.name)),
                }
            }
        }
        Ok(run) => (result.success, result.stderr) = (false, run.stderr),
        Err(e) => (result.success, result.stderr) = (false, format!("{e:#}")),
    }
    result.cache = explanation;
    if !result.success {
        let shown = crate::go::offline::explain_offline_failure(&result.stderr)
            .unwrap_or_else(|| result.stderr.clone());
        reporter.error_block(
            &format!("could not build `{}` ({where_}) for {triple}:", target.name),
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

struct GoRun {
    success: bool,
    stderr: String,
    /// The input set go built from: the known one, or the one `go list` gave beside the build.
    set: Option<InputSet>,
    /// The stamp of the marker written as the build began: an input stamped later moved.
    started: crate::buildcache::statcache::FileStamp,
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
    if !out.success() {
        return Ok(GoRun {
            success: false,
            stderr: out.stderr_str(),
            set: None,
            started,
        });
    }
    place_outputs(&staged_dir, unit_key)?;
    let set = match listed {
        None => known,
        Some(Ok(set)) => Some(set),
        Some(Err(e)) => {
            ctx.reporter.warn(&format!(
                "not caching `{}`: listing its inputs failed: {e:#}",
                unit.target.name
            ));
            None
        }
    };
    Ok(GoRun {
        success: true,
        stderr: out.stderr_str(),
        set,
        started,
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

/// Copies the executable in place to where go will write, so that go finds its last output:
/// when an edit changes no compiled content (a comment, formatting), go sees the build ID
/// still matches and does not link again (measured: ~200 ms of a ~400 ms one-edit build); a
/// stale copy is relinked by go as always. Best effort: without a copy go just links.
fn seed_staged_output(unit: &BuildUnit, unit_key: &UnitKey, staged: &Utf8Path) {
    if !matches!(unit.target.buildmode, BuildMode::Exe | BuildMode::Pie) {
        return;
    }
    let in_place = unit_key.output_dir.join(&unit_key.output_names[0]);
    if in_place.is_file() {
        if let Some(dir) = staged.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::copy(&in_place, staged);
    }
}

/// Renames go's outputs from the scratch dir into place: a failed build never gets here.
fn place_outputs(staged_dir: &Utf8Path, unit_key: &UnitKey) -> Result<()> {
    std::fs::create_dir_all(&unit_key.output_dir)
        .with_context(|| format!("creating {}", unit_key.output_dir))?;
    for name in &unit_key.output_names {
        let (from, to) = (staged_dir.join(name), unit_key.output_dir.join(name));
        std::fs::rename(&from, &to).with_context(|| format!("moving {from} to {to}"))?;
    }
    Ok(())
}

/// Runs `go list -deps` for a unit's package and reads its input set from the listing.
fn list_inputs(
    spec: &ProcessSpec,
    root: &Utf8Path,
    gomodcache: &Utf8Path,
    control: &[Utf8PathBuf],
) -> Result<InputSet> {
    let out = toolchain::run(spec)?;
    if !out.success() {
        bail!(
            "`{}` failed:\n{}",
            spec.display(),
            out.stderr_str().trim_end()
        );
    }
    let packages = golist::parse_packages(&out.stdout)?;
    inputs::from_listing(&packages, root, gomodcache, control, &spec.env)
}

/// The `go build` arguments for a unit, writing to `out`.
pub fn go_build_args(unit: &BuildUnit, release: bool, out: &Utf8Path) -> Vec<String> {
    let target = &unit.target;
    let mut args = vec!["build".to_string(), "-o".into(), out.to_string()];
    let ldflags: Vec<&str> = release
        .then_some("-s -w")
        .into_iter()
        .chain(target.ldflags.as_deref())
        .collect();
    if !ldflags.is_empty() {
        args.push(format!("-ldflags={}", ldflags.join(" ")));
    }
    if let Some(gcflags) = &target.gcflags {
        args.push(format!("-gcflags={gcflags}"));
    }
    if !target.tags.is_empty() {
        args.push(format!("-tags={}", target.tags.join(",")));
    }
    if target.buildmode != BuildMode::Exe {
        args.push(format!("-buildmode={}", target.buildmode.as_str()));
    }
    args.push(target.package.clone());
    args
}

/// A fresh GOTMPDIR for one go process: created now, removed when dropped.
pub struct ScratchDir(pub Utf8PathBuf);

impl ScratchDir {
    pub fn create(parent: &Utf8Path, name: &str) -> Result<ScratchDir> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = parent.join(format!(
            "{name}.{}.{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating GOTMPDIR {dir}"))?;
        Ok(ScratchDir(dir))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
