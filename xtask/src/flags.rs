//! Command-line flags of every subcommand (clap derive): the only place that knows flag names.

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Build a repo's Go programs and Rust crates together, with a pinned Go environment",
    after_help = "The project is the nearest ancestor of the current directory with a workspace Cargo.toml.\n\
                  Configuration: [workspace.metadata.xtask-go] in that Cargo.toml (see README.md).\n\
                  Exit codes: 0 success, 1 a target failed to build, 2 the tool could not run (bad input, no go)."
)]
pub struct Xtask {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Build Go targets into target/go/<triple>/<profile>/
    GoBuild(GoBuild),
    /// List the Go modules and targets that discovery finds
    GoList(GoList),
    /// Print the exact environment go runs with for a target triple
    GoEnv(GoEnv),
}

#[derive(Args, Debug)]
#[command(
    after_help = "Every target is built even when another fails (like cargo's --keep-going); \
                        the exit code is then 1. go's own messages are shown whole under the target's name."
)]
pub struct GoBuild {
    /// Targets to build (default: all); see `cargo xtask go-list`
    pub targets: Vec<String>,
    /// Rust target triple to build for (repeatable; default: the host)
    #[arg(long = "target", value_name = "TRIPLE")]
    pub triples: Vec<String>,
    /// Build the release profile (strips symbols with -ldflags=-s -w)
    #[arg(long, short)]
    pub release: bool,
    /// Number of go builds to run at once (default: the number of cores)
    #[arg(long, short, value_name = "N")]
    pub jobs: Option<usize>,
    /// Do not touch the network (GOPROXY=off): every module must be in the module cache
    #[arg(long)]
    pub offline: bool,
    /// Write one JSON event per line to stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct GoList {
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct GoEnv {
    /// Rust target triple (default: the host)
    #[arg(long = "target", value_name = "TRIPLE")]
    pub triple: Option<String>,
    /// Print JSON instead of NAME=value lines
    #[arg(long)]
    pub json: bool,
}
