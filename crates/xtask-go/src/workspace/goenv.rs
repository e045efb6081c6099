//! The pinned environment: the complete, explicit set of variables every go process runs with.
//!
//! Nothing from the caller's environment reaches go unless it is listed here:
//! a user's `go env -w` file, a `GOCACHE=off`, a stray `GOFLAGS` or `GOOS` cannot
//! change a build. `cargo xtask go-env` prints exactly what this module builds.

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};

use crate::host::platform::GoPlatform;
use crate::host::toolchain::{self, Toolchain};
use crate::util::env_vars::EnvVars;
use crate::workspace::project::Project;

/// Variables of the caller's environment that reach go unchanged: they say
/// where modules come from and how they are verified, not what is built.
pub const GO_PASSTHROUGH: &[&str] = &[
    "GOPROXY",
    "GOSUMDB",
    "GOPRIVATE",
    "GONOSUMDB",
    "GONOPROXY",
    "GOINSECURE",
    "GOAUTH",
    "GOVCS",
];

/// How go treats go.mod and vendor/ for a module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModMode {
    /// `-mod=readonly`: go.mod and go.sum are never rewritten by a build.
    Readonly,
    /// `-mod=vendor`: the committed vendor tree is what gets built.
    Vendor,
}

/// The knobs of an environment: one value per (project, platform, module, cgo).
#[derive(Debug, Clone)]
pub struct EnvRequest<'a> {
    pub platform: &'a GoPlatform,
    pub cgo: bool,
    pub mod_mode: ModMode,
    /// The go.work in force, or None for `GOWORK=off`.
    pub gowork: Option<&'a Utf8Path>,
    /// GOPROXY=off: every module must already be in GOMODCACHE.
    pub offline: bool,
}

/// The caller's variables a cgo build takes as they are (flags, archiver, pkg-config): each
/// shapes the output, so the build cache keys on every one (`ops/build/unit_key.rs`).
pub const CGO_CALLER_VARIABLES: &[&str] = &[
    "CGO_CFLAGS",
    "CGO_CPPFLAGS",
    "CGO_CXXFLAGS",
    "CGO_LDFLAGS",
    "AR",
    "PKG_CONFIG",
];

/// A complete environment for go processes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PinnedEnv {
    pub vars: BTreeMap<String, String>,
}

impl PinnedEnv {
    /// Builds the environment for `request`. GOTMPDIR is left to [`PinnedEnv::with_tmpdir`].
    pub fn new(project: &Project, toolchain: &Toolchain, request: &EnvRequest<'_>) -> PinnedEnv {
        let config = &project.config;
        let mut vars = toolchain::passthrough_env(GO_PASSTHROUGH);
        let mut set = |k: &str, v: &str| {
            vars.insert(k.to_string(), v.to_string());
        };
        set("GOENV", "off");
        set("GOTOOLCHAIN", "local");
        set(
            "GOCACHE",
            gocache_dir(project, &request.platform.triple).as_str(),
        );
        set("GOMODCACHE", gomodcache(project, toolchain).as_str());
        if !toolchain.info.gopath.is_empty() {
            set("GOPATH", &toolchain.info.gopath);
        }
        set("GOWORK", request.gowork.map_or("off", |p| p.as_str()));
        for (k, v) in request.platform.env() {
            set(k, v);
        }
        if let (Some(level), "amd64") = (&config.goamd64, request.platform.goarch) {
            set("GOAMD64", level);
        }
        set("CGO_ENABLED", if request.cgo { "1" } else { "0" });
        set("GOFLAGS", &goflags(config, request.mod_mode).join(" "));
        if request.offline {
            set("GOPROXY", "off");
        }
        // GOEXPERIMENT is pinned empty: a leaked experiment changes the compiler.
        set("GOEXPERIMENT", "");
        // go's own cache through `cacheprog` when the config asks (ops/cacheprog/).
        if let Some(prog) = crate::workspace::settings::gocacheprog_command_line(project) {
            set("GOCACHEPROG", &prog);
            for name in EnvVars::CACHEPROG_PASSTHROUGH {
                if let Ok(value) = std::env::var(name) {
                    set(name, &value);
                }
            }
        }
        if request.cgo {
            let triple = &request.platform.triple;
            for (var, table) in [("CC", &config.cc), ("CXX", &config.cxx)] {
                if let Some(compiler) = c_compiler_or_default(table, var, triple) {
                    set(var, &compiler);
                }
            }
            for name in CGO_CALLER_VARIABLES {
                if let Ok(value) = std::env::var(name) {
                    set(name, &value);
                }
            }
        }
        PinnedEnv { vars }
    }

