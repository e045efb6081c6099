//! `cargo xtask go-build`: builds Go targets through the library.

use std::process::ExitCode;

use anyhow::Result;
use xshell::Shell;
use xtask_go::report::Reporter;
use xtask_go::{BuildRequest, RemoteFlags, RunFlags, Session};

use crate::flags::GoBuild;

impl GoBuild {
    pub fn run(self, sh: &Shell) -> Result<ExitCode> {
        let flags = RunFlags {
            offline: self.offline,
            remote: RemoteFlags {
                read_only: self.remote_read_only,
                required: self.remote_required,
            },
        };
        let reporter = Reporter::new(self.json);
        let session = Session::load_with_targets(&crate::current_dir(sh)?, flags, &reporter)?;
        let request = BuildRequest {
            targets: self.targets,
            triples: self.triples,
            release: self.release,
            jobs: self.jobs.unwrap_or(0),
            no_cache: self.no_cache,
            explain: self.explain,
        };
        let report = xtask_go::build::build(&session, &request, &reporter)?;
        if report.success() {
            return Ok(ExitCode::SUCCESS);
        }
        let failed: Vec<String> = report
            .failed()
            .map(|u| format!("`{}` ({})", u.target, u.triple))
            .collect();
        xtask_go::report::error(&format!(
            "{} of {} Go targets failed: {}",
            failed.len(),
            report.units.len(),
            failed.join(", ")
        ));
        Ok(ExitCode::from(1))
    }
}
