//! `cargo xtask bench`: benchmark suites that time this tool next to what a user would otherwise run.
//! One module per suite (`build`, `mains`, `fetch`, `vendor` with `vendor_large`, `remote` with
//! its servers in `remote_servers`), timing and table helpers in `util`.

mod build;
mod fetch;
mod mains;
mod remote;
mod remote_servers;
mod util;
mod vendor;
mod vendor_large;

use std::process::ExitCode;

use anyhow::{bail, Result};
use xshell::Shell;

use crate::flags::Bench;

impl Bench {
    pub fn run(self, sh: &Shell) -> Result<ExitCode> {
        match self.suite.as_str() {
            "build" => build::run(sh, self.runs, self.large).map(|()| ExitCode::SUCCESS),
            "fetch" => fetch::run(sh, self.runs).map(|()| ExitCode::SUCCESS),
            "mains" => mains::run(sh, self.runs).map(|()| ExitCode::SUCCESS),
            "vendor" => vendor::run(sh, self.runs, self.large).map(|()| ExitCode::SUCCESS),
            "remote" => remote::run(sh, self.runs).map(|()| ExitCode::SUCCESS),
            other => {
                bail!("unknown bench suite `{other}`; suites: build, mains, fetch, vendor, remote")
            }
        }
    }
}
