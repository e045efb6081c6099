//! Checking one vendor tree: modules.txt against go.mod / go.work, each module's trusted contents
//! and the files go would write of it, then vendor/ file by file (`compare`) and the imports.

use std::collections::BTreeSet;
use std::sync::Mutex;

use anyhow::Result;
use camino::{Utf8Path, Utf8PathBuf};

use super::compare;
use super::consistency::{self, MainModules};
use super::contents::{self, VendorListing};
use super::expected::{self, ExpectedFile};
use super::imports;
use super::modules_txt::{ModulesTxt, VendoredModule};
use super::source::{self, ModuleFiles, ModuleSource, Origin};
use super::trust::{self, Trusted};
use super::{Finding, FindingKind, ModuleSummary, Unchecked, VendorReport, VendorTree};
use crate::go::gomod::GoMod;
use crate::session::Session;
use crate::util::report::Reporter;

/// What the phases of one tree's check share once vendor/ is listed.
pub(super) struct TreeCheck<'a> {
    pub(super) session: &'a Session,
    pub(super) tree: &'a VendorTree,
    /// The tree as findings name it (relative to the project root).
    pub(super) shown: &'a str,
    /// `<tree>/vendor`.
    pub(super) vendor: Utf8PathBuf,
    pub(super) listing: VendorListing,
    /// The packages modules.txt lists, of every module.
    pub(super) listed_dirs: BTreeSet<&'a str>,
}

/// One module of modules.txt as the check goes along.
pub(super) struct Module<'a> {
    pub(super) listed: &'a VendoredModule,
    /// Its trusted contents, once read.
    pub(super) source: Option<ModuleSource>,
    /// The files go would write for it (empty without `source`).
    pub(super) expected: Vec<ExpectedFile>,
    /// Why its contents could not be established: the check of it is incomplete.
    pub(super) unchecked: Option<String>,
    pub(super) summary: ModuleSummary,
}

impl Module<'_> {
    /// Each file go would write for the module, with the bytes it would write.
    pub(super) fn expected_bytes(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.source.iter().flat_map(|source| {
            self.expected.iter().map(|f| {
                (
                    f.vendor_path.as_str(),
                    source.files[&f.source_path].as_slice(),
                )
            })
        })
    }
}

/// The findings of one tree, in the order they are found.
pub(super) struct Findings<'a> {
    tree: &'a str,
    list: Vec<Finding>,
}

impl Findings<'_> {
    pub(super) fn push(&mut self, module: &str, path: &str, kind: FindingKind, detail: String) {
        self.list.push(Finding {
            tree: self.tree.to_owned(),
            module: module.to_owned(),
            path: path.to_owned(),
            kind,
            detail,
        });
    }
}

/// Checks `tree`, appending to `report`; returns its modules.txt for the cross-tree skew list.
pub(super) fn check_tree(
    session: &Session,
    tree: &VendorTree,
    shown: &str,
    reporter: &Reporter,
    report: &mut VendorReport,
) -> Result<ModulesTxt> {
    let vendor = tree.root.join("vendor");
    let txt = ModulesTxt::read(&vendor.join("modules.txt"))?;
    let mut findings = Findings {
        tree: shown,
        list: Vec::new(),
    };
    let gomods: Vec<GoMod> = tree
        .modules
        .iter()
        .filter_map(|p| session.module(p).map(|m| m.gomod.clone()))
        .collect();
    consistency_findings(tree, &gomods, &txt, &mut findings);
    let main_go = main_go_version(tree, &gomods);

    let listed: Vec<&VendoredModule> = txt.providing().collect();
    let trusted = trust::resolve(session, tree, shown, reporter, &gomods, &listed)?;
    for (m, t) in listed.iter().zip(&trusted.modules) {
        for (zip, detail) in &t.tampered {
            let module = m.key.to_string();
            findings.push(&module, zip.as_str(), FindingKind::Anomaly, detail.clone());
        }
    }
    let scratch = trusted.scratch.clone();
    let rules = expected::Rules {
        main_go: &main_go,
        cgo: session.project.config.cgo,
    };
    let (mut modules, listing) = load_modules(&vendor, &listed, trusted, rules, &mut findings)?;
    let check = TreeCheck {
        session,
        tree,
        shown,
        vendor,
        listing,
        listed_dirs: listed
            .iter()
            .flat_map(|m| m.packages.iter().map(String::as_str))
            .collect(),
    };
    compare::compare_files(&check, &mut modules, &mut findings, &mut report.excluded)?;
    compare::unclaimed_files(&check, &mut modules, &mut findings);
    import_findings(&check, &txt, &modules, &mut findings);
    nested_findings(&check.listing, &mut findings);

    for m in &mut modules {
        if let Some(reason) = m.unchecked.take() {
            report.unchecked.push(Unchecked {
                tree: shown.to_owned(),
                module: module_label(m.listed),
                detail: reason,
            });
        }
    }
    report.findings.extend(findings.list);
    report
        .modules
        .extend(modules.into_iter().map(|m| m.summary));
    let _ = scratch
        .exists()
        .then(|| source::remove_private_cache(&scratch));
    Ok(txt)
}

