//! Checks the fixture proxy and `xtask_go::gosum` against the real `go`, offline: go downloads
//! every fixture module from the `file://` proxy, and its sums must equal the Rust-computed ones.

use std::process::Command;

use anyhow::{ensure, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use file_goproxy::{build_proxy, make_writable, FixtureProxy};
use serde::Deserialize;
use xtask_go::dirhash;
use xtask_go::gosum::{self, GoSum};

fn fixtures_dir() -> Utf8PathBuf {
    Utf8Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/modules")
}

/// A temp dir holding a freshly built proxy, an empty module cache and consumer modules.
/// The build cache is shared between tests (and runs): go keys it by content.
struct Sandbox {
    _tmp: tempfile::TempDir,
    root: Utf8PathBuf,
    proxy: FixtureProxy,
    modcache: Utf8PathBuf,
    gocache: Utf8PathBuf,
}

impl Sandbox {
    fn new() -> Result<Sandbox> {
        let tmp = tempfile::tempdir()?;
        let root = Utf8PathBuf::from_path_buf(tmp.path().to_owned())
            .ok()
            .context("non-UTF-8 temp dir")?;
        let proxy = build_proxy(&fixtures_dir(), &root.join("proxy"))?;
        let gocache = Utf8Path::new(env!("CARGO_TARGET_TMPDIR")).join("file-goproxy-gocache");
        Ok(Sandbox {
            modcache: root.join("modcache"),
            gocache,
            root,
            proxy,
            _tmp: tmp,
        })
    }

    /// Runs go hermetically in `dir`; fails with go's stderr unless it exits 0.
    fn go(&self, dir: &Utf8Path, args: &[&str]) -> Result<String> {
        let mut cmd = Command::new("go");
        cmd.args(args).current_dir(dir);
        cmd.envs(self.proxy.go_env(&self.modcache, &self.gocache));
        cmd.env("GOPATH", self.root.join("gopath"))
            .env("CGO_ENABLED", "0");
        let output = cmd
            .output()
            .with_context(|| format!("running go {args:?} (is go installed?)"))?;
        ensure!(
            output.status.success(),
            "go {args:?} in {dir} failed with {}:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).context("go printed non-UTF-8")
    }

    /// Writes a consumer module: go.mod requiring `requires`, go.sum from the proxy, main.go.
    fn consumer(
        &self,
        name: &str,
        requires: &[(&str, &str)],
        main_go: &str,
    ) -> Result<Utf8PathBuf> {
        let dir = self.root.join(name);
        std::fs::create_dir_all(&dir)?;
        let mut go_mod = format!("module example.com/{name}\n\ngo 1.21\n\nrequire (\n");
        let mut go_sum = String::new();
        for (path, version) in requires {
            go_mod.push_str(&format!("\t{path} {version}\n"));
            let module = self
                .proxy
                .module(path, version)
                .with_context(|| format!("no fixture {path}@{version}"))?;
            go_sum.push_str(&module.go_sum_lines());
        }
        go_mod.push_str(")\n");
        std::fs::write(dir.join("go.mod"), go_mod)?;
        std::fs::write(dir.join("go.sum"), go_sum)?;
        std::fs::write(dir.join("main.go"), main_go)?;
        Ok(dir)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // go leaves the module cache read-only; the temp dir could not be removed otherwise.
        let _ = make_writable(&self.modcache);
    }
}

/// One object of `go mod download -json`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Download {
    path: String,
    version: String,
    error: Option<String>,
    go_mod: Option<Utf8PathBuf>,
    zip: Option<Utf8PathBuf>,
    dir: Option<Utf8PathBuf>,
    sum: Option<String>,
    go_mod_sum: Option<String>,
}

fn parse_downloads(json: &str) -> Result<Vec<Download>> {
    serde_json::Deserializer::from_str(json)
        .into_iter::<Download>()
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing go mod download -json output:\n{json}"))
}

const MAIN_ALL: &str = r#"package main

import (
	"fmt"

	"example.com/BigCo/widget"
	"example.com/alpha"
	"example.com/beta"
	"example.com/beta/strutil"
	gamma "example.com/gamma/v2"
)

func main() {
	fmt.Println(alpha.Greet("gopher"))
	fmt.Println(widget.Name())
	fmt.Println(gamma.Double(21))
	fmt.Println(beta.Words(), beta.Shout(), strutil.Reverse("ab"))
}
"#;

const MAIN_DELTA: &str = r#"package main

import (
	"fmt"

	"example.com/alpha"
	"example.com/delta"
)

func main() {
	fmt.Println(delta.Welcome("gopher"))
	fmt.Println(alpha.Version)
}
"#;

const REQUIRES_ALL: &[(&str, &str)] = &[
    ("example.com/BigCo/widget", "v1.0.0"),
    ("example.com/alpha", "v1.1.0"),
    ("example.com/beta", "v1.0.0"),
    ("example.com/gamma/v2", "v2.1.0"),
];

const REQUIRES_DELTA: &[(&str, &str)] = &[
    ("example.com/alpha", "v1.2.0"),
    ("example.com/delta", "v1.0.0"),
];

#[test]
fn proxy_layout_escapes_upper_case_and_lists_versions() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let out = Utf8PathBuf::from_path_buf(tmp.path().join("proxy"))
        .ok()
        .context("non-UTF-8 temp dir")?;
    let proxy = build_proxy(&fixtures_dir(), &out)?;
    let served: Vec<String> = proxy
        .modules
        .iter()
        .map(|m| format!("{}@{}", m.path, m.version))
        .collect();
    assert_eq!(
        served,
        [
            "example.com/BigCo/widget@v1.0.0",
            "example.com/alpha@v1.1.0",
            "example.com/alpha@v1.2.0",
            "example.com/beta@v1.0.0",
            "example.com/delta@v1.0.0",
            "example.com/gamma/v2@v2.1.0",
            "example.com/rules@v1.0.0",
            "example.com/rules/nested@v1.0.0",
        ]
    );
    assert!(proxy.url().starts_with("file:///"), "{}", proxy.url());
    let widget = proxy.dir.join("example.com/!big!co/widget/@v");
    for file in ["list", "v1.0.0.info", "v1.0.0.mod", "v1.0.0.zip"] {
        assert!(widget.join(file).is_file(), "missing {widget}/{file}");
    }
    let alpha_list = std::fs::read_to_string(proxy.dir.join("example.com/alpha/@v/list"))?;
    assert_eq!(alpha_list, "v1.1.0\nv1.2.0\n");
    let info = std::fs::read_to_string(proxy.dir.join("example.com/alpha/@v/v1.2.0.info"))?;
    assert_eq!(
        info,
        r#"{"Version":"v1.2.0","Time":"2024-01-01T00:00:00Z"}"#
    );

    // Rebuilding gives byte-identical zips, and each zip hashes to the computed sum.
    let again = build_proxy(&fixtures_dir(), &out.with_file_name("proxy2"))?;
    for module in &proxy.modules {
        let rel = format!(
            "{}/@v/{}.zip",
            gosum::escape_path(&module.path)?,
            gosum::escape_version(&module.version)?
        );
        let zip = std::fs::read(proxy.dir.join(&rel))?;
        assert_eq!(
            zip,
            std::fs::read(again.dir.join(&rel))?,
            "{rel} is not deterministic"
        );
        assert_eq!(
            dirhash::hash_zip(&proxy.dir.join(&rel))?,
            module.zip_sum,
            "{rel}"
        );
    }
    assert_eq!(
        proxy
            .go_sum_lines("example.com/alpha")
            .lines()
            .map(|l| l.split(' ').nth(1).unwrap())
            .collect::<Vec<_>>(),
        ["v1.1.0", "v1.1.0/go.mod", "v1.2.0", "v1.2.0/go.mod"]
    );
    Ok(())
}

