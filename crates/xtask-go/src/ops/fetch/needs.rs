//! What a fetch needs, read from the repo's go.mod, go.sum and go.work.sum files alone (no go
//! process): every (module, version) whose zip or `.mod` go.sum records, deduplicated across the
//! repo's modules, and every requirement that go.sum cannot vouch for.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use crate::go::gomod::{GoWork, Replace};
use crate::go::gosum::{self, GoSum};
use crate::workspace::discovery::{GoModule, ModuleSet};

/// A go.sum line and the file it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedSum {
    pub file: Utf8PathBuf,
    pub hash: String,
}

/// One module version the repo needs in the module cache.
#[derive(Debug, Clone)]
pub struct Need {
    pub path: String,
    pub version: String,
    /// Whether the zip is needed (go.sum records its hash); else only the `.mod` file.
    pub zip: bool,
    /// go.sum lines for the zip (`<mod> <v> h1:...`), one per go.sum that has one.
    pub zip_sums: Vec<RecordedSum>,
    /// go.sum lines for the `.mod` file (`<mod> <v>/go.mod h1:...`).
    pub mod_sums: Vec<RecordedSum>,
    /// The repo module whose directory go runs in to download it (its go.sum verifies the download).
    pub owner_dir: Utf8PathBuf,
}

impl Need {
    pub fn id(&self) -> String {
        format!("{}@{}", self.path, self.version)
    }
}

/// A requirement of a repo module that no go.sum line covers.
#[derive(Debug, Clone)]
pub struct MissingSum {
    pub module_dir: Utf8PathBuf,
    pub go_sum: Utf8PathBuf,
    pub path: String,
    pub version: String,
    /// The zip's line is missing (a direct requirement), as opposed to both lines.
    pub zip_only: bool,
}

/// Everything a fetch needs, deduplicated, in module path then version order.
#[derive(Debug, Clone, Default)]
pub struct ModuleNeeds {
    pub needs: Vec<Need>,
    pub missing: Vec<MissingSum>,
    /// Repo modules the needs were read from.
    pub repo_modules: usize,
}

/// The files of one module version in `$GOMODCACHE/cache/download`.
#[derive(Debug, Clone)]
pub struct CacheFiles {
    pub zip: Utf8PathBuf,
    pub ziphash: Utf8PathBuf,
    pub mod_file: Utf8PathBuf,
    /// The extracted directory, `$GOMODCACHE/<escaped module>@<escaped version>`.
    pub dir: Utf8PathBuf,
}

impl CacheFiles {
    pub fn of(gomodcache: &Utf8Path, path: &str, version: &str) -> Result<CacheFiles> {
        let at_v = gomodcache
            .join("cache/download")
            .join(gosum::escape_path(path)?)
            .join("@v");
        let v = gosum::escape_version(version)?;
        Ok(CacheFiles {
            zip: at_v.join(format!("{v}.zip")),
            ziphash: at_v.join(format!("{v}.ziphash")),
            mod_file: at_v.join(format!("{v}.mod")),
            dir: gosum::module_cache_dir(gomodcache, path, version)?,
        })
    }

    /// Whether go would need nothing from a proxy for this need: checked on disk, no go process.
    pub fn complete(&self, need: &Need) -> bool {
        self.mod_file.is_file() && (!need.zip || (self.zip.is_file() && self.ziphash.is_file()))
    }
}

/// The needs of every module of the set (go.work aware).
pub fn collect(modules: &ModuleSet) -> Result<ModuleNeeds> {
    let repo_paths: Vec<&str> = modules.modules.iter().map(|m| m.path.as_str()).collect();
    let work = modules.gowork.as_deref().map(GoWork::read).transpose()?;
    let mut sums: Vec<(Utf8PathBuf, Utf8PathBuf, GoSum)> = Vec::new();
    for module in &modules.modules {
        let file = module.dir.join("go.sum");
        sums.push((module.dir.clone(), file.clone(), read_sum(&file)?));
    }
    if let (Some(work), Some(first)) = (&work, modules.modules.first()) {
        let file = work.dir().join("go.work.sum");
        sums.push((first.dir.clone(), file.clone(), read_sum(&file)?));
    }

    let mut needs: BTreeMap<(String, String), Need> = BTreeMap::new();
    for (owner, file, sum) in &sums {
        for line in &sum.entries {
            if repo_paths.contains(&line.module.as_str()) {
                continue;
            }
            let need = needs
                .entry((line.module.clone(), line.version.clone()))
                .or_insert_with(|| Need {
                    path: line.module.clone(),
                    version: line.version.clone(),
                    zip: false,
                    zip_sums: Vec::new(),
                    mod_sums: Vec::new(),
                    owner_dir: owner.clone(),
                });
            let recorded = RecordedSum {
                file: file.clone(),
                hash: line.hash.clone(),
            };
            if line.is_go_mod {
                need.mod_sums.push(recorded);
            } else {
                need.zip = true;
                need.zip_sums.push(recorded);
            }
        }
    }

    let mut missing = Vec::new();
    for (index, module) in modules.modules.iter().enumerate() {
        // In a workspace every go.sum (and go.work.sum) vouches for every module; else only its own.
        let pool: Vec<&GoSum> = if work.is_some() {
            sums.iter().map(|(_, _, s)| s).collect()
        } else {
            vec![&sums[index].2]
        };
        missing.extend(missing_sums(module, work.as_ref(), &repo_paths, &pool));
    }
    Ok(ModuleNeeds {
        needs: needs.into_values().collect(),
        missing,
        repo_modules: modules.modules.len(),
    })
}

fn read_sum(file: &Utf8Path) -> Result<GoSum> {
    if !file.is_file() {
        return Ok(GoSum::default());
    }
    GoSum::read(file).with_context(|| format!("reading the checksums in {file}"))
}

/// The requirements of `module` (after replacements) that `pool` has no go.sum line for:
/// a direct requirement needs the zip's line, an indirect one at least the `.mod` line.
fn missing_sums(
    module: &GoModule,
    work: Option<&GoWork>,
    repo_paths: &[&str],
    pool: &[&GoSum],
) -> Vec<MissingSum> {
    let mut missing = Vec::new();
    for require in &module.gomod.requires {
        let (path, version) = (&require.module.path, &require.module.version);
        let replaced = work
            .into_iter()
            .flat_map(|w| &w.replaces)
            .chain(&module.gomod.replaces)
            .find(|r| replaces(r, path, version));
        let (path, version) = match replaced {
            Some(r) if r.is_local() => continue,
            Some(r) => (&r.new.path, &r.new.version),
            None => (path, version),
        };
        if repo_paths.contains(&path.as_str()) {
            continue;
        }
        let has_zip = pool.iter().any(|s| s.zip_hash(path, version).is_some());
        let has_mod = pool.iter().any(|s| s.mod_hash(path, version).is_some());
        if has_zip || (has_mod && require.indirect) {
            continue;
        }
        missing.push(MissingSum {
            module_dir: module.dir.clone(),
            go_sum: module.dir.join("go.sum"),
            path: path.clone(),
            version: version.clone(),
            zip_only: has_mod,
        });
    }
    missing
}

fn replaces(replace: &Replace, path: &str, version: &str) -> bool {
    replace.old.path == path && (replace.old.version.is_empty() || replace.old.version == version)
}
