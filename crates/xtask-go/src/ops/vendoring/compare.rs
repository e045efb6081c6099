//! vendor/ file by file against what `go mod vendor` would write: the files that differ, are
//! missing (or excluded by the repository's own ignore rules) or are not regular, then the files
//! go would not write; counted in each module's summary.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};

use super::check::{module_label, Findings, Module, TreeCheck};
use super::contents::{self, Comparison, Entry};
use super::{FindingKind, RepoExcluded};
use crate::workspace::repo_ignore::RepoIgnore;

/// Compares every file go would write with vendor/; an excluded file goes to `excluded`, not to
/// the findings.
pub(super) fn compare_files(
    check: &TreeCheck<'_>,
    modules: &mut [Module<'_>],
    findings: &mut Findings<'_>,
    excluded: &mut Vec<RepoExcluded>,
) -> Result<()> {
    let compared = {
        let pairs: Vec<(&str, &[u8])> = modules.iter().flat_map(Module::expected_bytes).collect();
        contents::compare_all(&check.vendor, &check.listing, &pairs)
    };
    let mut compared = compared.into_iter();
    let mut missing = MissingFiles {
        check,
        rules: None,
        gone_reported: BTreeSet::new(),
    };
    for m in modules.iter_mut() {
        let Some(source) = &m.source else { continue };
        let origin = source.origin.describe();
        let label = module_label(m.listed);
        for f in &m.expected {
            let result = compared
                .next()
                .expect("a comparison for every expected file");
            let vp = &f.vendor_path;
            let s = &mut m.summary;
            let bytes = source.files[&f.source_path].len() as u64;
            s.files += 1;
            s.bytes += bytes;
            s.non_go += usize::from(!vp.ends_with(".go"));
            let path = format!("vendor/{vp}");
            match result.with_context(|| format!("comparing {path}"))? {
                Comparison::Same => {}
                Comparison::Modified { disk_size } => {
                    s.modified += 1;
                    let size = if disk_size == bytes {
                        "same size".to_owned()
                    } else {
                        format!("{disk_size} bytes, expected {bytes}")
                    };
                    findings.push(
                        &label,
                        &path,
                        FindingKind::Modified,
                        format!("content differs from {origin} ({size})"),
                    );
                }
                Comparison::Missing => {
                    if let Some(rule) = missing.excluded(vp, &label, &path) {
                        excluded.push(rule);
                    } else {
                        s.missing += 1;
                        missing.report(vp, &label, &path, &origin, findings);
                    }
                }
                Comparison::NotRegular(entry) => {
                    s.modified += 1;
                    findings.push(
                        &label,
                        &path,
                        FindingKind::Anomaly,
                        describe_irregular(&entry),
                    );
                }
            }
        }
    }
    Ok(())
}

/// Files go would write that vendor/ lacks.
struct MissingFiles<'c, 'a> {
    check: &'c TreeCheck<'a>,
    /// The repository's ignore rules, read at the first missing file.
    rules: Option<RepoIgnore>,
    /// Listed packages whose directory is gone, reported once each.
    gone_reported: BTreeSet<String>,
}

impl MissingFiles<'_, '_> {
    /// The repository's rule excluding `vendor/<vp>` (git never holds it), if one does.
    fn excluded(&mut self, vp: &str, label: &str, path: &str) -> Option<RepoExcluded> {
        let check = self.check;
        let rules = self.rules.get_or_insert_with(|| {
            RepoIgnore::for_dir(&check.tree.root, &check.session.project.root)
        });
        let rule = rules.excluded(&check.vendor.join(vp))?;
        Some(RepoExcluded {
            tree: check.shown.to_owned(),
            module: label.to_owned(),
            path: path.to_owned(),
            detail: rule.describe(),
            ignore_file: rule.file,
            rule: rule.rule,
        })
    }

    /// A missing file, or (once) the listed package whose whole directory is gone.
    fn report(
        &mut self,
        vp: &str,
        label: &str,
        path: &str,
        origin: &str,
        findings: &mut Findings<'_>,
    ) {
        let dir = vp.rsplit_once('/').map_or("", |(d, _)| d);
        let gone = self.check.listed_dirs.contains(dir)
            && !self
                .check
                .listing
                .entries
                .keys()
                .any(|k| k.starts_with(&format!("{dir}/")));
        if gone {
            if self.gone_reported.insert(dir.to_owned()) {
                let detail = format!(
                    "package {dir} is listed in vendor/modules.txt, but its directory is not vendored"
                );
                findings.push(
                    label,
                    &format!("vendor/{dir}/"),
                    FindingKind::Missing,
                    detail,
                );
            }
        } else {
            findings.push(
                label,
                path,
                FindingKind::Missing,
                format!("go mod vendor would copy it from {origin}"),
            );
        }
    }
}

/// The files under vendor/ that go would not write (but for those of a module reported as not
/// checked), then each directory of Go files in no package modules.txt lists.
pub(super) fn unclaimed_files(
    check: &TreeCheck<'_>,
    modules: &mut [Module<'_>],
    findings: &mut Findings<'_>,
) {
    let claimed: BTreeSet<String> = modules
        .iter()
        .flat_map(|m| m.expected.iter().map(|f| f.vendor_path.clone()))
        .collect();
    let mut unlisted_dirs: BTreeMap<String, usize> = BTreeMap::new();
    for (rel, entry) in &check.listing.entries {
        if claimed.contains(rel) {
            continue;
        }
        let owner = modules
            .iter()
            .enumerate()
            .filter(|(_, m)| rel.starts_with(&format!("{}/", m.listed.key.path)))
            .max_by_key(|(_, m)| m.listed.key.path.len())
            .map(|(i, _)| i);
        if owner.is_some_and(|i| modules[i].unchecked.is_some()) {
            continue; // its module is reported as not checked
        }
        let label = owner
            .map(|i| module_label(modules[i].listed))
            .unwrap_or_default();
        if let Some(i) = owner {
            modules[i].summary.extra += 1;
        }
        let owner = owner.map(|i| &modules[i]);
        let (kind, detail) = unclaimed(check, rel, entry, owner, &mut unlisted_dirs);
        findings.push(&label, &format!("vendor/{rel}"), kind, detail);
    }
    for (dir, count) in unlisted_dirs {
        let detail = format!(
            "vendor/{dir} holds {count} Go file(s) of package {dir}, which vendor/modules.txt does not list \
             (go builds it anyway, as a package of no module)"
        );
        findings.push("", "vendor/modules.txt", FindingKind::Inconsistent, detail);
    }
}

/// Why go would not write `vendor/<rel>`, owned by `owner`; a Go file of a module in no listed
/// package is counted in `unlisted_dirs`.
fn unclaimed(
    check: &TreeCheck<'_>,
    rel: &str,
    entry: &Entry,
    owner: Option<&Module<'_>>,
    unlisted_dirs: &mut BTreeMap<String, usize>,
) -> (FindingKind, String) {
    let listed_dirs = &check.listed_dirs;
    let (name, dir) = match rel.rsplit_once('/') {
        Some((d, n)) => (n, d),
        None => (rel, ""),
    };
    match entry {
        Entry::Symlink { .. } | Entry::Special => (FindingKind::Anomaly, describe_irregular(entry)),
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
            if owner.is_some() && name.ends_with(".go") {
                *unlisted_dirs.entry(dir.to_owned()).or_default() += 1;
            }
            (
                FindingKind::Extra,
                "not in any package listed in vendor/modules.txt".to_owned(),
            )
        }
        _ => {
            let detail = match owner.and_then(|m| m.source.as_ref().map(|s| (m, s))) {
                Some((m, s)) => {
                    let rel_in_module = rel
                        .strip_prefix(&format!("{}/", m.listed.key.path))
                        .unwrap_or(rel);
                    if s.names.contains(rel_in_module) {
                        "in the module, but go mod vendor leaves it out (build-ignored or not a package file)".to_owned()
                    } else {
                        format!("not in {}", s.origin.describe())
                    }
                }
                None => "not a file go mod vendor would write".to_owned(),
            };
            (FindingKind::Extra, detail)
        }
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
