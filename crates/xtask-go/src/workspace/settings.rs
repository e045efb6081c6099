//! Settings resolved once per run from the config, the environment and the command's flags:
//! where the store is, the remote cache and its flags, offline, the GOCACHEPROG command line, and
//! (tests only) the crash point.
//! Nothing else reads these variables or keeps the flags in a global.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use crate::util::crash::{CrashAt, CrashPoint};
use crate::util::env_vars::EnvVars;
use crate::workspace::project::{absolute_in, Config, Project};

/// `XTASK_GO_TEST_CRASH_AT`: a name that is no point is an error, so that a test cannot
/// believe it crashed somewhere it did not.
fn crash_at_from_env() -> Result<CrashAt> {
    let Some(name) = EnvVars::get(EnvVars::XTASK_GO_TEST_CRASH_AT) else {
        return Ok(None);
    };
    let point = CrashPoint::parse(&name)
        .with_context(|| format!("{}={name}", EnvVars::XTASK_GO_TEST_CRASH_AT))?;
    Ok(Some(point))
}

/// What a command's flags add to the config and the environment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunFlags {
    /// `--offline`: never touch the network (GOPROXY=off for discovery and builds).
    pub offline: bool,
    /// `--remote-read-only` and `--remote-required`.
    pub remote: RemoteFlags,
}

/// What the store is trimmed to after builds when the config does not say.
pub const DEFAULT_CACHE_MAX_SIZE: u64 = 2 << 30;

/// One run's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The store directory: `XTASK_GO_CACHE_DIR`, else the config's `cache-dir`, else
    /// `target/go/cache`.
    pub cache_dir: Utf8PathBuf,
    /// The size the store is trimmed to after a build (`cache-max-size`, default 2 GiB).
    pub cache_max_size: u64,
    pub offline: bool,
    pub remote: RemoteFlags,
    /// Test-only: where the cache's writes abort (`XTASK_GO_TEST_CRASH_AT`); None otherwise.
    pub crash_at: CrashAt,
}

impl Settings {
    /// The settings of a project at `root` with `config`, before any flag; an error names the
    /// setting that does not parse.
    pub fn resolve(root: &Utf8Path, target_dir: &Utf8Path, config: &Config) -> Result<Settings> {
        let cache_dir = match EnvVars::get(EnvVars::XTASK_GO_CACHE_DIR) {
            Some(dir) => absolute_in(root, Utf8Path::new(&dir)),
            None => match &config.cache_dir {
                Some(dir) => absolute_in(root, dir),
                None => target_dir.join("go").join("cache"),
            },
        };
        let cache_max_size = match &config.cache_max_size {
            Some(text) => crate::util::units::parse_size(text)
                .with_context(|| {
                    let manifest = root.join("Cargo.toml");
                    format!("{manifest}: invalid [workspace.metadata.xtask-go]: cache-max-size = \"{text}\"")
                })?,
            None => DEFAULT_CACHE_MAX_SIZE,
        };
        Ok(Settings {
            cache_dir,
            cache_max_size,
            offline: false,
            remote: RemoteFlags::default(),
            crash_at: crash_at_from_env()?,
        })
    }

    /// The same settings with a command's flags.
    pub fn with_flags(mut self, flags: RunFlags) -> Settings {
        self.offline = flags.offline;
        self.remote = flags.remote;
        self
    }
}

/// What the command line adds to the configuration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemoteFlags {
    /// `--remote-read-only`: read, never write (for untrusted jobs such as pull requests).
    pub read_only: bool,
    /// `--remote-required`: a remote that fails makes the run fail.
    pub required: bool,
}

/// The protocol a remote speaks, from its URL's scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// The Bazel HTTP remote-cache protocol (`http://`, `https://`).
    Http,
    /// The gRPC Remote Execution API (`grpc://`, or `grpcs://` for TLS).
    Grpc { tls: bool },
}

/// A remote's address, checked when settings are resolved: `http(s)://host[:port][/prefix]`
/// (the base of a Bazel HTTP cache) or `grpc(s)://host[:port]` (a REAPI server), no trailing `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteUrl(String);

