//! Every environment variable the library reads by name, in one place (as uv's `EnvVars`).
//! Lists of variables that pass through to go unchanged live with the environment that pins
//! them (`workspace/goenv.rs`, `host/toolchain.rs`); the tidy test keeps literal names out of
//! `std::env::var` calls elsewhere.

/// The names, as associated constants: `EnvVars::XTASK_GO_CACHE_DIR`.
pub struct EnvVars;

impl EnvVars {
    /// The go binary to use (else `go` on PATH).
    pub const GO: &'static str = "GO";
    /// The build cache's store directory (replaces `cache-dir` and `target/go/cache`).
    pub const XTASK_GO_CACHE_DIR: &'static str = "XTASK_GO_CACHE_DIR";
    /// An absolute GOCACHE root shared by checkouts (replaces `target/go/<triple>/gocache`).
    pub const XTASK_GO_GOCACHE: &'static str = "XTASK_GO_GOCACHE";
    /// The remote cache's base URL, or `off` (replaces `remote-cache`).
    pub const XTASK_GO_REMOTE_CACHE: &'static str = "XTASK_GO_REMOTE_CACHE";
    /// Read the remote, never write to it.
    pub const XTASK_GO_REMOTE_READ_ONLY: &'static str = "XTASK_GO_REMOTE_READ_ONLY";
    /// One timeout for every remote request, in milliseconds.
    pub const XTASK_GO_REMOTE_TIMEOUT_MS: &'static str = "XTASK_GO_REMOTE_TIMEOUT_MS";
    /// The remote's bearer token (a secret: never on a command line).
    pub const XTASK_GO_REMOTE_TOKEN: &'static str = "XTASK_GO_REMOTE_TOKEN";
    /// The REAPI instance name of a grpc:// remote (replaces `remote-instance`).
    pub const XTASK_GO_REMOTE_INSTANCE: &'static str = "XTASK_GO_REMOTE_INSTANCE";
    /// The header that carries XTASK_GO_REMOTE_TOKEN instead of `authorization: Bearer`
    /// (BuildBuddy: `x-buildbuddy-api-key`).
    pub const XTASK_GO_REMOTE_HEADER: &'static str = "XTASK_GO_REMOTE_HEADER";
    /// A file to which each run appends its remote traffic as a JSON line (requests, bytes
    /// each way): what `cargo xtask bench remote` counts.
    pub const XTASK_GO_REMOTE_STATS: &'static str = "XTASK_GO_REMOTE_STATS";
    /// The HMAC key that signs and checks remote entries (a secret).
    pub const XTASK_GO_CACHE_SIGNING_KEY: &'static str = "XTASK_GO_CACHE_SIGNING_KEY";
    /// Test-only fault injection: a crash point's name (`util::crash::CrashPoint`, e.g.
    /// `blob-temp`); the run aborts there as if killed. Only the crash tests set it.
    pub const XTASK_GO_TEST_CRASH_AT: &'static str = "XTASK_GO_TEST_CRASH_AT";
    /// The secrets and knobs a `cacheprog` child needs besides its command line.
    pub const CACHEPROG_PASSTHROUGH: &'static [&'static str] = &[
        EnvVars::XTASK_GO_REMOTE_TOKEN,
        EnvVars::XTASK_GO_REMOTE_HEADER,
        EnvVars::XTASK_GO_CACHE_SIGNING_KEY,
        EnvVars::XTASK_GO_REMOTE_TIMEOUT_MS,
        EnvVars::XTASK_GO_REMOTE_STATS,
    ];

    /// The cargo that runs us.
    pub const CARGO: &'static str = "CARGO";
    pub const CARGO_HOME: &'static str = "CARGO_HOME";
    /// rustup's home (`~/.rustup`): its settings.toml names the default toolchain.
    pub const RUSTUP_HOME: &'static str = "RUSTUP_HOME";
    /// The rustc cargo runs, when not the one on PATH.
    pub const RUSTC: &'static str = "RUSTC";
    pub const CARGO_TARGET_DIR: &'static str = "CARGO_TARGET_DIR";
    /// `always` / `never` / `auto` colours on stderr.
    pub const CARGO_TERM_COLOR: &'static str = "CARGO_TERM_COLOR";
    pub const NO_COLOR: &'static str = "NO_COLOR";
    pub const HOME: &'static str = "HOME";
    pub const XDG_CONFIG_HOME: &'static str = "XDG_CONFIG_HOME";

    /// The caller's go settings that builds ignore (and warn or `doctor` about).
    pub const GOCACHE: &'static str = "GOCACHE";
    pub const GOENV: &'static str = "GOENV";
    pub const GOFLAGS: &'static str = "GOFLAGS";

    /// The variable's value when it is set and not empty.
    pub fn get(name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}