/// modules.txt against go.mod / go.work, and the lines of it that go ignores.
fn consistency_findings(
    tree: &VendorTree,
    gomods: &[GoMod],
    txt: &ModulesTxt,
    findings: &mut Findings<'_>,
) {
    let main = MainModules {
        root: &tree.root,
        gomods: gomods.iter().collect(),
        gowork: tree.gowork.as_ref(),
    };
    for problem in consistency::check(&main, txt) {
        findings.push(
            &problem.module,
            "vendor/modules.txt",
            FindingKind::Inconsistent,
            problem.message,
        );
    }
    for (line, text) in &txt.ignored {
        let detail = format!(
            "line {line} `{text}` is not a module, annotation or package line; go ignores it"
        );
        findings.push("", "vendor/modules.txt", FindingKind::Anomaly, detail);
    }
}

/// The main modules' go version (the go.work's in workspace mode), which decides what go
/// mod vendor copies.
fn main_go_version(tree: &VendorTree, gomods: &[GoMod]) -> String {
    match &tree.gowork {
        Some(w) => w.go.clone().unwrap_or_else(|| "1.18".into()),
        None => gomods
            .first()
            .and_then(|m| m.go.clone())
            .unwrap_or_else(|| "1.16".into()),
    }
}

/// A module's trusted contents, the files go would vendor of it, and the listed packages it lacks.
type LoadedModule = (ModuleSource, Vec<ExpectedFile>, Vec<String>);

/// Reads the trusted contents of every module (those of verified module cache directories were
/// read while hashing them) and works out what go would write of each, while another thread
/// lists vendor/. Findings: listed packages a module lacks, `## go` annotations its go.mod
/// contradicts.
fn load_modules<'a>(
    vendor: &Utf8Path,
    listed: &[&'a VendoredModule],
    mut trusted: Trusted,
    rules: expected::Rules<'_>,
    findings: &mut Findings<'_>,
) -> Result<(Vec<Module<'a>>, VendorListing)> {
    let origins: Vec<Option<Origin>> = trusted
        .modules
        .iter_mut()
        .map(|t| t.origin.take())
        .collect();
    let preloaded = Mutex::new(
        trusted
            .modules
            .iter_mut()
            .map(|t| t.preloaded.take())
            .collect::<Vec<_>>(),
    );
    let (loaded, listing) = std::thread::scope(|scope| {
        let listing = scope.spawn(|| contents::list_vendor(vendor));
        let loaded: Vec<Option<Result<LoadedModule>>> =
            crate::util::par::io_map(&(0..listed.len()).collect::<Vec<_>>(), |&i| {
                let origin = origins[i].clone()?;
                let m = listed[i];
                let files = read_trusted(m, &origin, || {
                    preloaded.lock().unwrap()[i].take().unwrap_or_default()
                });
                Some(files.map(|files| {
                    let (expected, absent) =
                        expected::expected_files(&m.key.path, &m.packages, &files.files, rules);
                    (
                        ModuleSource {
                            origin,
                            files: files.files,
                            names: files.names,
                        },
                        expected,
                        absent,
                    )
                }))
            });
        (
            loaded,
            listing.join().expect("the vendor listing thread panicked"),
        )
    });
    let listing = listing?;
    let mut modules = Vec::with_capacity(listed.len());
    for ((&m, result), t) in listed.iter().zip(loaded).zip(trusted.modules) {
        let mut module = Module {
            listed: m,
            source: None,
            expected: Vec::new(),
            unchecked: t.unchecked,
            summary: ModuleSummary {
                tree: findings.tree.to_owned(),
                module: module_label(m),
                ..Default::default()
            },
        };
        match result {
            Some(Ok((source, expected, absent))) => {
                loaded_findings(m, &source, &absent, findings);
                module.source = Some(source);
                module.expected = expected;
            }
            Some(Err(e)) => module.unchecked = Some(format!("{e:#}")),
            None => {}
        }
        modules.push(module);
    }
    Ok((modules, listing))
}

