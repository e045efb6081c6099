//! The Rust side of the repo: workspace crates from cargo metadata, the Go artifacts they ask for
//! in `[package.metadata.xtask-go]` (`c-archive = "go/pkg"` or `c-shared = "go/pkg"`), the
//! variables through which their build scripts find those artifacts (the other direction, the
//! Rust libraries Go programs link, is `rust_libs.rs`).
//!
//! For an artifact named N (the package directory's name), cargo gets:
//! `XTASK_GO_<N>_LIB_DIR` (the directory holding `libN.a` / `libN.so` and the header `libN.h`),
//! `XTASK_GO_<N>_LIB_NAME` (`N`), `XTASK_GO_<N>_LINK` (`static` or `dylib`), with N upper-cased
//! and every character that is not a letter or digit turned into `_`.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;

use crate::workspace::project::{absolute_in, BuildMode, Project};
use crate::workspace::targets::Target;

/// How a Go package is built for a Rust crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArtifactKind {
    CArchive,
    CShared,
}

impl ArtifactKind {
    pub fn buildmode(self) -> BuildMode {
        match self {
            ArtifactKind::CArchive => BuildMode::CArchive,
            ArtifactKind::CShared => BuildMode::CShared,
        }
    }
    fn link(self) -> &'static str {
        match self {
            ArtifactKind::CArchive => "static",
            ArtifactKind::CShared => "dylib",
        }
    }
}

/// A Go package that a Rust crate links.
#[derive(Debug, Clone, Serialize)]
pub struct GoArtifact {
    /// The crate that asked for it.
    pub crate_name: String,
    pub kind: ArtifactKind,
    /// Absolute directory of the Go package.
    pub package_dir: Utf8PathBuf,
    /// The library name: the package directory's name (`golib` for libgolib.a).
    pub name: String,
}

impl GoArtifact {
    /// `XTASK_GO_GOLIB`: the prefix of this artifact's variables.
    pub fn env_prefix(&self) -> String {
        let upper: String = self
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        format!("XTASK_GO_{upper}")
    }

    /// The variables a crate's build script reads, for outputs placed in `output_dir`.
    pub fn cargo_env(&self, output_dir: &Utf8Path) -> BTreeMap<String, String> {
        let prefix = self.env_prefix();
        BTreeMap::from([
            (format!("{prefix}_LIB_DIR"), output_dir.to_string()),
            (format!("{prefix}_LIB_NAME"), self.name.clone()),
            (format!("{prefix}_LINK"), self.kind.link().to_string()),
        ])
    }

    /// Makes `target` the build of this artifact: its buildmode, cgo on, its library name.
    pub fn apply_to(&self, target: &mut Target) {
        target.buildmode = self.kind.buildmode();
        target.cgo = true;
        target.output = self.name.clone();
    }
}

/// The workspace's cargo metadata: the session's, else read now (a session from a snapshot has
/// none); None without a Cargo.toml.
pub fn metadata(project: &Project) -> Result<Option<cargo_metadata::Metadata>> {
    match &project.cargo {
        Some(metadata) => Ok(Some(metadata.clone())),
        None if project.root.join("Cargo.toml").is_file() => Ok(Some(
            crate::workspace::project::cargo_metadata(&project.root.join("Cargo.toml"))?,
        )),
        None => Ok(None),
    }
}

/// Whether the workspace has any crate for cargo to build.
pub fn has_crates(project: &Project) -> Result<bool> {
    Ok(metadata(project)?.is_some_and(|m| !m.workspace_members.is_empty()))
}

/// The Go artifacts the workspace's crates ask for.
pub fn go_artifacts(project: &Project) -> Result<Vec<GoArtifact>> {
    match metadata(project)? {
        Some(metadata) => artifacts_in(&metadata, project),
        None => Ok(Vec::new()),
    }
}

pub(super) fn artifacts_in(
    metadata: &cargo_metadata::Metadata,
    project: &Project,
) -> Result<Vec<GoArtifact>> {
    let mut artifacts = Vec::new();
    for package in metadata.workspace_packages() {
        let Some(table) = package.metadata.get("xtask-go") else {
            continue;
        };
        let manifest = &package.manifest_path;
        for (key, kind) in [
            ("c-archive", ArtifactKind::CArchive),
            ("c-shared", ArtifactKind::CShared),
        ] {
            let Some(value) = table.get(key) else {
                continue;
            };
            let dir = value.as_str().with_context(|| format!("{manifest}: [package.metadata.xtask-go] {key} must be a string: the Go package directory, relative to the workspace root"))?;
            let package_dir = absolute_in(&project.root, Utf8Path::new(dir));
            if !package_dir.is_dir() {
                bail!("{manifest}: [package.metadata.xtask-go] {key} = \"{dir}\": no directory {package_dir}");
            }
            let name = package_dir.file_name().unwrap_or("go").to_string();
            artifacts.push(GoArtifact {
                crate_name: package.name.to_string(),
                kind,
                package_dir,
                name,
            });
        }
    }
    Ok(artifacts)
}

/// The manifests of every workspace crate (for the session snapshot's stamps).
pub fn manifests(project: &Project) -> Vec<Utf8PathBuf> {
    project
        .cargo
        .iter()
        .flat_map(|m| {
            m.workspace_packages()
                .into_iter()
                .map(|p| Utf8PathBuf::from(p.manifest_path.as_str()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_variables_are_named_after_the_library() {
        let a = GoArtifact {
            crate_name: "c".into(),
            kind: ArtifactKind::CArchive,
            package_dir: "/r/go/go-lib".into(),
            name: "go-lib".into(),
        };
        let env = a.cargo_env(Utf8Path::new("/out"));
        assert_eq!(env["XTASK_GO_GO_LIB_LIB_DIR"], "/out");
        assert_eq!(env["XTASK_GO_GO_LIB_LIB_NAME"], "go-lib");
        assert_eq!(env["XTASK_GO_GO_LIB_LINK"], "static");
    }
}
