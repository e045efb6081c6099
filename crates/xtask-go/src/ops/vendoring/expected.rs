//! The set of files `go mod vendor` writes for one module, computed from the module's files
//! by go's own rules (cmd/go/internal/modcmd/vendor.go), without running go:
//! every regular file directly in a listed package's directory except `*_test.go`, go.mod/go.sum
//! (main module go >= 1.17) and `.go` files no build tags can select (`//go:build ignore`);
//! LICENSE-like files of the parent directories up to the module root; embed targets (see
//! `embeds`). Also which of a module's files vendoring reads at all: the package directories'
//! files, go.mod and LICENSE-like files, then what their embed patterns can name.

use std::collections::{BTreeMap, BTreeSet};

use super::embeds::{embed_patterns, embeds_count, resolve_embeds};
use crate::go::constraints::should_build_with_any_tags;
use crate::host::toolchain::compare_go_versions;

/// What, besides a module's files, decides what `go mod vendor` writes of it.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    /// The main modules' go version (the go.work's in workspace mode).
    pub main_go: &'a str,
    /// Whether go runs with CGO_ENABLED=1: only then do cgo files' `//go:embed` lines count
    /// (vendoring reads embeds through go/build's default context, which skips cgo files
    /// when cgo is off).
    pub cgo: bool,
}

/// Metadata file prefixes go copies from the parents of a package dir (`metaPrefixes`).
pub const META_PREFIXES: &[&str] = &[
    "AUTHORS",
    "CONTRIBUTORS",
    "COPYLEFT",
    "COPYING",
    "COPYRIGHT",
    "LEGAL",
    "LICENSE",
    "NOTICE",
    "PATENTS",
];

/// One file `go mod vendor` would write: `vendor/<vendor_path>` copied from `<module>/<source_path>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ExpectedFile {
    pub vendor_path: String,
    pub source_path: String,
}

/// The package's directory inside its module (`""` for the module root), if it is in the module.
pub fn package_dir<'a>(module_path: &str, package: &'a str) -> Option<&'a str> {
    if package == module_path {
        return Some("");
    }
    package
        .strip_prefix(module_path)
        .and_then(|rest| rest.strip_prefix('/'))
}

/// The module-relative directories of the packages modules.txt lists for `m`.
pub fn package_dirs(m: &super::modules_txt::VendoredModule) -> BTreeSet<String> {
    m.packages
        .iter()
        .filter_map(|p| package_dir(&m.key.path, p))
        .map(str::to_owned)
        .collect()
}

fn parent(rel: &str) -> &str {
    rel.rfind('/').map_or("", |i| &rel[..i])
}

fn base(rel: &str) -> &str {
    rel.rfind('/').map_or(rel, |i| &rel[i + 1..])
}

