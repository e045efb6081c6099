//! go.sum files and module path escaping. A go.sum line `<mod> <v> h1:...` is the `dirhash` of
//! the module zip; a line `<mod> <v>/go.mod h1:...` that of one file named `go.mod` holding the
//! `.mod` file the proxy served.

use anyhow::{bail, ensure, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

/// go.sum's line for an empty go.mod, written by old go versions by mistake; go drops it on read.
const EMPTY_GO_MOD_HASH: &str = "h1:G7mAYYxgmS0lVkHyy2hEOLQCFB0DlQFTMLWggykrydY=";

/// One line of a go.sum file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoSumLine {
    pub module: String,
    /// The version without any `/go.mod` suffix.
    pub version: String,
    /// True for `<mod> <v>/go.mod h1:...` (the hash of the .mod file), false for the zip's hash.
    pub is_go_mod: bool,
    /// `h1:...` (any `alg:` prefix is kept as it is).
    pub hash: String,
}

impl std::fmt::Display for GoSumLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let suffix = if self.is_go_mod { "/go.mod" } else { "" };
        write!(f, "{} {}{suffix} {}", self.module, self.version, self.hash)
    }
}

/// The parsed lines of a go.sum file, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GoSum {
    pub entries: Vec<GoSumLine>,
}

impl GoSum {
    /// Reads and parses the go.sum file at `path`.
    pub fn read(path: &Utf8Path) -> Result<GoSum> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
        GoSum::parse(&text, path)
    }

    /// Parses go.sum text the way go does: blank lines are skipped, every other line has exactly
    /// three fields. `file` only names the file in errors.
    pub fn parse(text: &str, file: &Utf8Path) -> Result<GoSum> {
        let mut entries = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let lineno = index + 1;
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields[..] {
                [] => continue,
                [module, version, hash] => {
                    let (version, is_go_mod) = match version.strip_suffix("/go.mod") {
                        Some(version) => (version, true),
                        None => (version, false),
                    };
                    let well_formed = hash
                        .split_once(':')
                        .is_some_and(|(alg, sum)| !alg.is_empty() && !sum.is_empty());
                    if !well_formed || version.is_empty() {
                        bail!("malformed go.sum: {file}:{lineno}: bad line {line:?}");
                    }
                    if hash == EMPTY_GO_MOD_HASH {
                        continue;
                    }
                    entries.push(GoSumLine {
                        module: module.to_owned(),
                        version: version.to_owned(),
                        is_go_mod,
                        hash: hash.to_owned(),
                    });
                }
                _ => bail!(
                    "malformed go.sum: {file}:{lineno}: wrong number of fields {}",
                    fields.len()
                ),
            }
        }
        Ok(GoSum { entries })
    }

    /// The hash recorded for the module's zip (`<mod> <v> h1:...`), if any.
    pub fn zip_hash(&self, module: &str, version: &str) -> Option<&str> {
        self.find(module, version, false)
    }

    /// The hash recorded for the module's go.mod (`<mod> <v>/go.mod h1:...`), if any.
    pub fn mod_hash(&self, module: &str, version: &str) -> Option<&str> {
        self.find(module, version, true)
    }

    fn find(&self, module: &str, version: &str, is_go_mod: bool) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.module == module && e.version == version && e.is_go_mod == is_go_mod)
            .map(|e| e.hash.as_str())
    }
}

/// Escapes a module path for proxy URLs and module cache dirs: each upper-case letter becomes
/// `!` + its lower case (`example.com/BigCo` -> `example.com/!big!co`). Fails on `!` and non-ASCII,
/// which go never allows in module paths; it does not check go's other path rules.
pub fn escape_path(path: &str) -> Result<String> {
    escape(path).with_context(|| format!("cannot escape module path {path:?}"))
}

/// Escapes a version the same way as [`escape_path`].
pub fn escape_version(version: &str) -> Result<String> {
    escape(version).with_context(|| format!("cannot escape module version {version:?}"))
}

