//! The Go toolchain and the one place where this crate spawns processes.
//!
//! Every child process (go, cargo, a C compiler's `--version`) is started by
//! [`run`], with an environment that is built explicitly and never inherited:
//! the pinned environment cannot be bypassed by a caller that forgot a variable.

use crate::util::env_vars::EnvVars;
use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use serde::Deserialize;

/// A fully specified child process: program, arguments, directory and the
/// complete environment (nothing is inherited from this process).
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    pub program: Utf8PathBuf,
    pub args: Vec<String>,
    pub cwd: Utf8PathBuf,
    pub env: BTreeMap<String, String>,
}

/// What a finished child process left behind.
#[derive(Debug, Clone)]
pub struct ProcessOutput {
    pub status: std::process::ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub elapsed: std::time::Duration,
}

impl ProcessOutput {
    pub fn success(&self) -> bool {
        self.status.success()
    }
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

impl ProcessSpec {
    pub fn new(program: impl Into<Utf8PathBuf>, cwd: impl Into<Utf8PathBuf>) -> ProcessSpec {
        ProcessSpec {
            program: program.into(),
            args: Vec::new(),
            cwd: cwd.into(),
            env: BTreeMap::new(),
        }
    }
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }
    pub fn envs(mut self, env: &BTreeMap<String, String>) -> Self {
        self.env
            .extend(env.iter().map(|(k, v)| (k.clone(), v.clone())));
        self
    }
    /// A one-line rendering for error messages: `go build -o out ./cmd/x (in go/hello)`.
    pub fn display(&self) -> String {
        let name = self.program.file_name().unwrap_or(self.program.as_str());
        format!("{name} {} (in {})", self.args.join(" "), self.cwd)
    }
}

/// Spawns `spec` with exactly its environment, stdin closed, and waits for it.
/// This is the only function in the crate that starts a process.
pub fn run(spec: &ProcessSpec) -> Result<ProcessOutput> {
    let start = Instant::now();
    let mut child = Command::new(spec.program.as_std_path())
        .args(&spec.args)
        .current_dir(spec.cwd.as_std_path())
        .env_clear()
        .envs(&spec.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start `{}`", spec.display()))?;
    // Drain stderr on a thread so that a chatty child cannot deadlock on a full pipe.
    let mut stderr_pipe = child.stderr.take().expect("stderr is piped");
    let stderr_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr_pipe.read_to_end(&mut buf);
        buf
    });
    let mut stdout = Vec::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_end(&mut stdout)
            .with_context(|| format!("reading the output of `{}`", spec.display()))?;
    }
    let status = child
        .wait()
        .with_context(|| format!("waiting for `{}`", spec.display()))?;
    let stderr = stderr_reader.join().unwrap_or_default();
    Ok(ProcessOutput {
        status,
        stdout,
        stderr,
        elapsed: start.elapsed(),
    })
}

/// Spawns `spec` with exactly its environment and the caller's stderr (for cargo and `go test`,
/// whose own output is the point), and waits for it. Its stdout goes to ours, or to our stderr
/// when ours carries JSON events (`stdout_to_stderr`).
pub fn run_inherit(spec: &ProcessSpec, stdout_to_stderr: bool) -> Result<std::process::ExitStatus> {
    let stdout = if stdout_to_stderr {
        Stdio::from(std::io::stderr())
    } else {
        Stdio::inherit()
    };
    Command::new(spec.program.as_std_path())
        .stdout(stdout)
        .args(&spec.args)
        .current_dir(spec.cwd.as_std_path())
        .env_clear()
        .envs(&spec.env)
        .stdin(Stdio::null())
        .status()
        .with_context(|| format!("could not run `{}`", spec.display()))
}

/// Variables of this process that are handed to every child unchanged:
/// what a child needs to find tools, its home, the network and certificates.
/// Everything else is dropped unless the pinned environment sets it.
pub const BASE_PASSTHROUGH: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "USERPROFILE",
    "SystemRoot",
    "TMPDIR",
    "TEMP",
    "TMP",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// The process environment restricted to [`BASE_PASSTHROUGH`] plus `extra` names.
pub fn passthrough_env(extra: &[&str]) -> BTreeMap<String, String> {
    BASE_PASSTHROUGH
        .iter()
        .chain(extra)
        .filter_map(|name| std::env::var(name).ok().map(|v| (name.to_string(), v)))
        .collect()
}

/// A located go binary and what `go env -json` said about it.
#[derive(Debug, Clone)]
pub struct Toolchain {
    pub go: Utf8PathBuf,
    pub info: GoInfo,
}

/// The parts of `go env -json` this crate uses, read once per toolchain.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct GoInfo {
    #[serde(rename = "GOVERSION")]
    pub version: String,
    #[serde(rename = "GOROOT")]
    pub goroot: Utf8PathBuf,
    #[serde(rename = "GOHOSTOS")]
    pub host_os: String,
    #[serde(rename = "GOHOSTARCH")]
    pub host_arch: String,
    /// The user's module cache (their GOMODCACHE, else GOPATH/pkg/mod).
    #[serde(rename = "GOMODCACHE")]
    pub gomodcache: Utf8PathBuf,
    #[serde(rename = "GOPATH")]
    pub gopath: String,
}

pub const INSTALL_HINT: &str =
    "install Go from https://go.dev/dl/ (or your package manager, e.g. `apt-get install golang`), \
     put it on PATH, or point $GO at the go binary";

