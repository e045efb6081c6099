//! Finding the Go modules: go.work `use` directives, else go.mod files under the roots. The
//! targets inside them are `targets.rs`'s.

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;

use crate::go::gomod::{GoMod, GoWork};
use crate::host::toolchain::{self};
use crate::workspace::goenv::ModMode;
use crate::workspace::project::{absolute_in, Project};
use crate::workspace::source_filter::SourceFilter;

/// A Go module of the repo.
#[derive(Debug, Clone, Serialize)]
pub struct GoModule {
    /// The module path (`example.com/hello`).
    pub path: String,
    /// Absolute directory holding its go.mod.
    pub dir: Utf8PathBuf,
    #[serde(skip)]
    pub gomod: GoMod,
    /// Whether it builds from a committed vendor tree.
    pub vendored: bool,
}

/// Every Go module of the repo, and the go.work that ties them together if any.
#[derive(Debug, Clone, Serialize)]
pub struct ModuleSet {
    pub gowork: Option<Utf8PathBuf>,
    pub modules: Vec<GoModule>,
}

impl ModuleSet {
    /// Finds the modules: a go.work at the root or in a configured root wins; else every go.mod below the roots.
    pub fn discover(project: &Project) -> Result<ModuleSet> {
        let mut candidates = vec![project.root.join("go.work")];
        candidates.extend(
            project
                .config
                .roots
                .iter()
                .map(|r| absolute_in(&project.root, r).join("go.work")),
        );
        if let Some(work_file) = candidates.into_iter().find(|f| f.is_file()) {
            let work = GoWork::read(&work_file)?;
            let mut modules = Vec::new();
            for used in &work.uses {
                let dir = absolute_in(work.dir(), Utf8Path::new(used));
                let gomod = dir.join("go.mod");
                if !gomod.is_file() {
                    bail!("{work_file}: `use {used}` names {dir}, which has no go.mod");
                }
                modules.push(load_module(&gomod, Some(work.dir()))?);
            }
            return Ok(ModuleSet {
                gowork: Some(work_file),
                modules,
            });
        }
        let mut files = Vec::new();
        let filter = SourceFilter::new(project)?;
        for root in &project.config.roots {
            find_go_mods(&absolute_in(&project.root, root), &filter, &mut files)?;
        }
        files.sort();
        let modules = files
            .iter()
            .map(|f| load_module(f, None))
            .collect::<Result<Vec<_>>>()?;
        Ok(ModuleSet {
            gowork: None,
            modules,
        })
    }

    /// The modules of known go.mod files (and the go.work that uses them), re-read from disk.
    pub fn from_files(gowork: Option<Utf8PathBuf>, gomods: &[Utf8PathBuf]) -> Result<ModuleSet> {
        let work_dir = gowork
            .as_ref()
            .and_then(|w| w.parent().map(Utf8Path::to_owned));
        let modules = gomods
            .iter()
            .map(|f| load_module(f, work_dir.as_deref()))
            .collect::<Result<Vec<_>>>()?;
        Ok(ModuleSet { gowork, modules })
    }

    /// The module whose directory is `dir` or whose path is `path_or_dir`.
    pub fn find(&self, root: &Utf8Path, path_or_dir: &str) -> Option<&GoModule> {
        let dir = absolute_in(root, Utf8Path::new(path_or_dir));
        self.modules
            .iter()
            .find(|m| m.path == path_or_dir || m.dir == dir)
    }

    /// The highest `go` directive among the modules and the go.work, with the file that states it.
    pub fn required_go(&self) -> Option<(String, Utf8PathBuf)> {
        let mut best: Option<(String, Utf8PathBuf)> = None;
        let work = self
            .gowork
            .as_ref()
            .and_then(|f| GoWork::read(f).ok())
            .and_then(|w| w.go.map(|g| (g, w.file)));
        for (version, file) in self
            .modules
            .iter()
            .filter_map(|m| m.gomod.go.clone().map(|g| (g, m.gomod.file.clone())))
            .chain(work)
        {
            if best
                .as_ref()
                .is_none_or(|(b, _)| toolchain::compare_go_versions(&version, b).is_gt())
            {
                best = Some((version, file));
            }
        }
        best
    }
}

impl GoModule {
    pub fn mod_mode(&self) -> ModMode {
        if self.vendored {
            ModMode::Vendor
        } else {
            ModMode::Readonly
        }
    }
}

fn load_module(gomod_file: &Utf8Path, work_dir: Option<&Utf8Path>) -> Result<GoModule> {
    let gomod = GoMod::read(gomod_file)?;
    let dir = gomod.dir().to_owned();
    let vendor_root = work_dir.unwrap_or(&dir);
    let vendored = vendor_root.join("vendor/modules.txt").is_file();
    Ok(GoModule {
        path: gomod.module.clone(),
        dir,
        gomod,
        vendored,
    })
}

/// Every go.mod below `dir`, skipping vendor/, testdata/, hidden and `_` directories (and names
/// that are not UTF-8), and what `filter` skips; symlinks are not followed. A directory gone
/// while listed is skipped.
fn find_go_mods(dir: &Utf8Path, filter: &SourceFilter, out: &mut Vec<Utf8PathBuf>) -> Result<()> {
    // The root's own errors as before (walkdir would yield a file root as an entry).
    match std::fs::read_dir(dir) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading directory {dir}")),
    }
    let walk = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| {
            let Some(name) = e.file_name().to_str() else {
                return false;
            };
            !e.file_type().is_dir()
                || !(crate::go::gosource::is_ignored_dir(name)
                    || Utf8Path::from_path(e.path()).is_some_and(|d| filter.skips_dir(d)))
        });
    for entry in walk {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e)
                if e.io_error().map(std::io::Error::kind) == Some(std::io::ErrorKind::NotFound) =>
            {
                continue
            }
            Err(e) => {
                let at = e.path().unwrap_or(dir.as_std_path()).display().to_string();
                return Err(e).with_context(|| format!("reading directory {at}"));
            }
        };
        if !entry.file_type().is_dir() && entry.file_name() == "go.mod" {
            if let Ok(path) = Utf8PathBuf::from_path_buf(entry.into_path()) {
                out.push(path);
            }
        }
    }
    Ok(())
}
