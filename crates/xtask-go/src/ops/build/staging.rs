//! Where go writes: a unit's scratch GOTMPDIR, the staged output seeded with the executable in
//! place, the `go build` arguments, and the atomic placement of go's outputs.

use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use super::BuildUnit;
use crate::buildcache::UnitKey;
use crate::workspace::project::BuildMode;

/// Links (or, across file systems, copies) the executable in place to where go will write, so
/// that go finds its last output: when an edit changes no compiled content (a comment,
/// formatting), go sees the build ID still matches and does not link again (measured: ~200 ms of
/// a ~400 ms one-edit build); a stale one is relinked by go as always. A hard link is safe
/// because go never writes into an existing output: it renames its new file over it, or removes
/// it before copying (`moveOrCopyFile`, `mayberemovefile` in cmd/go/internal/work/shell.go).
/// Only an object file seeds: go refuses to replace any other non-empty file ("already exists
/// and is not an object file"), and a user may have put a script where the program was.
/// Best effort: without a seed go just links.
pub(super) fn seed_staged_output(unit: &BuildUnit, unit_key: &UnitKey, staged: &Utf8Path) {
    if !matches!(unit.target.buildmode, BuildMode::Exe | BuildMode::Pie) {
        return;
    }
    let in_place = unit_key.output_dir.join(&unit_key.output_names[0]);
    if in_place.is_file() && is_object_file(&in_place) {
        if let Some(dir) = staged.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if std::fs::hard_link(&in_place, staged).is_err() {
            let _ = std::fs::copy(&in_place, staged);
        }
    }
}

/// Whether `path` starts as go's `isObject` (cmd/go/internal/work/shell.go) requires of a file
/// it writes over: an archive, ELF, Mach-O, PE, Plan 9, wasm or XCOFF header.
fn is_object_file(path: &Utf8Path) -> bool {
    const MAGIC: &[&[u8]] = &[
        b"!<arch>\n",
        b"<bigaf>\n",
        b"\x7FELF",
        &[0xFE, 0xED, 0xFA, 0xCE],
        &[0xFE, 0xED, 0xFA, 0xCF],
        &[0xCE, 0xFA, 0xED, 0xFE],
        &[0xCF, 0xFA, 0xED, 0xFE],
        b"MZ",
        &[0x00, 0x00, 0x01, 0xEB],
        &[0x00, 0x00, 0x8a, 0x97],
        &[0x00, 0x00, 0x06, 0x47],
        &[0x00, 0x61, 0x73, 0x6D],
        &[0x01, 0xDF],
        &[0x01, 0xF7],
    ];
    let mut head = [0u8; 8];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    MAGIC.iter().any(|m| head[..n].starts_with(m))
}

/// Renames go's outputs from the scratch dir into place: a failed build never gets here.
pub(super) fn place_outputs(staged_dir: &Utf8Path, unit_key: &UnitKey) -> Result<()> {
    std::fs::create_dir_all(&unit_key.output_dir)
        .with_context(|| format!("creating {}", unit_key.output_dir))?;
    for name in &unit_key.output_names {
        let (from, to) = (staged_dir.join(name), unit_key.output_dir.join(name));
        std::fs::rename(&from, &to).with_context(|| format!("moving {from} to {to}"))?;
    }
    Ok(())
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
