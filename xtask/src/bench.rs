//! `cargo xtask bench`: benchmark suites that time this tool next to what a user would otherwise run.

use std::process::ExitCode;

use anyhow::{bail, Result};
use xshell::Shell;

use crate::flags::Bench;

impl Bench {
    pub fn run(self, sh: &Shell) -> Result<ExitCode> {
        match self.suite.as_str() {
            "build" => {
                crate::bench_build::run(sh, self.runs, self.large).map(|()| ExitCode::SUCCESS)
            }
            "fetch" => crate::bench_fetch::run(sh, self.runs).map(|()| ExitCode::SUCCESS),
            "vendor" => crate::bench_vendor::run(sh, self.runs).map(|()| ExitCode::SUCCESS),
            "remote" => crate::bench_remote::run(sh, self.runs).map(|()| ExitCode::SUCCESS),
            other => bail!("unknown bench suite `{other}`; suites: build, fetch, vendor, remote"),
        }
    }
}
