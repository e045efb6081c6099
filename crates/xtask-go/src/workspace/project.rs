//! The project: its root, its target dir, and the `[workspace.metadata.xtask-go]` configuration,
//! read through cargo_metadata. It knows nothing of go.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use serde::{Deserialize, Serialize};

use crate::host::toolchain::{self, ProcessSpec};
use crate::util::env_vars::EnvVars;
use crate::workspace::settings::Settings;

/// `[workspace.metadata.xtask-go]` of the root Cargo.toml. Every field is optional: zero config works.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Config {
    /// Directories (relative to the root) searched for go.work / go.mod files.
    #[serde(default = "default_roots")]
    pub roots: Vec<Utf8PathBuf>,
    /// Paths discovery leaves alone, as gitignore lines relative to the root (`tests/fixtures/`,
    /// `/examples/*/`); what the repository's .gitignore files exclude is left alone too.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// GOMODCACHE for every go process; default: the user's module cache.
    pub gomodcache: Option<Utf8PathBuf>,
    /// Build with cgo by default (CGO_ENABLED=1). Default: off, so that builds
    /// are reproducible and cross builds need no C toolchain.
    #[serde(default)]
    pub cgo: bool,
    /// `-trimpath` (default on: outputs do not depend on where the repo lives).
    #[serde(default = "yes")]
    pub trimpath: bool,
    /// `-buildvcs` (default off: outputs do not depend on the commit or a dirty tree).
    #[serde(default)]
    pub buildvcs: bool,
    /// GOAMD64 for amd64 platforms (`v1`..`v4`); default `v1`, what every x86-64 CPU runs.
    pub goamd64: Option<String>,
    /// The C compiler cgo uses, per target triple (else CC_<triple> / CC, as the cc crate).
    #[serde(default)]
    pub cc: BTreeMap<String, String>,
    /// The C++ compiler, per triple (else CXX_<triple> / CXX).
    #[serde(default)]
    pub cxx: BTreeMap<String, String>,
    /// Extra flags for GOFLAGS, each `-flag` or `-flag=value`.
    #[serde(default)]
    pub goflags: Vec<String>,
    /// The build cache's store; default `target/go/cache` (`XTASK_GO_CACHE_DIR` overrides).
    pub cache_dir: Option<Utf8PathBuf>,
    /// Size limit of the local store, applied after builds (`500M`, `2G`); default 2G.
    pub cache_max_size: Option<String>,
    /// The remote cache: the base URL of a Bazel HTTP cache (`http(s)://`) or a REAPI server
    /// (`grpc(s)://host:port`); `XTASK_GO_REMOTE_CACHE` overrides; default: none.
    pub remote_cache: Option<String>,
    /// The REAPI instance name of a grpc:// remote (`XTASK_GO_REMOTE_INSTANCE` overrides).
    pub remote_instance: Option<String>,
    /// Read the remote cache, never write it (as `--remote-read-only`).
    #[serde(default)]
    pub remote_read_only: bool,
    /// Let go's own per-package cache go through `cargo xtask cacheprog` (GOCACHEPROG, go 1.24+).
    #[serde(default)]
    pub gocacheprog: bool,
    /// Explicit targets; when present, they replace discovery.
    #[serde(default)]
    pub targets: Vec<TargetConfig>,
}

/// One `[[workspace.metadata.xtask-go.targets]]` entry.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TargetConfig {
    pub name: String,
    /// The module path or its directory (relative to the root); found from the package if absent.
    pub module: Option<String>,
    /// An import path, or a directory relative to the module (`./cmd/tool`).
    pub package: String,
    /// The output file name (without `.exe`); default: the target name.
    pub output: Option<String>,
    pub ldflags: Option<String>,
    pub gcflags: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub cgo: Option<bool>,
    /// `exe` (default), `pie`, `c-archive`, `c-shared`, `plugin`; another value is an error
    /// when the config is read.
    pub buildmode: Option<BuildMode>,
    /// Triples this target builds for; default: whatever the command asks for.
    #[serde(default)]
    pub platforms: Vec<String>,
}

fn default_roots() -> Vec<Utf8PathBuf> {
    vec!["go".into()]
}
fn yes() -> bool {
    true
}

impl Default for Config {
    fn default() -> Self {
        Config {
            roots: default_roots(),
            exclude: Vec::new(),
            gomodcache: None,
            cgo: false,
            trimpath: true,
            buildvcs: false,
            goamd64: None,
            cc: BTreeMap::new(),
            cxx: BTreeMap::new(),
            goflags: Vec::new(),
            cache_dir: None,
            cache_max_size: None,
            remote_cache: None,
            remote_instance: None,
            remote_read_only: false,
            gocacheprog: false,
            targets: Vec::new(),
        }
    }
}

/// Where the project lives and how it is configured.
/// go's `-buildmode` for a target: the ones this tool knows the outputs of.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BuildMode {
    #[default]
    Exe,
    Pie,
    /// A static library and its header, `lib<name>.a` + `lib<name>.h`.
    CArchive,
    /// A shared library and its header.
    CShared,
    Plugin,
}

impl BuildMode {
    /// The `-buildmode` value.
    pub fn as_str(self) -> &'static str {
        match self {
            BuildMode::Exe => "exe",
            BuildMode::Pie => "pie",
            BuildMode::CArchive => "c-archive",
            BuildMode::CShared => "c-shared",
            BuildMode::Plugin => "plugin",
        }
    }

    /// Whether go also writes a C header beside the output.
    pub fn writes_c_header(self) -> bool {
        matches!(self, BuildMode::CArchive | BuildMode::CShared)
    }
}

