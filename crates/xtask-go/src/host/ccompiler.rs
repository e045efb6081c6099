//! The C compilers' identities for cgo targets' keys: a compiler's resolved path and its
//! `--version`, asked once per session and remembered by the stamp of the compiler's real file;
//! and the cc crate's default cross compiler names, with the Debian package that has each.

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};

use crate::host::toolchain::{run, ProcessSpec};

/// The cc crate's default C compiler for a cross `triple` with nothing configured (`prefix-gcc`,
/// and `prefix-g++` for C++), and the Debian package that installs it.
pub fn default_cross_compiler(triple: &str) -> Option<(&'static str, &'static str)> {
    let table: &[(&str, &str, &str)] = &[
        (
            "aarch64-unknown-linux-gnu",
            "aarch64-linux-gnu",
            "gcc-aarch64-linux-gnu",
        ),
        (
            "x86_64-unknown-linux-gnu",
            "x86_64-linux-gnu",
            "gcc-x86-64-linux-gnu",
        ),
        (
            "i686-unknown-linux-gnu",
            "i686-linux-gnu",
            "gcc-i686-linux-gnu",
        ),
        (
            "armv7-unknown-linux-gnueabihf",
            "arm-linux-gnueabihf",
            "gcc-arm-linux-gnueabihf",
        ),
        (
            "riscv64gc-unknown-linux-gnu",
            "riscv64-linux-gnu",
            "gcc-riscv64-linux-gnu",
        ),
        (
            "powerpc64le-unknown-linux-gnu",
            "powerpc64le-linux-gnu",
            "gcc-powerpc64le-linux-gnu",
        ),
        (
            "s390x-unknown-linux-gnu",
            "s390x-linux-gnu",
            "gcc-s390x-linux-gnu",
        ),
    ];
    table
        .iter()
        .find(|(t, _, _)| *t == triple)
        .map(|(_, prefix, package)| (*prefix, *package))
}

/// The C compilers' identities learnt in one session (a `Session` owns one), over a memo file.
#[derive(Debug, Default)]
pub struct CompilerIdentities {
    seen: std::sync::Mutex<BTreeMap<String, String>>,
}

impl CompilerIdentities {
    /// What identifies a C compiler for a cache key: its resolved path and `--version` output.
    /// Asked once per compiler and session, and remembered in `memo` (a JSON file under
    /// target/) by the stamp of the compiler's real file: a no-op spawns no `cc --version`.
    pub fn identity(
        &self,
        compiler: &str,
        env: &BTreeMap<String, String>,
        memo: &Utf8Path,
    ) -> String {
        if let Some(known) = self.seen.lock().unwrap().get(compiler) {
            return known.clone();
        }
        let identity = c_compiler_identity(compiler, env, memo);
        self.seen
            .lock()
            .unwrap()
            .insert(compiler.to_string(), identity.clone());
        identity
    }
}

fn c_compiler_identity(compiler: &str, env: &BTreeMap<String, String>, memo: &Utf8Path) -> String {
    let program = compiler.split_whitespace().next().unwrap_or(compiler);
    let path = env.get("PATH").cloned().unwrap_or_default();
    let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
    let resolved = which::which_in(program, Some(path), &cwd)
        .ok()
        .and_then(|p| Utf8PathBuf::from_path_buf(p).ok());
    // (compiler, canonical path) -> (stamp of the real file, identity).
    type Memo = BTreeMap<String, ((u64, i128, i128, u64), String)>;
    let real = resolved
        .as_ref()
        .and_then(|r| r.canonicalize_utf8().ok())
        .and_then(|real| {
            let stamp = crate::util::stamp::FileStamp::of(&real).ok()?;
            let settled = !stamp.is_recent(crate::util::stamp::now_ns());
            settled.then(|| (format!("{compiler}\0{real}"), stamp.into()))
        });
    let mut memo_map: Memo = std::fs::read(memo)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    if let Some((name, stamp)) = &real {
        if let Some((_, identity)) = memo_map.get(name).filter(|(s, _)| s == stamp) {
            return identity.clone();
        }
    }
    let identity = match resolved {
        None => format!("{compiler}: not found"),
        Some(resolved) => {
            let cwd = Utf8PathBuf::from_path_buf(cwd).unwrap_or_else(|_| "/".into());
            let version = run(&ProcessSpec::new(resolved.clone(), cwd)
                .arg("--version")
                .envs(env))
            .map(|o| o.stdout_str())
            .unwrap_or_default();
            format!("{compiler} = {resolved}: {}", version.trim())
        }
    };
    if let Some((name, stamp)) = real {
        memo_map.insert(name, (stamp, identity.clone()));
        if let Ok(bytes) = serde_json::to_vec(&memo_map) {
            let durability = crate::util::fsutil::Durability::Scratch;
            let _ = crate::util::fsutil::write_atomic_with(memo, &bytes, durability);
        }
    }
    identity
}
