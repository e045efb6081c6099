//! Running go to download: `go mod download -json m@v...` (zips) or `go list -m -e -json m@v...`
//! (`.mod` files only) per batch, and sorting go's answers into done, transient, mismatch or error.
//! go does the fetching, the verification against go.sum and the extraction.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use camino::Utf8Path;
use serde::Deserialize;

use crate::host::toolchain::{self, Toolchain};
use crate::ops::fetch::needs::Need;

/// How one module version of a batch ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// In the cache now; the zip's size in bytes (0 for `.mod`-only needs).
    Done { bytes: u64 },
    /// Worth another try: connection refused or reset, 5xx, a timeout, a missing file:// proxy dir.
    Transient(String),
    /// The download does not match go.sum: never retried.
    Mismatch {
        downloaded: String,
        recorded: String,
    },
    /// Anything else (not in the proxy, a malformed zip): not retried.
    Failed(String),
    /// go stopped on another module's checksum mismatch before this one was reported.
    Aborted,
}

/// One answer of `go mod download -json` or `go list -m -json`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Answer {
    path: String,
    version: String,
    /// A string from `go mod download`, `{"Err": ...}` from `go list -m -e`.
    error: Option<serde_json::Value>,
    zip: Option<String>,
}

/// Runs go once for `needs` (all zips, or all `.mod`-only) in `dir` and returns one outcome each.
pub fn run_batch(
    toolchain: &Toolchain,
    env: &BTreeMap<String, String>,
    dir: &Utf8Path,
    needs: &[&Need],
) -> Result<Vec<Outcome>> {
    let zips = needs.iter().any(|n| n.zip);
    let args: Vec<String> = if zips {
        vec!["mod".into(), "download".into(), "-json".into()]
    } else {
        vec!["list".into(), "-m".into(), "-e".into(), "-json".into()]
    };
    let spec = toolchain
        .go(dir, env)
        .args(args)
        .args(needs.iter().map(|n| n.id()));
    let out = toolchain::run(&spec)?;
    let answers: Vec<Answer> = serde_json::Deserializer::from_slice(&out.stdout)
        .into_iter::<Answer>()
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing the JSON output of `{}`", spec.display()))?;
    let stderr = out.stderr_str();
    let proxy_dirs = file_proxy_dirs(env.get("GOPROXY").map(String::as_str).unwrap_or(""));
    let mismatch = parse_mismatch(&stderr);
    Ok(needs
        .iter()
        .map(|need| {
            if let Some((id, downloaded, recorded)) = &mismatch {
                if id == &need.id() || id == &format!("{}/go.mod", need.id()) {
                    return Outcome::Mismatch {
                        downloaded: downloaded.clone(),
                        recorded: recorded.clone(),
                    };
                }
            }
            let answer = answers
                .iter()
                .find(|a| a.path == need.path && a.version == need.version);
            match answer {
                Some(Answer { error: Some(e), .. }) => {
                    let message = match e {
                        serde_json::Value::String(s) => s.clone(),
                        other => other["Err"].as_str().unwrap_or_default().to_string(),
                    };
                    classify(&message, &proxy_dirs)
                }
                Some(a) => Outcome::Done {
                    bytes: a
                        .zip
                        .as_deref()
                        .and_then(|z| std::fs::metadata(z).ok())
                        .map_or(0, |m| m.len()),
                },
                None if mismatch.is_some() => Outcome::Aborted,
                None if !out.success() => classify(stderr.trim(), &proxy_dirs),
                None => {
                    Outcome::Failed(format!("`{}` did not report {}", spec.display(), need.id()))
                }
            }
        })
        .collect())
}

