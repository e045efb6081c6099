//! The repo's `cargo xtask`: parses flags and dispatches to one module per subcommand.
//! All real work lives in the `xtask-go` library.
//!
//! Exit codes: 0 success; 1 a build or check found a problem (a target failed to compile);
//! 2 the tool could not do its job (bad flags, no go, malformed go.mod or config).

mod bench;
mod cache;
mod cacheprog;
mod ci;
mod doctor;
mod flags;
mod go_build;
mod go_deps;
mod go_env;
mod go_fetch;
mod go_list;
mod go_vendor;
mod mixed;

use std::process::ExitCode;

use clap::Parser;
use xshell::Shell;

fn main() -> ExitCode {
    let flags = flags::Xtask::parse();
    let sh = match Shell::new() {
        Ok(sh) => sh,
        Err(e) => return fail(e.into()),
    };
    let result = match flags.command {
        flags::Command::GoBuild(cmd) => cmd.run(&sh),
        flags::Command::GoList(cmd) => cmd.run(&sh),
        flags::Command::GoEnv(cmd) => cmd.run(&sh),
        flags::Command::GoFetch(cmd) => cmd.run(&sh),
        flags::Command::GoDeps(cmd) => cmd.run(&sh),
        flags::Command::GoVendor(cmd) => cmd.run(&sh),
        flags::Command::Build(cmd) => cmd.run(&sh),
        flags::Command::Test(cmd) => cmd.run(&sh),
        flags::Command::Ci(cmd) => cmd.run(&sh),
        flags::Command::Doctor(cmd) => cmd.run(&sh),
        flags::Command::Cache(cmd) => cmd.run(&sh),
        flags::Command::Bench(cmd) => cmd.run(&sh),
        flags::Command::Cacheprog(cmd) => cmd.run(),
    };
    result.unwrap_or_else(fail)
}

/// Prints an error chain cargo-style and exits 2: the tool could not do its job.
fn fail(error: anyhow::Error) -> ExitCode {
    xtask_go::report::error(&format!("{error:#}"));
    ExitCode::from(2)
}

/// The directory the command runs in, as a UTF-8 path.
fn current_dir(sh: &Shell) -> anyhow::Result<camino::Utf8PathBuf> {
    camino::Utf8PathBuf::from_path_buf(sh.current_dir())
        .map_err(|p| anyhow::anyhow!("current directory {} is not UTF-8", p.display()))
}
