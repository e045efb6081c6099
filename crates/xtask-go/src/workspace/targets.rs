//! The targets: the configured ones (`[[workspace.metadata.xtask-go.targets]]`), else every main
//! package that `go list` reports in the repo's modules, with unique names.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use serde::{Deserialize, Serialize};

use crate::host::platform::{self, GoPlatform};
use crate::host::toolchain::{self, Toolchain};
use crate::workspace::discovery::{GoModule, ModuleSet};
use crate::workspace::goenv::{EnvRequest, PinnedEnv};
use crate::workspace::project::{absolute_in, BuildMode, Project};

/// One thing to build: a main package (or a library in a c-archive/c-shared buildmode).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Target {
    pub name: String,
    pub module: String,
    pub module_dir: Utf8PathBuf,
    /// The package's import path.
    pub package: String,
    pub package_dir: Utf8PathBuf,
    /// The output file name, before any platform suffix (`.exe`).
    pub output: String,
    pub ldflags: Option<String>,
    pub gcflags: Option<String>,
    pub tags: Vec<String>,
    pub cgo: bool,
    pub buildmode: BuildMode,
    /// Triples this target is limited to (empty: any).
    pub platforms: Vec<String>,
    /// The workspace crates it links through cgo (`linked-by` on the crate, `workspace::rust`).
    #[serde(default)]
    pub links: Vec<LinkedCrate>,
}

/// How a Go program links a Rust library: by the crate's own `crate-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkKind {
    /// `staticlib`: `lib<name>.a`, linked into the Go binary.
    Static,
    /// `cdylib`: `lib<name>.so`, found at run time through an rpath to where it is placed.
    Dynamic,
}

/// A Rust library that a Go target links through cgo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedCrate {
    pub crate_name: String,
    /// The link name: the lib target's name with `-` as `_` (`lib<name>.a`).
    pub lib_name: String,
    pub kind: LinkKind,
    /// The absolute path of the crate's C header (cgo finds it by its file name).
    pub header: Option<Utf8PathBuf>,
    /// The crate's Cargo.toml.
    pub manifest: Utf8PathBuf,
    /// It (or a path dependency) has a build script, whose inputs (the variables named by
    /// `rerun-if-env-changed`, say) only cargo knows: every build asks cargo (a fresh cargo run
    /// when nothing changed) instead of trusting the stamps of its dep-info.
    #[serde(default)]
    pub local_build_script: bool,
}

impl Target {
    /// A target with the project's defaults: an executable named after `name`.
    pub fn plain(
        project: &Project,
        module: &GoModule,
        package: String,
        package_dir: Utf8PathBuf,
        name: &str,
    ) -> Target {
        Target {
            name: name.to_string(),
            module: module.path.clone(),
            module_dir: module.dir.clone(),
            package,
            package_dir,
            output: name.to_string(),
            ldflags: None,
            gcflags: None,
            tags: Vec::new(),
            cgo: project.config.cgo,
            buildmode: BuildMode::Exe,
            platforms: Vec::new(),
            links: Vec::new(),
        }
    }
}

/// The fields of `go list -json` that discovery needs.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListedPackage {
    name: String,
    import_path: String,
    dir: Utf8PathBuf,
    error: Option<ListError>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListError {
    err: String,
}

