//! Parsing `vendor/modules.txt` the way go's `readVendorList` does (cmd/go/internal/modload/vendor.go).
//!
//! Module lines `# path version [=> new [newversion]]`, wildcard replacement lines `# path => new`,
//! annotation lines `## explicit; go 1.21` and package lines. Lines go would ignore are ignored
//! here too, but kept as `unknown` so that the check can point at them.

use anyhow::{Context, Result};
use camino::Utf8Path;

/// A module as go keys it in modules.txt: a version, or empty for a wildcard replacement.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModKey {
    pub path: String,
    pub version: String,
}

impl ModKey {
    pub fn new(path: &str, version: &str) -> ModKey {
        ModKey {
            path: path.to_owned(),
            version: version.to_owned(),
        }
    }
}

impl std::fmt::Display for ModKey {
    /// `path@version`, or just `path` without a version (go's `describe`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.version.is_empty() {
            f.write_str(&self.path)
        } else {
            write!(f, "{}@{}", self.path, self.version)
        }
    }
}

/// One `# module` block of modules.txt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendoredModule {
    pub key: ModKey,
    /// `=> new [version]`: the replacement, a local directory when its version is empty.
    pub replacement: Option<ModKey>,
    pub explicit: bool,
    /// `## go 1.21` or `## explicit; go 1.21`.
    pub go_version: Option<String>,
    /// The package import paths listed under the module, in file order.
    pub packages: Vec<String>,
    /// 1-based line number of the `# ...` line.
    pub line: usize,
}

/// A parsed modules.txt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModulesTxt {
    /// The first line is `## workspace` (written by `go work vendor`).
    pub workspace: bool,
    /// Every `# ...` block in file order (wildcard replacements too).
    pub modules: Vec<VendoredModule>,
    /// Lines go ignores (with their 1-based numbers): malformed module lines, packages before any module.
    pub ignored: Vec<(usize, String)>,
}

impl ModulesTxt {
    pub fn read(path: &Utf8Path) -> Result<ModulesTxt> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
        Ok(ModulesTxt::parse(&text))
    }

    pub fn parse(text: &str) -> ModulesTxt {
        let mut txt = ModulesTxt::default();
        let mut current: Option<usize> = None;
        for (index, line) in text.split('\n').enumerate() {
            let number = index + 1;
            if index == 0 && line == "## workspace" {
                txt.workspace = true;
                continue;
            }
            if line.is_empty() {
                continue;
            }
            if line.starts_with("# ") {
                current = parse_module_line(line, number).map(|m| {
                    txt.modules.push(m);
                    txt.modules.len() - 1
                });
                if current.is_none() {
                    txt.ignored.push((number, line.to_owned()));
                }
                continue;
            }
            let Some(at) = current else {
                txt.ignored.push((number, line.to_owned()));
                continue;
            };
            let module = &mut txt.modules[at];
            if let Some(annotations) = line.strip_prefix("## ") {
                for entry in annotations.split(';').map(str::trim) {
                    if entry == "explicit" {
                        module.explicit = true;
                    } else if let Some(go) = entry.strip_prefix("go ") {
                        module.go_version = Some(go.trim().to_owned());
                    }
                }
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() == 1 {
                module.packages.push(fields[0].to_owned());
            } else {
                txt.ignored.push((number, line.to_owned()));
            }
        }
        txt
    }

    /// The modules that provide packages (go's `vendorList`): those in the build list.
    pub fn providing(&self) -> impl Iterator<Item = &VendoredModule> {
        self.modules
            .iter()
            .filter(|m| !m.packages.is_empty() && !m.key.version.is_empty())
    }

    /// go's `vendorMeta[key]`: the union of every block for exactly this key.
    pub fn meta(&self, key: &ModKey) -> (bool, Option<&ModKey>) {
        let mut explicit = false;
        let mut replacement = None;
        for m in self.modules.iter().filter(|m| &m.key == key) {
            explicit |= m.explicit;
            if m.replacement.is_some() {
                replacement = m.replacement.as_ref();
            }
        }
        (explicit, replacement)
    }
}

/// Whether `v` looks like a semantic version go accepts in modules.txt (`v1.2.3[-pre][+meta]`).
pub fn is_semver(v: &str) -> bool {
    let Some(rest) = v.strip_prefix('v') else {
        return false;
    };
    let core = rest.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    !parts.is_empty()
        && parts.len() <= 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn parse_module_line(line: &str, number: usize) -> Option<VendoredModule> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 3 {
        return None;
    }
    let (key, rest) = if is_semver(f[2]) {
        (ModKey::new(f[1], f[2]), &f[3..])
    } else if f[2] == "=>" {
        (ModKey::new(f[1], ""), &f[2..])
    } else {
        return None;
    };
    let replacement = match rest {
        ["=>", path] => Some(ModKey::new(path, "")),
        ["=>", path, version] if is_semver(version) => Some(ModKey::new(path, version)),
        _ => None,
    };
    Some(VendoredModule {
        key,
        replacement,
        explicit: false,
        go_version: None,
        packages: Vec::new(),
        line: number,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_go_mod_vendor_writes() {
        let text = "## workspace\n# example.com/x v1.0.0 => ../x\n## explicit; go 1.21\nexample.com/x/sub\n\
                    # example.com/alpha v1.2.0\n## go 1.21\nexample.com/alpha\n# example.com/x => ../x\n\
                    # bogus line\n";
        let txt = ModulesTxt::parse(text);
        assert!(txt.workspace);
        assert_eq!(txt.modules.len(), 3);
        let x = &txt.modules[0];
        assert_eq!(x.key, ModKey::new("example.com/x", "v1.0.0"));
        assert_eq!(x.replacement, Some(ModKey::new("../x", "")));
        assert!(x.explicit);
        assert_eq!(x.go_version.as_deref(), Some("1.21"));
        assert_eq!(x.packages, ["example.com/x/sub"]);
        assert!(!txt.modules[1].explicit);
        assert_eq!(txt.modules[2].key, ModKey::new("example.com/x", ""));
        assert_eq!(txt.providing().count(), 2);
        assert_eq!(txt.ignored, [(9, "# bogus line".to_owned())]);
        assert_eq!(txt.modules[1].key.to_string(), "example.com/alpha@v1.2.0");
    }
}
