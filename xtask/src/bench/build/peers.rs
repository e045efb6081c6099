//! The build bench's peers, go-task and Turborepo: finding or installing them (idempotently, from
//! PyPI and npm only, under target/bench/tools) and writing their config into the synthetic repo.

use std::fmt::Write as _;

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::{cmd, Shell};

use super::repo::Shape;

/// The peer tools found (or installed); `None` where one could not be had.
#[derive(Debug, Default)]
pub struct Peers {
    pub task: Option<Utf8PathBuf>,
    pub turbo: Option<Utf8PathBuf>,
    /// `npm --version`, for package.json's `packageManager` (Turborepo insists on one).
    pub npm_version: Option<String>,
}

impl Peers {
    /// `task` and `turbo` from PATH, else from `tools`, else installed into `tools`.
    pub fn find_or_install(sh: &Shell, tools: &Utf8Path) -> Peers {
        let npm_version = on_path("npm").and_then(|npm| {
            let v = cmd!(sh, "{npm} --version").quiet().ignore_stderr().read();
            v.ok().map(|v| v.trim().to_string())
        });
        let task = on_path("task")
            .or_else(|| existing(tools.join("venv/bin/task")))
            .or_else(|| report(install_task(sh, tools), "go-task (PyPI go-task-bin)"));
        let turbo = on_path("turbo")
            .or_else(|| existing(tools.join("node_modules/.bin/turbo")))
            .or_else(|| report(install_turbo(sh, tools), "Turborepo (npm turbo)"));
        Peers {
            task,
            turbo,
            npm_version,
        }
    }
}

fn install_task(sh: &Shell, tools: &Utf8Path) -> Result<Utf8PathBuf> {
    eprintln!("bench: installing go-task (PyPI go-task-bin) into {tools}/venv");
    let python = on_path("python3").context("no python3 on PATH")?;
    let venv = tools.join("venv");
    cmd!(sh, "{python} -m venv {venv}").quiet().run()?;
    let pip = venv.join("bin/pip");
    cmd!(sh, "{pip} install --quiet go-task-bin")
        .quiet()
        .run()?;
    existing(venv.join("bin/task")).context("go-task-bin installed no `task` binary")
}

fn install_turbo(sh: &Shell, tools: &Utf8Path) -> Result<Utf8PathBuf> {
    eprintln!("bench: installing Turborepo (npm turbo) into {tools}/node_modules");
    let npm = on_path("npm").context("no npm on PATH")?;
    sh.create_dir(tools)?;
    cmd!(
        sh,
        "{npm} install --prefix {tools} --no-audit --no-fund turbo"
    )
    .quiet()
    .ignore_stdout()
    .run()?;
    existing(tools.join("node_modules/.bin/turbo")).context("npm installed no turbo binary")
}

fn report(result: Result<Utf8PathBuf>, what: &str) -> Option<Utf8PathBuf> {
    match result {
        Ok(path) => Some(path),
        Err(e) => {
            eprintln!("bench: could not install {what}, so it is left out: {e:#}");
            None
        }
    }
}

fn existing(path: Utf8PathBuf) -> Option<Utf8PathBuf> {
    path.is_file().then_some(path)
}

/// The first `name` on PATH.
pub fn on_path(name: &str) -> Option<Utf8PathBuf> {
    let path = std::env::var("PATH").ok()?;
    std::env::split_paths(&path)
        .filter_map(|dir| Utf8PathBuf::from_path_buf(dir.join(name)).ok())
        .find(|candidate| candidate.is_file())
}