/// The targets of the project: the configured ones, else every main package. `allow_network`:
/// whether listing may download modules when the module cache lacks some.
pub fn discover_targets(
    project: &Project,
    toolchain: &Toolchain,
    modules: &ModuleSet,
    allow_network: bool,
) -> Result<Vec<Target>> {
    if !project.config.targets.is_empty() {
        return configured_targets(project, modules);
    }
    let host = platform::go_platform(platform::host_triple())?;
    let listed: Vec<Result<Vec<ListedPackage>>> = crate::util::par::io_map(&modules.modules, |m| {
        list_packages(project, toolchain, modules, m, &host, allow_network)
    });
    let mut targets = Vec::new();
    let filter = crate::workspace::source_filter::SourceFilter::new(project)?;
    for (module, packages) in modules.modules.iter().zip(listed) {
        for pkg in packages? {
            // A package whose files all need cgo (or other tags) is not a target of this config;
            // any other error (a missing module, say) is go build's to report, in full.
            let excluded = pkg
                .error
                .as_ref()
                .is_some_and(|e| e.err.contains("build constraints exclude all Go files"));
            if pkg.name != "main" || excluded || filter.skips_dir_or_parent(&pkg.dir) {
                continue;
            }
            let name = pkg.dir.file_name().unwrap_or(&module.path).to_string();
            targets.push(Target::plain(
                project,
                module,
                pkg.import_path,
                pkg.dir,
                &name,
            ));
        }
    }
    disambiguate_names(&mut targets);
    Ok(targets)
}

/// Makes discovered names unique, deterministically. A main package is named after its
/// directory (`generate`); when others share that name, after its module's directory and its own
/// (`tools-generate`); when that is shared too, after the shortest suffix of its import path that
/// none of them shares (`doc-generate`, `protocol-generate`). Names that stay shared are left
/// for `check_unique`, which refuses them.
fn disambiguate_names(targets: &mut [Target]) {
    let candidates: Vec<Vec<String>> = targets.iter().map(name_candidates).collect();
    let mut level = vec![0usize; targets.len()];
    loop {
        let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, names) in candidates.iter().enumerate() {
            groups.entry(names[level[i]].as_str()).or_default().push(i);
        }
        let mut moved = false;
        for members in groups.values().filter(|m| m.len() > 1) {
            for &i in members {
                if level[i] + 1 < candidates[i].len() {
                    level[i] += 1;
                    moved = true;
                }
            }
        }
        if !moved {
            break;
        }
    }
    for (i, t) in targets.iter_mut().enumerate() {
        t.name = candidates[i][level[i]].clone();
        t.output = t.name.clone();
    }
}

/// A target's names from least to most specific (see `disambiguate_names`).
fn name_candidates(t: &Target) -> Vec<String> {
    let parts: Vec<&str> = t.package.split('/').filter(|p| !p.is_empty()).collect();
    let mut names = vec![t.name.clone()];
    if let Some(module_dir) = t.module_dir.file_name() {
        names.push(format!("{module_dir}-{}", t.name));
    }
    for k in 2..=parts.len() {
        names.push(parts[parts.len() - k..].join("-"));
    }
    names
}

/// Every target's name and output must be unique: two targets of one name would share a
/// depfile, two of one output would overwrite each other's file.
pub fn check_unique(targets: &[Target]) -> Result<()> {
    let mut names: BTreeMap<&str, &Target> = BTreeMap::new();
    let mut outputs: BTreeMap<&str, &Target> = BTreeMap::new();
    for t in targets {
        if let Some(other) = names.insert(&t.name, t) {
            bail!(
                "two Go targets are named `{}`: {} ({}) and {} ({}); give one another `name` in [workspace.metadata.xtask-go]",
                t.name, other.package, other.package_dir, t.package, t.package_dir
            );
        }
        if let Some(other) = outputs.insert(&t.output, t) {
            bail!(
                "Go targets `{}` ({}) and `{}` ({}) both write the output `{}`; give one another `output` in [workspace.metadata.xtask-go]",
                other.name, other.package, t.name, t.package, t.output
            );
        }
    }
    Ok(())
}

