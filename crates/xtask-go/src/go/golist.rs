//! `go list -deps -json` as go writes it: the fields this crate reads of each package of a
//! closure, the arguments that ask for exactly them, and the parse of go's JSON stream. Running
//! go is the caller's (through `toolchain::run`).

use anyhow::{Context, Result};
use camino::Utf8PathBuf;
use serde::Deserialize;

/// The fields of `go list -deps -json` that make up an input set.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListedPackage {
    pub import_path: String,
    /// Every package it imports, directly or not (what splits one listing of many targets).
    pub deps: Vec<String>,
    pub dir: Utf8PathBuf,
    pub standard: bool,
    pub module: Option<ListedModule>,
    pub go_files: Vec<String>,
    pub cgo_files: Vec<String>,
    pub c_files: Vec<String>,
    pub c_x_x_files: Vec<String>,
    pub m_files: Vec<String>,
    pub h_files: Vec<String>,
    pub f_files: Vec<String>,
    pub s_files: Vec<String>,
    pub swig_files: Vec<String>,
    pub swig_c_x_x_files: Vec<String>,
    pub syso_files: Vec<String>,
    pub embed_files: Vec<String>,
    pub ignored_go_files: Vec<String>,
    pub ignored_other_files: Vec<String>,
    #[serde(rename = "CgoCFLAGS")]
    pub cgo_cflags: Vec<String>,
    #[serde(rename = "CgoCPPFLAGS")]
    pub cgo_cppflags: Vec<String>,
    #[serde(rename = "CgoCXXFLAGS")]
    pub cgo_cxxflags: Vec<String>,
    #[serde(rename = "CgoLDFLAGS")]
    pub cgo_ldflags: Vec<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListedModule {
    pub path: String,
    pub version: String,
    pub go_mod: Option<Utf8PathBuf>,
    pub replace: Option<Box<ListedModule>>,
}

/// The fields `deps_args` asks for: what `ListedPackage` reads.
const DEPS_FIELDS: &str =
    "ImportPath,Deps,Dir,Standard,Module,GoFiles,CgoFiles,CFiles,CXXFiles,MFiles,HFiles,FFiles,SFiles,\
SwigFiles,SwigCXXFiles,SysoFiles,EmbedFiles,IgnoredGoFiles,IgnoredOtherFiles,\
CgoCFLAGS,CgoCPPFLAGS,CgoCXXFLAGS,CgoLDFLAGS";

/// The go list arguments for a package's input closure.
pub fn deps_args(tags: &[String], package: &str) -> Vec<String> {
    deps_args_of(tags, &[package])
}

/// The go list arguments for the union of several packages' closures (one listing for a batch).
pub fn deps_args_of(tags: &[String], packages: &[&str]) -> Vec<String> {
    let mut args = vec![
        "list".to_string(),
        "-deps".into(),
        format!("-json={DEPS_FIELDS}"),
    ];
    if !tags.is_empty() {
        args.push(format!("-tags={}", tags.join(",")));
    }
    args.extend(packages.iter().map(|p| p.to_string()));
    args
}

/// The packages of `root`'s closure (itself and its deps) out of a listing of many roots.
pub fn closure_of<'a>(packages: &'a [ListedPackage], root: &str) -> Vec<&'a ListedPackage> {
    let Some(top) = packages.iter().find(|p| p.import_path == root) else {
        return Vec::new();
    };
    let wanted: std::collections::HashSet<&str> =
        top.deps.iter().map(String::as_str).chain([root]).collect();
    packages
        .iter()
        .filter(|p| wanted.contains(p.import_path.as_str()))
        .collect()
}

/// The packages of a `go list -json` stream, in go's order.
pub fn parse_packages(stdout: &[u8]) -> Result<Vec<ListedPackage>> {
    serde_json::Deserializer::from_slice(stdout)
        .into_iter()
        .collect::<Result<_, _>>()
        .context("parsing `go list -deps -json`")
}
