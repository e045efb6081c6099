//! Batches: the missed units that one go invocation can build together (one module or one
//! go.work, one platform, one environment and the flags that shape output), built with one
//! `go build -o DIR/ pkg...` and, when their input sets are unknown, one `go list -deps` of all
//! of them, split per target in-process. go then loads and plans the package graph once and
//! schedules every compile and link with one `-p`, as a plain `go build ./...` would.
//!
//! A batch that fails falls back to building its units one by one, so that a failure names the
//! target whose package broke and the other targets' outputs still land.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{anyhow, bail, Result};
use camino::{Utf8Path, Utf8PathBuf};
use rayon::prelude::*;

use super::staging::{self, ScratchDir};
use super::unit::{self, GoRun, Missed};
use super::{BuildUnit, RunContext, UnitResult};
use crate::buildcache::{self as cache, inputs};
use crate::go::golist::{self, ListedPackage};
use crate::host::toolchain;
use crate::util::par;
use crate::workspace::goenv;
use crate::workspace::project::BuildMode;

/// A unit go must build, with the index of its `BuildUnit`.
pub(super) type MissedUnit = (usize, Missed);

/// Groups missed units into batches; a unit that cannot share a go invocation (cgo, a C
/// buildmode) is a batch of one. Batches keep the order of their first unit.
pub(super) fn group(
    ctx: &RunContext<'_>,
    units: &[BuildUnit],
    missed: Vec<MissedUnit>,
) -> Vec<Vec<MissedUnit>> {
    let mut batches: Vec<Vec<MissedUnit>> = Vec::new();
    let mut open: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (index, m) in missed {
        let unit = &units[index];
        let Some(key) = batch_key(ctx, unit, &m) else {
            batches.push(vec![(index, m)]);
            continue;
        };
        // go writes each program as DIR/<last element of its import path>: two of one name
        // cannot share a batch.
        let name = exec_name(unit);
        let slots = open.entry(key).or_default();
        let fits = slots.iter().copied().find(|&b| {
            batches[b]
                .iter()
                .all(|(other, _)| exec_name(&units[*other]) != name)
        });
        match fits {
            Some(b) => batches[b].push((index, m)),
            None => {
                slots.push(batches.len());
                batches.push(vec![(index, m)]);
            }
        }
    }
    batches
}

/// What units must share to be built by one go invocation; None: this one builds alone.
fn batch_key(ctx: &RunContext<'_>, unit: &BuildUnit, m: &Missed) -> Option<String> {
    let cgo = m.env.vars.get("CGO_ENABLED").is_some_and(|v| v == "1");
    if cgo || unit.target.buildmode != BuildMode::Exe {
        return None;
    }
    // Where go runs: a go.work's modules can be built from any of them; else one module.
    let place = match &ctx.session.modules.gowork {
        Some(work) => work.clone(),
        None => unit.target.module_dir.clone(),
    };
    let mut flags = staging::go_build_args(unit, ctx.request.release, Utf8Path::new("-"));
    flags.pop(); // the package
    serde_json::to_string(&(place, &unit.platform.triple, &m.env.vars, flags)).ok()
}

/// The file name `go build -o DIR/` gives a main package (go's `DefaultExecName`), with the
/// platform's executable suffix. Should go name it otherwise, the file is missing after the
/// build and the batch falls back to one unit at a time.
fn exec_name(unit: &BuildUnit) -> String {
    unit.platform.exe_name(exec_base(&unit.target.package))
}

/// An import path's last element, or the one before it when the last is a major version
/// (`v2`, `v10`; not `v0`, `v1` or `v01`, as go's `isVersionElement`).
fn exec_base(import_path: &str) -> &str {
    let mut parts = import_path.rsplit('/');
    let last = parts.next().unwrap_or_default();
    let b = last.as_bytes();
    let is_version = b.len() >= 2
        && b[0] == b'v'
        && b[1] != b'0'
        && !(b[1] == b'1' && b.len() == 2)
        && b[1..].iter().all(u8::is_ascii_digit);
    match parts.next() {
        Some(before) if is_version => before,
        _ => last,
    }
}

