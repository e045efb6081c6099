//! Completeness from the importing side: every package that the main modules' Go files (tests
//! included) or the vendored packages import from a vendored module must be listed in
//! modules.txt, as `go mod vendor` would list and copy it. Without this, a package missing from
//! both modules.txt and vendor/ (an import added without re-vendoring) would pass the check.

use std::collections::{BTreeMap, BTreeSet};

use camino::{Utf8Path, Utf8PathBuf};

use super::contents::VendorListing;
use super::modules_txt::ModulesTxt;
use super::FindingKind;
use crate::go::constraints::should_build_with_any_tags;
use crate::go::gosource::imports;

/// A package import that vendor/ cannot satisfy: (module, path, kind, detail) of a finding.
pub type UnlistedImport = (String, String, FindingKind, String);

/// go's `search.IsStandardImportPath`: no dot in the first path element.
fn is_standard(path: &str) -> bool {
    !path.split('/').next().unwrap_or("").contains('.')
}

/// The Go files of the main modules' packages that `go mod vendor` reads imports from: every
/// `.go` file (tests too) below each directory, except in vendor/, testdata/, `.`/`_`
/// directories and nested modules, and files no build tag selects.
pub fn main_module_files(dirs: &[Utf8PathBuf]) -> Vec<(Utf8PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for dir in dirs {
        let walk = walkdir::WalkDir::new(dir)
            .min_depth(1)
            .into_iter()
            .filter_entry(|e| {
                let Some(name) = e.file_name().to_str() else {
                    return false;
                };
                let skipped = name.starts_with('.') || name.starts_with('_');
                let nested_module = || e.path().join("go.mod").exists();
                !skipped
                    && !(e.file_type().is_dir()
                        && (name == "vendor" || name == "testdata" || nested_module()))
            });
        for entry in walk.flatten() {
            let Some(path) = Utf8Path::from_path(entry.path()) else {
                continue;
            };
            if entry.file_type().is_dir() || !path.as_str().ends_with(".go") {
                continue;
            }
            if let Ok(bytes) = std::fs::read(path) {
                if should_build_with_any_tags(&bytes) {
                    files.push((path.to_owned(), bytes));
                }
            }
        }
    }
    files
}

/// The imports of `importers` ((label, source)) that vendor/ cannot satisfy: a package of a
/// vendored module that modules.txt does not list and vendor/ does not hold, or a non-standard
/// package that no module provides (neither a main module in `main` nor one in modules.txt).
pub fn unlisted<'a>(
    importers: impl Iterator<Item = (String, &'a [u8])>,
    txt: &ModulesTxt,
    main: &[String],
    listing: &VendorListing,
) -> Vec<UnlistedImport> {
    let listed: BTreeMap<&str, BTreeSet<&str>> = txt
        .modules
        .iter()
        .filter(|m| !m.key.version.is_empty())
        .map(|m| {
            let packages = m.packages.iter().map(String::as_str).collect();
            (m.key.path.as_str(), packages)
        })
        .collect();
    let provider = |package: &str| -> Option<&str> {
        main.iter()
            .map(String::as_str)
            .chain(listed.keys().copied())
            .filter(|m| package == *m || package.starts_with(&format!("{m}/")))
            .max_by_key(|m| m.len())
    };
    // Each package once, named by its first importer (files in a sorted order).
    let mut first_importer: BTreeMap<String, String> = BTreeMap::new();
    let mut importers: Vec<(String, &[u8])> = importers.collect();
    importers.sort();
    for (label, src) in importers {
        for package in imports(src) {
            first_importer
                .entry(package)
                .or_insert_with(|| label.clone());
        }
    }
    let mut found = Vec::new();
    for (package, importer) in first_importer {
        match provider(&package) {
            Some(m) if main.iter().any(|p| p == m) => {}
            Some(m) => {
                let prefix = format!("{package}/");
                let on_disk = || {
                    // The first listed path at or after the prefix shares it, if any does.
                    listing
                        .entries
                        .range(prefix.clone()..)
                        .next()
                        .is_some_and(|(k, _)| k.starts_with(&prefix))
                };
                if !listed[m].contains(package.as_str()) && !on_disk() {
                    let version = txt.modules.iter().find(|v| v.key.path == m).map(|v| v.key.to_string());
                    found.push((
                        version.unwrap_or_else(|| m.to_owned()),
                        format!("vendor/{package}/"),
                        FindingKind::Missing,
                        format!("package {package} is imported by {importer}, but vendor/modules.txt does not list it and vendor/ does not hold it; go mod vendor would add it"),
                    ));
                }
            }
            None if is_standard(&package) => {}
            None => found.push((
                String::new(),
                "vendor/modules.txt".to_owned(),
                FindingKind::Inconsistent,
                format!("package {package} is imported by {importer}, but no module in vendor/modules.txt provides it; require its module (`go get`), then run `go mod vendor`"),
            )),
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_import_missing_from_modules_txt_and_vendor_is_found() {
        let txt = ModulesTxt::parse(
            "# example.com/beta v1.0.0\n## explicit\nexample.com/beta\n# example.com/gone v1.0.0\n## explicit\n",
        );
        let main = vec!["example.com/app".to_owned()];
        let mut listing = VendorListing::default();
        listing.entries.insert(
            "example.com/beta/beta.go".into(),
            super::super::contents::Entry::File,
        );
        let src = b"package main\nimport (\n\"fmt\"\n\"example.com/app/lib\"\n\"example.com/beta\"\n\"example.com/beta/sub\"\n\"example.com/nowhere/x\"\n)\n";
        let found = unlisted(
            [("main.go".to_owned(), &src[..])].into_iter(),
            &txt,
            &main,
            &listing,
        );
        let kinds: Vec<(&str, &FindingKind)> = found.iter().map(|f| (f.1.as_str(), &f.2)).collect();
        assert_eq!(
            kinds,
            [
                ("vendor/example.com/beta/sub/", &FindingKind::Missing),
                ("vendor/modules.txt", &FindingKind::Inconsistent),
            ]
        );
        assert_eq!(found[0].0, "example.com/beta@v1.0.0");
        assert!(
            found[1].3.contains("example.com/nowhere/x"),
            "{}",
            found[1].3
        );
    }
}