/// Sorts one of go's error messages.
pub fn classify(message: &str, file_proxy_dirs: &[String]) -> Outcome {
    let lower = message.to_ascii_lowercase();
    let network = [
        "connection refused",
        "connection reset",
        "timeout",
        "timed out",
        "tls handshake",
        "unexpected eof",
        "temporary failure",
        "server misbehaving",
        "broken pipe",
    ];
    let http_5xx = lower.match_indices(": 5").any(|(i, _)| {
        let rest = &lower.as_bytes()[i + 2..];
        rest.len() >= 4 && rest[1].is_ascii_digit() && rest[2].is_ascii_digit() && rest[3] == b' '
    });
    // A file:// proxy whose directory is gone (an unmounted share, a CI cache being restored) is
    // transient; a file missing inside a proxy dir that exists is a real "not found".
    let proxy_dir_gone = lower.contains("no such file or directory")
        && file_proxy_dirs
            .iter()
            .any(|d| message.contains(d.as_str()) && !Utf8Path::new(d).is_dir());
    if network.iter().any(|p| lower.contains(p)) || http_5xx || proxy_dir_gone {
        Outcome::Transient(message.to_string())
    } else {
        Outcome::Failed(message.to_string())
    }
}

/// The directories of the `file://` entries of a GOPROXY list.
pub fn file_proxy_dirs(goproxy: &str) -> Vec<String> {
    goproxy
        .split([',', '|'])
        .filter_map(|p| p.trim().strip_prefix("file://"))
        .map(|d| d.trim_end_matches('/').to_string())
        .collect()
}

/// `verifying <mod>@<v>[/go.mod]: checksum mismatch`, then `downloaded: h1:...` and `go.sum: h1:...`.
pub fn parse_mismatch(stderr: &str) -> Option<(String, String, String)> {
    let mut lines = stderr.lines();
    let id = lines.by_ref().find_map(|l| {
        l.trim()
            .strip_prefix("verifying ")?
            .strip_suffix(": checksum mismatch")
            .map(str::to_string)
    })?;
    let mut downloaded = String::new();
    let mut recorded = String::new();
    for line in lines.take(3) {
        let line = line.trim();
        if let Some(h) = line.strip_prefix("downloaded:") {
            downloaded = h.trim().to_string();
        } else if let Some((_, h)) = line.rsplit_once(": ") {
            // `go.sum:`, or the go.sum file's path in workspace mode.
            recorded = h.trim().to_string();
        }
    }
    Some((id, downloaded, recorded))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_gos_errors() {
        let dirs = file_proxy_dirs("file:///nonexistent/proxy,https://proxy.golang.org");
        assert_eq!(dirs, ["/nonexistent/proxy"]);
        let gone = "example.com/a@v1.0.0: reading file:///nonexistent/proxy/example.com/a/@v/v1.0.0.info: no such file or directory";
        assert!(matches!(classify(gone, &dirs), Outcome::Transient(_)));
        let refused = "Get \"http://127.0.0.1:1/x/@v/v1.info\": dial tcp 127.0.0.1:1: connect: connection refused";
        assert!(matches!(classify(refused, &[]), Outcome::Transient(_)));
        let unavailable = "reading https://proxy.example/x/@v/v1.0.0.zip: 503 Service Unavailable";
        assert!(matches!(classify(unavailable, &[]), Outcome::Transient(_)));
        let gone_for_good = "reading https://proxy.example/x/@v/v1.0.0.info: 404 Not Found";
        assert!(matches!(classify(gone_for_good, &[]), Outcome::Failed(_)));
    }

    #[test]
    fn reads_a_checksum_mismatch() {
        let stderr = "verifying example.com/beta@v1.0.0: checksum mismatch\n\tdownloaded: h1:LIa=\n\tgo.sum:     h1:POs=\n\nSECURITY ERROR\n";
        assert_eq!(
            parse_mismatch(stderr),
            Some((
                "example.com/beta@v1.0.0".into(),
                "h1:LIa=".into(),
                "h1:POs=".into()
            ))
        );
        let workspace = "verifying example.com/beta@v1.0.0: checksum mismatch\n\tdownloaded: h1:LIa=\n\t/w/go/app/go.sum:     h1:POs=\n";
        assert_eq!(parse_mismatch(workspace).unwrap().2, "h1:POs=");
        assert_eq!(parse_mismatch("go: something else"), None);
    }
}