/// Builds a batch of several units with one go invocation. Err gives the units back when go
/// failed (or wrote less than expected): the caller then builds each on its own.
pub(super) fn build(
    ctx: &RunContext<'_>,
    units: &[BuildUnit],
    batch: Vec<MissedUnit>,
) -> Result<Vec<(usize, UnitResult)>, Vec<MissedUnit>> {
    for (index, _) in &batch {
        unit::announce(ctx, &units[*index]);
    }
    match run_batch(ctx, units, &batch) {
        // Recording hashes each output and writes it into the store past the page cache, so it
        // waits for the disk as much as it computes: on the I/O pool, more threads than cores
        // (40 programs of 4 MB took ~2 s one after another; on 2 cores, one thread per core left
        // half of the after-go window idle in perf).
        Ok(Some(runs)) => Ok(par::io_map_owned(
            batch.into_iter().zip(runs).collect(),
            |((index, m), run)| (index, unit::conclude(ctx, &units[index], m, Ok(run))),
        )),
        Ok(None) | Err(_) => Err(batch),
    }
}

/// One `go build -o DIR/` of every package of the batch (with one `go list -deps` beside it
/// when a set is unknown), the outputs renamed into place. None: go failed.
// Long: the steps of one go invocation (scratch, markers, seeds, list beside, place) read in order.
fn run_batch(
    ctx: &RunContext<'_>,
    units: &[BuildUnit],
    batch: &[MissedUnit],
) -> Result<Option<Vec<GoRun>>> {
    let session = ctx.session;
    let (first, first_missed) = (&units[batch[0].0], &batch[0].1);
    let tmp_root = goenv::tmp_root(&session.project, &first.platform.triple);
    let scratch = ScratchDir::create(&tmp_root, "batch")?;
    let out_dir = scratch.0.join("out");
    std::fs::create_dir_all(&out_dir)?;
    let mut started = Vec::new();
    let mut packages = Vec::new();
    for (index, m) in batch {
        let unit = &units[*index];
        let depfile_dir = m.unit_key.depfile.parent().expect("depfile has a parent");
        std::fs::create_dir_all(depfile_dir)?;
        started.push(cache::start_stamp_at(
            &m.unit_key.depfile.with_extension("started"),
        )?);
        packages.push(unit.target.package.as_str());
    }
    // Each staged output starts as a copy of the executable in place (see `staging.rs`): 40
    // copies of 4 MB are worth doing in parallel.
    batch.par_iter().for_each(|(index, m)| {
        let unit = &units[*index];
        staging::seed_staged_output(unit, &m.unit_key, &out_dir.join(exec_name(unit)));
    });
    let env = first_missed.env.clone().with_tmpdir(&scratch.0);
    let mut args = staging::go_build_args(
        first,
        ctx.request.release,
        Utf8Path::new(&format!("{out_dir}/")),
    );
    args.pop();
    args.extend(packages.iter().map(|p| p.to_string()));
    let dir = &first.target.module_dir;
    let build = session.toolchain.go(dir, &env.vars).args(args);
    let want_list = ctx.cache.is_some() && batch.iter().any(|(_, m)| m.known.is_none());
    let list = session
        .toolchain
        .go(dir, &env.vars)
        .args(golist::deps_args_of(&first.target.tags, &packages));
    // The input sets are split from the listing (and their files hashed) while go builds: those
    // reads come after `started`, as they would after the build, so `record` still refuses a
    // build whose inputs moved meanwhile.
    let (out, sets) = std::thread::scope(|s| {
        let sets = want_list.then(|| {
            s.spawn(|| {
                let listed = unit::run_listing(&list);
                let sets = input_sets(ctx, units, batch, Some(&listed), &env.vars);
                if let Some(cache) = ctx.cache {
                    cache.hash_inputs(sets.iter().flatten().flatten());
                }
                sets
            })
        });
        let out = toolchain::run(&build);
        (
            out,
            sets.map(|h| h.join().expect("go list thread panicked")),
        )
    });
    let out = out?;
    let names: Vec<String> = batch.iter().map(|(i, _)| exec_name(&units[*i])).collect();
    if !out.success() || names.iter().any(|n| !out_dir.join(n).is_file()) {
        return Ok(None);
    }
    let sets = sets.unwrap_or_else(|| input_sets(ctx, units, batch, None, &env.vars));
    let sets: Vec<Option<inputs::InputSet>> = batch
        .iter()
        .zip(sets)
        .map(|((index, _), set)| {
            set.map_err(|e| warn_unlisted(ctx, &units[*index], &e))
                .ok()
                .flatten()
        })
        .collect();
    // Stat'ed once for every unit, now that the build has ended (each record would stat the
    // files the mains share again).
    let hashed = ctx
        .cache
        .map(|c| Arc::new(c.hash_inputs(sets.iter().flatten())));
    // Placed in parallel: each rename over an output drops the previous program's pages
    // (15 MB each in the many-mains bench), which one thread did for all 40 (~0.1 s in perf).
    let stderr = out.stderr_str();
    let runs = batch
        .par_iter()
        .zip(started)
        .zip(sets)
        .enumerate()
        .map(|(k, (((_, m), started), set))| {
            let staged = scratch.0.join(format!("placed-{k}"));
            std::fs::create_dir_all(&staged)?;
            std::fs::rename(
                out_dir.join(&names[k]),
                staged.join(&m.unit_key.output_names[0]),
            )?;
            staging::place_outputs(&staged, &m.unit_key)?;
            Ok(GoRun {
                success: true,
                // go's warnings once, with the first unit.
                stderr: if k == 0 {
                    stderr.clone()
                } else {
                    String::new()
                },
                set,
                started,
                hashed: hashed.clone(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(runs))
}

fn warn_unlisted(ctx: &RunContext<'_>, unit: &BuildUnit, e: &anyhow::Error) {
    ctx.reporter.warn(&format!(
        "not caching `{}`: listing its inputs failed: {e:#}",
        unit.target.name
    ));
}

/// Each unit's input set: the one it knew, else split from the batch's listing (in parallel,
/// what they share read once); an error is warned about once the build has succeeded.
fn input_sets(
    ctx: &RunContext<'_>,
    units: &[BuildUnit],
    batch: &[MissedUnit],
    listed: Option<&Result<Vec<ListedPackage>>>,
    env: &BTreeMap<String, String>,
) -> Vec<Result<Option<inputs::InputSet>>> {
    let session = ctx.session;
    let gomodcache = goenv::gomodcache(&session.project, &session.toolchain);
    let reads = inputs::ListingReads::default();
    batch
        .par_iter()
        .map(|(index, m)| match (&m.known, listed) {
            (Some(known), _) => Ok(Some(known.clone())),
            (None, Some(Ok(packages))) => {
                let closure = golist::closure_of(packages, &units[*index].target.package);
                let (root, control) = (&session.project.root, &m.unit_key.control);
                split_set(&closure, root, &gomodcache, control, env, &reads).map(Some)
            }
            (None, Some(Err(e))) => Err(anyhow!("{e:#}")),
            (None, None) => Ok(None),
        })
        .collect()
}

/// One target's input set out of the batch's listing.
fn split_set(
    closure: &[&ListedPackage],
    root: &Utf8Path,
    gomodcache: &Utf8Path,
    control: &[Utf8PathBuf],
    env: &BTreeMap<String, String>,
    reads: &inputs::ListingReads,
) -> Result<inputs::InputSet> {
    if closure.is_empty() {
        bail!("the listing does not name the package");
    }
    inputs::from_listing(closure, root, gomodcache, control, env, reads)
}

#[cfg(test)]
mod tests {
    #[test]
    fn exec_names_follow_gos_default() {
        let base = super::exec_base;
        assert_eq!(base("example.com/tools/cmd/generate"), "generate");
        assert_eq!(base("example.com/app"), "app");
        assert_eq!(base("example.com/tool/v2"), "tool");
        assert_eq!(base("example.com/tool/v10"), "tool");
        for kept in ["v1", "v0", "v01", "v2x"] {
            assert_eq!(base(&format!("example.com/tool/{kept}")), kept);
        }
        assert_eq!(base("single"), "single");
    }
}
