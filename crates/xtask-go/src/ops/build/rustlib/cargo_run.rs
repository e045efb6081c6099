//! cargo for a Rust library that Go links: the `cargo rustc` invocation for a triple, what its
//! JSON messages say (the library, rustc's native-static-libs note, errors), the files its
//! dep-info says the library was built from, and the toolchain's own files.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use super::library_file_name;
use crate::host::toolchain::{self, ProcessSpec};
use crate::session::Session;
use crate::util::env_vars::EnvVars;
use crate::workspace::goenv;
use crate::workspace::targets::{LinkKind, LinkedCrate};

/// What cargo built: the library file and the native-static-libs note (None when fresh).
pub(super) struct CargoBuild {
    pub(super) library: Utf8PathBuf,
    pub(super) native: Option<Vec<String>>,
}

/// `cargo rustc -p <crate> --lib --target <triple> --message-format=json [-- --print=native-static-libs]`,
/// with the triple's C compiler (and, cross, the linker) the Go side uses.
fn cargo_spec(
    session: &Session,
    link: &LinkedCrate,
    triple: &str,
    release: bool,
) -> Result<ProcessSpec> {
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
    if let Some(cc) = goenv::c_compiler_or_default(&session.project.config.cc, "CC", triple) {
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
    Ok(ProcessSpec::new(
        crate::workspace::project::cargo_binary()?,
        &session.project.root,
    )
    .args(args)
    .envs(&env))
}

/// Runs cargo for `link` and reads its JSON messages: the library it wrote, rustc's
/// native-static-libs note, the rendered errors when it failed.
pub(super) fn run_cargo(
    session: &Session,
    link: &LinkedCrate,
    triple: &str,
    release: bool,
) -> Result<CargoBuild> {
    let spec = cargo_spec(session, link, triple, release)?;
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

/// Every file a build of `library` read: cargo's dep-info, the manifests, Cargo.lock, the header,
/// the rust-toolchain files and the toolchain's own files.
pub(super) fn inputs_read(
    session: &Session,
    link: &LinkedCrate,
    library: &Utf8Path,
) -> Result<Vec<Utf8PathBuf>> {
    let root = &session.project.root;
    let mut inputs: Vec<Utf8PathBuf> = dep_info(library)?;
    inputs.push(link.manifest.clone());
    inputs.extend(link.header.iter().cloned());
    let root_files = [
        "Cargo.toml",
        "Cargo.lock",
        "rust-toolchain",
        "rust-toolchain.toml",
    ];
    inputs.extend(root_files.map(|f| root.join(f)));
    inputs.extend(toolchain_files(session));
    Ok(inputs)
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

/// The files that change when the Rust toolchain does: the real rustc (`<sysroot>/bin/rustc`,
/// replaced by `rustup update`) and rustup's settings (`rustup default`). Asked only on a run
/// that spawned cargo anyway; RUSTUP_TOOLCHAIN and rust-toolchain files are covered elsewhere.
fn toolchain_files(session: &Session) -> Vec<Utf8PathBuf> {
    let mut files = Vec::new();
    let rustc = std::env::var(EnvVars::RUSTC).unwrap_or_else(|_| "rustc".into());
    let env = toolchain::passthrough_env(&[]);
    let sysroot = which::which(&rustc)
        .ok()
        .and_then(|p| Utf8PathBuf::from_path_buf(p).ok())
        .and_then(|rustc| {
            let spec = ProcessSpec::new(rustc, &session.project.root)
                .args(["--print", "sysroot"])
                .envs(&env);
            toolchain::run(&spec).ok().filter(|o| o.success())
        });
    if let Some(out) = sysroot {
        files.push(Utf8PathBuf::from(out.stdout_str().trim()).join("bin/rustc"));
    }
    let home = std::env::var(EnvVars::RUSTUP_HOME)
        .ok()
        .map(Utf8PathBuf::from)
        .or_else(|| {
            std::env::var(EnvVars::HOME)
                .ok()
                .map(|h| Utf8PathBuf::from(h).join(".rustup"))
        });
    files.extend(home.map(|h| h.join("settings.toml")));
    files
}
