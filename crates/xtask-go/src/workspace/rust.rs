//! The Rust side of the repo: workspace crates from cargo metadata, the Go artifacts they ask for
//! in `[package.metadata.xtask-go]` (`c-archive = "go/pkg"` or `c-shared = "go/pkg"`), the
//! variables through which their build scripts find those artifacts, and the other direction:
//! the Rust libraries Go programs link (`linked-by = ["go/cmd"]`).
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
use crate::workspace::targets::{LinkKind, LinkedCrate, Target};

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
    let Some(metadata) = metadata(project)? else {
        return Ok(Vec::new());
    };
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

/// A workspace crate that Go programs link through cgo: declared on the crate, as
/// `[package.metadata.xtask-go] linked-by = ["go/cmd"]` (the Go package directories), with the
/// C header of its API in `header`. On the crate, like `c-archive`: the crate's table says
/// everything about its Go relations, and a discovered Go target needs no config of its own.
#[derive(Debug, Clone, Serialize)]
pub struct RustLibrary {
    pub link: LinkedCrate,
    /// Absolute directories of the Go packages that link it.
    pub linked_by: Vec<Utf8PathBuf>,
}

impl RustLibrary {
    /// Makes `target` link this library: cgo on, the crate in its links.
    pub fn link_into(&self, target: &mut Target) {
        target.cgo = true;
        if !target.links.contains(&self.link) {
            target.links.push(self.link.clone());
        }
    }
}

/// The Rust libraries that the workspace's Go packages link (`linked-by` declarations).
pub fn rust_libraries(project: &Project) -> Result<Vec<RustLibrary>> {
    let Some(metadata) = metadata(project)? else {
        return Ok(Vec::new());
    };
    let mut libraries = Vec::new();
    for package in metadata.workspace_packages() {
        let Some(table) = package.metadata.get("xtask-go") else {
            continue;
        };
        let Some(linked_by) = table.get("linked-by") else {
            continue;
        };
        let manifest = Utf8PathBuf::from(package.manifest_path.as_str());
        let at = format!("{manifest}: [package.metadata.xtask-go] linked-by");
        let dirs = linked_by
            .as_array()
            .and_then(|a| a.iter().map(|v| v.as_str()).collect::<Option<Vec<_>>>())
            .with_context(|| {
                format!(
                    "{at} must be a list of Go package directories, relative to the workspace root"
                )
            })?;
        let mut packages = Vec::new();
        for dir in dirs {
            let package_dir = absolute_in(&project.root, Utf8Path::new(dir));
            if !package_dir.is_dir() {
                bail!("{at}: \"{dir}\" names no directory ({package_dir})");
            }
            packages.push(package_dir);
        }
        let lib = package
            .targets
            .iter()
            .find(|t| {
                t.kind.iter().any(|k| {
                    k.to_string() == "lib"
                        || k.to_string() == "staticlib"
                        || k.to_string() == "cdylib"
                })
            })
            .with_context(|| {
                format!("{manifest}: `linked-by` is declared but the crate has no [lib] target")
            })?;
        let types: Vec<String> = lib.crate_types.iter().map(|t| t.to_string()).collect();
        let kind = if types.iter().any(|t| t == "staticlib") {
            LinkKind::Static
        } else if types.iter().any(|t| t == "cdylib") {
            LinkKind::Dynamic
        } else {
            bail!("{manifest}: Go links `{}` through cgo, so its [lib] needs `crate-type = [\"staticlib\"]` (or \"cdylib\"); it has {types:?}", package.name);
        };
        let header = match table.get("header") {
            None => None,
            Some(value) => {
                let rel = value.as_str().with_context(|| format!("{manifest}: [package.metadata.xtask-go] header must be a string: the C header, relative to the crate"))?;
                let crate_dir = manifest.parent().expect("a manifest has a directory");
                let path = absolute_in(crate_dir, Utf8Path::new(rel));
                if !path.is_file() {
                    bail!("{manifest}: [package.metadata.xtask-go] header = \"{rel}\": no file {path}");
                }
                Some(path)
            }
        };
        libraries.push(RustLibrary {
            link: LinkedCrate {
                crate_name: package.name.to_string(),
                lib_name: lib.name.replace('-', "_"),
                kind,
                header,
                manifest,
                local_build_script: local_build_script(&metadata, package),
            },
            linked_by: packages,
        });
    }
    Ok(libraries)
}

