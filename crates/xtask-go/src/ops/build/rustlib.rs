//! The Rust libraries Go programs link through cgo: each crate built by cargo for the Go build's
//! target triple (skipped when the stamps of every file cargo read for it still hold), placed
//! with its header in `<target>/go/rustlibs/<triple>/<profile>/<crate>/`, and named in the Go
//! unit's CGO_CFLAGS / CGO_LDFLAGS, with the native libraries rustc says a staticlib needs.
//!
//! Never stale: the flags name the library, so the Go unit's input set holds it (its sha256 is in
//! the key) and the unit's native digest changes go's own action IDs when it changes
//! (`buildcache::inputs`); and a no-op spawns no cargo only while every file of cargo's
//! dep-info for the library, the manifests, Cargo.lock and the placed files keep their stamps.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use sha2::{Digest, Sha256};

use crate::buildcache::stamps::{self, StampList};
use crate::buildcache::statcache;
use crate::host::toolchain::{self, ProcessSpec};
use crate::session::Session;
use crate::util::fsutil;
use crate::util::report::Reporter;
use crate::util::stamp::{now_ns, FileStamp};
use crate::workspace::goenv::{self, PinnedEnv};
use crate::workspace::targets::{LinkKind, LinkedCrate};

/// Bump when the stamps file's layout changes.
const FORMAT: u32 = 1;

/// Environment variables that shape what cargo builds (their values are in the request hash):
/// a change makes the next run ask cargo. Build scripts that read other variables are cargo's
/// business on the runs that spawn it.
const CARGO_INPUT_PREFIXES: &[&str] = &[
    "CARGO_", "RUST", "CC", "CXX", "CFLAGS", "CXXFLAGS", "AR", "TARGET_",
];

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
    let request = request_hash(link, triple, release)?;
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
        .and_then(|t| still_current(t, &request, project.root.as_path()))
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
    let built = run_cargo(session, link, triple, release)?;
    // A fresh crate prints no note: what the last build said still holds (its inputs did not move).
    let native = match (built.native, remembered.as_deref().and_then(remembered_native)) {
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
    let mut inputs: Vec<Utf8PathBuf> = dep_info(&built.library)?;
    inputs.push(link.manifest.clone());
    inputs.extend(link.header.iter().cloned());
    inputs.extend(
        [
            "Cargo.toml",
            "Cargo.lock",
            "rust-toolchain",
            "rust-toolchain.toml",
        ]
        .map(|f| project.root.join(f)),
    );
    write_stamps(&stamps_file, &request, &native, &inputs);
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
        fsutil::copy_atomic(from, to, None, &|| {})
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

/// What cargo built: the library file and the native-static-libs note (None when fresh).
struct CargoBuild {
    library: Utf8PathBuf,
    native: Option<Vec<String>>,
}

fn run_cargo(
    session: &Session,
    link: &LinkedCrate,
    triple: &str,
    release: bool,
) -> Result<CargoBuild> {
    let mut args: Vec<String> = [
        "rustc",
        "-p",
        &link.crate_name,
        "--lib",
        "--target",
        triple,
        "--message-format=json",
    ]
    .map(String::from)
    .to_vec();
    if release {
        args.push("--release".into());
    }
    if session.project.settings.offline {
        args.push("--offline".into());
    }
    if link.kind == LinkKind::Static {
        args.extend(["--".into(), "--print=native-static-libs".into()]);
    }
    let mut env: BTreeMap<String, String> = std::env::vars().collect();
    // Cross: the C compiler (and, for a cdylib, the linker) cgo uses for this triple, for cargo too.
    if let Some(cc) = goenv::c_compiler(&session.project.config.cc, "CC", triple) {
        env.entry(format!("CC_{}", triple.replace('-', "_")))
            .or_insert(cc.clone());
        if triple != crate::host::platform::host_triple() {
            let linker = format!(
                "CARGO_TARGET_{}_LINKER",
                triple.to_uppercase().replace('-', "_")
            );
            env.entry(linker).or_insert(cc);
        }
    }
    let spec = ProcessSpec::new(
        crate::workspace::project::cargo_binary()?,
        &session.project.root,
    )
    .args(args)
    .envs(&env);
    let out = toolchain::run(&spec)?;
    let mut library = None;
    let mut native = None;
    let mut errors = Vec::new();
    let wanted = library_file_name(link);
    for line in out.stdout_str().lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        match message["reason"].as_str() {
            Some("compiler-artifact") => {
                for file in message["filenames"].as_array().into_iter().flatten() {
                    if file
                        .as_str()
                        .is_some_and(|f| f.ends_with(&format!("/{wanted}")))
                    {
                        library = file.as_str().map(Utf8PathBuf::from);
                    }
                }
            }
            Some("compiler-message") => {
                let text = message["message"]["message"].as_str().unwrap_or_default();
                if let Some(libs) = text.strip_prefix("native-static-libs:") {
                    native = Some(libs.split_whitespace().map(String::from).collect());
                } else if message["message"]["level"].as_str() == Some("error") {
                    errors.push(
                        message["message"]["rendered"]
                            .as_str()
                            .unwrap_or(text)
                            .to_string(),
                    );
                }
            }
            _ => {}
        }
    }
    if !out.success() {
        let detail = if errors.is_empty() {
            out.stderr_str()
        } else {
            errors.join("\n")
        };
        bail!(
            "cargo could not build `{}` for {triple}, which Go links:\n{}",
            link.crate_name,
            detail.trim_end()
        );
    }
    let library = library.with_context(|| {
        format!(
            "cargo built `{}` for {triple} but reported no {wanted}",
            link.crate_name
        )
    })?;
    Ok(CargoBuild { library, native })
}

