//! Test support: temp copies of the fixture repos, and running the real `xtask` binary in them.
//! Generic fixture machinery (the proxy builder, nginx, `copy_dir`) is in `xtask-test-support`.

pub mod edit_model;
pub mod proxy;

use std::process::Command;

use camino::{Utf8Path, Utf8PathBuf};
use xtask_test_support::copy_dir;

/// The repo's `tests/fixtures` directory.
pub fn fixtures() -> Utf8PathBuf {
    Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// One go build cache shared by every test (go's cache is safe for concurrent use), so that
/// the standard library is compiled once per platform rather than once per test.
pub fn shared_gocache() -> Utf8PathBuf {
    Utf8PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("it-gocache")
}

/// A temporary copy of a fixture repo.
pub struct Repo {
    _dir: tempfile::TempDir,
    pub root: Utf8PathBuf,
}

/// The `app` binary that the cache and remote fixtures build for the host.
pub const APP: &str = "target/go/x86_64-unknown-linux-gnu/debug/app";

/// The absolute path of the go on PATH (for wrappers that inject faults, then run the real go).
pub fn real_go() -> String {
    let out = Command::new("sh")
        .args(["-c", "command -v go"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A `go` that logs each invocation (`<args> @ <working dir>`, a line each), runs
/// `before_build` (shell) before a `go build`, then the real go. Returns the shim and its log.
pub fn logging_go(repo: &Repo, before_build: &str) -> (Utf8PathBuf, Utf8PathBuf) {
    let dir = repo.scratch("logging-go");
    let (shim, log) = (dir.join("go"), dir.join("log"));
    let script = format!(
        "#!/bin/sh\necho \"$* @ $PWD\" >> '{log}'\nif [ \"$1\" = build ]; then {before_build} :; fi\nexec '{}' \"$@\"\n",
        real_go()
    );
    std::fs::write(&shim, script).unwrap();
    std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    (shim, log)
}

impl Repo {
    /// Runs the fixture's `app` binary and returns its trimmed stdout.
    pub fn run_app(&self) -> String {
        let out = Command::new(self.path(APP)).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Runs the program at `path` and returns its trimmed stdout.
    pub fn run_file(path: &Utf8Path) -> String {
        let out = Command::new(path).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Copies `tests/fixtures/repos/<name>` into a fresh temp dir.
    pub fn copy_of(name: &str) -> Repo {
        let dir = tempfile::Builder::new()
            .prefix("xtask-go-it-")
            .tempdir()
            .unwrap();
        let root = Utf8PathBuf::from_path_buf(dir.path().join("repo")).unwrap();
        copy_dir(&fixtures().join("repos").join(name), &root);
        Repo { _dir: dir, root }
    }

    pub fn path(&self, rel: &str) -> Utf8PathBuf {
        self.root.join(rel)
    }

    pub fn write(&self, rel: &str, contents: &str) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    /// Replaces `from` by `to` in a file of the repo (asserting that `from` occurs).
    pub fn edit(&self, rel: &str, from: &str, to: &str) {
        let path = self.path(rel);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{rel} does not contain {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }

    pub fn remove(&self, rel: &str) {
        std::fs::remove_file(self.path(rel)).unwrap();
    }

    /// A directory inside the temp dir, next to the repo (for HOME, config and the like).
    pub fn scratch(&self, name: &str) -> Utf8PathBuf {
        let dir = self.root.parent().unwrap().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// `cargo xtask <args>` in the repo root, with a controlled environment.
    pub fn xtask(&self, args: &[&str]) -> Xtask {
        self.xtask_in(&self.root, args)
    }

    /// `cargo xtask <args>` in `dir` (a clone, say), with the same environment as `xtask`.
    pub fn xtask_in(&self, dir: &Utf8Path, args: &[&str]) -> Xtask {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
        cmd.args(args).current_dir(dir).env_clear();
        for name in ["PATH", "HOME", "TMPDIR"] {
            if let Some(value) = std::env::var_os(name) {
                cmd.env(name, value);
            }
        }
        cmd.env("CARGO", env!("CARGO"))
            .env("XDG_CONFIG_HOME", self.scratch("config"))
            .env("XTASK_GO_GOCACHE", shared_gocache())
            .env("GOPROXY", "off")
            .env("NO_COLOR", "1");
        Xtask { cmd }
    }
}

/// A prepared `xtask` command.
pub struct Xtask {
    pub cmd: Command,
}

/// What a finished `xtask` run printed and returned.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Xtask {
    pub fn env(mut self, name: &str, value: impl AsRef<std::ffi::OsStr>) -> Xtask {
        self.cmd.env(name, value);
        self
    }

    pub fn env_remove(mut self, name: &str) -> Xtask {
        self.cmd.env_remove(name);
        self
    }

    pub fn run(mut self) -> Outcome {
        let out = self.cmd.output().expect("running the xtask binary");
        Outcome {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs and asserts exit code 0, showing everything the run printed if not.
    pub fn ok(self) -> Outcome {
        let out = self.run();
        assert_eq!(
            out.code, 0,
            "xtask failed:\n--- stdout\n{}\n--- stderr\n{}",
            out.stdout, out.stderr
        );
        out
    }
}

impl Outcome {
    /// The build cache's verdict for `target` (`miss`, `fresh`, `restored`) in a `--json` run.
    pub fn verdict(&self, target: &str) -> String {
        let events = self.json_lines();
        let finished = events
            .iter()
            .find(|e| e["reason"] == "target-finished" && e["target"] == target);
        let finished = finished.unwrap_or_else(|| {
            panic!(
                "no target-finished event for {target}:\n{}\n{}",
                self.stdout, self.stderr
            )
        });
        finished["cache"]["verdict"]
            .as_str()
            .unwrap_or("none")
            .to_string()
    }

    /// The stdout parsed as JSON lines.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// The machine field of an ELF header (e_machine): 62 is x86-64, 183 is AArch64.
pub fn elf_machine(bytes: &[u8]) -> u16 {
    assert_eq!(&bytes[..4], b"\x7fELF", "not an ELF file");
    u16::from_le_bytes([bytes[18], bytes[19]])
}

/// The machine field of a PE file's COFF header: 0x8664 is x86-64, 0xaa64 is ARM64.
pub fn pe_machine(bytes: &[u8]) -> u16 {
    assert_eq!(&bytes[..2], b"MZ", "not a PE file");
    let pe = u32::from_le_bytes(bytes[0x3c..0x40].try_into().unwrap()) as usize;
    assert_eq!(&bytes[pe..pe + 4], b"PE\0\0", "no PE signature");
    u16::from_le_bytes([bytes[pe + 4], bytes[pe + 5]])
}
