//! `cargo xtask doctor`: toolchains, ignored environment, the cache; each with its fix.

use std::process::ExitCode;

use anyhow::Result;
use xshell::Shell;
use xtask_go::doctor;

use crate::flags::Doctor;

impl Doctor {
    pub fn run(self, sh: &Shell) -> Result<ExitCode> {
        let checks = doctor::run(&crate::current_dir(sh)?);
        if self.json {
            println!("{}", serde_json::to_string_pretty(&checks)?);
        } else {
            print!("{}", doctor::render(&checks));
        }
        Ok(if doctor::has_errors(&checks) {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    }
}