impl Toolchain {
    /// Finds go through `$GO`, then `PATH`, and reads `go env -json` once.
    pub fn discover() -> Result<Toolchain> {
        let go = match std::env::var(EnvVars::GO) {
            Ok(path) if !path.is_empty() => {
                let path = Utf8PathBuf::from(path);
                if !path.is_file() {
                    bail!(
                        "$GO is set to `{path}`, which is not a file; unset it or {INSTALL_HINT}"
                    );
                }
                path
            }
            _ => {
                let found = which::which("go")
                    .map_err(|_| anyhow::anyhow!("no `go` on PATH: {INSTALL_HINT}"))?;
                Utf8PathBuf::from_path_buf(found)
                    .map_err(|p| anyhow::anyhow!("go path {} is not UTF-8", p.display()))?
            }
        };
        Toolchain::at(go)
    }

    /// Uses the go binary at `go`.
    pub fn at(go: Utf8PathBuf) -> Result<Toolchain> {
        // The user's env file and a toolchain switch must not shape even this
        // query; GOMODCACHE and GOPATH pass so that "the user's" cache is found.
        let mut env = passthrough_env(&["GOMODCACHE", "GOPATH"]);
        env.insert("GOENV".into(), "off".into());
        env.insert("GOTOOLCHAIN".into(), "local".into());
        let cwd = Utf8PathBuf::from_path_buf(std::env::temp_dir()).unwrap_or_else(|_| "/".into());
        // Only the variables we read: a bare `go env` also probes the C compiler.
        let spec = ProcessSpec::new(go.clone(), cwd)
            .args([
                "env",
                "-json",
                "GOVERSION",
                "GOROOT",
                "GOHOSTOS",
                "GOHOSTARCH",
                "GOMODCACHE",
                "GOPATH",
            ])
            .envs(&env);
        let out = run(&spec).with_context(|| format!("running {go}: {INSTALL_HINT}"))?;
        if !out.success() {
            bail!("`{go} env -json` failed: {}", out.stderr_str().trim());
        }
        let info: GoInfo = serde_json::from_slice(&out.stdout)
            .with_context(|| format!("parsing `{go} env -json`"))?;
        Ok(Toolchain { go, info })
    }

    /// Whether `go` is the go binary of the GOROOT it reports (a plain install, perhaps reached
    /// through symlinks). Anything else, such as a version manager's shim (asdf, mise, goenv: a
    /// script that picks a version from a file or a variable), may run another toolchain on the
    /// next call while its own stamp stays put, so what it said once proves nothing later.
    pub fn is_plain_install(&self) -> bool {
        let real = |p: &Utf8Path| p.canonicalize_utf8().ok();
        let own = self
            .info
            .goroot
            .join("bin")
            .join(format!("go{}", std::env::consts::EXE_SUFFIX));
        matches!((real(&self.go), real(&own)), (Some(a), Some(b)) if a == b)
    }

    /// The files whose stamps stand for this toolchain: the `go` that was found, the real
    /// binary behind it and GOROOT's VERSION file (an upgrade in place moves one of them).
    pub fn identity_files(&self) -> Vec<Utf8PathBuf> {
        let mut files = vec![self.go.clone(), self.info.goroot.join("VERSION")];
        files.extend(self.go.canonicalize_utf8().ok());
        files
    }

    /// `go1.22.3` -> `1.22.3`; a devel toolchain keeps its whole string.
    pub fn version_number(&self) -> &str {
        self.info
            .version
            .strip_prefix("go")
            .unwrap_or(&self.info.version)
    }

    /// `26` of `go1.26.8`; None for a version go does not spell so (a devel build).
    pub fn minor_version(&self) -> Option<u32> {
        let rest = self.version_number().strip_prefix("1.")?;
        rest.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    }

    /// Whether this go is older than a module's `go` directive requires.
    pub fn check_supports(&self, required: &str, what: &Utf8Path) -> Result<()> {
        if self.info.version.starts_with("devel") {
            return Ok(());
        }
        if compare_go_versions(self.version_number(), required) == std::cmp::Ordering::Less {
            bail!(
                "{what} requires go {required}, but {} is {}; install go {required} or newer \
                 (this tool sets GOTOOLCHAIN=local and never downloads a toolchain)",
                self.go,
                self.info.version
            );
        }
        Ok(())
    }

    /// A process spec for `go <args>` in `cwd` with the given pinned environment.
    pub fn go(&self, cwd: &Utf8Path, env: &BTreeMap<String, String>) -> ProcessSpec {
        ProcessSpec::new(self.go.clone(), cwd).envs(env)
    }
}

/// Compares Go versions (`1.21`, `1.21.3`, `1.22rc1`) as go does: missing
/// parts are zero, and a pre-release sorts before its release.
pub fn compare_go_versions(a: &str, b: &str) -> std::cmp::Ordering {
    fn parts(v: &str) -> (Vec<u64>, Option<String>) {
        let split = v
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(v.len());
        let (nums, pre) = v.split_at(split);
        let mut nums: Vec<u64> = nums
            .split('.')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap_or(0))
            .collect();
        nums.resize(3, 0);
        (nums, (!pre.is_empty()).then(|| pre.to_string()))
    }
    let (na, pa) = parts(a);
    let (nb, pb) = parts(b);
    na.cmp(&nb).then_with(|| match (pa, pb) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (Some(_), None) => std::cmp::Ordering::Less,
        (Some(x), Some(y)) => x.cmp(&y),
    })
}

#[cfg(test)]
mod tests {
    use super::compare_go_versions as cmp;
    use std::cmp::Ordering::*;

    #[test]
    fn go_versions_compare_like_go() {
        assert_eq!(cmp("1.21", "1.21.0"), Equal);
        assert_eq!(cmp("1.26.8", "1.21"), Greater);
        assert_eq!(cmp("1.21", "1.22"), Less);
        assert_eq!(cmp("1.22rc1", "1.22"), Less);
        assert_eq!(cmp("1.22rc1", "1.21.9"), Greater);
        assert_eq!(cmp("1.9", "1.10"), Less);
    }
}