#[derive(Debug, Clone)]
pub struct Project {
    /// Absolute path of the directory holding the workspace Cargo.toml (or go.work).
    pub root: Utf8PathBuf,
    /// Cargo's target directory (honours CARGO_TARGET_DIR); Go outputs go to `<target_dir>/go`.
    pub target_dir: Utf8PathBuf,
    pub config: Config,
    /// The run's settings: config, environment and flags, resolved once.
    pub settings: Settings,
    /// `cargo metadata --no-deps`, when the root has a Cargo.toml.
    pub cargo: Option<cargo_metadata::Metadata>,
}

impl Project {
    /// Finds the project that contains `start`: the nearest ancestor with a
    /// Cargo.toml holding `[workspace]`, else with a Cargo.toml or a go.work.
    pub fn discover(start: &Utf8Path) -> Result<Project> {
        Project::load(&Project::find_root(start)?)
    }

    /// The root of the project that contains `start` (see [`Project::discover`]), without loading it.
    pub fn find_root(start: &Utf8Path) -> Result<Utf8PathBuf> {
        let start = absolute(start)?;
        let has_workspace = |dir: &Utf8Path| {
            std::fs::read_to_string(dir.join("Cargo.toml"))
                .is_ok_and(|t| t.lines().any(|l| l.trim() == "[workspace]"))
        };
        let root = start
            .ancestors()
            .find(|d| has_workspace(d))
            .or_else(|| {
                start
                    .ancestors()
                    .find(|d| d.join("Cargo.toml").is_file() || d.join("go.work").is_file())
            })
            .unwrap_or(&start)
            .to_owned();
        Ok(root)
    }

    /// Loads the project rooted at `root` (absolute).
    pub fn load(root: &Utf8Path) -> Result<Project> {
        let root = absolute(root)?;
        let manifest = root.join("Cargo.toml");
        if !manifest.is_file() {
            let target_dir = std::env::var(EnvVars::CARGO_TARGET_DIR)
                .map(Utf8PathBuf::from)
                .unwrap_or_else(|_| root.join("target"));
            let target_dir = absolute_in(&root, &target_dir);
            let config = Config::default();
            return Ok(Project {
                settings: Settings::resolve(&root, &target_dir, &config)?,
                target_dir,
                root,
                config,
                cargo: None,
            });
        }
        let metadata = cargo_metadata(&manifest)?;
        let config = match metadata.workspace_metadata.get("xtask-go") {
            Some(value) => Config::deserialize(value)
                .with_context(|| format!("{manifest}: invalid [workspace.metadata.xtask-go]"))?,
            None => Config::default(),
        };
        let target_dir = Utf8PathBuf::from(metadata.target_directory.as_str());
        Ok(Project {
            settings: Settings::resolve(&root, &target_dir, &config)?,
            root,
            target_dir,
            config,
            cargo: Some(metadata),
        })
    }

    /// `<target>/go`: everything this tool writes lives below it.
    pub fn go_dir(&self) -> Utf8PathBuf {
        self.target_dir.join("go")
    }

    /// A path relative to the root for display (`go/hello`), else as is.
    pub fn display_path<'a>(&self, path: &'a Utf8Path) -> &'a Utf8Path {
        path.strip_prefix(&self.root).unwrap_or(path)
    }
}

/// The cargo that runs us (`$CARGO`), else the one on PATH.
pub fn cargo_binary() -> Result<Utf8PathBuf> {
    let cargo = std::env::var(EnvVars::CARGO)
        .ok()
        .filter(|c| !c.is_empty())
        .map(Utf8PathBuf::from)
        .unwrap_or_else(|| "cargo".into());
    if cargo.is_absolute() {
        return Ok(cargo);
    }
    which::which(cargo.as_str())
        .ok()
        .and_then(|p| Utf8PathBuf::from_path_buf(p).ok())
        .context("no `cargo` on PATH: install Rust from https://rustup.rs")
}

/// `cargo metadata --no-deps` for `manifest`, spawned like every process through the toolchain module.
pub fn cargo_metadata(manifest: &Utf8Path) -> Result<cargo_metadata::Metadata> {
    let cargo = cargo_binary()?;
    let env: BTreeMap<String, String> = toolchain::passthrough_env(&[
        "CARGO_HOME",
        "RUSTUP_HOME",
        "RUSTUP_TOOLCHAIN",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET_DIR",
    ]);
    let dir = manifest.parent().expect("manifest has a parent");
    let spec = ProcessSpec::new(cargo, dir)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
            manifest.as_str(),
        ])
        .envs(&env);
    let out = toolchain::run(&spec)?;
    if !out.success() {
        bail!(
            "`cargo metadata` failed for {manifest}:\n{}",
            out.stderr_str().trim_end()
        );
    }
    cargo_metadata::MetadataCommand::parse(out.stdout_str())
        .with_context(|| format!("parsing `cargo metadata` for {manifest}"))
}

/// `path` made absolute against the current directory (without resolving symlinks).
pub fn absolute(path: &Utf8Path) -> Result<Utf8PathBuf> {
    if path.is_absolute() {
        return Ok(path.to_owned());
    }
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let cwd = Utf8PathBuf::from_path_buf(cwd)
        .map_err(|p| anyhow::anyhow!("current directory {} is not UTF-8", p.display()))?;
    Ok(absolute_in(&cwd, path))
}

/// `path` resolved against `base` when relative, with `.` and `..` folded lexically.
pub fn absolute_in(base: &Utf8Path, path: &Utf8Path) -> Utf8PathBuf {
    let joined = base.join(path);
    let mut out = Utf8PathBuf::new();
    for part in joined.components() {
        match part {
            camino::Utf8Component::CurDir => {}
            camino::Utf8Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}
