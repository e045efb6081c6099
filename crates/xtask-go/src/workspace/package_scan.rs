//! Discovery without go: the main packages of a module found by reading package clauses and
//! judging build constraints for the host, for the trees where that is exactly what
//! `go list -e ./...` reports. A directory this cannot decide (a `main` that hangs on a tag only
//! go knows, files that name two packages, a symlinked file, a nested module in a go.work) sends
//! the whole module to go's own listing (`targets::listed_mains`).

use camino::{Utf8Path, Utf8PathBuf};

use crate::go::{constraints, gosource};
use crate::workspace::discovery::GoModule;
use crate::workspace::source_filter::SourceFilter;

/// A main package the scan found: its import path and absolute directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MainPackage {
    pub import_path: String,
    pub dir: Utf8PathBuf,
}

/// go's known GOOS and GOARCH values (`go/build/syslist.go`), which make a file name such as
/// `x_linux.go` a build constraint.
#[rustfmt::skip]
const KNOWN_OS: &[&str] = &[
    "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js", "linux",
    "nacl", "netbsd", "openbsd", "plan9", "solaris", "wasip1", "windows", "zos",
];
#[rustfmt::skip]
const KNOWN_ARCH: &[&str] = &[
    "386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "loong64", "mips",
    "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc", "ppc64", "ppc64le", "riscv",
    "riscv64", "s390", "s390x", "sparc", "sparc64", "wasm",
];

/// The build discovery's `go list` runs: the host's GOOS and GOARCH, whether cgo is on, and
/// the toolchain's minor version (`go1.N` release tags hold up to it).
pub struct HostBuild {
    pub goos: &'static str,
    pub goarch: &'static str,
    pub cgo: bool,
    pub go_minor: Option<u32>,
}

/// go's `unixOS`: where the `unix` tag is set.
#[rustfmt::skip]
const UNIX_OS: &[&str] = &[
    "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "linux", "netbsd",
    "openbsd", "solaris",
];

impl HostBuild {
    /// Whether this build sets `tag`: None for what it may or may not (a release tag like
    /// `go1.21`, an experiment, a custom tag), so that only what is known decides.
    fn tag(&self, tag: &str) -> Option<bool> {
        let alias = matches!(
            (self.goos, tag),
            ("android", "linux") | ("illumos", "solaris") | ("ios", "darwin")
        );
        match tag {
            _ if tag == self.goos || tag == self.goarch || alias => Some(true),
            "unix" => Some(UNIX_OS.contains(&self.goos)),
            "cgo" => Some(self.cgo),
            "gc" => Some(true),
            "gccgo" | "ignore" => Some(false),
            _ if tag.starts_with("go1.") => {
                let minor: u32 = tag["go1.".len()..].parse().ok()?;
                Some(minor <= self.go_minor?)
            }
            _ if KNOWN_OS.contains(&tag) || KNOWN_ARCH.contains(&tag) => Some(false),
            _ => None,
        }
    }

    /// Whether this build takes the file `name`: by its name (go's `goodOSArchFile`), its
    /// constraint lines and, for a cgo file, cgo. None when an unknown tag could decide.
    fn takes(&self, name: &str, src: &[u8]) -> Option<bool> {
        let stem = name.split('.').next().unwrap_or(name);
        let mut parts: Vec<&str> = match stem.find('_') {
            Some(i) => stem[i..].split('_').collect(),
            None => Vec::new(),
        };
        if parts.last() == Some(&"test") {
            parts.pop();
        }
        let n = parts.len();
        let (os, arch) = (
            |p: &str| KNOWN_OS.contains(&p),
            |p: &str| KNOWN_ARCH.contains(&p),
        );
        let set = |p: &str| self.tag(p) == Some(true);
        let by_name = if n >= 2 && os(parts[n - 2]) && arch(parts[n - 1]) {
            set(parts[n - 2]) && set(parts[n - 1])
        } else if n >= 1 && (os(parts[n - 1]) || arch(parts[n - 1])) {
            set(parts[n - 1])
        } else {
            true
        };
        if !by_name || (gosource::imports_c(src) && !self.cgo) {
            return Some(false);
        }
        constraints::holds_for(src, &|t| self.tag(t))
    }
}

/// One directory go's `./...` walk visits, with its `.go` files (not `_`- or `.`-prefixed).
struct PackageDir {
    dir: Utf8PathBuf,
    go_files: Vec<String>,
}

/// The main packages of `module` in the order `go list ./...` gives them (by import path), or
/// why only go can tell. `in_workspace`: the module is one of a go.work's, where `./...` also
/// reaches nested workspace modules.
pub fn main_packages(
    module: &GoModule,
    filter: &SourceFilter,
    in_workspace: bool,
    host: &HostBuild,
) -> Result<Vec<MainPackage>, String> {
    if filter.skips_dir_or_parent(&module.dir) {
        return Ok(Vec::new());
    }
    let dirs = package_dirs(&module.dir, filter, in_workspace)?;
    let verdicts = crate::util::par::io_map(&dirs, |pkg| is_main_package(pkg, host));
    let mut found = Vec::new();
    for (pkg, verdict) in dirs.into_iter().zip(verdicts) {
        if verdict? {
            let rel = pkg
                .dir
                .strip_prefix(&module.dir)
                .expect("walked below the module");
            let import_path = match rel.as_str() {
                "" => module.path.clone(),
                rel => format!("{}/{rel}", module.path),
            };
            found.push(MainPackage {
                import_path,
                dir: pkg.dir,
            });
        }
    }
    found.sort_by(|a, b| a.import_path.cmp(&b.import_path));
    Ok(found)
}

