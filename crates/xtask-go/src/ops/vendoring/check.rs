//! Checking one vendor tree: consistency, trusted module contents, then every file.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};

use super::consistency::{self, MainModules};
use super::contents::{self, Comparison, Entry};
use super::expected;
use super::imports;
use super::modules_txt::{ModulesTxt, VendoredModule};
use super::repo_ignore::RepoIgnore;
use super::source::{self, ModuleSource, Origin};
use super::trust;
use super::{
    Finding, FindingKind, ModuleSummary, RepoExcluded, Unchecked, VendorReport, VendorTree,
};
use crate::go::gomod::GoMod;
use crate::session::Session;
use crate::util::report::Reporter;

/// Checks `tree`, appending to `report`; returns its modules.txt for the cross-tree skew list.
pub(super) fn check_tree(
    session: &Session,
    tree: &VendorTree,
    shown: &str,
    offline: bool,
    reporter: &Reporter,
    report: &mut VendorReport,
) -> Result<ModulesTxt> {
    let vendor = tree.root.join("vendor");
    let txt = ModulesTxt::read(&vendor.join("modules.txt"))?;
    let finding = |module: &str, path: &str, kind: FindingKind, detail: String| Finding {
        tree: shown.to_owned(),
        module: module.to_owned(),
        path: path.to_owned(),
        kind,
        detail,
    };
    let mut findings = Vec::new();

    // 1. modules.txt against go.mod / go.work.
    let gomods: Vec<GoMod> = tree
        .modules
        .iter()
        .filter_map(|p| session.module(p).map(|m| m.gomod.clone()))
        .collect();
    let main = MainModules {
        root: &tree.root,
        gomods: gomods.iter().collect(),
        gowork: tree.gowork.as_ref(),
    };
    for problem in consistency::check(&main, &txt) {
        findings.push(finding(
            &problem.module,
            "vendor/modules.txt",
            FindingKind::Inconsistent,
            problem.message,
        ));
    }
    for (line, text) in &txt.ignored {
        let detail = format!(
            "line {line} `{text}` is not a module, annotation or package line; go ignores it"
        );
        findings.push(finding(
            "",
            "vendor/modules.txt",
            FindingKind::Anomaly,
            detail,
        ));
    }
    let main_go = match &tree.gowork {
        Some(w) => w.go.clone().unwrap_or_else(|| "1.18".into()),
        None => gomods
            .first()
            .and_then(|m| m.go.clone())
            .unwrap_or_else(|| "1.16".into()),
    };

    // 2. Trusted contents.
    let modules: Vec<&VendoredModule> = txt.providing().collect();
    let trusted = trust::resolve(session, tree, shown, offline, reporter, &gomods, &modules)?;
    for (i, zip, detail) in &trusted.tampered {
        let module = modules[*i].key.to_string();
        findings.push(finding(
            &module,
            zip.as_str(),
            FindingKind::Anomaly,
            detail.clone(),
        ));
    }
    let preloaded = std::sync::Mutex::new(trusted.preloaded);
    let (origins, mut unchecked, scratch) = (trusted.origins, trusted.unchecked, trusted.scratch);

    // 3. Read the trusted contents (those of verified module cache directories were read while
    // hashing them) and work out what go would write, while another thread lists vendor/.
    let (loaded, listing) = std::thread::scope(|scope| {
        let listing = scope.spawn(|| contents::list_vendor(&vendor));
        let loaded: Vec<Option<Result<LoadedModule>>> =
            contents::par_map(&(0..modules.len()).collect::<Vec<_>>(), |&i| {
                let origin = origins[i].clone()?;
                let m = modules[i];
                let dirs = &expected::package_dirs(m);
                let files = match &origin {
                    Origin::CacheDir(_) => {
                        Ok(preloaded.lock().unwrap()[i].take().unwrap_or_default())
                    }
                    Origin::Dir(dir) => source::read_dir_tree(dir, dirs),
                    Origin::Zip { zip, .. } => {
                        let (p, v) = match &m.replacement {
                            Some(r) => (r.path.as_str(), r.version.as_str()),
                            None => (m.key.path.as_str(), m.key.version.as_str()),
                        };
                        source::read_zip(zip, &format!("{p}@{v}"), dirs)
                    }
                };
                Some(files.map(|files| {
                    let (expected, absent) =
                        expected::expected_files(&m.key.path, &m.packages, &files, &main_go);
                    (ModuleSource { origin, files }, expected, absent)
                }))
            });
        (
            loaded,
            listing.join().expect("the vendor listing thread panicked"),
        )
    });
    let listing = listing?;
    let mut claimed: BTreeMap<String, usize> = BTreeMap::new();
    let mut expected_all: Vec<(usize, String, String)> = Vec::new();
    let mut sources: Vec<Option<ModuleSource>> = Vec::new();
    for (i, result) in loaded.into_iter().enumerate() {
        let m = modules[i];
        let (source, files, absent) = match result {
            Some(Ok(loaded)) => loaded,
            Some(Err(e)) => {
                unchecked.insert(i, format!("{e:#}"));
                sources.push(None);
                continue;
            }
            None => {
                sources.push(None);
                continue;
            }
        };
        for package in absent {
            let detail = format!(
                "package {package} is listed in vendor/modules.txt, but {} has no such package",
                m.key
            );
            findings.push(finding(
                &m.key.to_string(),
                "vendor/modules.txt",
                FindingKind::Anomaly,
                detail,
            ));
        }
        if let (Some(listed), Some(own)) = (&m.go_version, source.go_version()) {
            if *listed != own {
                let detail = format!("{}: is marked as go {listed} in vendor/modules.txt, but its go.mod says go {own}", m.key);
                findings.push(finding(
                    &m.key.to_string(),
                    "vendor/modules.txt",
                    FindingKind::Inconsistent,
                    detail,
                ));
            }
        }
        for f in files {
            claimed.insert(f.vendor_path.clone(), i);
            expected_all.push((i, f.vendor_path, f.source_path));
        }
        sources.push(Some(source));
    }

    // 4. File by file.
    let pairs: Vec<(&str, &[u8])> = expected_all
        .iter()
        .map(|(i, vp, sp)| {
            (
                vp.as_str(),
                sources[*i].as_ref().expect("loaded").files[sp].as_slice(),
            )
        })
        .collect();
    let compared = contents::compare_all(&vendor, &listing, &pairs);
    let mut summaries: Vec<ModuleSummary> = modules
        .iter()
        .map(|m| ModuleSummary {
            tree: shown.to_owned(),
            module: module_label(m),
            ..Default::default()
        })
        .collect();
    let listed_dirs: BTreeSet<&str> = modules
        .iter()
        .flat_map(|m| m.packages.iter().map(String::as_str))
        .collect();
    let mut missing_pkg_reported = BTreeSet::new();
    let mut repo_rules: Option<RepoIgnore> = None;
    for (((i, vp, _), (_, want)), result) in expected_all.iter().zip(&pairs).zip(compared) {
        let m = &modules[*i];
        let s = &mut summaries[*i];
        let bytes = want.len() as u64;
        s.files += 1;
        s.bytes += bytes;
        s.non_go += usize::from(!vp.ends_with(".go"));
        let origin = sources[*i].as_ref().expect("loaded").origin.describe();
        let path = format!("vendor/{vp}");
        let label = module_label(m);
        match result.with_context(|| format!("comparing {path}"))? {
            Comparison::Same => {}
            Comparison::Modified { disk_size } => {
                s.modified += 1;
                let size = if disk_size == bytes {
                    "same size".to_owned()
                } else {
                    format!("{disk_size} bytes, expected {bytes}")
                };
                findings.push(finding(
                    &label,
                    &path,
                    FindingKind::Modified,
                    format!("content differs from {origin} ({size})"),
                ));
            }
            Comparison::Missing => {
                let rules = repo_rules
                    .get_or_insert_with(|| RepoIgnore::for_dir(&tree.root, &session.project.root));
                if let Some(rule) = rules.excluded(&vendor.join(vp)) {
                    report.excluded.push(RepoExcluded {
                        tree: shown.to_owned(),
                        module: label,
                        path,
                        detail: rule.describe(),
                        ignore_file: rule.file,
                        rule: rule.rule,
                    });
                    continue;
                }
                s.missing += 1;
                let dir = vp.rsplit_once('/').map_or("", |(d, _)| d);
                let gone = listed_dirs.contains(dir)
                    && !listing
                        .entries
                        .keys()
                        .any(|k| k.starts_with(&format!("{dir}/")));
                if gone {
                    if missing_pkg_reported.insert(dir.to_owned()) {
                        let detail = format!("package {dir} is listed in vendor/modules.txt, but its directory is not vendored");
                        findings.push(finding(
                            &label,
                            &format!("vendor/{dir}/"),
                            FindingKind::Missing,
                            detail,
                        ));
                    }
                } else {
                    findings.push(finding(
                        &label,
                        &path,
                        FindingKind::Missing,
                        format!("go mod vendor would copy it from {origin}"),
                    ));
                }
            }
            Comparison::NotRegular(entry) => {
                s.modified += 1;
                findings.push(finding(
                    &label,
                    &path,
                    FindingKind::Anomaly,
                    describe_irregular(&entry),
                ));
            }
        }
    }

    // 5. What go would not write.
    let mut unlisted_dirs: BTreeMap<String, usize> = BTreeMap::new();
    for (rel, entry) in &listing.entries {
        if claimed.contains_key(rel) {
            continue;
        }
        let owner = modules
            .iter()
            .enumerate()
            .filter(|(_, m)| rel.starts_with(&format!("{}/", m.key.path)))
            .max_by_key(|(_, m)| m.key.path.len())
            .map(|(i, _)| i);
        if owner.is_some_and(|i| unchecked.contains_key(&i)) {
            continue; // its module is reported as not checked
        }
        let label = owner.map(|i| module_label(modules[i])).unwrap_or_default();
        if let Some(i) = owner {
            summaries[i].extra += 1;
        }
        let path = format!("vendor/{rel}");
        let (name, dir) = match rel.rsplit_once('/') {
            Some((d, n)) => (n, d),
            None => (rel.as_str(), ""),
        };
        let (kind, detail) = match entry {
            Entry::Symlink { .. } | Entry::Special => {
                (FindingKind::Anomaly, describe_irregular(entry))
            }
            _ if name.ends_with("_test.go") => (
                FindingKind::Extra,
                "a test file: go mod vendor never copies *_test.go files".to_owned(),
            ),
            _ if name == "go.mod" || name == "go.sum" => (
                FindingKind::Extra,
                format!("go mod vendor does not copy {name} files (go 1.17 and later)"),
            ),
            _ if !listed_dirs.contains(dir)
                && !listed_dirs
                    .iter()
                    .any(|p| p.starts_with(&format!("{dir}/"))) =>
            {
                if let (Some(i), true) = (owner, name.ends_with(".go")) {
                    *unlisted_dirs.entry(dir.to_owned()).or_default() += 1;
                    let _ = i;
                }
                (
                    FindingKind::Extra,
                    "not in any package listed in vendor/modules.txt".to_owned(),
                )
            }
            _ => {
                let detail = match owner.and_then(|i| sources[i].as_ref().map(|s| (i, s))) {
                    Some((i, s)) => {
                        let rel_in_module = rel
                            .strip_prefix(&format!("{}/", modules[i].key.path))
                            .unwrap_or(rel);
                        if s.files.contains_key(rel_in_module) {
                            "in the module, but go mod vendor leaves it out (build-ignored or not a package file)".to_owned()
                        } else {
                            format!("not in {}", s.origin.describe())
                        }
                    }
                    None => "not a file go mod vendor would write".to_owned(),
                };
                (FindingKind::Extra, detail)
            }
        };
        findings.push(finding(&label, &path, kind, detail));
    }
    for (dir, count) in unlisted_dirs {
        let detail = format!(
            "vendor/{dir} holds {count} Go file(s) of package {dir}, which vendor/modules.txt does not list \
             (go builds it anyway, as a package of no module)"
        );
        findings.push(finding(
            "",
            "vendor/modules.txt",
            FindingKind::Inconsistent,
            detail,
        ));
    }
    // 6. Packages imported (by the main modules, tests included, or by vendored packages) that
    // neither modules.txt nor vendor/ has.
    let main_dirs: Vec<_> = tree
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
    let deps = expected_all
        .iter()
        .filter(|(_, vp, _)| vp.ends_with(".go") && !vp.ends_with("_test.go"))
        .filter_map(|(i, vp, sp)| {
            let src = sources[*i].as_ref()?.files.get(sp)?;
            Some((format!("vendor/{vp}"), src.as_slice()))
        });
    for (module, path, kind, detail) in
        imports::unlisted(mains.chain(deps), &txt, &tree.modules, &listing)
    {
        findings.push(finding(&module, &path, kind, detail));
    }
    for (dir, files) in &listing.nested {
        let what = if dir.ends_with(".git") {
            "a .git directory"
        } else {
            "a nested vendor/ directory"
        };
        let detail = format!("{what} with {files} file(s); go mod vendor never writes one");
        findings.push(finding(
            "",
            &format!("vendor/{dir}/"),
            FindingKind::Anomaly,
            detail,
        ));
    }

    for (i, reason) in unchecked {
        report.unchecked.push(Unchecked {
            tree: shown.to_owned(),
            module: module_label(modules[i]),
            detail: reason,
        });
    }
    report.findings.extend(findings);
    report.modules.extend(summaries);
    let _ = scratch
        .exists()
        .then(|| source::remove_private_cache(&scratch));
    Ok(txt)
}

/// A module's trusted contents, the files go would vendor of it, and the listed packages it lacks.
type LoadedModule = (ModuleSource, Vec<expected::ExpectedFile>, Vec<String>);

fn module_label(m: &VendoredModule) -> String {
    match &m.replacement {
        Some(r) => format!("{} => {r}", m.key),
        None => m.key.to_string(),
    }
}

fn describe_irregular(entry: &Entry) -> String {
    match entry {
        Entry::Symlink {
            target,
            outside: true,
        } => {
            format!("a symlink pointing outside the vendor tree (to {target}); go mod vendor only writes regular files")
        }
        Entry::Symlink { target, .. } => {
            format!("a symlink (to {target}); go mod vendor only writes regular files")
        }
        _ => "not a regular file (a FIFO, socket or device)".to_owned(),
    }
}
