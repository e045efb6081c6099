//! The set of files `go mod vendor` writes for one module, computed from the module's files
//! by go's own rules (cmd/go/internal/modcmd/vendor.go), without running go:
//! every regular file directly in a listed package's directory except `*_test.go`, go.mod/go.sum
//! (main module go >= 1.17) and `.go` files no build tags can select (`//go:build ignore`);
//! LICENSE-like files of the parent directories up to the module root; embed targets.

use std::collections::{BTreeMap, BTreeSet};

use crate::go::constraints::should_build_with_any_tags;
use crate::go::gosource::{imports_c, package_name};
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

/// Whether a module file can matter for vendoring these package dirs (used to keep memory small).
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
        for rel in resolve_embeds(dir, &patterns, files) {
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

/// Whether the `//go:embed` lines of the Go file `name` decide what is vendored: go reads them
/// with go/build's `UseAllFiles` (so build-ignored files count too) but skips files whose names
/// start with `.` or `_`, files of `package documentation`, cgo files when cgo is off, and (main
/// module go 1.22 and later) test files.
fn embeds_count(name: &str, content: &[u8], test_embeds: bool, cgo: bool) -> bool {
    let test = name.ends_with("_test.go");
    !name.starts_with(['.', '_'])
        && (test_embeds || !test)
        && package_name(content) != Some("documentation")
        && (cgo || test || !imports_c(content))
}

/// The files matched by `//go:embed` patterns of a package in `dir` (go's `load.ResolveEmbed`):
/// a pattern matches files or directories; a directory brings every file below it except
/// those under names starting with `.` or `_` (unless the pattern starts with `all:`).
fn resolve_embeds(
    dir: &str,
    patterns: &[String],
    files: &BTreeMap<String, Vec<u8>>,
) -> Vec<String> {
    let mut found = BTreeSet::new();
    for pattern in patterns {
        let (all, glob) = match pattern.strip_prefix("all:") {
            Some(rest) => (true, rest),
            None => (false, pattern.as_str()),
        };
        let segments: Vec<&str> = glob.split('/').collect();
        for rel in files.keys() {
            let below = if dir.is_empty() {
                Some(rel.as_str())
            } else {
                rel.strip_prefix(dir).and_then(|r| r.strip_prefix('/'))
            };
            let Some(below) = below else { continue };
            let parts: Vec<&str> = below.split('/').collect();
            if parts.len() < segments.len()
                || !segments.iter().zip(&parts).all(|(s, p)| glob_match(s, p))
            {
                continue;
            }
            let hidden = parts[segments.len()..]
                .iter()
                .any(|p| p.starts_with(['.', '_']));
            if parts.len() == segments.len() || all || !hidden {
                found.insert(rel.clone());
            }
        }
    }
    found.into_iter().collect()
}

/// `path.Match` for one path segment: `*`, `?`, `[...]` classes (with `^` negation and ranges), `\` escapes.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    fn class(p: &[char], mut i: usize, c: char) -> Option<(bool, usize)> {
        let negate = p.get(i) == Some(&'^');
        if negate {
            i += 1;
        }
        let mut matched = false;
        let mut first = true;
        while i < p.len() && (first || p[i] != ']') {
            first = false;
            let mut lo = p[i];
            if lo == '\\' {
                i += 1;
                lo = *p.get(i)?;
            }
            let mut hi = lo;
            if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|c| *c != ']') {
                hi = p[i + 2];
                i += 2;
            }
            matched |= lo <= c && c <= hi;
            i += 1;
        }
        (i < p.len()).then_some((matched != negate, i + 1))
    }
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|k| go(&p[1..], &n[k..])),
            Some('?') => !n.is_empty() && go(&p[1..], &n[1..]),
            Some('[') => match (n.first(), class(p, 1, *n.first().unwrap_or(&'\0'))) {
                (Some(_), Some((true, next))) => go(&p[next..], &n[1..]),
                _ => false,
            },
            Some('\\') if p.len() > 1 => n.first() == Some(&p[1]) && go(&p[2..], &n[1..]),
            Some(c) => n.first() == Some(c) && go(&p[1..], &n[1..]),
        }
    }
    go(&p, &n)
}

/// The patterns of every `//go:embed` directive of a Go file (quoted patterns unquoted).
pub fn embed_patterns(content: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(content);
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.trim_start().strip_prefix("//go:embed") else {
            continue;
        };
        if !rest.starts_with([' ', '\t']) {
            continue;
        }
        let mut chars = rest.trim().chars().peekable();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                chars.next();
            } else if c == '"' || c == '`' {
                chars.next();
                let mut value = String::new();
                while let Some(ch) = chars.next() {
                    if ch == c {
                        break;
                    }
                    if ch == '\\' && c == '"' {
                        if let Some(esc) = chars.next() {
                            value.push(esc);
                        }
                        continue;
                    }
                    value.push(ch);
                }
                out.push(value);
            } else {
                let mut value = String::new();
                while let Some(&ch) = chars.peek() {
                    if ch.is_whitespace() {
                        break;
                    }
                    value.push(ch);
                    chars.next();
                }
                out.push(value);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_embed_directives() {
        assert!(glob_match("*.txt", "words.txt"));
        assert!(!glob_match("*.txt", "words.md"));
        assert!(glob_match("w?rd[a-z]", "words"));
        assert!(!glob_match("[^a-z]*", "words"));
        assert_eq!(
            embed_patterns(b"//go:embed data/*.txt \"a b\" `c`\nvar x string\n"),
            ["data/*.txt", "a b", "c"]
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
