//! What a fetch found wrong, each worded to name the module, the file and the fix.

use crate::ops::fetch::needs::MissingSum;
use crate::ops::fetch::verify::Tampered;

/// Something found wrong: each makes the run fail (exit 1).
#[derive(Debug, Clone)]
pub enum Problem {
    MissingSum(MissingSum),
    /// A download (or a cached `.ziphash`) differs from go.sum.
    Mismatch {
        need: String,
        go_sum_line: String,
        seen: String,
        proxy: String,
    },
    Failed {
        need: String,
        proxy: String,
        tries: u32,
        transient: bool,
        message: String,
    },
    Tampered(Tampered),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::MissingSum(m) => {
                let which = if m.zip_only { "the zip's hash of " } else { "" };
                write!(
                    f,
                    "{} has no entry for {which}{} {} (required by {}): run `go mod tidy` in {}",
                    m.go_sum,
                    m.path,
                    m.version,
                    m.module_dir.join("go.mod"),
                    m.module_dir
                )
            }
            Problem::Mismatch { need, go_sum_line, seen, proxy } => write!(
                f,
                "checksum mismatch for {need}: downloaded from {proxy} with hash {seen}, but {go_sum_line}. \
                 Nothing was written to the module cache. SECURITY: the proxy or the network served \
                 different code than go.sum recorded; find out why before changing go.sum"
            ),
            Problem::Failed { need, proxy, tries, transient, message } => {
                let after = if *transient { format!(" after {tries} tries") } else { String::new() };
                write!(f, "could not download {need} from {proxy}{after}: {message}")
            }
            Problem::Tampered(t) => write!(f, "module cache differs from go.sum: {t}"),
        }
    }
}

impl Problem {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Problem::MissingSum(_) => "missing-sum",
            Problem::Mismatch { .. } => "checksum-mismatch",
            Problem::Failed {
                transient: true, ..
            } => "transient",
            Problem::Failed { .. } => "download-error",
            Problem::Tampered(_) => "cache-tampered",
        }
    }
}
