//! The targets: the configured ones (`[[workspace.metadata.xtask-go.targets]]`), else every main
//! package of the repo's modules (by their package clauses, or by `go list` where those cannot
//! tell), with unique names.

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use serde::{Deserialize, Serialize};

use crate::host::platform::{self, GoPlatform};
use crate::host::toolchain::{self, Toolchain};
use crate::workspace::discovery::{GoModule, ModuleSet};
use crate::workspace::goenv::{EnvRequest, PinnedEnv};
use crate::workspace::package_scan::{self, MainPackage};
use crate::workspace::project::{absolute_in, BuildMode, Project};
use crate::workspace::source_filter::SourceFilter;
use crate::workspace::target_names;

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
    let filter = SourceFilter::new(project)?;
    let in_workspace = modules.gowork.is_some();
    // `-tags` in the config's goflags can set any tag, a GOOS's or `ignore` too: only go knows.
    let sets_tags = project
        .config
        .goflags
        .iter()
        .any(|f| f.starts_with("-tags") || f.starts_with("--tags"));
    let host_build = package_scan::HostBuild {
        goos: host.goos,
        goarch: host.goarch,
        cgo: project.config.cgo,
        go_minor: toolchain.minor_version(),
    };
    // The package clauses decide most trees (no go process, ~0.5 s less on a cold run); go's own
    // listing decides the modules they cannot.
    let found: Vec<Result<Vec<MainPackage>>> = crate::util::par::io_map(&modules.modules, |m| {
        let scanned = (!sets_tags)
            .then(|| package_scan::main_packages(m, &filter, in_workspace, &host_build).ok())
            .flatten();
        match scanned {
            Some(found) => Ok(found),
            None => listed_mains(
                project,
                toolchain,
                modules,
                m,
                &host,
                allow_network,
                &filter,
            ),
        }
    });
    let mut targets = Vec::new();
    for (module, mains) in modules.modules.iter().zip(found) {
        for pkg in mains? {
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
    target_names::disambiguate(&mut targets);
    Ok(targets)
}

/// The main packages of `module` by go's own listing.
fn listed_mains(
    project: &Project,
    toolchain: &Toolchain,
    modules: &ModuleSet,
    module: &GoModule,
    host: &GoPlatform,
    allow_network: bool,
    filter: &SourceFilter,
) -> Result<Vec<MainPackage>> {
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
    let packages = serde_json::Deserializer::from_slice(&out.stdout)
        .into_iter::<ListedPackage>()
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("parsing `go list` output for {}", module.path))?;
    Ok(packages
        .into_iter()
        .filter(|pkg| {
            // A package whose files all need cgo (or other tags) is not a target of this
            // config; any other error (a missing module, say) is go build's to report, in full.
            let excluded = pkg
                .error
                .as_ref()
                .is_some_and(|e| e.err.contains("build constraints exclude all Go files"));
            pkg.name == "main" && !excluded && !filter.skips_dir_or_parent(&pkg.dir)
        })
        .map(|pkg| MainPackage {
            import_path: pkg.import_path,
            dir: pkg.dir,
        })
        .collect())
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
