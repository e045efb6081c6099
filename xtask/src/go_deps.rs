//! `cargo xtask go-deps`: dependencies required at different versions (version skew).

use std::process::ExitCode;

use anyhow::{bail, Result};
use xshell::Shell;

use crate::flags::GoDeps;

impl GoDeps {
    pub fn run(self, _sh: &Shell) -> Result<ExitCode> {
        bail!("not implemented yet")
    }
}
