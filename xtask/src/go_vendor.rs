//! `cargo xtask go-vendor`: generates vendor trees or checks them.

use std::process::ExitCode;

use anyhow::{bail, Result};
use xshell::Shell;

use crate::flags::GoVendor;

impl GoVendor {
    pub fn run(self, _sh: &Shell) -> Result<ExitCode> {
        bail!("not implemented yet")
    }
}
