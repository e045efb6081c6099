//! `cargo xtask cacheprog`: go's GOCACHEPROG child, served by the library on stdin/stdout.
//! A subcommand of this binary rather than a binary of its own: go-build points GOCACHEPROG at
//! the executable that is running, which always exists, where a second binary would have to be
//! built and found (cargo builds no binaries of a dependency).

use std::process::ExitCode;

use anyhow::Result;
use xtask_go::cacheprog::{serve_stdio, CacheprogOptions};

use crate::flags::Cacheprog;

impl Cacheprog {
    pub fn run(self) -> Result<ExitCode> {
        let dir = xtask_go::project::absolute(&self.dir)?;
        serve_stdio(&CacheprogOptions {
            dir,
            remote: self.remote,
            instance: self.remote_instance,
            read_only: self.read_only,
        })?;
        Ok(ExitCode::SUCCESS)
    }
}