/// `<tool> --version`, first line, or `?`.
pub fn version(sh: &Shell, tool: &Utf8Path) -> String {
    cmd!(sh, "{tool} --version")
        .quiet()
        .ignore_stderr()
        .env("TURBO_TELEMETRY_DISABLED", "1")
        .env("DO_NOT_TRACK", "1")
        .read()
        .ok()
        .and_then(|v| v.lines().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// The extra inputs of module `m` outside its own directory (relative to the module dir): go.work,
/// and for odd modules the sibling package that their main imports.
fn outside_inputs(shape: &Shape, m: usize) -> Vec<String> {
    let mut inputs = vec!["../go.work".to_string()];
    if m % 2 == 1 {
        let sibling = shape.module_name(m - 1);
        inputs.push(format!("../{sibling}/go.mod"));
        inputs.push(format!("../{sibling}/p00/*.go"));
    }
    inputs
}

/// Taskfile.yml (one checksum task per module, `default` depends on all) and the Turborepo
/// workspace (package.json per module, turbo.json, and an npm lockfile when npm is here).
pub fn write_configs(sh: &Shell, repo: &Utf8Path, shape: Shape, peers: &Peers) -> Result<()> {
    let names = shape.module_names();
    let mut taskfile =
        String::from("version: '3'\n\nmethod: checksum\n\ntasks:\n  default:\n    deps:\n");
    for name in &names {
        writeln!(taskfile, "      - {name}")?;
    }
    for (m, name) in names.iter().enumerate() {
        write!(
            taskfile,
            "\n  {name}:\n    dir: go/{name}\n    sources:\n      - '**/*.go'\n      - go.mod\n"
        )?;
        for input in outside_inputs(&shape, m) {
            writeln!(taskfile, "      - '{input}'")?;
        }
        write!(
            taskfile,
            "    generates:\n      - out/{name}\n    cmds:\n      - go build -o out/{name} ./cmd/{name}\n"
        )?;
    }
    sh.write_file(repo.join("Taskfile.yml"), taskfile)?;

    let npm = peers.npm_version.as_deref().unwrap_or("10.0.0");
    sh.write_file(
        repo.join("package.json"),
        format!(
            "{{\n  \"name\": \"xtask-go-bench\",\n  \"private\": true,\n  \
             \"packageManager\": \"npm@{npm}\",\n  \"workspaces\": [\"go/*\"]\n}}\n"
        ),
    )?;
    sh.write_file(
        repo.join("turbo.json"),
        r#"{
  "$schema": "https://turbo.build/schema.json",
  "globalDependencies": ["go/go.work"],
  "globalEnv": ["GOFLAGS", "CGO_ENABLED", "GOTOOLCHAIN"],
  "globalPassThroughEnv": ["GOCACHE", "GOENV", "GOPATH", "GOMODCACHE", "HOME", "PATH"],
  "tasks": {
    "build": {
      "inputs": ["**/*.go", "go.mod"],
      "outputs": ["out/**"]
    }
  }
}
"#,
    )?;
    for (m, name) in names.iter().enumerate() {
        let dir = repo.join("go").join(name);
        sh.write_file(
            dir.join("package.json"),
            format!(
                "{{\n  \"name\": \"{name}\",\n  \"version\": \"0.0.0\",\n  \"private\": true,\n  \
                 \"scripts\": {{ \"build\": \"go build -o out/{name} ./cmd/{name}\" }}\n}}\n"
            ),
        )?;
        if m % 2 == 1 {
            // The sibling package is an input too: a package configuration adds it.
            let sibling = shape.module_name(m - 1);
            sh.write_file(
                dir.join("turbo.json"),
                format!(
                    "{{\n  \"extends\": [\"//\"],\n  \"tasks\": {{\n    \"build\": {{\n      \
                     \"inputs\": [\"**/*.go\", \"go.mod\", \"$TURBO_ROOT$/go/{sibling}/go.mod\", \
                     \"$TURBO_ROOT$/go/{sibling}/p00/*.go\"]\n    }}\n  }}\n}}\n"
                ),
            )?;
        }
    }
    if let Some(npm) = on_path("npm") {
        let _cd = sh.push_dir(repo);
        cmd!(
            sh,
            "{npm} install --package-lock-only --no-audit --no-fund --ignore-scripts"
        )
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .with_context(|| format!("writing package-lock.json in {repo}"))?;
    }
    Ok(())
}
