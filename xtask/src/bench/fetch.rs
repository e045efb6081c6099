//! `cargo xtask bench fetch`: `go-fetch` against a shell loop of `go mod download` per module,
//! both from the same file:// proxy (40 synthetic modules) into the same empty module cache,
//! for a synthetic repo of 10 Go modules that share those dependencies.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use file_goproxy::{build_proxy, make_writable, FixtureProxy};
use xshell::{cmd, Shell};

const DEPENDENCIES: usize = 40;
const REPO_MODULES: usize = 10;
/// Each repo module requires this many of the dependencies (overlapping windows cover all 40).
const PER_MODULE: usize = 16;

/// Times both ways `runs` times each and prints the medians and their ratio.
pub fn run(sh: &Shell, runs: usize) -> Result<()> {
    let runs = runs.max(1);
    let root = Utf8PathBuf::from_path_buf(std::env::temp_dir())
        .ok()
        .context("the temp dir is not UTF-8")?
        .join(format!("xtask-go-bench-fetch-{}", std::process::id()));
    let result = bench_in(sh, &root, runs);
    let _ = make_writable(&root);
    let _ = std::fs::remove_dir_all(&root);
    result
}

// Long: one scenario after another, set up and timed in the order the table shows them.
fn bench_in(sh: &Shell, root: &Utf8Path, runs: usize) -> Result<()> {
    let paths = write_synthetic_modules(&root.join("sources"), DEPENDENCIES)?;
    let proxy = build_proxy(&root.join("sources"), &root.join("proxy"))?;
    let repo = write_repo(&root.join("repo"), &proxy, &paths)?;
    let modcache = root.join("modcache");
    let xtask = std::env::current_exe().context("locating the xtask binary")?;
    let _env = [
        sh.push_env("GOPROXY", proxy.url()),
        sh.push_env("GOSUMDB", "off"),
        sh.push_env("GOMODCACHE", &modcache),
        sh.push_env("GOFLAGS", "-mod=mod"),
        sh.push_env("GOTOOLCHAIN", "local"),
        sh.push_env("GOWORK", "off"),
        sh.push_env("NO_COLOR", "1"),
    ];
    let _dir = sh.push_dir(&repo);
    let empty_cache = || -> Result<()> {
        make_writable(&modcache)?;
        if modcache.exists() {
            std::fs::remove_dir_all(&modcache).with_context(|| format!("emptying {modcache}"))?;
        }
        Ok(())
    };
    let module_dirs: Vec<String> = (0..REPO_MODULES).map(|i| format!("go/app{i:02}")).collect();
    let shell_loop = format!(
        "for d in {}; do (cd \"$d\" && go mod download) || exit 1; done",
        module_dirs.join(" ")
    );
    let mut tool = Vec::new();
    let mut shell = Vec::new();
    for _ in 0..runs {
        empty_cache()?;
        let start = Instant::now();
        cmd!(sh, "{xtask} go-fetch").quiet().ignore_stderr().run()?;
        tool.push(start.elapsed());
        ensure!(
            count_zips(&modcache)? == DEPENDENCIES,
            "go-fetch left modules out"
        );

        empty_cache()?;
        let start = Instant::now();
        cmd!(sh, "sh -c {shell_loop}").quiet().run()?;
        shell.push(start.elapsed());
        ensure!(
            count_zips(&modcache)? == DEPENDENCIES,
            "the go loop left modules out"
        );
    }
    // Everything cached (the shell loop just filled the cache): a CI step that runs every time.
    let mut tool_warm = Vec::new();
    let mut shell_warm = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        cmd!(sh, "{xtask} go-fetch").quiet().ignore_stderr().run()?;
        tool_warm.push(start.elapsed());
        let start = Instant::now();
        cmd!(sh, "sh -c {shell_loop}").quiet().run()?;
        shell_warm.push(start.elapsed());
    }
    empty_cache()?;
    let (tool, shell) = (median(tool), median(shell));
    let (tool_warm, shell_warm) = (median(tool_warm), median(shell_warm));
    let ms = |d: Duration| format!("{:.0}", d.as_secs_f64() * 1000.0);
    println!(
        "fetch: {REPO_MODULES} modules sharing {DEPENDENCIES} dependencies, file:// proxy, median of {runs}\n"
    );
    println!("| cache | `cargo xtask go-fetch` (8 jobs), ms | shell loop of `go mod download`, ms | loop / go-fetch |");
    println!("| --- | --- | --- | --- |");
    for (what, t, l) in [
        ("empty", tool, shell),
        ("all cached", tool_warm, shell_warm),
    ] {
        println!(
            "| {what} | {} | {} | {:.2}x |",
            ms(t),
            ms(l),
            l.as_secs_f64() / t.as_secs_f64()
        );
    }
    Ok(())
}

