//! Target names: discovered names made unique deterministically, and the check that no two
//! targets share a name or an output.

use std::collections::BTreeMap;

use anyhow::{bail, Result};

use crate::workspace::targets::Target;

/// Makes discovered names unique, deterministically. A main package is named after its
/// directory (`generate`); when others share that name, after its module's directory and its own
/// (`tools-generate`); when that is shared too, after the shortest suffix of its import path that
/// none of them shares (`doc-generate`, `protocol-generate`). Names that stay shared are left
/// for `check_unique`, which refuses them.
pub(crate) fn disambiguate(targets: &mut [Target]) {
    let candidates: Vec<Vec<String>> = targets.iter().map(name_candidates).collect();
    let mut level = vec![0usize; targets.len()];
    loop {
        let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, names) in candidates.iter().enumerate() {
            groups.entry(names[level[i]].as_str()).or_default().push(i);
        }
        let mut moved = false;
        for members in groups.values().filter(|m| m.len() > 1) {
            for &i in members {
                if level[i] + 1 < candidates[i].len() {
                    level[i] += 1;
                    moved = true;
                }
            }
        }
        if !moved {
            break;
        }
    }
    for (i, t) in targets.iter_mut().enumerate() {
        t.name = candidates[i][level[i]].clone();
        t.output = t.name.clone();
    }
}

/// A target's names from least to most specific (see `disambiguate`).
fn name_candidates(t: &Target) -> Vec<String> {
    let parts: Vec<&str> = t.package.split('/').filter(|p| !p.is_empty()).collect();
    let mut names = vec![t.name.clone()];
    if let Some(module_dir) = t.module_dir.file_name() {
        names.push(format!("{module_dir}-{}", t.name));
    }
    for k in 2..=parts.len() {
        names.push(parts[parts.len() - k..].join("-"));
    }
    names
}

/// Every target's name and output must be unique: two targets of one name would share a
/// depfile, two of one output would overwrite each other's file.
pub fn check_unique(targets: &[Target]) -> Result<()> {
    let mut names: BTreeMap<&str, &Target> = BTreeMap::new();
    let mut outputs: BTreeMap<&str, &Target> = BTreeMap::new();
    for t in targets {
        if let Some(other) = names.insert(&t.name, t) {
            bail!(
                "two Go targets are named `{}`: {} ({}) and {} ({}); give one another `name` in [workspace.metadata.xtask-go]",
                t.name, other.package, other.package_dir, t.package, t.package_dir
            );
        }
        if let Some(other) = outputs.insert(&t.output, t) {
            bail!(
                "Go targets `{}` ({}) and `{}` ({}) both write the output `{}`; give one another `output` in [workspace.metadata.xtask-go]",
                other.name, other.package, t.name, t.package, t.output
            );
        }
    }
    Ok(())
}