fn list_packages(
    project: &Project,
    toolchain: &Toolchain,
    modules: &ModuleSet,
    module: &GoModule,
    host: &GoPlatform,
    allow_network: bool,
) -> Result<Vec<ListedPackage>> {
    let list = |offline: bool| {
        let request = EnvRequest {
            platform: host,
            cgo: project.config.cgo,
            mod_mode: module.mod_mode(),
            gowork: modules.gowork.as_deref(),
            offline,
        };
        let env = PinnedEnv::new(project, toolchain, &request);
        toolchain::run(&toolchain.go(&module.dir, &env.vars).args([
            "list",
            "-e",
            "-json=Name,ImportPath,Dir,Error",
            "./...",
        ]))
    };
    // Offline first: listing the repo's own packages rarely needs the network, and `--offline`
    // must never touch it; only a failure may try again online.
    let mut out = list(true)?;
    if !out.success() && allow_network {
        out = list(false)?;
    }
    if !out.success() {
        let stderr = out.stderr_str();
        let shown = crate::go::offline::explain_offline_failure(&stderr).unwrap_or(stderr);
        bail!(
            "listing the packages of {} ({}) failed:\n{}",
            module.path,
            module.gomod.file,
            shown.trim_end()
        );
    }
    serde_json::Deserializer::from_slice(&out.stdout)
        .into_iter::<ListedPackage>()
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("parsing `go list` output for {}", module.path))
}

/// A target for the package in `dir` (absolute), with default settings.
pub fn target_for_dir(
    project: &Project,
    modules: &ModuleSet,
    dir: &Utf8Path,
    name: &str,
) -> Result<Target> {
    let module = modules
        .modules
        .iter()
        .filter(|m| dir.starts_with(&m.dir))
        .max_by_key(|m| m.dir.as_str().len())
        .with_context(|| {
            format!(
                "{dir} is in none of the Go modules ({})",
                modules
                    .modules
                    .iter()
                    .map(|m| m.dir.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
    let rel = dir.strip_prefix(&module.dir).expect("checked above");
    let package = if rel.as_str().is_empty() {
        module.path.clone()
    } else {
        format!("{}/{rel}", module.path)
    };
    Ok(Target::plain(
        project,
        module,
        package,
        dir.to_owned(),
        name,
    ))
}

fn configured_targets(project: &Project, modules: &ModuleSet) -> Result<Vec<Target>> {
    let mut targets = Vec::new();
    for tc in &project.config.targets {
        let what = || format!("target `{}` of [workspace.metadata.xtask-go]", tc.name);
        let module = match &tc.module {
            Some(m) => modules.find(&project.root, m).with_context(|| {
                format!(
                    "{}: no Go module `{m}` (known: {})",
                    what(),
                    modules
                        .modules
                        .iter()
                        .map(|m| m.path.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?,
            None => modules
                .modules
                .iter()
                .filter(|m| tc.package == m.path || tc.package.starts_with(&format!("{}/", m.path)))
                .max_by_key(|m| m.path.len())
                .with_context(|| {
                    format!(
                        "{}: package `{}` is in none of the modules; set `module`",
                        what(),
                        tc.package
                    )
                })?,
        };
        let (package, package_dir) = if tc.package.starts_with('.') {
            let dir = absolute_in(&module.dir, Utf8Path::new(&tc.package));
            let rel = dir.strip_prefix(&module.dir).with_context(|| {
                format!("{}: package `{}` is outside its module", what(), tc.package)
            })?;
            let import = if rel.as_str().is_empty() {
                module.path.clone()
            } else {
                format!("{}/{rel}", module.path)
            };
            (import, dir)
        } else {
            let rel = tc
                .package
                .strip_prefix(&module.path)
                .unwrap_or_default()
                .trim_start_matches('/');
            (tc.package.clone(), module.dir.join(rel))
        };
        if !package_dir.is_dir() {
            bail!("{}: package directory {package_dir} does not exist", what());
        }
        for triple in &tc.platforms {
            platform::go_platform(triple).with_context(what)?;
        }
        targets.push(Target {
            name: tc.name.clone(),
            module: module.path.clone(),
            module_dir: module.dir.clone(),
            package,
            package_dir,
            output: tc.output.clone().unwrap_or_else(|| tc.name.clone()),
            ldflags: tc.ldflags.clone(),
            gcflags: tc.gcflags.clone(),
            tags: tc.tags.clone(),
            cgo: tc.cgo.unwrap_or(project.config.cgo),
            buildmode: tc.buildmode.unwrap_or_default(),
            platforms: tc.platforms.clone(),
            links: Vec::new(),
        });
    }
    Ok(targets)
}