#[test]
fn go_mod_download_reports_the_computed_sums() -> Result<()> {
    let sandbox = Sandbox::new()?;
    let consumer = sandbox.consumer("consumer", REQUIRES_ALL, MAIN_ALL)?;
    let mut args = vec!["mod", "download", "-json"];
    let queries: Vec<String> = sandbox
        .proxy
        .modules
        .iter()
        .map(|m| format!("{}@{}", m.path, m.version))
        .collect();
    args.extend(queries.iter().map(String::as_str));
    let downloads = parse_downloads(&sandbox.go(&consumer, &args)?)?;
    assert_eq!(downloads.len(), sandbox.proxy.modules.len());

    for download in &downloads {
        let what = format!("{}@{}", download.path, download.version);
        assert_eq!(download.error, None, "{what}");
        let module = sandbox
            .proxy
            .module(&download.path, &download.version)
            .context("unexpected download")?;
        assert_eq!(
            download.sum.as_deref(),
            Some(module.zip_sum.as_str()),
            "go's Sum of {what}"
        );
        assert_eq!(
            download.go_mod_sum.as_deref(),
            Some(module.mod_sum.as_str()),
            "go's GoModSum of {what}"
        );

        let zip = download.zip.as_ref().context("no Zip")?;
        assert_eq!(
            dirhash::hash_zip(zip)?,
            module.zip_sum,
            "hash_zip of go's {zip}"
        );
        let dir = download.dir.as_ref().context("no Dir")?;
        assert_eq!(
            *dir,
            gosum::module_cache_dir(&sandbox.modcache, &module.path, &module.version)?
        );
        assert_eq!(
            dirhash::hash_dir(dir, &what)?,
            module.zip_sum,
            "hash_dir of go's {dir}"
        );
        let go_mod = std::fs::read(download.go_mod.as_ref().context("no GoMod")?)?;
        assert_eq!(
            dirhash::hash_mod_file(&go_mod),
            module.mod_sum,
            "{what} .mod"
        );
    }
    Ok(())
}

