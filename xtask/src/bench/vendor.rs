//! `cargo xtask bench vendor`: `go-vendor --check` against `go mod vendor -o $tmp && diff -r`,
//! on a synthetic vendor tree of 2,000+ files served by a file:// proxy (file-goproxy); with
//! `--large`, then also on the large tree of `vendor_large` (8,000+ files, 176 modules).

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::{cmd, Shell};

use super::util::{alternate, ratio};

/// Synthetic modules × packages × Go files per package (plus a LICENSE per module).
const MODULES: usize = 8;
const PACKAGES: usize = 25;
const FILES: usize = 10;

/// The modules of a synthetic tree (path, version) and the packages its app imports.
#[derive(Debug, Default)]
pub(super) struct Tree {
    pub(super) modules: Vec<(String, String)>,
    pub(super) imports: Vec<String>,
}

/// Writes a tree's module sources into a directory.
type TreeWriter = fn(&Utf8Path) -> Result<Tree>;

pub fn run(sh: &Shell, runs: usize, large: bool) -> Result<()> {
    let xtask = super::util::release_xtask(sh)?;
    let trees: &[(&str, TreeWriter, usize)] = if large {
        &[
            ("small", write_modules, 2000),
            ("large", super::vendor_large::write_modules, 8000),
        ]
    } else {
        &[("small", write_modules, 2000)]
    };
    for &(name, writer, at_least) in trees {
        let base = Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .map_err(|p| anyhow::anyhow!("temp dir {} is not UTF-8", p.display()))?
            .join(format!("xtask-bench-vendor-{name}-{}", std::process::id()));
        let bench = TreeBench {
            xtask: &xtask,
            writer,
            at_least,
        };
        in_temp_dir(&base, || bench.run_in(sh, &base, runs.max(1)))?;
    }
    Ok(())
}

/// Runs `f`, then removes `base` unless XTASK_BENCH_KEEP is set.
fn in_temp_dir(base: &Utf8Path, f: impl FnOnce() -> Result<()>) -> Result<()> {
    let result = f();
    if std::env::var_os("XTASK_BENCH_KEEP").is_some() {
        eprintln!("kept {base}");
        return result;
    }
    let _ = file_goproxy::make_writable(base);
    let _ = std::fs::remove_dir_all(base);
    result
}

/// One tree's bench: how to write its modules, and the least number of files it must vendor.
struct TreeBench<'a> {
    xtask: &'a Utf8Path,
    writer: TreeWriter,
    at_least: usize,
}

/// How the machine is prepared before each timed run of a state.
struct State {
    label: &'static str,
    /// Drop the page cache.
    cold: bool,
    /// Remove the session snapshot (as in a fresh clone).
    fresh: bool,
    /// Keep what the last check verified of the module cache (a repeat check).
    repeat: bool,
}

const STATES: [State; 5] = [
    State {
        label: "warm",
        cold: false,
        fresh: false,
        repeat: false,
    },
    State {
        label: "warm, no session snapshot (as in a fresh clone)",
        cold: false,
        fresh: true,
        repeat: false,
    },
    State {
        label: "page cache dropped before each run",
        cold: true,
        fresh: false,
        repeat: false,
    },
    State {
        label: "repeat check (module cache unchanged since the last check), warm",
        cold: false,
        fresh: false,
        repeat: true,
    },
    State {
        label: "repeat check, page cache dropped before each run",
        cold: true,
        fresh: false,
        repeat: true,
    },
];

