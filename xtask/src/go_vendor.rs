//! `cargo xtask go-vendor`: regenerates vendor trees with go, or checks them (`--check`) through
//! the library and maps the report to exit codes: 0 clean, 1 drift found, 2 could not check.

use std::process::ExitCode;

use anyhow::Result;
use xshell::Shell;
use xtask_go::report::Reporter;
use xtask_go::vendor::{self, render, CheckOutcome};
use xtask_go::{RunFlags, Session};

use crate::flags::GoVendor;

impl GoVendor {
    pub fn run(self, sh: &Shell) -> Result<ExitCode> {
        let reporter = Reporter::new(self.json);
        let session = Session::load_with(
            &crate::current_dir(sh)?,
            RunFlags {
                offline: self.offline,
                ..RunFlags::default()
            },
            &reporter,
        )?;
        let trees = vendor::vendor_trees(&session, &self.modules)?;
        if trees.is_empty() {
            reporter.warn("no Go module has a vendor/ tree; name a module to vendor it");
            return Ok(ExitCode::SUCCESS);
        }
        if !self.check {
            vendor::generate(&session, &trees, &reporter)?;
            return Ok(ExitCode::SUCCESS);
        }
        let report = vendor::check(&session, &trees, &reporter)?;
        if self.json {
            for record in render::records(&report) {
                reporter.event(&record);
            }
        } else {
            print!("{}", render::human(&report));
        }
        let verdict = render::verdict(&report);
        Ok(match report.outcome() {
            CheckOutcome::Clean => {
                reporter.status("Finished", &verdict);
                ExitCode::SUCCESS
            }
            CheckOutcome::Drift => {
                xtask_go::report::error(&format!("vendor drift: {verdict}"));
                ExitCode::from(1)
            }
            CheckOutcome::CouldNotCheck => {
                xtask_go::report::error(&format!("could not check everything: {verdict}"));
                ExitCode::from(2)
            }
        })
    }
}
