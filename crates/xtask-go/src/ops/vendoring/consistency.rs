//! vendor/modules.txt against go.mod and go.work, with go's own messages (modload's
//! `checkVendorConsistency`: explicit markers, versions, replacements) plus the checks go skips:
//! `## go` annotations against each module's go.mod, and the `## workspace` marker.

use camino::{Utf8Path, Utf8PathBuf};

use super::modules_txt::{ModKey, ModulesTxt};
use crate::go::gomod::{GoMod, GoWork, ModuleVersion, Replace};
use crate::workspace::project::absolute_in;

/// One vendor tree's inputs: the main modules' go.mod files and, in workspace mode, the go.work.
pub struct MainModules<'a> {
    /// The directory holding vendor/.
    pub root: &'a Utf8Path,
    pub gomods: Vec<&'a GoMod>,
    pub gowork: Option<&'a GoWork>,
}

/// A consistency problem: the module it concerns (`path@version`) and go's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inconsistency {
    pub module: String,
    pub message: String,
}

impl MainModules<'_> {
    fn workspace(&self) -> bool {
        self.gowork.is_some()
    }

    /// `go.mod` (as go shortens it) or the go.mod/go.work path relative to the vendor root.
    fn short(&self, file: &Utf8Path) -> String {
        file.strip_prefix(self.root)
            .map(|p| p.to_string())
            .unwrap_or_else(|_| file.to_string())
    }

    /// go's `replacementFrom` + `canonicalizeReplacePath`: the replacement in force for `old`,
    /// and the file that states it.
    fn replacement(&self, old: &ModKey) -> Option<(ModKey, Utf8PathBuf)> {
        let matches = |r: &Replace| {
            r.old.path == old.path && (r.old.version.is_empty() || r.old.version == old.version)
        };
        let pick = |replaces: &[Replace]| -> Option<Replace> {
            let exact = replaces
                .iter()
                .find(|r| matches(r) && !r.old.version.is_empty());
            exact
                .or_else(|| replaces.iter().find(|r| matches(r)))
                .cloned()
        };
        let (found, mod_root, file) =
            match self.gowork.and_then(|w| pick(&w.replaces).map(|r| (r, w))) {
                Some((r, w)) => (r, w.dir().to_owned(), w.file.clone()),
                None => self.gomods.iter().find_map(|m| {
                    pick(&m.replaces).map(|r| (r, m.dir().to_owned(), m.file.clone()))
                })?,
            };
        Some((self.canonical(&found.new, &mod_root), file))
    }

    fn canonical(&self, new: &ModuleVersion, mod_root: &Utf8Path) -> ModKey {
        let keep = ModKey::new(&new.path, &new.version);
        let Some(work) = self.gowork else { return keep };
        if !new.version.is_empty() || Utf8Path::new(&new.path).is_absolute() {
            return keep;
        }
        let abs = absolute_in(mod_root, Utf8Path::new(&new.path));
        let rel = relative(work.dir(), &abs);
        let rel = if rel.starts_with("../") || rel == ".." || rel.starts_with("./") {
            rel
        } else {
            format!("./{rel}")
        };
        ModKey::new(&rel, "")
    }
}