impl RemoteUrl {
    /// `url` as a remote's base; `source` (where it was set) names it in the error.
    pub fn parse(url: &str, source: &str) -> Result<RemoteUrl> {
        let url = url.trim_end_matches('/');
        let (scheme, rest) = url.split_once("://").unwrap_or(("", ""));
        let known = ["http", "https", "grpc", "grpcs"].contains(&scheme);
        if !known || rest.is_empty() || rest.starts_with('/') {
            bail!(
                "{source} is `{url}`, which is not an http://, https://, grpc:// or grpcs:// URL; \
                 set it to the base URL of a Bazel HTTP cache (e.g. http://cache.internal:8080) \
                 or the address of a REAPI server (e.g. grpc://cache.internal:9092)"
            );
        }
        if scheme.starts_with("grpc") && rest.contains('/') {
            bail!(
                "{source} is `{url}`: a grpc:// address has no path; name the REAPI instance \
                 with {} or `remote-instance` in [workspace.metadata.xtask-go]",
                EnvVars::XTASK_GO_REMOTE_INSTANCE
            );
        }
        Ok(RemoteUrl(url.to_string()))
    }

    pub fn protocol(&self) -> Protocol {
        match self.0.split_once("://").map(|(scheme, _)| scheme) {
            Some("grpc") => Protocol::Grpc { tls: false },
            Some("grpcs") => Protocol::Grpc { tls: true },
            _ => Protocol::Http,
        }
    }

    /// `host:port` (or `host`) of the URL.
    #[cfg(feature = "grpc")]
    pub fn authority(&self) -> &str {
        let rest = self.0.split_once("://").map_or("", |(_, rest)| rest);
        rest.split('/').next().unwrap_or(rest)
    }
}

impl std::fmt::Display for RemoteUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Everything the remote store needs to know.
#[derive(Debug, Clone)]
// Without a protocol feature, the transports that read the token and timeouts are left out.
#[cfg_attr(not(any(feature = "http", feature = "grpc")), allow(dead_code))]
pub struct RemoteSettings {
    /// `http(s)://host[:port][/prefix]`, without a trailing `/`.
    pub url: RemoteUrl,
    /// The REAPI instance name (gRPC only; empty for the server's default instance).
    pub instance: String,
    pub token: Option<String>,
    /// The header that carries the token: None for `authorization: Bearer <token>`, else the
    /// header's name with the token as its value (BuildBuddy: `x-buildbuddy-api-key`).
    pub token_header: Option<String>,
    pub signing_key: Option<Vec<u8>>,
    pub read_only: bool,
    pub required: bool,
    /// Where to append the run's remote traffic (`XTASK_GO_REMOTE_STATS`; benchmarks).
    pub stats_file: Option<Utf8PathBuf>,
    pub connect_timeout: Duration,
    /// The whole of one entry (`/ac/`) request, and of one blob (`/cas/`) request.
    pub entry_timeout: Duration,
    pub blob_timeout: Duration,
}

impl RemoteSettings {
    /// The remote of `project`: `XTASK_GO_REMOTE_CACHE`, else the config's `remote-cache`; None
    /// when neither names one (or the variable is `off`).
    pub fn resolve(project: &Project, flags: RemoteFlags) -> Result<Option<RemoteSettings>> {
        let config = &project.config;
        let (url, source) = match std::env::var(EnvVars::XTASK_GO_REMOTE_CACHE) {
            Ok(v) if v == "off" => return Ok(None),
            Ok(v) if !v.is_empty() => (v, EnvVars::XTASK_GO_REMOTE_CACHE),
            _ => match &config.remote_cache {
                Some(url) => (
                    url.clone(),
                    "`remote-cache` in [workspace.metadata.xtask-go]",
                ),
                None => return Ok(None),
            },
        };
        let env_read_only = std::env::var(EnvVars::XTASK_GO_REMOTE_READ_ONLY)
            .is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
        let mut settings = RemoteSettings::for_url(&url, source)?;
        if let Some(instance) = EnvVars::get(EnvVars::XTASK_GO_REMOTE_INSTANCE)
            .or_else(|| config.remote_instance.clone())
        {
            settings.instance = instance;
        }
        settings.read_only = flags.read_only || config.remote_read_only || env_read_only;
        settings.required = flags.required;
        Ok(Some(settings))
    }

