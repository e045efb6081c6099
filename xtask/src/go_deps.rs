//! `cargo xtask go-deps`: dependencies selected at different versions by the repo's modules.

use std::process::ExitCode;

use anyhow::Result;
use xshell::Shell;
use xtask_go::report::Reporter;
use xtask_go::{RunFlags, Session};

use crate::flags::GoDeps;

impl GoDeps {
    pub fn run(self, sh: &Shell) -> Result<ExitCode> {
        let reporter = Reporter::new(self.json);
        let session = Session::load_with(&crate::current_dir(sh)?, RunFlags::default(), &reporter)?;
        let report = xtask_go::deps::deps(&session)?;
        xtask_go::deps::print(&report, &reporter);
        Ok(if self.deny_skew && !report.skewed.is_empty() {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    }
}