/// A lexical relative path from `base` to `path` (both absolute and normalized).
pub fn relative(base: &Utf8Path, path: &Utf8Path) -> String {
    let b: Vec<_> = base.components().collect();
    let p: Vec<_> = path.components().collect();
    let common = b.iter().zip(&p).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".to_owned(); b.len() - common];
    parts.extend(p[common..].iter().map(|c| c.as_str().to_owned()));
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

/// Every way modules.txt contradicts the main modules, in go's order and wording.
pub fn check(main: &MainModules<'_>, txt: &ModulesTxt) -> Vec<Inconsistency> {
    let mut out = Vec::new();
    workspace_marker(main, txt, &mut out);
    unmarked_requires(main, txt, &mut out);
    replacements(main, txt, &mut out);
    unrequired_explicit(main, txt, &mut out);
    unreplaced_replacements(main, txt, &mut out);
    out
}

fn push(out: &mut Vec<Inconsistency>, key: &ModKey, message: String) {
    out.push(Inconsistency {
        module: key.to_string(),
        message: format!("{key}: {message}"),
    })
}

/// The `## workspace` line against whether a go.work is in force.
fn workspace_marker(main: &MainModules<'_>, txt: &ModulesTxt, out: &mut Vec<Inconsistency>) {
    if txt.workspace != main.workspace() {
        let key = ModKey::new("vendor/modules.txt", "");
        let message = if main.workspace() {
            "was not written by `go work vendor` (no `## workspace` line), but a go.work is in force"
        } else {
            "was written by `go work vendor` (`## workspace`), but no go.work is in force"
        };
        push(out, &key, message.to_owned());
    }
}

/// Requirements of a go.mod that modules.txt does not mark `## explicit`.
fn unmarked_requires(main: &MainModules<'_>, txt: &ModulesTxt, out: &mut Vec<Inconsistency>) {
    for gomod in &main.gomods {
        for r in &gomod.requires {
            let key = ModKey::new(&r.module.path, &r.module.version);
            if !txt.meta(&key).0 {
                let mut message =
                    "is explicitly required in go.mod, but not marked as explicit in vendor/modules.txt".to_owned();
                if let Some(other) = txt.providing().find(|m| m.key.path == key.path) {
                    message.push_str(&format!(" (vendor/modules.txt has {})", other.key));
                }
                push(out, &key, message);
            }
        }
    }
}

/// Replacements in force (go.mod's, go.work's) that modules.txt does not mark, or marks with
/// another replacement.
fn replacements(main: &MainModules<'_>, txt: &ModulesTxt, out: &mut Vec<Inconsistency>) {
    let mut seen = std::collections::BTreeSet::new();
    let replaces = main
        .gomods
        .iter()
        .flat_map(|m| m.replaces.iter())
        .chain(main.gowork.iter().flat_map(|w| w.replaces.iter()));
    for r in replaces {
        let old = ModKey::new(&r.old.path, &r.old.version);
        if !seen.insert(old.clone()) {
            continue;
        }
        let Some((new, file)) = main.replacement(&old) else {
            continue;
        };
        match txt.meta(&old).1 {
            None => push(
                out,
                &old,
                format!("is replaced in {}, but not marked as replaced in vendor/modules.txt", main.short(&file)),
            ),
            Some(vendored) if *vendored != new => push(
                out,
                &old,
                format!(
                    "is replaced by {new} in {}, but marked as replaced by {vendored} in vendor/modules.txt",
                    main.short(&file)
                ),
            ),
            Some(_) => {}
        }
    }
}

/// Modules marked `## explicit` that no go.mod requires.
fn unrequired_explicit(main: &MainModules<'_>, txt: &ModulesTxt, out: &mut Vec<Inconsistency>) {
    for m in txt.providing().filter(|m| m.explicit) {
        let required = main.gomods.iter().any(|g| {
            g.requires
                .iter()
                .any(|r| r.module.path == m.key.path && r.module.version == m.key.version)
        });
        if !required {
            let article = if main.workspace() { "a " } else { "" };
            push(
                out,
                &m.key,
                format!("is marked as explicit in vendor/modules.txt, but not explicitly required in {article}go.mod"),
            );
        }
    }
}

/// Modules marked as replaced that nothing replaces.
fn unreplaced_replacements(main: &MainModules<'_>, txt: &ModulesTxt, out: &mut Vec<Inconsistency>) {
    for m in txt.modules.iter().filter(|m| m.replacement.is_some()) {
        if main.replacement(&m.key).is_none() {
            let source = if main.workspace() {
                "the workspace"
            } else {
                "go.mod"
            };
            push(
                out,
                &m.key,
                format!(
                    "is marked as replaced in vendor/modules.txt, but not replaced in {source}"
                ),
            );
        }
    }
}

/// go's header for these problems: `go: inconsistent vendoring in <dir>:`.
pub fn header(root: &Utf8Path) -> String {
    format!("go: inconsistent vendoring in {root}:")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gomod(text: &str) -> GoMod {
        GoMod::parse(text, Utf8Path::new("/r/app/go.mod")).unwrap()
    }

    #[test]
    fn reports_what_go_reports() {
        let m = gomod(
            "module a\ngo 1.22\nrequire example.com/alpha v1.2.0\nrequire example.com/beta v1.0.0\n\
             replace example.com/beta => ../beta2\n",
        );
        let main = MainModules {
            root: Utf8Path::new("/r/app"),
            gomods: vec![&m],
            gowork: None,
        };
        let txt = ModulesTxt::parse(
            "# example.com/alpha v1.1.0\n## explicit; go 1.21\nexample.com/alpha\n\
             # example.com/beta v1.0.0 => ../beta\n## explicit; go 1.21\nexample.com/beta\n",
        );
        let messages: Vec<String> = check(&main, &txt).into_iter().map(|i| i.message).collect();
        assert_eq!(
            messages,
            [
                "example.com/alpha@v1.2.0: is explicitly required in go.mod, but not marked as explicit in \
                 vendor/modules.txt (vendor/modules.txt has example.com/alpha@v1.1.0)",
                "example.com/beta: is replaced in go.mod, but not marked as replaced in vendor/modules.txt",
                "example.com/alpha@v1.1.0: is marked as explicit in vendor/modules.txt, but not explicitly \
                 required in go.mod",
            ]
        );
        assert_eq!(
            relative(Utf8Path::new("/r/w"), Utf8Path::new("/r/x")),
            "../x"
        );
    }
}
