//! `cargo xtask bench vendor`: `go-vendor --check` against `go mod vendor -o $tmp && diff -r`,
//! on a synthetic vendor tree of 2,000+ files served by a file:// proxy (file-goproxy).

use anyhow::{ensure, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::{cmd, Shell};

use super::util::{alternate, ratio};

/// Synthetic modules × packages × Go files per package (plus a LICENSE per module).
const MODULES: usize = 8;
const PACKAGES: usize = 25;
const FILES: usize = 10;

pub fn run(sh: &Shell, runs: usize) -> Result<()> {
    let base = Utf8PathBuf::from_path_buf(std::env::temp_dir())
        .map_err(|p| anyhow::anyhow!("temp dir {} is not UTF-8", p.display()))?
        .join(format!("xtask-bench-vendor-{}", std::process::id()));
    let result = run_in(sh, &base, runs.max(1));
    if std::env::var_os("XTASK_BENCH_KEEP").is_some() {
        eprintln!("kept {base}");
        return result;
    }
    let _ = file_goproxy::make_writable(&base);
    let _ = std::fs::remove_dir_all(&base);
    result
}

// Long: one scenario after another, set up and timed in the order the table shows them.
fn run_in(sh: &Shell, base: &Utf8Path, runs: usize) -> Result<()> {
    let sources = base.join("sources");
    write_modules(&sources)?;
    let proxy = file_goproxy::build_proxy(&sources, &base.join("proxy"))?;
    let repo = base.join("repo");
    let app = repo.join("go/app");
    write_repo(&repo, &proxy)?;
    let modcache = base.join("modcache");
    let gocache = base.join("gocache");
    let _env = [
        ("GOPROXY", proxy.url()),
        ("GOSUMDB", "off".to_owned()),
        ("GOMODCACHE", modcache.to_string()),
        ("GOCACHE", gocache.to_string()),
        ("GOTOOLCHAIN", "local".to_owned()),
        ("GOENV", "off".to_owned()),
        ("GOWORK", "off".to_owned()),
        ("GOFLAGS", "-mod=mod".to_owned()),
    ]
    .map(|(k, v)| sh.push_env(k, v));
    let _dir = sh.push_dir(&app);
    cmd!(sh, "go mod vendor")
        .quiet()
        .run()
        .context("creating the vendor tree")?;
    let files = count_files(&app.join("vendor"));
    ensure!(
        files >= 2000,
        "the synthetic vendor tree has only {files} files"
    );

    let xtask = super::util::release_xtask(sh)?;
    let mut check = || {
        let out = cmd!(sh, "{xtask} go-vendor --check")
            .quiet()
            .ignore_status()
            .output()?;
        ensure!(
            out.status.success(),
            "go-vendor --check failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    };
    let tmp = base.join("fresh-vendor");
    let script = format!("go mod vendor -o \"{tmp}\" && diff -r vendor \"{tmp}\"");
    let mut by_hand = || {
        cmd!(sh, "sh -c {script}").quiet().run()?;
        Ok(())
    };
    let go_version = cmd!(sh, "go version").quiet().read()?;
    let shown = script.replace(tmp.as_str(), "$tmp");
    println!("vendor tree: {files} files in {MODULES} modules; {runs} runs each, interleaved; {go_version}");
    println!("| state | `go-vendor --check`, ms | `{shown}`, ms | ratio |");
    println!("| --- | ---: | ---: | ---: |");
    let drop = Utf8Path::new("/proc/sys/vm/drop_caches");
    let can_drop = std::fs::OpenOptions::new().write(true).open(drop).is_ok();
    let snapshot = repo.join("target/go/session.json");
    // (label, drop the page cache, remove the session snapshot) before each run.
    let regimes = [
        ("warm", false, false),
        (
            "warm, no session snapshot (as in a fresh clone)",
            false,
            true,
        ),
        ("page cache dropped before each run", true, false),
    ];
    for (label, cold, fresh) in regimes {
        if cold && !can_drop {
            println!("| {label} | - | - | needs root (writes {drop}) |");
            continue;
        }
        let prepare = || -> Result<()> {
            if fresh {
                let _ = std::fs::remove_file(&snapshot);
            }
            // Written-back first: the by-hand command's writes of the run before must not slow
            // whichever command comes next.
            cmd!(sh, "sync").quiet().run()?;
            if cold {
                std::fs::write(drop, "3").with_context(|| format!("writing {drop}"))?;
            }
            Ok(())
        };
        let (ours, theirs) = alternate(
            runs,
            &mut |_| {
                let _ = std::fs::remove_dir_all(&tmp);
                prepare()
            },
            &mut check,
            &mut by_hand,
        )?;
        println!(
            "| {label} | {} | {} | {} |",
            ours.summary(),
            theirs.summary(),
            ratio(Some(theirs.median()), Some(ours.median())),
        );
    }
    Ok(())
}

/// `bench.example/mNN@v1.0.0/pPP/fFF.go`: packages of Go files about 1.5 KB each.
fn write_modules(sources: &Utf8Path) -> Result<()> {
    for m in 0..MODULES {
        let module = format!("bench.example/m{m:02}");
        let dir = sources.join(format!("{module}@v1.0.0"));
        write(
            &dir.join("go.mod"),
            &format!("module {module}\n\ngo 1.21\n"),
        )?;
        write(
            &dir.join("LICENSE"),
            "Synthetic benchmark module; no rights reserved.\n",
        )?;
        for p in 0..PACKAGES {
            for f in 0..FILES {
                let mut text = format!("// Package p{p:02} is synthetic.\npackage p{p:02}\n\n");
                for k in 0..12 {
                    text.push_str(&format!(
                        "// F{f}x{k} returns a number derived from its arguments, for module {m}.\n\
                         func F{f}x{k}(a, b int) int {{ return a*{k} + b - {f} }}\n\n"
                    ));
                }
                write(&dir.join(format!("p{p:02}/f{f:02}.go")), &text)?;
            }
        }
    }
    Ok(())
}

/// A repo whose one module imports every synthetic package.
fn write_repo(repo: &Utf8Path, proxy: &file_goproxy::FixtureProxy) -> Result<()> {
    write(&repo.join("Cargo.toml"), "[workspace]\nmembers = []\n")?;
    let app = repo.join("go/app");
    let mut gomod = "module bench.example/app\n\ngo 1.22\n\nrequire (\n".to_owned();
    let mut main = "package main\n\nimport (\n".to_owned();
    for m in 0..MODULES {
        gomod.push_str(&format!("\tbench.example/m{m:02} v1.0.0\n"));
        for p in 0..PACKAGES {
            main.push_str(&format!("\t_ \"bench.example/m{m:02}/p{p:02}\"\n"));
        }
    }
    gomod.push_str(")\n");
    main.push_str(")\n\nfunc main() {}\n");
    write(&app.join("go.mod"), &gomod)?;
    write(&app.join("main.go"), &main)?;
    write(&app.join("go.sum"), &proxy.go_sum())
}

fn write(path: &Utf8Path, text: &str) -> Result<()> {
    std::fs::create_dir_all(path.parent().expect("a file has a parent"))?;
    std::fs::write(path, text).with_context(|| format!("writing {path}"))
}

fn count_files(dir: &Utf8Path) -> usize {
    let Ok(entries) = dir.read_dir_utf8() else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => count_files(e.path()),
            _ => 1,
        })
        .sum()
}