/// The files cargo's dep-info (`lib<name>.d` beside the library) says the library was built
/// from: every source file of the crate and of its dependencies.
fn dep_info(library: &Utf8Path) -> Result<Vec<Utf8PathBuf>> {
    let file = library.with_extension("d");
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("reading cargo's dep-info {file}"))?;
    let first = text.replace("\\\n", " ");
    let line = first.lines().next().unwrap_or_default();
    let deps = line.split_once(": ").map_or("", |(_, d)| d);
    let mut out = Vec::new();
    let mut word = String::new();
    let mut chars = deps.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => {
                word.push(' ');
                chars.next();
            }
            ' ' => {
                if !word.is_empty() {
                    out.push(Utf8PathBuf::from(std::mem::take(&mut word)));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(Utf8PathBuf::from(word));
    }
    Ok(out)
}

/// What decides cargo's output besides files: crate, triple, profile, kind, the cargo binary
/// and the variables that shape a build.
fn request_hash(link: &LinkedCrate, triple: &str, release: bool) -> Result<String> {
    let mut hasher = Sha256::new();
    let cargo = crate::workspace::project::cargo_binary()?;
    let cargo_stamp = FileStamp::of(&cargo)
        .ok()
        .map(|s| format!("{} {}", s.size, s.mtime_ns));
    hasher.update(format!(
        "{} {} {triple} {release} {:?} {cargo} {cargo_stamp:?}\n",
        link.crate_name, link.lib_name, link.kind
    ));
    let mut vars: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| CARGO_INPUT_PREFIXES.iter().any(|p| k.starts_with(p)))
        .collect();
    vars.sort();
    for (k, v) in vars {
        hasher.update(format!("{k}={v}\n"));
    }
    Ok(statcache::hex(&hasher.finalize()))
}

/// `xtask-go rustlib <FORMAT> <request>`, `native <flags>`, then the stamp lines.
fn write_stamps(file: &Utf8Path, request: &str, native: &[String], inputs: &[Utf8PathBuf]) {
    let mut list = StampList::default();
    for input in inputs {
        list.file(input.as_str(), FileStamp::of(input).ok());
    }
    let mut out = format!(
        "xtask-go rustlib {FORMAT} {request}\nnative {}\n",
        native.join(" ")
    );
    // Stamps from within the racy window prove nothing: then no file, and cargo runs next time.
    if list.write_to(&mut out, now_ns()).is_some() {
        let _ = fsutil::write_atomic(file, out.as_bytes());
    } else {
        let _ = std::fs::remove_file(file);
    }
}

fn remembered_native(text: &str) -> Option<Vec<String>> {
    let line = text.lines().nth(1)?.strip_prefix("native")?;
    Some(line.split_whitespace().map(String::from).collect())
}

/// The remembered native libraries, when the request is the same and every stamp holds.
fn still_current(text: &str, request: &str, root: &Utf8Path) -> Option<Vec<String>> {
    let mut lines = text.lines();
    let header = lines.next()?;
    if header != format!("xtask-go rustlib {FORMAT} {request}") {
        return None;
    }
    let native = remembered_native(text)?;
    stamps::all_hold_or(lines.skip(1), root, |_| false).then_some(native)
}
