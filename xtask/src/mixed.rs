//! `cargo xtask build` and `cargo xtask test`: Go and Rust together, through the library's `mixed` module.

use std::process::ExitCode;

use anyhow::Result;
use xshell::Shell;
use xtask_go::mixed::{self, MixedRequest};
use xtask_go::report::Reporter;
use xtask_go::{RunFlags, Session};

use crate::flags::{Build, Test};

fn session(sh: &Shell, offline: bool) -> Result<Session> {
    let flags = RunFlags {
        offline,
        ..RunFlags::default()
    };
    Session::load_with_targets(&crate::current_dir(sh)?, flags, &Reporter::new(false))
}

fn exit(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

impl Build {
    pub fn run(self, sh: &Shell) -> Result<ExitCode> {
        let request = MixedRequest {
            triples: self.triples,
            release: self.release,
            jobs: self.jobs.unwrap_or(0),
        };
        Ok(exit(mixed::build_all(
            &session(sh, self.offline)?,
            &request,
            &Reporter::new(false),
        )?))
    }
}

impl Test {
    pub fn run(self, sh: &Shell) -> Result<ExitCode> {
        let request = MixedRequest {
            release: self.release,
            ..MixedRequest::default()
        };
        let cargo_args = (!self.cargo_args.is_empty()).then_some(self.cargo_args);
        Ok(exit(mixed::test_all(
            &session(sh, self.offline)?,
            &request,
            cargo_args,
            &Reporter::new(false),
        )?))
    }
}