/// The files of `m` that vendoring can need, from `origin` (`preloaded` gives those of a
/// verified module cache directory).
fn read_trusted(
    m: &VendoredModule,
    origin: &Origin,
    preloaded: impl FnOnce() -> ModuleFiles,
) -> Result<ModuleFiles> {
    let dirs = &expected::package_dirs(m);
    match origin {
        Origin::CacheDir(_) => Ok(preloaded()),
        Origin::Dir(dir) => source::read_dir_tree(dir, dirs),
        Origin::Zip { zip, .. } => {
            let (p, v) = match &m.replacement {
                Some(r) => (r.path.as_str(), r.version.as_str()),
                None => (m.key.path.as_str(), m.key.version.as_str()),
            };
            source::read_zip(zip, &format!("{p}@{v}"), dirs)
        }
    }
}

/// What modules.txt says of a module that its trusted contents contradict: listed packages it
/// lacks, and a `## go` annotation its go.mod disagrees with.
fn loaded_findings(
    m: &VendoredModule,
    source: &ModuleSource,
    absent: &[String],
    findings: &mut Findings<'_>,
) {
    for package in absent {
        let detail = format!(
            "package {package} is listed in vendor/modules.txt, but {} has no such package",
            m.key
        );
        findings.push(
            &m.key.to_string(),
            "vendor/modules.txt",
            FindingKind::Anomaly,
            detail,
        );
    }
    if let (Some(listed), Some(own)) = (&m.go_version, source.go_version()) {
        if *listed != own {
            let detail = format!(
                "{}: is marked as go {listed} in vendor/modules.txt, but its go.mod says go {own}",
                m.key
            );
            findings.push(
                &m.key.to_string(),
                "vendor/modules.txt",
                FindingKind::Inconsistent,
                detail,
            );
        }
    }
}

/// Packages imported (by the main modules, tests included, or by vendored packages) that
/// neither modules.txt nor vendor/ has.
fn import_findings(
    check: &TreeCheck<'_>,
    txt: &ModulesTxt,
    modules: &[Module<'_>],
    findings: &mut Findings<'_>,
) {
    let session = check.session;
    let main_dirs: Vec<_> = check
        .tree
        .modules
        .iter()
        .filter_map(|p| session.module(p).map(|m| m.dir.clone()))
        .collect();
    let main_files = imports::main_module_files(&main_dirs);
    let mains = main_files.iter().map(|(path, src)| {
        (
            session.project.display_path(path).to_string(),
            src.as_slice(),
        )
    });
    let deps = modules
        .iter()
        .filter_map(|m| m.source.as_ref().map(|s| (m, s)))
        .flat_map(|(m, source)| {
            m.expected
                .iter()
                .filter(|f| f.vendor_path.ends_with(".go") && !f.vendor_path.ends_with("_test.go"))
                .filter_map(move |f| {
                    let src = source.files.get(&f.source_path)?;
                    Some((format!("vendor/{}", f.vendor_path), src.as_slice()))
                })
        });
    for (module, path, kind, detail) in
        imports::unlisted(mains.chain(deps), txt, &check.tree.modules, &check.listing)
    {
        findings.push(&module, &path, kind, detail);
    }
}

/// Nested vendor/ and .git directories: go mod vendor never writes one.
fn nested_findings(listing: &VendorListing, findings: &mut Findings<'_>) {
    for (dir, files) in &listing.nested {
        let what = if dir.ends_with(".git") {
            "a .git directory"
        } else {
            "a nested vendor/ directory"
        };
        let detail = format!("{what} with {files} file(s); go mod vendor never writes one");
        findings.push("", &format!("vendor/{dir}/"), FindingKind::Anomaly, detail);
    }
}

/// How reports name a module: `path@version`, with any `=> replacement`.
pub(super) fn module_label(m: &VendoredModule) -> String {
    match &m.replacement {
        Some(r) => format!("{} => {r}", m.key),
        None => m.key.to_string(),
    }
}
