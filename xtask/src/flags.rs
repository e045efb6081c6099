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
    /// Download every Go module the repo needs, once, so that builds can run offline
    GoFetch(GoFetch),
    /// Report Go dependencies required at different versions by different modules
    GoDeps(GoDeps),
    /// Generate Go vendor trees, or check them file by file against go.mod and go.sum
    GoVendor(GoVendor),
    /// Build the Go targets (and the Go libraries Rust crates link), then the Rust workspace
    Build(Build),
    /// Run `cargo test` and `go test ./...` for every Go module, in the pinned environment
    Test(Test),
    /// What CI runs: go-fetch, go-vendor --check, build, test; then a summary table
    Ci(Ci),
    /// Check the toolchains, the environment and the cache, with a fix for each problem
    Doctor(Doctor),
    /// Inspect and trim the build cache: stats, gc, clean
    Cache(Cache),
    /// Run a benchmark suite against the tools a user would otherwise use
    Bench(Bench),
    /// Serve go's build cache over the GOCACHEPROG protocol (go-build starts it; see README)
    #[command(hide = true)]
    Cacheprog(Cacheprog),
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
    /// Say for each target whether the cache had it, and for a miss what changed
    #[arg(long)]
    pub explain: bool,
    /// Always run go; neither read nor write the build cache
    #[arg(long)]
    pub no_cache: bool,
    /// Fail the run when the remote cache fails (default: warn and build locally)
    #[arg(long)]
    pub remote_required: bool,
    /// Read the remote cache but never write to it (for untrusted jobs such as pull requests)
    #[arg(long)]
    pub remote_read_only: bool,
    /// Write one JSON event per line to stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Speaks go's GOCACHEPROG protocol (JSON lines) on stdin/stdout. go-build sets \
                        GOCACHEPROG to this command when `gocacheprog = true` is in the config; \
                        XTASK_GO_REMOTE_TOKEN, XTASK_GO_REMOTE_HEADER and XTASK_GO_CACHE_SIGNING_KEY come from \
                        the environment."
)]
pub struct Cacheprog {
    /// The store directory (the build cache's, absolute)
    #[arg(long, value_name = "DIR")]
    pub dir: camino::Utf8PathBuf,
    /// The remote cache behind the local store: a Bazel HTTP cache's base URL or grpc(s)://host:port
    #[arg(long, value_name = "URL")]
    pub remote: Option<String>,
    /// The REAPI instance name of a grpc:// remote
    #[arg(long, value_name = "NAME")]
    pub remote_instance: Option<String>,
    /// Read the remote, never write to it
    #[arg(long)]
    pub read_only: bool,
}