impl TreeBench<'_> {
    /// Writes the tree and vendors it with go, then times both commands in every state.
    fn run_in(&self, sh: &Shell, base: &Utf8Path, runs: usize) -> Result<()> {
        let sources = base.join("sources");
        let tree = (self.writer)(&sources)?;
        let proxy = file_goproxy::build_proxy(&sources, &base.join("proxy"))?;
        let repo = base.join("repo");
        let app = repo.join("go/app");
        write_repo(&repo, &proxy, &tree)?;
        let (modcache, gocache) = (base.join("modcache"), base.join("gocache"));
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
            .ignore_stderr()
            .run()
            .context("creating the vendor tree")?;
        let vendored = std::time::Instant::now();
        let files = count_files(&app.join("vendor"));
        let at_least = self.at_least;
        ensure!(
            files >= at_least,
            "the synthetic vendor tree has only {files} files (want {at_least})"
        );
        let in_cache = count_files(&modcache) - count_files(&modcache.join("cache"));
        let go_version = cmd!(sh, "go version").quiet().read()?;
        println!(
            "\nvendor tree: {files} files of {} modules ({in_cache} files in their module cache directories); \
             {runs} runs each, interleaved; {go_version}; load average before: {}",
            tree.modules.len(),
            load_average()
        );
        // The module cache's stamps must be older than the racy window to be remembered.
        std::thread::sleep(Duration::from_millis(2500).saturating_sub(vendored.elapsed()));
        self.time_states(sh, base, &repo, runs)
    }

    // Long: one state after another, each prepared and timed as the table shows them.
    fn time_states(&self, sh: &Shell, base: &Utf8Path, repo: &Utf8Path, runs: usize) -> Result<()> {
        let xtask = self.xtask;
        let check = || -> Result<()> {
            let out = cmd!(sh, "{xtask} go-vendor --check")
                .quiet()
                .ignore_status()
                .output()?;
            let stderr = String::from_utf8_lossy(&out.stderr);
            ensure!(out.status.success(), "go-vendor --check failed: {stderr}");
            Ok(())
        };
        let tmp = base.join("fresh-vendor");
        let script = format!("go mod vendor -o \"{tmp}\" && diff -r vendor \"{tmp}\"");
        let mut by_hand = || -> Result<()> { Ok(cmd!(sh, "sh -c {script}").quiet().run()?) };
        let shown = script.replace(tmp.as_str(), "$tmp");
        println!("| state | `go-vendor --check`, ms | `{shown}`, ms | ratio |");
        println!("| --- | ---: | ---: | ---: |");
        let drop = Utf8Path::new("/proc/sys/vm/drop_caches");
        let can_drop = std::fs::OpenOptions::new().write(true).open(drop).is_ok();
        let snapshot = repo.join("target/go/session.json");
        let memo = repo.join("target/go/vendor-verified");
        for state in &STATES {
            let label = state.label;
            if state.cold && !can_drop {
                println!("| {label} | - | - | needs root (writes {drop}) |");
                continue;
            }
            if state.repeat {
                check()?; // what the repeat checks find remembered
                ensure!(
                    memo.is_file(),
                    "a check left no {memo}: a repeat check would hash everything"
                );
            }
            let prepare = || -> Result<()> {
                if state.fresh {
                    let _ = std::fs::remove_file(&snapshot);
                }
                if !state.repeat {
                    let _ = std::fs::remove_file(&memo);
                }
                // Written-back first: the by-hand command's writes of the run before must not
                // slow whichever command comes next.
                cmd!(sh, "sync").quiet().run()?;
                if state.cold {
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
                &mut || check(),
                &mut by_hand,
            )?;
            let ratio = ratio(Some(theirs.median()), Some(ours.median()));
            println!(
                "| {label} | {} | {} | {ratio} |",
                ours.summary(),
                theirs.summary()
            );
        }
        Ok(())
    }
}

/// `bench.example/mNN@v1.0.0/pPP/fFF.go`: packages of Go files about 1.5 KB each.
fn write_modules(sources: &Utf8Path) -> Result<Tree> {
    let mut tree = Tree::default();
    for m in 0..MODULES {
        let module = format!("bench.example/m{m:02}");
        tree.modules.push((module.clone(), "v1.0.0".to_owned()));
        tree.imports
            .extend((0..PACKAGES).map(|p| format!("{module}/p{p:02}")));
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
    Ok(tree)
}

/// The 1, 5 and 15 minute load averages (/proc/loadavg): whether other jobs shared the machine.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "unknown".to_owned(),
        |text| text.split(' ').take(3).collect::<Vec<_>>().join(" "),
    )
}

/// A repo whose one module requires every module of `tree` and imports its packages.
fn write_repo(repo: &Utf8Path, proxy: &file_goproxy::FixtureProxy, tree: &Tree) -> Result<()> {
    write(&repo.join("Cargo.toml"), "[workspace]\nmembers = []\n")?;
    let app = repo.join("go/app");
    let mut gomod = "module bench.example/app\n\ngo 1.22\n\nrequire (\n".to_owned();
    for (path, version) in &tree.modules {
        gomod.push_str(&format!("\t{path} {version}\n"));
    }
    gomod.push_str(")\n");
    let mut main = "package main\n\nimport (\n".to_owned();
    for package in &tree.imports {
        main.push_str(&format!("\t_ \"{package}\"\n"));
    }
    main.push_str(")\n\nfunc main() {}\n");
    write(&app.join("go.mod"), &gomod)?;
    write(&app.join("main.go"), &main)?;
    write(&app.join("go.sum"), &proxy.go_sum())
}

pub(super) fn write(path: &Utf8Path, text: &str) -> Result<()> {
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
