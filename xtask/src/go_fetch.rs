//! `cargo xtask go-fetch`: downloads every Go module the repo needs, through the library.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use xshell::Shell;
use xtask_go::fetch::{self, FetchRequest};
use xtask_go::report::Reporter;
use xtask_go::{RunFlags, Session};

use crate::flags::GoFetch;

impl GoFetch {
    pub fn run(self, sh: &Shell) -> Result<ExitCode> {
        let defaults = FetchRequest::default();
        let request = FetchRequest {
            jobs: self.jobs.unwrap_or(defaults.jobs).max(1),
            verify: self.verify,
            tries: self.tries.unwrap_or(defaults.tries).max(1),
            retry_delay: self
                .retry_delay_ms
                .map_or(defaults.retry_delay, Duration::from_millis),
        };
        let reporter = Reporter::new(self.json);
        let session = Session::load_with(&crate::current_dir(sh)?, RunFlags::default(), &reporter)?;
        let report = fetch::fetch(&session, &request, &reporter)?;
        Ok(if report.success() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    }
}