    /// The same environment naming `<target>/go/native/<digest>/` (created here, empty) in the
    /// cgo flags, `-I` last in CGO_CPPFLAGS and `-L` first in CGO_LDFLAGS: `digest` names the
    /// contents of the native inputs go does not track (`InputSet::native_digest`), so go's
    /// action IDs change when a header or library does. The empty directory resolves nothing.
    pub fn with_native_digest(
        mut self,
        project: &Project,
        digest: &str,
    ) -> std::io::Result<PinnedEnv> {
        let dir = project.go_dir().join("native").join(digest);
        std::fs::create_dir_all(&dir)?;
        let cppflags = match self.vars.get("CGO_CPPFLAGS") {
            Some(flags) if !flags.is_empty() => format!("{flags} -I{dir}"),
            _ => format!("-I{dir}"),
        };
        // Unset, CGO_LDFLAGS is go's default `-O2 -g`, which must follow.
        let ldflags = self
            .vars
            .get("CGO_LDFLAGS")
            .cloned()
            .unwrap_or_else(|| "-O2 -g".into());
        self.vars.insert("CGO_CPPFLAGS".into(), cppflags);
        self.vars
            .insert("CGO_LDFLAGS".into(), format!("-L{dir} {ldflags}"));
        Ok(self)
    }

    /// The same environment with GOTMPDIR set (a directory that must exist).
    pub fn with_tmpdir(mut self, dir: &Utf8Path) -> PinnedEnv {
        self.vars.insert("GOTMPDIR".into(), dir.to_string());
        self
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }
}

/// The C (or C++) compiler cgo uses for `triple`: the config's table (`cc` / `cxx`), else the
/// convention of the cc crate: `CC_<triple>`, `CC_<triple with underscores>`, then `TARGET_CC`
/// for a cross triple or `CC` for the host.
pub fn c_compiler(table: &BTreeMap<String, String>, var: &str, triple: &str) -> Option<String> {
    let env = |name: String| std::env::var(name).ok().filter(|v| !v.is_empty());
    let general = if triple == crate::host::platform::host_triple() {
        var.to_string()
    } else {
        format!("TARGET_{var}")
    };
    table
        .get(triple)
        .cloned()
        .or_else(|| env(format!("{var}_{triple}")))
        .or_else(|| env(format!("{var}_{}", triple.replace('-', "_"))))
        .or_else(|| env(general))
}

/// [`c_compiler`], else, for a cross triple, the cc crate's default name (`aarch64-linux-gnu-gcc`,
/// `-g++` for CXX): what cgo, and cargo for a Rust library Go links, use.
pub fn c_compiler_or_default(
    table: &BTreeMap<String, String>,
    var: &str,
    triple: &str,
) -> Option<String> {
    let suffix = if var == "CXX" { "g++" } else { "gcc" };
    let cross = triple != crate::host::platform::host_triple();
    c_compiler(table, var, triple).or_else(|| {
        cross
            .then(|| crate::host::ccompiler::default_cross_compiler(triple))
            .flatten()
            .map(|(prefix, _)| format!("{prefix}-{suffix}"))
    })
}

