//! Go module checksums: the `h1:` directory hash, go.sum parsing and module path escaping.
//!
//! The hash is golang.org/x/mod/sumdb/dirhash `Hash1`: SHA-256 over the lines
//! `hex(sha256(content)) + "  " + name + "\n"`, names sorted bytewise, then `"h1:"` + padded
//! standard base64. A go.sum line `<mod> <v> h1:...` hashes the module zip (names are the zip
//! entry names, `<mod>@<v>/<file>`); a line `<mod> <v>/go.mod h1:...` hashes one file named
//! `go.mod` holding the `.mod` file the proxy served.

use std::fs::File;
use std::io;

use anyhow::{bail, ensure, Context, Result};
use base64::Engine as _;
use camino::{Utf8Path, Utf8PathBuf};
use sha2::{Digest, Sha256};

/// The SHA-256 of some bytes, as used per file by [`hash1`].
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Go's `dirhash.Hash1` over `(file name, sha256 of its content)` pairs.
///
/// # Panics
/// If a name contains a newline (go refuses those too; [`hash_zip`] and [`hash_dir`] check first).
pub fn hash1(files: impl IntoIterator<Item = (String, [u8; 32])>) -> String {
    let mut files: Vec<(String, [u8; 32])> = files.into_iter().collect();
    files.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut summary = Sha256::new();
    for (name, digest) in &files {
        assert!(
            !name.contains('\n'),
            "dirhash: file name with a newline: {name:?}"
        );
        let mut hex = String::with_capacity(64);
        for byte in digest {
            hex.push_str(&format!("{byte:02x}"));
        }
        summary.update(format!("{hex}  {name}\n").as_bytes());
    }
    format!(
        "h1:{}",
        base64::engine::general_purpose::STANDARD.encode(summary.finalize())
    )
}

/// The hash of a `.mod` file, as in a go.sum line `<mod> <v>/go.mod h1:...`.
pub fn hash_mod_file(contents: &[u8]) -> String {
    hash1([("go.mod".to_owned(), sha256(contents))])
}

/// The hash of a module zip, as in a go.sum line `<mod> <v> h1:...`.
///
/// Like go's `dirhash.HashZip`, every entry counts, directory entries too (as empty files):
/// go's own module zips never hold directory entries, but a hand-made zip may.
pub fn hash_zip(path: &Utf8Path) -> Result<String> {
    let file = File::open(path).with_context(|| format!("opening module zip {path}"))?;
    let mut archive =
        zip::ZipArchive::new(file).with_context(|| format!("reading module zip {path}"))?;
    let mut files = Vec::with_capacity(archive.len());
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .with_context(|| format!("reading entry {index} of module zip {path}"))?;
        let name = entry.name().to_owned();
        ensure!(
            !name.contains('\n'),
            "module zip {path}: entry name with a newline: {name:?}"
        );
        let mut hasher = Sha256::new();
        if !entry.is_dir() {
            io::copy(&mut entry, &mut hasher)
                .with_context(|| format!("reading {name} from module zip {path}"))?;
        }
        files.push((name, hasher.finalize().into()));
    }
    Ok(hash1(files))
}

/// The hash of an extracted module directory (what `go mod verify` checks in the module cache);
/// `prefix` is `<module>@<version>`, unescaped.
pub fn hash_dir(dir: &Utf8Path, prefix: &str) -> Result<String> {
    let mut hashed = Vec::new();
    for (name, path) in dir_files(dir, prefix)? {
        let bytes = std::fs::read(&path).with_context(|| format!("reading {path}"))?;
        hashed.push((name, sha256(&bytes)));
    }
    Ok(hash1(hashed))
}

