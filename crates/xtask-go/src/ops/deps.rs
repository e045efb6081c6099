//! Version skew across the repo: dependencies that the repo's Go modules select at different versions.
//!
//! Versions are the *selected* ones (what gets built), from `go list -m -json all` run in each
//! module's directory on its own (GOWORK=off): each module's build list as `go build` there without
//! the workspace sees it. Inside a go.work the workspace builds one version, the highest; the skew
//! then shows which modules would build something else on their own (released, or vendored).
//! Local replacements and the repo's own modules are left out; a replacement by another module
//! version counts as that version.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Context, Result};
use camino::Utf8PathBuf;
use serde::{Deserialize, Serialize};

use crate::host::platform;
use crate::host::toolchain;
use crate::session::Session;
use crate::util::report::Reporter;
use crate::workspace::discovery::GoModule;
use crate::workspace::goenv::{EnvRequest, ModMode, PinnedEnv};

/// A repo module that selects a version.
#[derive(Debug, Clone, Serialize)]
pub struct Dependent {
    pub module: String,
    pub dir: Utf8PathBuf,
}

/// One version of a skewed dependency and the repo modules that build with it.
#[derive(Debug, Clone, Serialize)]
pub struct SelectedVersion {
    pub version: String,
    pub needed_by: Vec<Dependent>,
}

/// A dependency selected at more than one version across the repo.
#[derive(Debug, Clone, Serialize)]
pub struct Skew {
    pub module: String,
    pub versions: Vec<SelectedVersion>,
}

/// The whole picture.
#[derive(Debug, Clone, Serialize)]
pub struct DepsReport {
    /// The repo's Go modules.
    pub repo_modules: usize,
    /// Distinct (dependency, version) pairs over every module's build list.
    pub distinct_module_versions: usize,
    pub skewed: Vec<Skew>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Listed {
    path: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    main: bool,
    replace: Option<Box<Listed>>,
}

/// Lists every module's build list (in parallel) and finds the skew.
pub fn deps(session: &Session) -> Result<DepsReport> {
    let modules = &session.modules.modules;
    let lists: Vec<Result<Vec<(String, String)>>> =
        crate::util::par::io_map(modules, |m| build_list(session, m));
    let repo_paths: BTreeSet<&str> = modules.iter().map(|m| m.path.as_str()).collect();
    // dependency -> version -> the repo modules selecting it
    let mut selected: BTreeMap<String, BTreeMap<String, Vec<Dependent>>> = BTreeMap::new();
    for (module, list) in modules.iter().zip(lists) {
        for (path, version) in list? {
            if repo_paths.contains(path.as_str()) {
                continue;
            }
            selected
                .entry(path)
                .or_default()
                .entry(version)
                .or_default()
                .push(Dependent {
                    module: module.path.clone(),
                    dir: session.project.display_path(&module.dir).to_owned(),
                });
        }
    }
    let distinct_module_versions = selected.values().map(BTreeMap::len).sum();
    let skewed = selected
        .into_iter()
        .filter(|(_, versions)| versions.len() > 1)
        .map(|(module, versions)| Skew {
            module,
            versions: versions
                .into_iter()
                .map(|(version, needed_by)| SelectedVersion { version, needed_by })
                .collect(),
        })
        .collect();
    Ok(DepsReport {
        repo_modules: modules.len(),
        distinct_module_versions,
        skewed,
    })
}

/// `go list -m -json all` in the module's directory, without the workspace.
fn build_list(session: &Session, module: &GoModule) -> Result<Vec<(String, String)>> {
    let host = platform::go_platform(platform::host_triple())?;
    let request = EnvRequest {
        platform: &host,
        cgo: false,
        mod_mode: ModMode::Readonly,
        gowork: None,
        offline: false,
    };
    let env = PinnedEnv::new(&session.project, &session.toolchain, &request);
    let spec = session
        .toolchain
        .go(&module.dir, &env.vars)
        .args(["list", "-m", "-json", "all"]);
    let out = toolchain::run(&spec)?;
    if !out.success() {
        bail!(
            "listing the build list of {} ({}) failed; fix its go.mod / go.sum (`go mod tidy` in {}) \
             or run `cargo xtask go-fetch`:\n{}",
            module.path,
            module.gomod.file,
            module.dir,
            out.stderr_str().trim_end()
        );
    }
    let listed = serde_json::Deserializer::from_slice(&out.stdout)
        .into_iter::<Listed>()
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("parsing `go list -m -json all` for {}", module.path))?;
    Ok(listed
        .into_iter()
        .filter(|m| !m.main)
        .filter_map(|m| match m.replace {
            // A replacement by a directory builds no module version.
            Some(r) if r.version.is_empty() => None,
            Some(r) => Some((r.path, r.version)),
            None => Some((m.path, m.version)),
        })
        .collect())
}

#[derive(Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
enum Event<'a> {
    VersionSkew(&'a Skew),
    DepsSummary {
        repo_modules: usize,
        distinct_module_versions: usize,
        skewed: usize,
    },
}

/// Prints the report: a table on stderr, or JSON events on stdout under `--json`.
pub fn print(report: &DepsReport, reporter: &Reporter) {
    for skew in &report.skewed {
        reporter.event(&Event::VersionSkew(skew));
    }
    reporter.event(&Event::DepsSummary {
        repo_modules: report.repo_modules,
        distinct_module_versions: report.distinct_module_versions,
        skewed: report.skewed.len(),
    });
    if reporter.json() {
        return;
    }
    for skew in &report.skewed {
        let mut text = format!(
            "{} is selected at {} versions:",
            skew.module,
            skew.versions.len()
        );
        for v in &skew.versions {
            let who: Vec<String> = v
                .needed_by
                .iter()
                .map(|d| format!("{} ({})", d.module, d.dir))
                .collect();
            text.push_str(&format!("\n    {:<12} {}", v.version, who.join(", ")));
        }
        reporter.warn(&text);
    }
    reporter.status(
        "Checked",
        &format!(
            "{} Go modules, {} distinct module versions, {} at different versions",
            report.repo_modules,
            report.distinct_module_versions,
            match report.skewed.len() {
                1 => "1 dependency".to_string(),
                n => format!("{n} dependencies"),
            }
        ),
    );
}
