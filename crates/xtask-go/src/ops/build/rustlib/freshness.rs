//! When a Rust library that Go links needs no cargo run: the request (crate, triple, profile,
//! the cargo binary, the variables that shape a build) and the stamps of every file cargo read,
//! in `<placed dir>/.stamps`, with the native libraries rustc named on the last real build.

use anyhow::Result;
use camino::{Utf8Path, Utf8PathBuf};
use sha2::{Digest, Sha256};

use crate::buildcache::stamps::{self, StampList};
use crate::buildcache::statcache;
use crate::util::fsutil;
use crate::util::stamp::{now_ns, FileStamp};
use crate::workspace::targets::LinkedCrate;

/// Bump when the stamps file's layout changes.
const FORMAT: u32 = 2;

/// Environment variables that shape what cargo builds (their values are in the request hash):
/// a change makes the next run ask cargo. Build scripts that read other variables are cargo's
/// business on the runs that spawn it.
const CARGO_INPUT_PREFIXES: &[&str] = &[
    "CARGO_", "RUST", "CC", "CXX", "CFLAGS", "CXXFLAGS", "AR", "TARGET_",
];

/// What decides cargo's output besides files: crate, triple, profile, kind, the cargo binary
/// and the variables that shape a build.
pub(super) fn request_hash(link: &LinkedCrate, triple: &str, release: bool) -> Result<String> {
    let mut hasher = Sha256::new();
    let cargo = crate::workspace::project::cargo_binary()?;
    let cargo_stamp = FileStamp::of(&cargo)
        .ok()
        .map(|s| format!("{} {}", s.size, s.mtime_ns));
    hasher.update(format!(
        "{} {} {triple} {release} {:?} {cargo} {cargo_stamp:?}\n",
        link.crate_name, link.lib_name, link.kind
    ));
    let mut vars: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| CARGO_INPUT_PREFIXES.iter().any(|p| k.starts_with(p)))
        .collect();
    vars.sort();
    for (k, v) in vars {
        hasher.update(format!("{k}={v}\n"));
    }
    Ok(statcache::hex(&hasher.finalize()))
}

/// `xtask-go rustlib <FORMAT> <request>`, `native <flags>`, then the stamp lines. Nothing when
/// an input moved at or after `started` (the stamp of a file made before cargo ran): cargo may
/// have read it before the change, so only the next cargo run can say.
pub(super) fn write_stamps(
    file: &Utf8Path,
    request: &str,
    native: &[String],
    inputs: &[Utf8PathBuf],
    started: Option<FileStamp>,
) {
    let mut list = StampList::default();
    for input in inputs {
        let stamp = FileStamp::of(input).ok();
        let moved = match (stamp, started) {
            (Some(s), Some(start)) => s.mtime_ns.max(s.ctime_ns) >= start.ctime_ns,
            (_, None) => true,
            (None, Some(_)) => false,
        };
        if moved {
            let _ = std::fs::remove_file(file);
            return;
        }
        list.file(input.as_str(), stamp);
    }
    let mut out = format!(
        "xtask-go rustlib {FORMAT} {request}\nnative {}\n",
        native.join(" ")
    );
    // Stamps from within the racy window prove nothing: then no file, and cargo runs next time.
    if list.write_to(&mut out, now_ns()).is_some() {
        let _ = fsutil::write_atomic(file, out.as_bytes());
    } else {
        let _ = std::fs::remove_file(file);
    }
}

pub(super) fn remembered_native(text: &str) -> Option<Vec<String>> {
    let line = text.lines().nth(1)?.strip_prefix("native")?;
    Some(line.split_whitespace().map(String::from).collect())
}

/// The remembered native libraries, when the request is the same and every stamp holds.
pub(super) fn still_current(text: &str, request: &str, root: &Utf8Path) -> Option<Vec<String>> {
    let (header, rest) = text.split_once('\n')?;
    if header != format!("xtask-go rustlib {FORMAT} {request}") {
        return None;
    }
    let native = remembered_native(text)?;
    let (_native_line, stamps) = rest.split_once('\n')?;
    stamps::all_hold_or(stamps, root, |_| false).then_some(native)
}
