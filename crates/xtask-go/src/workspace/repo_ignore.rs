//! The repository's own ignore rules: which directories discovery leaves alone (with the
//! config's `exclude`, in `source_filter.rs`), and which of the files `go mod vendor` would write
//! under a vendor tree git can never hold (a `.gitignore` line such as `.envrc`), so a fresh
//! clone lacks them by design. Matching is the `ignore` crate's (ripgrep's gitignore
//! matcher); the precedence is git's: the deepest `.gitignore` that has a say wins over the ones
//! above it, `.git/info/exclude` comes after every `.gitignore`, a negation (`!name`) re-includes,
//! and nothing below an excluded directory can be re-included.
//!
//! Only the repository's rules count, not the user's `core.excludesFile`: they are what every
//! clone (a CI runner's too) shares, so the answer does not depend on the machine.

use std::collections::HashMap;

use camino::{Utf8Path, Utf8PathBuf};
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::Match;

/// The rules that decide for paths below one git work tree, loaded lazily per directory.
pub struct RepoIgnore {
    /// The work tree's top: the nearest ancestor holding `.git`, else the project root.
    top: Utf8PathBuf,
    /// `.git/info/exclude`, when there is one.
    exclude: Option<Gitignore>,
    /// Each directory's `.gitignore` (None: it has none, or it cannot be read).
    per_dir: HashMap<Utf8PathBuf, Option<Gitignore>>,
}

/// Why a path is excluded: the rule's file, line text and the path it matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excluded {
    /// The ignore file, relative to the work tree's top (`.gitignore`, `go/app/.gitignore`,
    /// `.git/info/exclude`).
    pub file: String,
    /// The rule as written (`.envrc`, `/vendor/**/testdata/`).
    pub rule: String,
}

impl RepoIgnore {
    /// The rules of the work tree holding `dir`; `fallback_top` bounds the search when `dir` is
    /// in no git work tree (an exported tree keeps its `.gitignore` files).
    pub fn for_dir(dir: &Utf8Path, fallback_top: &Utf8Path) -> RepoIgnore {
        let top = dir
            .ancestors()
            .find(|d| d.join(".git").exists())
            .unwrap_or(fallback_top)
            .to_owned();
        let exclude = load(&top, &top.join(".git/info/exclude"));
        RepoIgnore {
            top,
            exclude,
            per_dir: HashMap::new(),
        }
    }

    /// Whether git would leave the file `path` (absolute, below the work tree) untracked: the
    /// rule that excludes it or one of its directories, if any.
    pub fn excluded(&mut self, path: &Utf8Path) -> Option<Excluded> {
        let mut found = self.find(path)?;
        if let Ok(rel) = Utf8Path::new(&found.file).strip_prefix(&self.top) {
            found.file = rel.to_string();
        }
        Some(found)
    }

    /// The rule that excludes the directory `path` itself, if any (its parents are the caller's
    /// to ask: discovery asks only below the project root, so that a project inside another
    /// repository's ignored directory, such as its `target/`, is not hidden from itself).
    pub fn excluded_dir(&mut self, path: &Utf8Path) -> Option<Excluded> {
        self.decide(path, true).flatten()
    }

    /// Every ignore file that exists among those consulted so far.
    pub fn rule_files(&self) -> Vec<Utf8PathBuf> {
        let mut files: Vec<Utf8PathBuf> = self
            .per_dir
            .iter()
            .filter(|(_, rules)| rules.is_some())
            .map(|(dir, _)| dir.join(".gitignore"))
            .collect();
        files.push(self.top.join(".git/info/exclude"));
        files.sort();
        files
    }

    fn find(&mut self, path: &Utf8Path) -> Option<Excluded> {
        let rel = path.strip_prefix(&self.top).ok()?.to_owned();
        // A directory that is excluded hides everything below it, whatever a deeper rule says.
        let mut dir = self.top.clone();
        let components: Vec<&str> = rel.iter().collect();
        for component in &components[..components.len().saturating_sub(1)] {
            dir.push(component);
            if let Some(found) = self.decide(&dir, true) {
                return found;
            }
        }
        self.decide(path, false).flatten()
    }

