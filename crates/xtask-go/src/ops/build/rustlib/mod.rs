//! The Rust libraries Go programs link through cgo: each crate built by cargo for the Go build's
//! target triple (skipped when the stamps of every file cargo read for it still hold), placed
//! with its header in `<target>/go/rustlibs/<triple>/<profile>/<crate>/`, and named in the Go
//! unit's CGO_CFLAGS / CGO_LDFLAGS, with the native libraries rustc says a staticlib needs.
//!
//! Never stale: the flags name the library, so the Go unit's input set holds it (its sha256 is in
//! the key) and the unit's native digest changes go's own action IDs when it changes
//! (`buildcache::inputs`); and a no-op spawns no cargo only while every file of cargo's
//! dep-info for the library, the manifests, Cargo.lock, the header and the toolchain's files
//! keep their stamps (`freshness.rs`), and the placed files are there.

mod cargo_run;
mod freshness;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use crate::buildcache::statcache;
use crate::session::Session;
use crate::util::fsutil;
use crate::util::report::Reporter;
use crate::workspace::goenv::PinnedEnv;
use crate::workspace::targets::{LinkKind, LinkedCrate};

/// A library built and placed for one triple and profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedLib {
    /// Holds `lib<name>.a` (or `.so`) and the header.
    pub dir: Utf8PathBuf,
    pub lib_name: String,
    pub kind: LinkKind,
    /// What rustc's `--print native-static-libs` said a staticlib needs (`-lgcc_s -lc ...`).
    pub native: Vec<String>,
}

impl PlacedLib {
    /// `env` with this library in its cgo flags.
    pub fn add_to(&self, mut env: PinnedEnv) -> PinnedEnv {
        let dir = &self.dir;
        let append = |env: &mut PinnedEnv, name: &str, value: String| {
            let joined = match env.vars.get(name) {
                Some(old) if !old.is_empty() => format!("{old} {value}"),
                // Unset, CGO_CFLAGS / CGO_LDFLAGS are go's default `-O2 -g`, which must stay.
                _ => format!("-O2 -g {value}"),
            };
            env.vars.insert(name.to_string(), joined);
        };
        append(&mut env, "CGO_CFLAGS", format!("-I{dir}"));
        let mut link = vec![format!("-L{dir}"), format!("-l{}", self.lib_name)];
        match self.kind {
            LinkKind::Static => link.extend(self.native.iter().cloned()),
            LinkKind::Dynamic => link.push(format!("-Wl,-rpath,{dir}")),
        }
        append(&mut env, "CGO_LDFLAGS", link.join(" "));
        env.vars.insert("CGO_ENABLED".into(), "1".into());
        env
    }
}

/// Builds (or finds current) `link` for `triple`, and places it for cgo.
pub fn prepare(
    session: &Session,
    link: &LinkedCrate,
    triple: &str,
    release: bool,
    reporter: &Reporter,
) -> Result<PlacedLib> {
    let project = &session.project;
    let profile = super::profile_name(release);
    let dir = project
        .go_dir()
        .join("rustlibs")
        .join(triple)
        .join(profile)
        .join(&link.crate_name);
    let stamps_file = dir.join(".stamps");
    let request = freshness::request_hash(link, triple, release)?;
    let remembered = std::fs::read_to_string(&stamps_file).ok();
    let placed = |native: Vec<String>| PlacedLib {
        dir: dir.clone(),
        lib_name: link.lib_name.clone(),
        kind: link.kind,
        native,
    };
    let file_name = library_file_name(link);
    let header_name = match &link.header {
        Some(h) => Some(
            h.file_name()
                .context("the header has a file name")?
                .to_string(),
        ),
        None => None,
    };
    let all_placed =
        || dir.join(&file_name).is_file() && header_name.iter().all(|h| dir.join(h).is_file());
    if let Some(native) = remembered
        .as_deref()
        .filter(|_| !link.local_build_script)
        .and_then(|t| freshness::still_current(t, &request, project.root.as_path()))
        .filter(|_| all_placed())
    {
        return Ok(placed(native));
    }
    reporter.status(
        "Compiling",
        &format!(
            "{} ({}) for {triple}, linked by Go",
            link.crate_name,
            project.display_path(link.manifest.parent().expect("a manifest has a directory"))
        ),
    );
    // Before cargo reads anything: an input stamped after this moved while cargo ran.
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {dir}"))?;
    let started = crate::buildcache::start_stamp_at(&stamps_file).ok();
    let built = cargo_run::run_cargo(session, link, triple, release)?;
    // A fresh crate prints no note: what the last build said still holds (its inputs did not move).
    let native = match (built.native, remembered.as_deref().and_then(freshness::remembered_native)) {
        (Some(native), _) | (None, Some(native)) => native,
        (None, None) if link.kind == LinkKind::Dynamic => Vec::new(),
        (None, None) => bail!(
            "cargo built `{}` for {triple} without rustc's native-static-libs note, and none is remembered; run `cargo clean -p {} --target {triple}` and build again",
            link.crate_name, link.crate_name
        ),
    };
    place(&built.library, &dir.join(&file_name))?;
    if let (Some(header), Some(name)) = (&link.header, &header_name) {
        place(header, &dir.join(name))?;
    }
    // What cargo read; not the files written just now (their stamps are always too recent to
    // prove anything, and a placed file that goes missing sends the next run to cargo).
    let inputs = cargo_run::inputs_read(session, link, &built.library)?;
    freshness::write_stamps(&stamps_file, &request, &native, &inputs, started);
    Ok(placed(native))
}

/// For a link that failed on `-l<name>` where `name` is a workspace crate's library that the
/// unit does not declare: the declaration that fixes it.
pub fn undeclared_link_hint(
    session: &Session,
    unit: &super::BuildUnit,
    stderr: &str,
) -> Option<String> {
    let after = stderr.split("cannot find -l").nth(1)?;
    let name: String = after
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if unit.target.links.iter().any(|l| l.lib_name == name) {
        return None;
    }
    let metadata = crate::workspace::rust::metadata(&session.project).ok()??;
    let package = metadata.workspace_packages().into_iter().find(|p| {
        p.targets
            .iter()
            .any(|t| t.is_lib() || t.crate_types.iter().any(|c| c.to_string().ends_with("lib")))
            && p.targets.iter().any(|t| t.name.replace('-', "_") == name)
    })?;
    let dir = session.project.display_path(&unit.target.package_dir);
    Some(format!(
        "`-l{name}` is the workspace crate `{}`: declare `linked-by = [\"{dir}\"]` under [package.metadata.xtask-go] in {}, and `cargo xtask go-build` builds it for {} first and hands it to cgo",
        package.name, package.manifest_path, unit.platform.triple
    ))
}

/// Copies `from` to `to` unless `to` already has the same content (so that an unchanged
/// library keeps its stamp, and the Go unit stays fresh without hashing it again).
fn place(from: &Utf8Path, to: &Utf8Path) -> Result<()> {
    let same = match (statcache::sha256_file(from), statcache::sha256_file(to)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same {
        fsutil::copy_atomic(from, to, None, fsutil::PageCache::Fill, &|| {})
            .with_context(|| format!("placing {from} for cgo"))?;
    }
    Ok(())
}

/// `lib<name>.a` or `lib<name>.so`: what cargo writes and what `-l<name>` finds.
fn library_file_name(link: &LinkedCrate) -> String {
    match link.kind {
        LinkKind::Static => format!("lib{}.a", link.lib_name),
        LinkKind::Dynamic => format!("lib{}.so", link.lib_name),
    }
}