#[derive(Args, Debug)]
#[command(
    after_help = "The store is target/go/cache unless XTASK_GO_CACHE_DIR or `cache-dir` in \
                        [workspace.metadata.xtask-go] moves it. After every build the least recently \
                        used entries are dropped beyond `cache-max-size` (default 2GiB)."
)]
pub struct Cache {
    #[command(subcommand)]
    pub action: CacheAction,
    /// Print JSON instead of text
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum CacheAction {
    /// Where the build cache is, how many entries and blobs it holds, and their size
    Stats,
    /// Drop least recently used entries until the cache fits, then unreferenced blobs
    Gc {
        /// The size to shrink to (500MB, 2GiB: M and G decimal, Mi and Gi binary); default: `cache-max-size`, else 2GiB
        #[arg(long, value_name = "SIZE")]
        max_size: Option<String>,
    },
    /// Delete the whole build cache
    Clean,
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

#[derive(Args, Debug)]
#[command(
    after_help = "Downloads into the pinned GOMODCACHE, so that later builds can run with --offline.\n\
                        Exit codes: 0 everything fetched (and verified), 1 a module failed to download or verify, 2 could not run."
)]
pub struct GoFetch {
    /// Also check every module in the cache against go.sum (the h1: hashes), like `go mod verify`
    #[arg(long)]
    pub verify: bool,
    /// Downloads to run at once (default: 8)
    #[arg(long, short, value_name = "N")]
    pub jobs: Option<usize>,
    /// Tries per module when the network or proxy fails transiently (default: 3)
    #[arg(long, value_name = "N")]
    pub tries: Option<u32>,
    /// Wait before the first retry, doubled for each further one (default: 500)
    #[arg(long, value_name = "MS")]
    pub retry_delay_ms: Option<u64>,
    /// Write one JSON event per line to stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Versions are the selected ones (`go list -m all` in each module on its own, GOWORK=off).\n\
                        Exit codes: 0 done (skew is reported), 1 skew found under --deny-skew, 2 could not run."
)]
pub struct GoDeps {
    /// Exit 1 when a dependency is required at different versions by different modules
    #[arg(long)]
    pub deny_skew: bool,
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Exit codes with --check: 0 the vendor trees are exactly what go.mod and go.sum say,\n\
                        1 drift or tampering found, 2 could not check."
)]
pub struct GoVendor {
    /// Modules to vendor or check (module path or directory; default: every module with a vendor/ tree)
    pub modules: Vec<String>,
    /// Change nothing: verify vendor/ against go.mod, go.sum and the module contents
    #[arg(long)]
    pub check: bool,
    /// Print one JSON record per finding
    #[arg(long)]
    pub json: bool,
    /// Do not touch the network (GOPROXY=off)
    #[arg(long)]
    pub offline: bool,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Benchmarks, not tests: each suite times this tool and what a user would run instead, \
                        side by side, and prints medians and ratios. Figures go to BENCHMARKS.md."
)]
pub struct Bench {
    /// Which suite: build (cache: cold, no-op, fresh clone, one edit), mains (40 mains in one module), fetch, vendor, remote
    #[arg(default_value = "build")]
    pub suite: String,
    /// Timed runs per measurement (the median is reported)
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Also run the larger variant of the synthetic repo (build: 100 modules, ~30,000 files;
    /// XTASK_BENCH_SHAPES=large runs it alone)
    #[arg(long)]
    pub large: bool,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Go targets build first (a Go package a crate names in [package.metadata.xtask-go] as \
                        c-archive or c-shared is built that way, cgo on); cargo then gets \
                        XTASK_GO_<NAME>_LIB_DIR, _LIB_NAME and _LINK for each, which the crate's build.rs reads."
)]
pub struct Build {
    /// Build the release profile
    #[arg(long, short)]
    pub release: bool,
    /// Rust target triple (repeatable; default: the host)
    #[arg(long = "target", value_name = "TRIPLE")]
    pub triples: Vec<String>,
    /// Parallel go builds (default: the number of cores)
    #[arg(long, short, value_name = "N")]
    pub jobs: Option<usize>,
    /// Touch no network (GOPROXY=off, cargo --offline)
    #[arg(long)]
    pub offline: bool,
}

#[derive(Args, Debug)]
pub struct Test {
    /// Test the release profile
    #[arg(long, short)]
    pub release: bool,
    /// Touch no network (GOPROXY=off)
    #[arg(long)]
    pub offline: bool,
    /// Arguments for `cargo test` instead of `--workspace` (e.g. `-- -p go-adder`)
    #[arg(last = true, value_name = "CARGO_TEST_ARGS")]
    pub cargo_args: Vec<String>,
}

#[derive(Args, Debug)]
#[command(after_help = "Exit codes: 0 every step passed, 1 a step failed, 2 could not run.")]
pub struct Ci {
    /// Touch no network: skip go-fetch, build with GOPROXY=off
    #[arg(long)]
    pub offline: bool,
    /// Print one JSON event per step, then a summary event, on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Exit codes: 0 builds can work (warnings are things xtask-go ignores), 1 something must be fixed."
)]
pub struct Doctor {
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}