#[test]
fn go_builds_runs_and_verifies_consumers_of_the_proxy() -> Result<()> {
    let sandbox = Sandbox::new()?;
    let cases = [
        (
            "all",
            REQUIRES_ALL,
            MAIN_ALL,
            "Hello, gopher!\nBigCo widget\n42\n[apple banana cherry] YRREHC ANANAB ELPPA ba\n",
        ),
        (
            "viadelta",
            REQUIRES_DELTA,
            MAIN_DELTA,
            "Hi gopher, from alpha v1.2.0 (via delta)\nv1.2.0\n",
        ),
    ];
    for (name, requires, main_go, expected) in cases {
        // go.sum holds the Rust-computed hashes: go would stop at a "checksum mismatch" otherwise.
        let dir = sandbox.consumer(name, requires, main_go)?;
        let exe = sandbox.root.join(format!("{name}.exe"));
        sandbox.go(&dir, &["build", "-o", exe.as_str(), "."])?;
        let output = Command::new(&exe)
            .output()
            .with_context(|| format!("running {exe}"))?;
        assert!(output.status.success(), "{exe}: {}", output.status);
        assert_eq!(
            String::from_utf8(output.stdout)?,
            expected,
            "output of {name}"
        );

        assert_eq!(
            sandbox.go(&dir, &["mod", "verify"])?,
            "all modules verified\n"
        );
        let go_sum = GoSum::read(&dir.join("go.sum"))?;
        for (path, version) in requires {
            let module = sandbox.proxy.module(path, version).context("fixture")?;
            assert_eq!(
                go_sum.zip_hash(path, version),
                Some(module.zip_sum.as_str()),
                "{name} go.sum"
            );
            assert_eq!(
                go_sum.mod_hash(path, version),
                Some(module.mod_sum.as_str()),
                "{name} go.sum"
            );
        }
    }
    // beta's own test runs from the module cache (it reads the embedded word list).
    let all = sandbox.root.join("all");
    let out = sandbox.go(&all, &["test", "-count=1", "example.com/beta"])?;
    assert!(out.starts_with("ok"), "{out}");
    Ok(())
}

/// go's HashZip counts directory entries (as empty files) while the extracted dir has none, so
/// a zip with one gets a `Sum` that differs from the hash of the dir go extracts from it.
#[test]
fn go_counts_zip_directory_entries_like_hash_zip() -> Result<()> {
    let sandbox = Sandbox::new()?;
    let at_v = sandbox.proxy.dir.join("example.com/dirent/@v");
    std::fs::create_dir_all(&at_v)?;
    std::fs::write(at_v.join("list"), "v1.0.0\n")?;
    std::fs::write(
        at_v.join("v1.0.0.info"),
        r#"{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z"}"#,
    )?;
    std::fs::write(at_v.join("v1.0.0.mod"), "module example.com/dirent\n")?;
    let zip_path = at_v.join("v1.0.0.zip");
    let mut writer = zip::ZipWriter::new(std::fs::File::create(&zip_path)?);
    let options = zip::write::SimpleFileOptions::default();
    writer.add_directory("example.com/dirent@v1.0.0/sub/", options)?;
    writer.start_file("example.com/dirent@v1.0.0/sub/x.go", options)?;
    std::io::Write::write_all(&mut writer, b"package sub\n")?;
    writer.finish()?;

    let consumer = sandbox.consumer("consumer", &[], "package main\n\nfunc main() {}\n")?;
    let downloads = parse_downloads(&sandbox.go(
        &consumer,
        &["mod", "download", "-json", "example.com/dirent@v1.0.0"],
    )?)?;
    let [download] = &downloads[..] else {
        panic!("expected one download: {downloads:?}")
    };
    assert_eq!(
        download.sum.as_deref(),
        Some(dirhash::hash_zip(&zip_path)?.as_str())
    );
    let dir_hash = dirhash::hash_dir(
        download.dir.as_ref().context("no Dir")?,
        "example.com/dirent@v1.0.0",
    )?;
    assert_ne!(download.sum.as_deref(), Some(dir_hash.as_str()));
    Ok(())
}
