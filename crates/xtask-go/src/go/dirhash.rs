//! go's `h1:` hashes (golang.org/x/mod/sumdb/dirhash `Hash1`): SHA-256 over the lines
//! `hex(sha256(content)) + "  " + name + "\n"`, names sorted bytewise, then `"h1:"` + padded
//! standard base64, of a module zip (names are the zip entry names, `<mod>@<v>/<file>`), of a
//! directory as go would zip it, or of one `go.mod` file.

use std::fs::File;
use std::io;

use anyhow::{ensure, Context, Result};
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
/// go's filepath.Walk (and walkdir, which follows no symlink below the root), a symlink counts as
/// a file (and is read through when hashed). The order is walkdir's: `hash1` sorts the names.
pub fn dir_files(dir: &Utf8Path, prefix: &str) -> Result<Vec<(String, Utf8PathBuf)>> {
    let meta = std::fs::metadata(dir).with_context(|| format!("reading module dir {dir}"))?;
    ensure!(meta.is_dir(), "{dir} is not a directory");
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).min_depth(1) {
        let entry = entry.with_context(|| format!("listing module dir {dir}"))?;
        let is_dir = entry.file_type().is_dir();
        let path = Utf8PathBuf::from_path_buf(entry.into_path()).map_err(|p| {
            anyhow::anyhow!("listing module dir {dir}: a name that is not UTF-8: {p:?}")
        })?;
        let below = path
            .strip_prefix(dir)
            .expect("walkdir yields paths below its root");
        let mut name = prefix.to_owned();
        for part in below.components() {
            name.push('/');
            name.push_str(part.as_str());
        }
        ensure!(
            !name.contains('\n'),
            "file name with a newline in {}: {name:?}",
            path.parent().unwrap_or(dir)
        );
        if !is_dir {
            files.push((name, path));
        }
    }
    Ok(files)
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

    #[cfg(unix)]
    #[test]
    fn dir_files_names_a_symlink_as_a_file_and_does_not_follow_it() -> Result<()> {
        let scratch = Scratch::new("symlinks")?;
        let dir = scratch.0.join("m");
        std::fs::create_dir_all(dir.join("a/b"))?;
        std::fs::create_dir_all(scratch.0.join("elsewhere"))?;
        std::fs::write(dir.join("a/b/x.go"), "package b\n")?;
        std::fs::write(scratch.0.join("elsewhere/y.go"), "package y\n")?;
        std::os::unix::fs::symlink(scratch.0.join("elsewhere"), dir.join("link"))?;
        let mut names: Vec<String> = dir_files(&dir, "p@v1")?
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        names.sort();
        assert_eq!(names, ["p@v1/a/b/x.go", "p@v1/link"]);
        Ok(())
    }
}