/// Whether `package`, or a path dependency it reaches, has a build script: what a build script
/// reads (a `rerun-if-env-changed` variable, say) is in no dep-info, so only cargo can tell
/// whether it must run.
fn local_build_script(
    metadata: &cargo_metadata::Metadata,
    package: &cargo_metadata::Package,
) -> bool {
    let mut queue = vec![package];
    let mut seen: Vec<&str> = Vec::new();
    while let Some(p) = queue.pop() {
        if seen.contains(&p.name.as_str()) {
            continue;
        }
        seen.push(p.name.as_str());
        if p.targets
            .iter()
            .any(|t| t.kind.iter().any(|k| k.to_string() == "custom-build"))
        {
            return true;
        }
        for dep in p.dependencies.iter().filter(|d| d.path.is_some()) {
            queue.extend(
                metadata
                    .packages
                    .iter()
                    .filter(|q| q.name.as_str() == dep.name),
            );
        }
    }
    false
}

/// One end of a build-order edge between the two languages.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Crate(String),
    Go(Utf8PathBuf),
}

/// Fails when the Rust/Go build order has a cycle: a Go program linking a crate that links
/// (itself, or through a workspace crate it depends on) a Go archive built from that program's
/// package. The error names both ends.
pub fn check_acyclic(project: &Project, targets: &[Target]) -> Result<()> {
    if targets.iter().all(|t| t.links.is_empty()) {
        return Ok(());
    }
    let artifacts = go_artifacts(project)?;
    let metadata = metadata(project)?;
    let workspace: Vec<&cargo_metadata::Package> = metadata
        .as_ref()
        .map(|m| m.workspace_packages())
        .unwrap_or_default();
    let next = |node: &Node| -> Vec<Node> {
        match node {
            Node::Go(dir) => targets
                .iter()
                .filter(|t| &t.package_dir == dir)
                .flat_map(|t| t.links.iter().map(|l| Node::Crate(l.crate_name.clone())))
                .collect(),
            Node::Crate(name) => {
                let archives = artifacts
                    .iter()
                    .filter(|a| &a.crate_name == name)
                    .map(|a| Node::Go(a.package_dir.clone()));
                let deps = workspace
                    .iter()
                    .filter(|p| p.name.as_str() == name.as_str())
                    .flat_map(|p| p.dependencies.iter())
                    .filter(|d| workspace.iter().any(|w| w.name.as_str() == d.name))
                    .map(|d| Node::Crate(d.name.clone()));
                archives.chain(deps).collect()
            }
        }
    };
    for target in targets.iter().filter(|t| !t.links.is_empty()) {
        let start = Node::Go(target.package_dir.clone());
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = Vec::new();
        while let Some((node, path)) = stack.pop() {
            for after in next(&node) {
                if after == start {
                    let shown: Vec<String> = path
                        .iter()
                        .map(|n| match n {
                            Node::Go(dir) => format!("Go package {}", project.display_path(dir)),
                            Node::Crate(name) => format!("crate `{name}`"),
                        })
                        .collect();
                    bail!(
                        "a build cycle between Rust and Go: {} needs {} built first, which needs it ({}); drop one of the declarations in [package.metadata.xtask-go] (`linked-by`, `c-archive`, `c-shared`)",
                        shown[0],
                        shown[1],
                        shown.join(" -> ") + " -> " + &shown[0]
                    );
                }
                if !seen.contains(&after) {
                    seen.push(after.clone());
                    let mut longer = path.clone();
                    longer.push(after.clone());
                    stack.push((after, longer));
                }
            }
        }
    }
    Ok(())
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