/// Every file below `dir` with the name go's dirhash gives it (`prefix/<path below dir>`); like
/// go's filepath.Walk, a symlink counts as a file (and is read through when hashed).
pub fn dir_files(dir: &Utf8Path, prefix: &str) -> Result<Vec<(String, Utf8PathBuf)>> {
    let meta = std::fs::metadata(dir).with_context(|| format!("reading module dir {dir}"))?;
    ensure!(meta.is_dir(), "{dir} is not a directory");
    let mut files = Vec::new();
    let mut pending = vec![(dir.to_owned(), prefix.to_owned())];
    while let Some((dir, name_prefix)) = pending.pop() {
        for entry in dir
            .read_dir_utf8()
            .with_context(|| format!("listing module dir {dir}"))?
        {
            let entry = entry.with_context(|| format!("listing module dir {dir}"))?;
            let name = format!("{name_prefix}/{}", entry.file_name());
            ensure!(
                !name.contains('\n'),
                "file name with a newline in {dir}: {name:?}"
            );
            let file_type = entry
                .file_type()
                .with_context(|| format!("reading {}", entry.path()))?;
            if file_type.is_dir() {
                pending.push((entry.path().to_owned(), name));
            } else {
                files.push((name, entry.path().to_owned()));
            }
        }
    }
    Ok(files)
}

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

    const ALPHA_GO_MOD: &[u8] = b"module example.com/alpha\n\ngo 1.21\n";

    /// A scratch dir under the system temp dir, removed on drop.
    struct Scratch(Utf8PathBuf);

    impl Scratch {
        fn new(name: &str) -> Result<Scratch> {
            let base = Utf8PathBuf::from_path_buf(std::env::temp_dir())
                .ok()
                .context("non-UTF-8 temp dir")?;
            let dir = base.join(format!("xtask-go-gosum-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {dir}"))?;
            Ok(Scratch(dir))
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn write_zip(path: &Utf8Path, entries: &[(&str, &[u8])]) -> Result<()> {
        let mut writer = zip::ZipWriter::new(File::create(path)?);
        let options = zip::write::SimpleFileOptions::default();
        for (name, body) in entries {
            if name.ends_with('/') {
                writer.add_directory(*name, options)?;
            } else {
                writer.start_file(*name, options)?;
                io::Write::write_all(&mut writer, body)?;
            }
        }
        writer.finish()?;
        Ok(())
    }

    #[test]
    fn go_mod_hash_matches_go() {
        // `go mod download -json` (go 1.26) reported this GoModSum for a proxy serving this .mod.
        assert_eq!(
            hash_mod_file(ALPHA_GO_MOD),
            "h1:YHow77xbH+ggU39aBbYdg0ePvfXlEwA+H5UduKJe4xw="
        );
    }

    #[test]
    fn zip_hash_counts_directory_entries_like_go() -> Result<()> {
        let scratch = Scratch::new("dirent")?;
        let zip_path = scratch.0.join("v1.1.0.zip");
        let prefix = "example.com/alpha@v1.1.0/";
        write_zip(
            &zip_path,
            &[
                (&format!("{prefix}go.mod"), ALPHA_GO_MOD),
                (&format!("{prefix}alpha.go"), b"package alpha\n"),
                (&format!("{prefix}sub/"), b""),
            ],
        )?;
        // The `Sum` go 1.26 reported for this very zip: the directory entry counts as an empty file,
        // so it differs from the hash of the extracted dir (h1:5x5rrJsi8Um+...).
        assert_eq!(
            hash_zip(&zip_path)?,
            "h1:7x8W8iv2UuddmETOTOb3Ii7B0nrsSU0VqXux2HvarL8="
        );
        let without_dir = hash1([
            (format!("{prefix}go.mod"), sha256(ALPHA_GO_MOD)),
            (format!("{prefix}alpha.go"), sha256(b"package alpha\n")),
        ]);
        assert_eq!(
            without_dir,
            "h1:5x5rrJsi8Um+CAU2b+IKpDFono7Zk8+VHJBj8rQ2eoE="
        );
        Ok(())
    }

    #[test]
    fn hash1_sorts_names_bytewise_and_formats_lines() {
        let files = [
            ("b".to_owned(), sha256(b"2")),
            ("B".to_owned(), sha256(b"1")),
        ];
        let mut expected_input = String::new();
        for (name, content) in [("B", "1"), ("b", "2")] {
            let hex: String = sha256(content.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            expected_input.push_str(&format!("{hex}  {name}\n"));
        }
        let expected = format!(
            "h1:{}",
            base64::engine::general_purpose::STANDARD.encode(sha256(expected_input.as_bytes()))
        );
        assert_eq!(hash1(files.clone()), expected);
        assert_eq!(hash1(files.into_iter().rev()), expected);
        assert_eq!(
            hash1([]),
            format!(
                "h1:{}",
                base64::engine::general_purpose::STANDARD.encode(sha256(b""))
            )
        );
    }

    #[test]
    fn zip_and_dir_hashes_agree() -> Result<()> {
        let scratch = Scratch::new("agree")?;
        let root = &scratch.0;
        let dir = root.join("m");
        std::fs::create_dir_all(dir.join("sub"))?;
        std::fs::write(dir.join("go.mod"), "module example.com/m\n")?;
        std::fs::write(dir.join("sub/x.go"), "package sub\n")?;

        let zip_path = root.join("m.zip");
        write_zip(
            &zip_path,
            &[
                ("example.com/m@v1.0.0/sub/x.go", b"package sub\n"),
                ("example.com/m@v1.0.0/go.mod", b"module example.com/m\n"),
            ],
        )?;

        let from_dir = hash_dir(&dir, "example.com/m@v1.0.0")?;
        assert_eq!(hash_zip(&zip_path)?, from_dir);
        let expected = hash1([
            (
                "example.com/m@v1.0.0/go.mod".to_owned(),
                sha256(b"module example.com/m\n"),
            ),
            (
                "example.com/m@v1.0.0/sub/x.go".to_owned(),
                sha256(b"package sub\n"),
            ),
        ]);
        assert_eq!(from_dir, expected);
        let err = hash_dir(&dir.join("go.mod"), "x").unwrap_err();
        assert!(format!("{err:#}").contains("not a directory"), "{err:#}");
        Ok(())
    }

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
