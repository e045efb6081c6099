//! Which directories discovery looks into: not those the config's `exclude` lines name, and not
//! those the repository's own ignore rules exclude (`.gitignore` files, `.git/info/exclude`,
//! with git's precedence; see `repo_ignore.rs`). With a Go module at the repository root, this
//! is what keeps `target/`, test fixtures and other nested modules out of the module set.

use std::sync::Mutex;

use camino::{Utf8Path, Utf8PathBuf};
use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::workspace::project::Project;
use crate::workspace::repo_ignore::RepoIgnore;

pub struct SourceFilter {
    root: Utf8PathBuf,
    /// The config's `exclude` lines, rooted at the project root.
    exclude: Gitignore,
    repo: Mutex<RepoIgnore>,
}

impl SourceFilter {
    /// The project's filter. A malformed `exclude` line is an error naming it.
    pub fn new(project: &Project) -> anyhow::Result<SourceFilter> {
        let mut builder = GitignoreBuilder::new(&project.root);
        for line in &project.config.exclude {
            builder.add_line(None, line).map_err(|e| {
                anyhow::anyhow!(
                    "{}: `exclude` line `{line}` of [workspace.metadata.xtask-go] is not a gitignore pattern: {e}",
                    project.root.join("Cargo.toml")
                )
            })?;
        }
        let exclude = builder
            .build()
            .map_err(|e| anyhow::anyhow!("building the `exclude` patterns: {e}"))?;
        Ok(SourceFilter {
            root: project.root.clone(),
            exclude,
            repo: Mutex::new(RepoIgnore::for_dir(&project.root, &project.root)),
        })
    }

    /// Whether discovery leaves the directory `dir` (absolute) and everything below it alone,
    /// by a rule that names `dir` itself (walkers do not descend into a skipped directory; see
    /// `skips_dir_or_parent` for a path from elsewhere). The project root is never skipped.
    pub fn skips_dir(&self, dir: &Utf8Path) -> bool {
        if dir == self.root || !dir.starts_with(&self.root) {
            return false;
        }
        self.exclude
            .matched_path_or_any_parents(dir, true)
            .is_ignore()
            || self.repo.lock().unwrap().excluded_dir(dir).is_some()
    }

    /// Whether `dir` or a directory above it (up to the root) is skipped: for a package that
    /// `go list` reported.
    pub fn skips_dir_or_parent(&self, dir: &Utf8Path) -> bool {
        dir.ancestors()
            .take_while(|d| d.starts_with(&self.root))
            .any(|d| self.skips_dir(d))
    }

    /// The ignore files that decided so far (for the session snapshot's stamps).
    pub fn rule_files(&self) -> Vec<Utf8PathBuf> {
        self.repo.lock().unwrap().rule_files()
    }
}
