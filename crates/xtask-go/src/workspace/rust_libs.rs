//! The Rust libraries Go programs link through cgo: the `linked-by` declarations on crates, read
//! with the Go artifacts from one cargo metadata (`RustSide`), and the build-order cycle check
//! over both directions.

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;

use crate::workspace::project::{absolute_in, Project};
use crate::workspace::rust::{artifacts_in, metadata, GoArtifact};
use crate::workspace::targets::{LinkKind, LinkedCrate, Target};

/// Both directions, from one read of cargo metadata: what a session's targets load needs.
pub struct RustSide {
    pub artifacts: Vec<GoArtifact>,
    pub libraries: Vec<RustLibrary>,
    /// Each workspace crate and the workspace crates it depends on (for the cycle check).
    workspace_deps: Vec<(String, Vec<String>)>,
}

impl RustSide {
    pub fn read(project: &Project) -> Result<RustSide> {
        let Some(metadata) = metadata(project)? else {
            return Ok(RustSide {
                artifacts: Vec::new(),
                libraries: Vec::new(),
                workspace_deps: Vec::new(),
            });
        };
        let workspace = metadata.workspace_packages();
        let is_member = |name: &str| workspace.iter().any(|w| w.name.as_str() == name);
        let workspace_deps = workspace
            .iter()
            .map(|p| {
                let deps = p.dependencies.iter().map(|d| d.name.clone());
                (p.name.to_string(), deps.filter(|d| is_member(d)).collect())
            })
            .collect();
        Ok(RustSide {
            artifacts: artifacts_in(&metadata, project)?,
            libraries: libraries_in(&metadata, project)?,
            workspace_deps,
        })
    }
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
fn libraries_in(
    metadata: &cargo_metadata::Metadata,
    project: &Project,
) -> Result<Vec<RustLibrary>> {
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
                local_build_script: local_build_script(metadata, package),
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
pub fn check_acyclic(rust: &RustSide, project: &Project, targets: &[Target]) -> Result<()> {
    let next = |node: &Node| -> Vec<Node> {
        match node {
            Node::Go(dir) => targets
                .iter()
                .filter(|t| &t.package_dir == dir)
                .flat_map(|t| t.links.iter().map(|l| Node::Crate(l.crate_name.clone())))
                .collect(),
            Node::Crate(name) => {
                let archives = rust
                    .artifacts
                    .iter()
                    .filter(|a| &a.crate_name == name)
                    .map(|a| Node::Go(a.package_dir.clone()));
                let deps = rust
                    .workspace_deps
                    .iter()
                    .filter(|(p, _)| p == name)
                    .flat_map(|(_, deps)| deps.iter().map(|d| Node::Crate(d.clone())));
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
