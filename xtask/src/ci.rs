//! `cargo xtask ci`: fetch, vendor check, build, test, and a summary table.

use std::process::ExitCode;

use anyhow::Result;
use xshell::Shell;
use xtask_go::ci::{self, StepStatus};
use xtask_go::mixed::MixedRequest;
use xtask_go::report::Reporter;
use xtask_go::{RunFlags, Session};

use crate::flags::Ci;

impl Ci {
    pub fn run(self, sh: &Shell) -> Result<ExitCode> {
        let flags = RunFlags {
            offline: self.offline,
            ..RunFlags::default()
        };
        let reporter = Reporter::new(self.json);
        // Targets load at the build step, after the fetch step filled the module cache.
        let session = Session::load_with(&crate::current_dir(sh)?, flags, &reporter)?;
        let request = MixedRequest::default();
        let results = ci::run(&session, &request, &reporter)?;
        if !self.json {
            print!("{}", ci::summary_table(&results));
        }
        let failed = results.iter().any(|r| r.status == StepStatus::Failed);
        Ok(if failed {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    }
}
