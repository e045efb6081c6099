//! `cargo xtask go-fetch`: downloads every Go module the repo needs.

use std::process::ExitCode;

use anyhow::{bail, Result};
use xshell::Shell;

use crate::flags::GoFetch;

impl GoFetch {
    pub fn run(self, _sh: &Shell) -> Result<ExitCode> {
        bail!("not implemented yet")
    }
}