/// A repo (root Cargo.toml, `go/appNN` modules) whose go.mod and go.sum name the dependencies.
fn write_repo(dir: &Utf8Path, proxy: &FixtureProxy, paths: &[String]) -> Result<Utf8PathBuf> {
    let write = |path: Utf8PathBuf, text: String| -> Result<()> {
        std::fs::create_dir_all(path.parent().expect("a parent"))?;
        std::fs::write(&path, text).with_context(|| format!("writing {path}"))
    };
    write(dir.join("Cargo.toml"), "[workspace]\nmembers = []\n".into())?;
    for i in 0..REPO_MODULES {
        let module = dir.join(format!("go/app{i:02}"));
        let mut gomod = format!("module bench.test/app{i:02}\n\ngo 1.21\n\nrequire (\n");
        let mut gosum = String::new();
        for k in 0..PER_MODULE {
            let path = &paths[(i * DEPENDENCIES / REPO_MODULES + k) % paths.len()];
            gomod.push_str(&format!("\t{path} v1.0.0\n"));
            gosum.push_str(&proxy.go_sum_lines(path));
        }
        gomod.push_str(")\n");
        write(module.join("go.mod"), gomod)?;
        write(module.join("go.sum"), gosum)?;
    }
    Ok(dir.to_owned())
}

/// Writes `count` synthetic module sources `example.com/synth/mNN@v1.0.0` (a package of a few
/// Go files and a data file, about 30 kB each) under `dir`, for benchmarks; returns their paths.
fn write_synthetic_modules(dir: &Utf8Path, count: usize) -> Result<Vec<String>> {
    let mut paths = Vec::with_capacity(count);
    for n in 0..count {
        let name = format!("m{n:02}");
        let path = format!("example.com/synth/{name}");
        let root = dir.join(format!("{path}@v1.0.0"));
        std::fs::create_dir_all(&root).with_context(|| format!("creating {root}"))?;
        write(
            &root.join("go.mod"),
            format!("module {path}\n\ngo 1.21\n").as_bytes(),
        )?;
        for part in 0..4 {
            let mut code = format!("package {name}\n\n");
            for f in 0..40 {
                code.push_str(&format!(
                    "// F{part}x{f} returns a value derived from x.\nfunc F{part}x{f}(x int) int {{ return x*{f} + {part} }}\n\n"
                ));
            }
            write(&root.join(format!("{name}_{part}.go")), code.as_bytes())?;
        }
        let data: String = (0..2000).map(|i| format!("{name} line {i}\n")).collect();
        let testdata = root.join("testdata");
        std::fs::create_dir_all(&testdata).with_context(|| format!("creating {testdata}"))?;
        write(&testdata.join("words.txt"), data.as_bytes())?;
        paths.push(path);
    }
    Ok(paths)
}

fn write(path: &Utf8Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {path}"))
}

fn count_zips(modcache: &Utf8Path) -> Result<usize> {
    let dir = modcache.join("cache/download/example.com/synth");
    let mut n = 0;
    for entry in dir
        .read_dir_utf8()
        .with_context(|| format!("listing {dir}"))?
    {
        n += usize::from(entry?.path().join("@v/v1.0.0.zip").is_file());
    }
    Ok(n)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}