fn is_metadata(name: &str) -> bool {
    META_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Whether `rel` is below (or in) a listed package directory, go.mod or a LICENSE-like file:
/// the most a module's files that vendoring can need (embed targets are below packages).
pub fn may_be_needed(rel: &str, package_dirs: &BTreeSet<String>) -> bool {
    if rel == "go.mod" || is_metadata(base(rel)) {
        return true;
    }
    let mut dir = parent(rel);
    loop {
        if package_dirs.contains(dir) {
            return true;
        }
        if dir.is_empty() {
            return false;
        }
        dir = parent(dir);
    }
}

/// Whether vendoring `package_dirs` reads `rel` before it knows the embeds: go.mod, a
/// LICENSE-like file, a file directly in a listed package directory.
pub fn directly_needed(rel: &str, package_dirs: &BTreeSet<String>) -> bool {
    rel == "go.mod" || is_metadata(base(rel)) || package_dirs.contains(parent(rel))
}

/// Of `names` (every file of a module), those that the `//go:embed` patterns of the Go files
/// in `direct` (the `directly_needed` files, read) can name, but for those already read: every
/// pattern of every Go file of a listed package counts, a superset of what go embeds.
pub fn embed_candidates(
    names: &BTreeSet<String>,
    package_dirs: &BTreeSet<String>,
    direct: &BTreeMap<String, Vec<u8>>,
) -> BTreeSet<String> {
    let mut patterns: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (rel, content) in direct {
        if rel.ends_with(".go") && package_dirs.contains(parent(rel)) {
            let found = embed_patterns(content);
            if !found.is_empty() {
                patterns.entry(parent(rel)).or_default().extend(found);
            }
        }
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    patterns
        .iter()
        .flat_map(|(dir, patterns)| resolve_embeds(dir, patterns, &names))
        .filter(|rel| !direct.contains_key(rel))
        .collect()
}

/// The files `go mod vendor` writes for `packages` of `module_path`, given the module's files
/// (module-relative, slash-separated). Also returns the listed packages the module lacks.
pub fn expected_files(
    module_path: &str,
    packages: &[String],
    files: &BTreeMap<String, Vec<u8>>,
    rules: Rules<'_>,
) -> (Vec<ExpectedFile>, Vec<String>) {
    let strip_go_mod = compare_go_versions(rules.main_go, "1.17").is_ge();
    let test_embeds = compare_go_versions(rules.main_go, "1.22").is_lt();
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let mut absent = Vec::new();
    for package in packages {
        let Some(dir) = package_dir(module_path, package) else {
            absent.push(package.clone());
            continue;
        };
        let in_dir: Vec<(&String, &Vec<u8>)> =
            files.iter().filter(|(rel, _)| parent(rel) == dir).collect();
        if in_dir.is_empty() {
            absent.push(package.clone());
            continue;
        }
        let mut patterns = Vec::new();
        for (rel, content) in &in_dir {
            let name = base(rel);
            let is_go = name.ends_with(".go");
            if is_go && embeds_count(name, content, test_embeds, rules.cgo) {
                patterns.extend(embed_patterns(content));
            }
            if name.ends_with("_test.go")
                || (strip_go_mod && (name == "go.mod" || name == "go.sum"))
                || (is_go && !should_build_with_any_tags(content))
            {
                continue;
            }
            out.insert(format!("{package}/{name}"), (*rel).clone());
        }
        // Metadata files of the parent directories, up to the module root.
        let (mut pkg, mut d) = (package.as_str(), dir);
        while pkg != module_path && !d.is_empty() {
            pkg = parent(pkg);
            d = parent(d);
            for (rel, _) in files.iter().filter(|(rel, _)| parent(rel) == d) {
                if is_metadata(base(rel)) {
                    out.insert(format!("{pkg}/{}", base(rel)), rel.clone());
                }
            }
        }
        let names: Vec<&str> = files.keys().map(String::as_str).collect();
        for rel in resolve_embeds(dir, &patterns, &names) {
            let below = if dir.is_empty() {
                rel.as_str()
            } else {
                &rel[dir.len() + 1..]
            };
            out.entry(format!("{package}/{below}")).or_insert(rel);
        }
    }
    let expected = out
        .into_iter()
        .map(|(vendor_path, source_path)| ExpectedFile {
            vendor_path,
            source_path,
        })
        .collect();
    (expected, absent)
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_read_is_the_package_files_then_what_their_embeds_name() {
        let dirs: BTreeSet<String> = ["".to_owned(), "sub".to_owned()].into();
        let names: BTreeSet<String> = [
            "go.mod",
            "a.go",
            "LICENSE",
            "sub/b.go",
            "sub/testdata/t.txt",
            "data/x.txt",
            "data/.h",
            "other/NOTICE",
            "other/o.go",
        ]
        .map(str::to_owned)
        .into();
        let direct: Vec<&String> = names.iter().filter(|n| directly_needed(n, &dirs)).collect();
        assert_eq!(
            direct,
            ["LICENSE", "a.go", "go.mod", "other/NOTICE", "sub/b.go"]
        );
        let read: BTreeMap<String, Vec<u8>> = direct
            .into_iter()
            .map(|n| {
                (
                    n.clone(),
                    b"package a\n//go:embed data\nvar d embed.FS\n".to_vec(),
                )
            })
            .collect();
        let more: Vec<String> = embed_candidates(&names, &dirs, &read).into_iter().collect();
        assert_eq!(
            more,
            ["data/x.txt"],
            "not testdata/ nothing names, nor a hidden file"
        );
    }

    #[test]
    fn expected_files_follow_go_mod_vendor() {
        let files: BTreeMap<String, Vec<u8>> = [
            ("go.mod", "module m\n"),
            ("LICENSE", "l"),
            ("README.md", "r"),
            ("a.go", "package m\n//go:embed data\nvar d embed.FS\n"),
            ("a_test.go", "package m\n"),
            ("gen.go", "//go:build ignore\n\npackage main\n"),
            ("data/x.txt", "x"),
            ("data/_hidden.txt", "h"),
            ("sub/NOTICE", "n"),
            ("sub/deep/d.go", "package deep\n"),
            ("sub/deep/d.s", ""),
            ("other/o.go", "package other\n"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.as_bytes().to_vec()))
        .collect();
        let packages = ["m".to_owned(), "m/sub/deep".to_owned(), "m/gone".to_owned()];
        let rules = Rules {
            main_go: "1.22",
            cgo: false,
        };
        let (expected, absent) = expected_files("m", &packages, &files, rules);
        let paths: Vec<&str> = expected.iter().map(|e| e.vendor_path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "m/LICENSE",
                "m/README.md",
                "m/a.go",
                "m/data/x.txt",
                "m/sub/NOTICE",
                "m/sub/deep/d.go",
                "m/sub/deep/d.s"
            ]
        );
        assert_eq!(absent, ["m/gone"]);
    }
}
