//! `doctor`: the toolchains and their versions, what the user's environment holds that this tool
//! overrides (and so ignores), and the cache; each finding with the fix. It only reads.

use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;

use crate::buildcache::maintenance;
use crate::buildcache::storage::local::LocalStore;
use crate::buildcache::storage::remote::{RemoteSettings, RemoteStore};
use crate::host::toolchain::{self, ProcessSpec, Toolchain};
use crate::util::env_vars::EnvVars;
use crate::util::report::Reporter;
use crate::util::units::human_size;
use crate::workspace::project::Project;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Ok,
    /// Builds work, but something is ignored or surprising.
    Warn,
    /// Builds cannot work until it is fixed.
    Error,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub topic: String,
    pub severity: Severity,
    pub detail: String,
    pub fix: Option<String>,
}

fn check(topic: &str, severity: Severity, detail: impl Into<String>, fix: Option<&str>) -> Check {
    Check {
        topic: topic.to_string(),
        severity,
        detail: detail.into(),
        fix: fix.map(String::from),
    }
}

/// Variables go reads that the pinned environment sets itself: a value in the caller's
/// environment has no effect on builds, which surprises whoever set it.
const OVERRIDDEN: &[(&str, &str)] = &[
    (
        "GOFLAGS",
        "put flags in `goflags` of [workspace.metadata.xtask-go]",
    ),
    (
        "GOTOOLCHAIN",
        "xtask-go always uses GOTOOLCHAIN=local: install the go you want, or point $GO at it",
    ),
    ("GOOS", "pass --target TRIPLE"),
    ("GOARCH", "pass --target TRIPLE"),
    ("GOAMD64", "set `goamd64` in [workspace.metadata.xtask-go]"),
    (
        "CGO_ENABLED",
        "set `cgo` in [workspace.metadata.xtask-go] (or per target)",
    ),
    ("GOEXPERIMENT", "experiments are pinned off"),
    (
        "GOWORK",
        "xtask-go uses the go.work it finds (or GOWORK=off without one)",
    ),
    (
        "GOROOT",
        "the go binary's own GOROOT is used; point $GO at another go instead",
    ),
];

/// Every check, in the order people read them.
pub fn run(start: &Utf8Path) -> Vec<Check> {
    let mut checks = Vec::new();
    let project = Project::discover(start);
    let toolchain = Toolchain::discover();
    match &toolchain {
        Ok(tc) => checks.push(check(
            "go",
            Severity::Ok,
            format!(
                "{} at {} (GOROOT {})",
                tc.info.version, tc.go, tc.info.goroot
            ),
            None,
        )),
        Err(e) => checks.push(check(
            "go",
            Severity::Error,
            format!("{e:#}"),
            Some(toolchain::INSTALL_HINT),
        )),
    }
    checks.push(version_of(
        "cargo",
        &["--version"],
        "install Rust from https://rustup.rs",
    ));
    checks.push(version_of(
        "cc",
        &["--version"],
        "cgo targets (and c-archive artifacts) need a C compiler: apt-get install gcc, or set CC",
    ));
    if let (Ok(project), Ok(tc)) = (&project, &toolchain) {
        match crate::session::Session::with(project.clone(), tc.clone()) {
            Ok(session) => checks.push(check(
                "modules",
                Severity::Ok,
                format!(
                    "{} Go modules, go.work: {}",
                    session.modules.modules.len(),
                    session
                        .modules
                        .gowork
                        .as_ref()
                        .map_or("none".to_string(), |w| w.to_string())
                ),
                None,
            )),
            Err(e) => checks.push(check("modules", Severity::Error, format!("{e:#}"), None)),
        }
    }
    checks.extend(environment_checks());
    checks.push(env_file_check());
    if let Ok(project) = &project {
        let dir = crate::buildcache::cache_dir(project);
        let stats = maintenance::stats(&LocalStore::open(&dir));
        let writable = std::fs::create_dir_all(&dir).is_ok()
            && crate::util::fsutil::write_atomic(&dir.join(".doctor"), b"").is_ok();
        let _ = std::fs::remove_file(dir.join(".doctor"));
        let detail = format!(
            "{dir}: {} entries, {} blobs, {}",
            stats.entries,
            stats.blobs,
            human_size(stats.total_bytes())
        );
        checks.push(if writable {
            check("build cache", Severity::Ok, detail, None)
        } else {
            check(
                "build cache",
                Severity::Warn,
                format!("{detail}; not writable, so nothing is stored"),
                Some("make it writable, or set XTASK_GO_CACHE_DIR"),
            )
        });
        checks.push(remote_check(project));
    }
    checks
}