    /// The verdict for `path` from the rules that apply to it: Some(Some(..)) excluded,
    /// Some(None) re-included by a negation, None when no rule speaks.
    fn decide(&mut self, path: &Utf8Path, is_dir: bool) -> Option<Option<Excluded>> {
        let parent = path.parent()?.to_owned();
        for dir in parent.ancestors() {
            if !dir.starts_with(&self.top) {
                break;
            }
            let rules = self
                .per_dir
                .entry(dir.to_owned())
                .or_insert_with(|| load(dir, &dir.join(".gitignore")));
            if let Some(verdict) = rules.as_ref().and_then(|g| verdict(g, path, is_dir)) {
                return Some(verdict);
            }
        }
        self.exclude.as_ref().and_then(|g| verdict(g, path, is_dir))
    }
}

impl Excluded {
    /// The sentence of a report line.
    pub fn describe(&self) -> String {
        format!(
            "go mod vendor would write it; the repo's {} excludes it (`{}`), so git never holds it",
            self.file, self.rule
        )
    }
}

fn load(root: &Utf8Path, file: &Utf8Path) -> Option<Gitignore> {
    if !file.is_file() {
        return None;
    }
    let mut builder = GitignoreBuilder::new(root);
    // A malformed line is skipped, as git skips it; the rest of the file still counts.
    let _ = builder.add(file);
    builder.build().ok()
}

fn verdict(rules: &Gitignore, path: &Utf8Path, is_dir: bool) -> Option<Option<Excluded>> {
    match rules.matched(path, is_dir) {
        Match::None => None,
        Match::Whitelist(_) => Some(None),
        Match::Ignore(glob) => Some(Some(Excluded {
            file: glob
                .from()
                .map(|f| f.display().to_string())
                .unwrap_or_default(),
            rule: glob.original().to_owned(),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> (tempfile::TempDir, Utf8PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::from_path_buf(tmp.path().to_owned()).unwrap();
        std::fs::create_dir_all(root.join(".git/info")).unwrap();
        std::fs::create_dir_all(root.join("go/app/vendor/example.com/m/sub")).unwrap();
        (tmp, root)
    }

    #[test]
    fn gits_precedence_nested_files_negations_and_info_exclude() {
        let (_tmp, root) = tree();
        let w = |rel: &str, text: &str| std::fs::write(root.join(rel), text).unwrap();
        w(".gitignore", ".envrc\n*.log\n.editorconfig\n");
        w("go/app/.gitignore", "!vendor/**/.editorconfig\n");
        w(".git/info/exclude", "NOTES\n.envrc-local\n");
        w("go/app/vendor/example.com/m/.gitignore", "sub/\n");
        let mut rules = RepoIgnore::for_dir(&root.join("go/app"), &root);
        let v = root.join("go/app/vendor/example.com/m");
        let hit = rules.excluded(&v.join(".envrc")).unwrap();
        assert_eq!(
            (hit.file.as_str(), hit.rule.as_str()),
            (".gitignore", ".envrc")
        );
        assert!(
            rules.excluded(&v.join(".editorconfig")).is_none(),
            "negated deeper"
        );
        let hit = rules.excluded(&v.join("NOTES")).unwrap();
        assert_eq!(hit.file, ".git/info/exclude");
        assert!(rules.excluded(&v.join("m.go")).is_none());
        // Below an excluded directory, a negation cannot re-include.
        w("go/app/vendor/example.com/m/sub/.gitignore", "!keep.go\n");
        let hit = rules.excluded(&v.join("sub/keep.go")).unwrap();
        assert_eq!(hit.rule, "sub/");
        assert!(rules.excluded(&root.join("elsewhere/x.log")).is_some());
    }

    #[test]
    fn without_git_the_fallback_top_bounds_the_rules() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::from_path_buf(tmp.path().to_owned()).unwrap();
        std::fs::create_dir_all(root.join("proj/go")).unwrap();
        std::fs::write(root.join(".gitignore"), "*.go\n").unwrap();
        std::fs::write(root.join("proj/.gitignore"), ".envrc\n").unwrap();
        let mut rules = RepoIgnore::for_dir(&root.join("proj/go"), &root.join("proj"));
        assert!(
            rules.excluded(&root.join("proj/go/a.go")).is_none(),
            "above the top"
        );
        assert!(rules.excluded(&root.join("proj/go/.envrc")).is_some());
    }
}