    /// Settings for `url` with the token, signing key and timeouts from the environment.
    pub fn for_url(url: &str, source: &str) -> Result<RemoteSettings> {
        let url = RemoteUrl::parse(url, source)?;
        let secret = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let override_ms = std::env::var(EnvVars::XTASK_GO_REMOTE_TIMEOUT_MS)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_millis);
        let token_header = EnvVars::get(EnvVars::XTASK_GO_REMOTE_HEADER);
        if let Some(name) = &token_header {
            let valid = name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if name.is_empty() || !valid {
                bail!(
                    "{}=`{name}` is not a header name; set it to the header that carries \
                     XTASK_GO_REMOTE_TOKEN, e.g. x-buildbuddy-api-key",
                    EnvVars::XTASK_GO_REMOTE_HEADER
                );
            }
        }
        Ok(RemoteSettings {
            url,
            instance: String::new(),
            token: secret(EnvVars::XTASK_GO_REMOTE_TOKEN),
            token_header: token_header.map(|h| h.to_ascii_lowercase()),
            signing_key: secret(EnvVars::XTASK_GO_CACHE_SIGNING_KEY).map(String::into_bytes),
            read_only: false,
            required: false,
            stats_file: EnvVars::get(EnvVars::XTASK_GO_REMOTE_STATS).map(Utf8PathBuf::from),
            connect_timeout: override_ms
                .map_or(Duration::from_secs(2), |t| t.min(Duration::from_secs(2))),
            entry_timeout: override_ms.unwrap_or(Duration::from_secs(10)),
            blob_timeout: override_ms.unwrap_or(Duration::from_secs(30)),
        })
    }
}

/// The GOCACHEPROG value for go-build when the config's `gocacheprog` asks for it: this
/// executable with `cacheprog` and the store and remote on its command line. go splits it
/// with its `quoted.Split` rules: fields separated by spaces, `'...'` or `"..."` around a
/// field with spaces (no escapes).
pub fn gocacheprog_command_line(project: &Project) -> Option<String> {
    if !project.config.gocacheprog {
        return None;
    }
    let exe = std::env::current_exe().ok()?.to_str()?.to_string();
    let mut args = vec![
        exe,
        "cacheprog".into(),
        "--dir".into(),
        project.settings.cache_dir.to_string(),
    ];
    if let Ok(Some(remote)) = RemoteSettings::resolve(project, project.settings.remote) {
        args.extend(["--remote".to_string(), remote.url.to_string()]);
        if !remote.instance.is_empty() {
            args.extend(["--remote-instance".to_string(), remote.instance.clone()]);
        }
        if remote.read_only {
            args.push("--read-only".into());
        }
    }
    let quoted: Option<Vec<String>> = args.iter().map(|a| quote(a)).collect();
    quoted.map(|q| q.join(" "))
}

/// One field for go's `quoted.Split`; None when it cannot be quoted (holds both quote kinds).
pub(crate) fn quote(arg: &str) -> Option<String> {
    if !arg.is_empty() && !arg.contains([' ', '\t', '\n', '\r', '\'', '"']) {
        Some(arg.to_string())
    } else if !arg.contains('\'') {
        Some(format!("'{arg}'"))
    } else if !arg.contains('"') {
        Some(format!("\"{arg}\""))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_fields_are_quoted_as_go_splits_them() {
        assert_eq!(quote("/usr/bin/xtask").unwrap(), "/usr/bin/xtask");
        assert_eq!(quote("/my dir/xtask").unwrap(), "'/my dir/xtask'");
        assert_eq!(quote("it's here").unwrap(), "\"it's here\"");
        assert!(quote("both ' and \"").is_none());
    }

    #[test]
    fn remote_urls_name_their_protocol() {
        let parse = |url: &str| RemoteUrl::parse(url, "test");
        assert_eq!(parse("http://c:8080/").unwrap().protocol(), Protocol::Http);
        assert_eq!(parse("https://c/p").unwrap().to_string(), "https://c/p");
        let grpc = parse("grpc://c:9092").unwrap();
        assert_eq!(grpc.protocol(), Protocol::Grpc { tls: false });
        assert_eq!(
            parse("grpcs://c").unwrap().protocol(),
            Protocol::Grpc { tls: true }
        );
        let err = parse("grpc://c:9092/main").unwrap_err().to_string();
        assert!(err.contains("XTASK_GO_REMOTE_INSTANCE"), "{err}");
        for bad in ["c:8080", "ftp://c", "http://", "grpc:///x"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