/// The configured remote cache, asked once: Capabilities over gRPC, a GET over HTTP.
fn remote_check(project: &Project) -> Check {
    let topic = "remote cache";
    let flags = project.settings.remote;
    let settings = match RemoteSettings::resolve(project, flags) {
        Ok(Some(settings)) => settings,
        Ok(None) => return check(topic, Severity::Ok, "none configured", None),
        Err(e) => {
            let fix =
                "fix XTASK_GO_REMOTE_CACHE or `remote-cache` in [workspace.metadata.xtask-go]";
            return check(topic, Severity::Error, format!("{e:#}"), Some(fix));
        }
    };
    let url = settings.url.to_string();
    let mode = if settings.read_only {
        ", read-only"
    } else {
        ""
    };
    let answer = RemoteStore::new(settings, &Reporter::new(false)).and_then(|r| r.probe());
    match answer {
        Ok(said) => check(topic, Severity::Ok, format!("{url}{mode}: {said}"), None),
        Err(e) => check(
            topic,
            Severity::Warn,
            format!("{e:#}; builds run without it"),
            Some(
                "check that the server runs and XTASK_GO_REMOTE_CACHE, XTASK_GO_REMOTE_TOKEN \
                 (XTASK_GO_REMOTE_HEADER) and XTASK_GO_REMOTE_INSTANCE name it",
            ),
        ),
    }
}

fn version_of(program: &str, args: &[&str], fix: &str) -> Check {
    let Ok(path) = which::which(program)
        .map_err(|_| ())
        .and_then(|p| Utf8PathBuf::from_path_buf(p).map_err(|_| ()))
    else {
        return check(
            program,
            Severity::Warn,
            format!("no `{program}` on PATH"),
            Some(fix),
        );
    };
    let cwd = path
        .parent()
        .map(Utf8Path::to_owned)
        .unwrap_or_else(|| "/".into());
    let spec = ProcessSpec::new(path.clone(), cwd)
        .args(args.iter().copied())
        .envs(&toolchain::passthrough_env(&[
            "CARGO_HOME",
            "RUSTUP_HOME",
            "RUSTUP_TOOLCHAIN",
        ]));
    match toolchain::run(&spec) {
        Ok(out) if out.success() => check(
            program,
            Severity::Ok,
            format!(
                "{} ({path})",
                out.stdout_str().lines().next().unwrap_or("").trim()
            ),
            None,
        ),
        _ => check(
            program,
            Severity::Warn,
            format!("`{path} {}` failed", args.join(" ")),
            Some(fix),
        ),
    }
}

/// The caller's variables that the pinned environment overrides.
fn environment_checks() -> Vec<Check> {
    let mut checks = Vec::new();
    match std::env::var(EnvVars::GOCACHE).ok().filter(|v| !v.is_empty()) {
        Some(v) if v == "off" || !Utf8Path::new(&v).is_absolute() => checks.push(check(
            "GOCACHE",
            Severity::Warn,
            format!("GOCACHE={v} is ignored: go needs an absolute build cache; xtask-go uses target/go/<triple>/gocache"),
            Some("unset GOCACHE (or set XTASK_GO_GOCACHE to share one cache between checkouts)"),
        )),
        _ => {}
    }
    for (name, fix) in OVERRIDDEN {
        if let Some(value) = std::env::var(name).ok().filter(|v| !v.is_empty()) {
            if *name == "GOTOOLCHAIN" && value == "local" {
                continue;
            }
            checks.push(check(
                name,
                Severity::Warn,
                format!("{name}={value} in your environment is ignored by xtask-go builds"),
                Some(fix),
            ));
        }
    }
    if checks.is_empty() {
        checks.push(check(
            "environment",
            Severity::Ok,
            "no variable that xtask-go overrides is set",
            None,
        ));
    }
    checks
}

/// The file `go env -w` writes: xtask-go runs go with GOENV=off, so its settings never apply.
fn env_file_check() -> Check {
    let file = match std::env::var(EnvVars::GOENV).ok().filter(|v| !v.is_empty()) {
        Some(v) if v == "off" => return check("go env file", Severity::Ok, "GOENV=off", None),
        Some(v) => Utf8PathBuf::from(v),
        None => match std::env::var(EnvVars::XDG_CONFIG_HOME)
            .ok()
            .filter(|v| !v.is_empty())
        {
            Some(dir) => Utf8PathBuf::from(dir).join("go/env"),
            None => Utf8PathBuf::from(std::env::var(EnvVars::HOME).unwrap_or_default())
                .join(".config/go/env"),
        },
    };
    let names: Vec<String> = std::fs::read_to_string(&file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_string()))
        .filter(|k| !k.is_empty())
        .collect();
    if names.is_empty() {
        return check(
            "go env file",
            Severity::Ok,
            format!("{file}: no settings"),
            None,
        );
    }
    check(
        "go env file",
        Severity::Warn,
        format!("{file} sets {} (from `go env -w`); xtask-go runs go with GOENV=off, so they do not apply", names.join(", ")),
        Some(&format!("`go env -u {}` to drop them, or move build settings to [workspace.metadata.xtask-go]", names.join(" "))),
    )
}

/// The checks as a table, for people.
pub fn render(checks: &[Check]) -> String {
    let mut out = String::new();
    for c in checks {
        let status = match c.severity {
            Severity::Ok => "ok",
            Severity::Warn => "warn",
            Severity::Error => "ERROR",
        };
        out.push_str(&format!("{status:<6} {:<13} {}\n", c.topic, c.detail));
        if let Some(fix) = &c.fix {
            out.push_str(&format!("{:<20} fix: {fix}\n", ""));
        }
    }
    out
}

/// Whether any check found something builds cannot work with.
pub fn has_errors(checks: &[Check]) -> bool {
    checks.iter().any(|c| c.severity == Severity::Error)
}