/// `<target>/go/<triple>/gocache`: one go build cache per platform. `XTASK_GO_GOCACHE`
/// (an absolute directory) moves it, for a CI cache shared by several checkouts.
pub fn gocache_dir(project: &Project, triple: &str) -> Utf8PathBuf {
    match std::env::var(EnvVars::XTASK_GO_GOCACHE) {
        Ok(dir) if Utf8Path::new(&dir).is_absolute() => Utf8PathBuf::from(dir).join(triple),
        _ => project.go_dir().join(triple).join("gocache"),
    }
}

/// `<target>/go/<triple>/tmp`: parent of the per-target GOTMPDIRs.
pub fn tmp_root(project: &Project, triple: &str) -> Utf8PathBuf {
    project.go_dir().join(triple).join("tmp")
}

/// GOMODCACHE: the config's, else the user's (their GOMODCACHE or GOPATH/pkg/mod).
pub fn gomodcache(project: &Project, toolchain: &Toolchain) -> Utf8PathBuf {
    match &project.config.gomodcache {
        Some(dir) => crate::workspace::project::absolute_in(&project.root, dir),
        None => toolchain.info.gomodcache.clone(),
    }
}

/// GOFLAGS as the tool composes it: the mod mode, reproducibility flags, then the config's.
pub fn goflags(config: &crate::workspace::project::Config, mod_mode: ModMode) -> Vec<String> {
    let mut flags = vec![match mod_mode {
        ModMode::Readonly => "-mod=readonly".to_string(),
        ModMode::Vendor => "-mod=vendor".to_string(),
    }];
    if config.trimpath {
        flags.push("-trimpath".into());
    }
    flags.push(format!("-buildvcs={}", config.buildvcs));
    flags.extend(config.goflags.iter().cloned());
    flags
}

/// Caller variables this tool overrides where a user would expect them to apply: the session
/// says them once per command (`Session::load_with`).
pub fn ignored_variable_warnings(gocache: &Utf8Path) -> Vec<String> {
    let mut warnings = Vec::new();
    match std::env::var(EnvVars::GOCACHE).ok().filter(|v| !v.is_empty()) {
        Some(v) if v == "off" => warnings.push(format!(
            "GOCACHE=off in your environment is ignored: go needs a build cache since Go 1.12; xtask-go uses {gocache}"
        )),
        Some(v) if !Utf8Path::new(&v).is_absolute() => {
            warnings.push(format!("GOCACHE={v} in your environment is ignored (go rejects a relative GOCACHE); xtask-go uses {gocache}"))
        }
        _ => {}
    }
    if let Some(v) = std::env::var(EnvVars::GOFLAGS)
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        warnings.push(format!(
            "GOFLAGS={v} in your environment is ignored; put flags in `goflags` of [workspace.metadata.xtask-go]"
        ));
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_compilers_follow_the_config_then_the_cc_crate_convention() {
        // Triples no other test uses, so the process-wide variables cannot collide.
        let mut table = BTreeMap::new();
        table.insert(
            "riscv64gc-unknown-linux-gnu".to_string(),
            "riscv64-linux-gnu-gcc".to_string(),
        );
        std::env::set_var(
            "CC_riscv64gc-unknown-linux-gnu",
            "ignored-because-config-wins",
        );
        assert_eq!(
            c_compiler(&table, "CC", "riscv64gc-unknown-linux-gnu").as_deref(),
            Some("riscv64-linux-gnu-gcc")
        );
        std::env::set_var("CC_s390x-unknown-linux-gnu", "s390x-linux-gnu-gcc");
        assert_eq!(
            c_compiler(&BTreeMap::new(), "CC", "s390x-unknown-linux-gnu").as_deref(),
            Some("s390x-linux-gnu-gcc")
        );
        std::env::set_var("CXX_loongarch64_unknown_linux_gnu", "loong-g++");
        assert_eq!(
            c_compiler(&BTreeMap::new(), "CXX", "loongarch64-unknown-linux-gnu").as_deref(),
            Some("loong-g++")
        );
    }
}
