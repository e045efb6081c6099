//! Vendor trees: which exist ([`vendor_trees`]), regenerating them with go ([`generate`]) and
//! proving them exactly what go.mod and go.sum say, file by file ([`check`], [`VendorReport`]).
//!
//! No go command checks vendored file contents; this module does, against module zips whose
//! `h1:` hash matches go.sum (see `source`), by the copying rules of `go mod vendor` (see `expected`).

mod cachedirs;
mod check;
mod compare;
pub mod consistency;
pub mod contents;
mod embeds;
pub mod expected;
pub mod imports;
pub mod modules_txt;
pub mod render;
pub mod source;
mod trust;
mod verified;

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use camino::Utf8PathBuf;
use serde::Serialize;

use crate::go::gomod::GoWork;
use crate::host::platform;
use crate::host::toolchain;
use crate::session::Session;
use crate::util::report::{human_duration, Reporter};
use crate::workspace::goenv::{EnvRequest, ModMode, PinnedEnv};

/// What went wrong with one path of a vendor tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// A vendored file whose content differs from the verified module's.
    Modified,
    /// A file `go mod vendor` would write that is not there.
    Missing,
    /// A file `go mod vendor` would not write.
    Extra,
    /// vendor/modules.txt contradicts go.mod / go.work (or a module's own go.mod).
    Inconsistent,
    /// Something no go command would produce: symlinks, nested vendor/ or .git, a tampered module cache.
    Anomaly,
}

impl FindingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Modified => "modified",
            FindingKind::Missing => "missing",
            FindingKind::Extra => "extra",
            FindingKind::Inconsistent => "inconsistent",
            FindingKind::Anomaly => "anomaly",
        }
    }
}

/// One finding: the tree (relative to the project root), the module (`path@version`, empty when
/// none applies), the path (relative to the tree: `vendor/...`), and a sentence saying what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub tree: String,
    pub module: String,
    pub path: String,
    pub kind: FindingKind,
    pub detail: String,
}

/// Per-module counts of one tree.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModuleSummary {
    pub tree: String,
    pub module: String,
    /// Files and bytes go would write for the module.
    pub files: usize,
    pub bytes: u64,
    /// Of those, files that are not Go source.
    pub non_go: usize,
    pub modified: usize,
    pub missing: usize,
    pub extra: usize,
}

/// A module whose true contents could not be established: the check is incomplete (exit 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unchecked {
    pub tree: String,
    pub module: String,
    /// Why its contents could not be established.
    pub detail: String,
}

/// A file `go mod vendor` would write that the repository's own ignore rules exclude: git never
/// holds it, so its absence is by design (not drift, no effect on the exit code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepoExcluded {
    pub tree: String,
    pub module: String,
    /// Relative to the tree: `vendor/...`.
    pub path: String,
    /// The ignore file (relative to the work tree's top) and its rule.
    pub ignore_file: String,
    pub rule: String,
    pub detail: String,
}

/// The same dependency vendored at different versions by different trees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionSkew {
    pub module: String,
    /// version (with any `=> replacement`) -> the trees that vendor it.
    pub versions: BTreeMap<String, Vec<String>>,
}

/// Everything `go-vendor --check` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VendorReport {
    pub trees: Vec<String>,
    pub findings: Vec<Finding>,
    pub modules: Vec<ModuleSummary>,
    pub unchecked: Vec<Unchecked>,
    /// Files go would write that the repository's .gitignore (or .git/info/exclude) excludes.
    pub excluded: Vec<RepoExcluded>,
    pub skew: Vec<VersionSkew>,
}

/// How a check ended, as the CLI's exit code: 0, 1 or 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckOutcome {
    Clean,
    Drift,
    CouldNotCheck,
}

impl CheckOutcome {
    pub fn exit_code(self) -> u8 {
        match self {
            CheckOutcome::Clean => 0,
            CheckOutcome::Drift => 1,
            CheckOutcome::CouldNotCheck => 2,
        }
    }
}

impl VendorReport {
    pub fn outcome(&self) -> CheckOutcome {
        if !self.unchecked.is_empty() {
            CheckOutcome::CouldNotCheck
        } else if !self.findings.is_empty() {
            CheckOutcome::Drift
        } else {
            CheckOutcome::Clean
        }
    }

    pub fn count(&self, kind: FindingKind) -> usize {
        self.findings.iter().filter(|f| f.kind == kind).count()
    }
}

/// A directory holding (or about to hold) a vendor/ tree.
#[derive(Debug, Clone)]
pub struct VendorTree {
    /// The directory that holds vendor/: a module's, or the go.work's.
    pub root: Utf8PathBuf,
    /// The go.work when `go work vendor` owns this tree.
    pub gowork: Option<GoWork>,
    /// Paths of the main modules (one, or every module of the workspace).
    pub modules: Vec<String>,
}