/// The directories go's `./...` walks in a module (`modload.matchPackages`): not `.`/`_`-prefixed
/// or `testdata` trees, not below a nested go.mod or a `vendor` directory, no symlinked
/// directories; and not what the project's filter skips.
fn package_dirs(
    root: &Utf8Path,
    filter: &SourceFilter,
    in_workspace: bool,
) -> Result<Vec<PackageDir>, String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("reading {dir}: {e}"))?;
        let mut go_files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| format!("reading {dir}: {e}"))?;
            let name = entry.file_name();
            let name = name
                .to_str()
                .ok_or_else(|| format!("{dir} holds a name that is not UTF-8"))?;
            let kind = entry
                .file_type()
                .map_err(|e| format!("reading {dir}/{name}: {e}"))?;
            if kind.is_dir() {
                if gosource::is_ignored_dir(name) && name != "vendor" {
                    continue;
                }
                let child = dir.join(name);
                if filter.skips_dir(&child) {
                    continue;
                }
                if child.join("go.mod").exists() {
                    if in_workspace {
                        return Err(format!("{child} is a nested module of a go.work"));
                    }
                    continue;
                }
                if name == "vendor" {
                    // go lists a vendor directory itself, never below it.
                    if has_go_files(&child) {
                        return Err(format!("{child} holds Go files"));
                    }
                    continue;
                }
                stack.push(child);
            } else if name.ends_with(".go") && !name.starts_with(['_', '.']) {
                if !kind.is_file() {
                    return Err(format!("{dir}/{name} is not a regular file"));
                }
                go_files.push(name.to_string());
            }
        }
        out.push(PackageDir { dir, go_files });
    }
    Ok(out)
}

fn has_go_files(dir: &Utf8Path) -> bool {
    std::fs::read_dir(dir).map_or(true, |entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".go"))
    })
}

/// Whether go names the directory's package `main`, when its package clauses decide that. go
/// names a package after the first file it takes, test files included (an external test's
/// `x_test` counts as `x`; `package documentation` files are set aside), and reports the others
/// that differ as errors. So: every file the host's build may take says `main`, and it surely
/// takes a non-test one (by its name, constraints and cgo, `HostBuild::takes`): a main package.
/// No such file says `main`: not one. Anything else is go's to decide.
fn is_main_package(pkg: &PackageDir, host: &HostBuild) -> Result<bool, String> {
    let (mut mains, mut others, mut unconditional) = (0, 0, false);
    for name in &pkg.go_files {
        let path = pkg.dir.join(name);
        let src = std::fs::read(&path).map_err(|e| format!("reading {path}: {e}"))?;
        if !constraints::should_build_with_any_tags(&src) {
            // No build takes it (`//go:build ignore`, a generator's usual line), or go cannot
            // parse its constraint: go sets it aside before it names the package.
            continue;
        }
        let taken = host.takes(name, &src);
        if taken == Some(false) {
            continue;
        }
        let test = name.ends_with("_test.go");
        let named = match gosource::package_name(&src) {
            None => return Err(format!("{path} has no package clause the scan can read")),
            Some("documentation") => continue,
            Some(clause) if test => clause.strip_suffix("_test").unwrap_or(clause),
            Some(clause) if clause.ends_with("_test") => {
                return Err(format!("{path} is not a test but says `package {clause}`"))
            }
            Some(clause) => clause,
        };
        if named == "main" {
            mains += 1;
            unconditional |= !test && taken == Some(true);
        } else {
            others += 1;
        }
    }
    match (mains, others) {
        (0, _) => Ok(false),
        (_, 0) if unconditional => Ok(true),
        _ => Err(format!(
            "{}: whether it is a main package depends on build constraints or test files",
            pkg.dir
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_build_takes_what_its_tags_decide() {
        let linux = HostBuild {
            goos: "linux",
            goarch: "amd64",
            cgo: false,
            go_minor: Some(26),
        };
        let main = "package main\n";
        let cases = [
            ("main.go", main, Some(true)),
            ("linux.go", main, Some(true)),
            ("main_linux.go", main, Some(true)),
            ("main_linux_amd64_test.go", main, Some(true)),
            ("main_windows.go", main, Some(false)),
            ("x_windows_amd64.go", main, Some(false)),
            ("x_linux_arm64.go", main, Some(false)),
            ("x_arm64_linux.go", main, Some(true)),
            ("x_linux.pb.go", main, Some(true)),
            (
                "c.go",
                "package main\n\n// int x;\nimport \"C\"\n",
                Some(false),
            ),
            (
                "u.go",
                "//go:build unix || windows\n\npackage main\n",
                Some(true),
            ),
            ("nl.go", "//go:build !linux\n\npackage main\n", Some(false)),
            ("tools.go", "//go:build tools\n\npackage main\n", None),
            (
                "r.go",
                "//go:build go1.21 && linux\n\npackage main\n",
                Some(true),
            ),
            ("f.go", "//go:build go1.27\n\npackage main\n", Some(false)),
            (
                "e.go",
                "//go:build purego || linux\n\npackage main\n",
                Some(true),
            ),
            (
                "x.go",
                "//go:build goexperiment.jsonv2\n\npackage main\n",
                None,
            ),
            (
                "p.go",
                "// +build linux,amd64 windows\n\npackage main\n",
                Some(true),
            ),
            (
                "q.go",
                "// +build darwin\n// +build amd64\n\npackage main\n",
                Some(false),
            ),
        ];
        for (name, src, takes) in cases {
            assert_eq!(linux.takes(name, src.as_bytes()), takes, "{name}: {src}");
        }
    }
}