/// Reverses [`escape_path`]; fails on upper-case letters or a `!` not followed by a-z.
pub fn unescape_path(escaped: &str) -> Result<String> {
    unescape(escaped).with_context(|| format!("invalid escaped module path {escaped:?}"))
}

/// Reverses [`escape_version`].
pub fn unescape_version(escaped: &str) -> Result<String> {
    unescape(escaped).with_context(|| format!("invalid escaped module version {escaped:?}"))
}

fn escape(s: &str) -> Result<String> {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        ensure!(c != '!' && c.is_ascii(), "{c:?} is not allowed");
        if c.is_ascii_uppercase() {
            out.push('!');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

fn unescape(s: &str) -> Result<String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        ensure!(
            c.is_ascii() && !c.is_ascii_uppercase(),
            "{c:?} is not allowed"
        );
        if c == '!' {
            match chars.next() {
                Some(next) if next.is_ascii_lowercase() => out.push(next.to_ascii_uppercase()),
                _ => bail!("'!' must be followed by a lower-case letter"),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// Where go extracts a module in the module cache: `$GOMODCACHE/<escaped mod>@<escaped v>`.
pub fn module_cache_dir(gomodcache: &Utf8Path, module: &str, version: &str) -> Result<Utf8PathBuf> {
    Ok(gomodcache.join(format!(
        "{}@{}",
        escape_path(module)?,
        escape_version(version)?
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_sum() -> Result<()> {
        let text = "example.com/a v1.0.0 h1:zip=\nexample.com/a v1.0.0/go.mod h1:mod=\n\n\
                    example.com/b v0.1.0/go.mod h1:G7mAYYxgmS0lVkHyy2hEOLQCFB0DlQFTMLWggykrydY=\n";
        let sum = GoSum::parse(text, Utf8Path::new("go.sum"))?;
        assert_eq!(sum.entries.len(), 2);
        assert_eq!(sum.zip_hash("example.com/a", "v1.0.0"), Some("h1:zip="));
        assert_eq!(sum.mod_hash("example.com/a", "v1.0.0"), Some("h1:mod="));
        assert_eq!(sum.mod_hash("example.com/b", "v0.1.0"), None);
        assert_eq!(
            sum.entries[1].to_string(),
            "example.com/a v1.0.0/go.mod h1:mod="
        );

        let err = GoSum::parse("a v1 h1:x=\nb v1\n", Utf8Path::new("/w/go.sum")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed go.sum: /w/go.sum:2: wrong number of fields 2"
        );
        let err = GoSum::parse("a v1 nohash\n", Utf8Path::new("/w/go.sum")).unwrap_err();
        assert!(err.to_string().contains("/w/go.sum:1"), "{err}");
        Ok(())
    }

    #[test]
    fn escapes_paths_and_versions() -> Result<()> {
        assert_eq!(escape_path("example.com/BigCo")?, "example.com/!big!co");
        assert_eq!(escape_path("example.com/plain/v2")?, "example.com/plain/v2");
        assert_eq!(escape_version("v1.0.0-RC1")?, "v1.0.0-!r!c1");
        assert_eq!(unescape_path("example.com/!big!co")?, "example.com/BigCo");
        assert_eq!(unescape_version("v1.0.0-!r!c1")?, "v1.0.0-RC1");
        assert!(escape_path("example.com/a!b").is_err());
        assert!(escape_path("example.com/é").is_err());
        assert!(unescape_path("example.com/Big").is_err());
        assert!(unescape_path("example.com/!").is_err());
        assert!(unescape_path("example.com/!1").is_err());
        let dir = module_cache_dir(Utf8Path::new("/mc"), "example.com/BigCo/widget", "v1.0.0")?;
        assert_eq!(dir, "/mc/example.com/!big!co/widget@v1.0.0");
        Ok(())
    }
}