impl VendorTree {
    pub fn has_vendor(&self) -> bool {
        self.root.join("vendor/modules.txt").is_file()
    }
}

/// The vendor trees to work on. With a go.work in force: the workspace's tree when its directory
/// has vendor/, or when modules are named and none of them has a vendor/ of its own (so that
/// `go-vendor <module>` creates it with `go work vendor`). Otherwise: each named module, or with
/// no names each module that has vendor/.
pub fn vendor_trees(session: &Session, names: &[String]) -> Result<Vec<VendorTree>> {
    let set = &session.modules;
    let mut selected = Vec::new();
    for name in names {
        match set.find(&session.project.root, name) {
            Some(m) => selected.push(m),
            None => bail!(
                "no Go module `{name}` (known: {})",
                set.modules
                    .iter()
                    .map(|m| m.path.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
    let own_vendor =
        |m: &&crate::workspace::discovery::GoModule| m.dir.join("vendor/modules.txt").is_file();
    if let Some(file) = &set.gowork {
        let work = GoWork::read(file)?;
        let named_without = !selected.is_empty() && !selected.iter().any(own_vendor);
        if work.dir().join("vendor/modules.txt").is_file() || named_without {
            return Ok(vec![VendorTree {
                root: work.dir().to_owned(),
                modules: set.modules.iter().map(|m| m.path.clone()).collect(),
                gowork: Some(work),
            }]);
        }
    }
    let chosen: Vec<&crate::workspace::discovery::GoModule> = if names.is_empty() {
        set.modules.iter().filter(own_vendor).collect()
    } else {
        selected
    };
    Ok(chosen
        .into_iter()
        .map(|m| VendorTree {
            root: m.dir.clone(),
            gowork: None,
            modules: vec![m.path.clone()],
        })
        .collect())
}

/// The pinned environment for vendoring and downloads: the host platform, -mod=readonly.
/// Offline when the command's flags say so.
pub fn vendor_env(session: &Session, tree: &VendorTree) -> Result<PinnedEnv> {
    let host = platform::go_platform(platform::host_triple())?;
    let request = EnvRequest {
        platform: &host,
        cgo: session.project.config.cgo,
        mod_mode: ModMode::Readonly,
        gowork: tree.gowork.as_ref().map(|w| w.file.as_path()),
        offline: session.project.settings.offline,
    };
    Ok(PinnedEnv::new(
        &session.project,
        &session.toolchain,
        &request,
    ))
}

/// Regenerates each tree with `go mod vendor`, or `go work vendor` for a workspace tree.
pub fn generate(session: &Session, trees: &[VendorTree], reporter: &Reporter) -> Result<()> {
    for tree in trees {
        let env = vendor_env(session, tree)?;
        let sub = if tree.gowork.is_some() { "work" } else { "mod" };
        let shown = session.project.display_path(&tree.root);
        reporter.status("Vendoring", &format!("{shown} (go {sub} vendor)"));
        let spec = session
            .toolchain
            .go(&tree.root, &env.vars)
            .args([sub, "vendor"]);
        let out = toolchain::run(&spec)?;
        if !out.success() {
            bail!(
                "`go {sub} vendor` failed in {shown}:\n{}",
                out.stderr_str().trim_end()
            );
        }
        reporter.status(
            "Finished",
            &format!("{shown}/vendor in {}", human_duration(out.elapsed)),
        );
    }
    Ok(())
}

/// Checks every tree (changing nothing in the working tree) and lists cross-tree version skew.
pub fn check(session: &Session, trees: &[VendorTree], reporter: &Reporter) -> Result<VendorReport> {
    let mut report = VendorReport::default();
    let mut versions: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for tree in trees {
        let shown = session.project.display_path(&tree.root).to_string();
        let shown = if shown.is_empty() {
            ".".to_owned()
        } else {
            shown
        };
        reporter.status("Checking", &format!("{shown}/vendor"));
        let txt = check::check_tree(session, tree, &shown, reporter, &mut report)?;
        for m in txt.providing() {
            let version = match &m.replacement {
                Some(r) => format!("{} => {r}", m.key.version),
                None => m.key.version.clone(),
            };
            versions
                .entry(m.key.path.clone())
                .or_default()
                .entry(version)
                .or_default()
                .push(shown.clone());
        }
        report.trees.push(shown);
    }
    report.skew = versions
        .into_iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(module, versions)| VersionSkew { module, versions })
        .collect();
    Ok(report)
}
