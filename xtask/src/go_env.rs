//! `cargo xtask go-env`: the exact environment go runs with for a triple.

use std::process::ExitCode;

use anyhow::Result;
use xshell::Shell;
use xtask_go::Session;

use crate::flags::GoEnv;

impl GoEnv {
    pub fn run(self, sh: &Shell) -> Result<ExitCode> {
        let session = Session::load(&crate::current_dir(sh)?)?;
        let triple = self
            .triple
            .as_deref()
            .unwrap_or(xtask_go::platform::host_triple());
        let env = session.platform_env(triple, false)?;
        let tmp = xtask_go::goenv::tmp_root(&session.project, triple).join("<target>.<pid>.<n>");
        let mut env = env.with_tmpdir(&tmp);
        // Secrets go passes to `cacheprog` are real in the environment, never on a screen.
        for secret in ["XTASK_GO_REMOTE_TOKEN", "XTASK_GO_CACHE_SIGNING_KEY"] {
            if let Some(value) = env.vars.get_mut(secret) {
                *value = "<redacted>".into();
            }
        }
        if self.json {
            println!("{}", serde_json::to_string_pretty(&env.vars)?);
        } else {
            for (name, value) in &env.vars {
                println!("{name}={}", shell_quote(value));
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// Quotes a value for a POSIX shell when it needs it.
fn shell_quote(value: &str) -> String {
    if !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,+@".contains(&b))
    {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}
