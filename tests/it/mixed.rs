//! Rust and Go together: `build`, `test` and `ci` in a repo whose crate links a Go c-archive,
//! `doctor`, a justfile recipe, and a fresh workspace adopting the library through its own xtask.

use camino::Utf8PathBuf;

use crate::support::Repo;

#[test]
fn build_links_a_go_archive_into_a_rust_crate_and_test_runs_both() {
    let repo = Repo::copy_of("mixed");
    let out = repo.xtask(&["build"]).ok();
    assert!(
        out.stderr.contains("Compiling calc (go/calc)"),
        "{}",
        out.stderr
    );
    assert!(repo
        .path("target/go/x86_64-unknown-linux-gnu/debug/libcalc.a")
        .is_file());
    assert!(repo
        .path("target/go/x86_64-unknown-linux-gnu/debug/libcalc.h")
        .is_file());
    assert!(
        out.stderr.contains("Running cargo build --workspace"),
        "{}",
        out.stderr
    );
    let out = repo.xtask(&["test"]).ok();
    assert!(
        out.stdout.contains("test tests::go_multiplies ... ok"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stderr.contains("Testing demo.test/calc (go/calc)"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_failing_rust_test_fails_xtask_test() {
    let repo = Repo::copy_of("mixed");
    let lib = std::fs::read_to_string(repo.path("crates/calc/src/lib.rs"))
        .unwrap()
        .replace("42", "43");
    repo.write("crates/calc/src/lib.rs", &lib);
    let out = repo.xtask(&["test"]).run();
    assert_eq!(out.code, 1, "{}", out.stderr);
}

#[test]
fn ci_runs_the_steps_in_order_and_summarises() {
    let repo = Repo::copy_of("mixed");
    let out = repo.xtask(&["ci", "--json", "--offline"]).ok();
    let events = out.json_lines();
    let steps: Vec<(String, String)> = events
        .iter()
        .filter(|e| e["reason"] == "ci-step")
        .map(|e| {
            (
                e["step"].as_str().unwrap().to_string(),
                e["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("fetch", "skipped"),
        ("vendor-check", "skipped"),
        ("build", "passed"),
        ("test", "passed"),
    ];
    assert_eq!(
        steps,
        expected.map(|(a, b)| (a.to_string(), b.to_string())),
        "{}",
        out.stderr
    );
    assert_eq!(events.last().unwrap()["reason"], "ci-finished");

    repo.write(
        "go/calc/broken.go",
        "package main\n\nfunc broken() { nope() }\n",
    );
    let out = repo.xtask(&["ci", "--offline"]).run();
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("build          FAILED"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("test           skipped") && out.stdout.contains("build failed"),
        "{}",
        out.stdout
    );
}

#[test]
fn doctor_names_what_it_ignores_and_how_to_fix_it() {
    let repo = Repo::copy_of("workspace");
    let home = repo.scratch("home");
    std::fs::create_dir_all(home.join(".config/go")).unwrap();
    std::fs::write(
        home.join(".config/go/env"),
        "GOFLAGS=-mod=mod\nGOPROXY=direct\n",
    )
    .unwrap();
    let out = repo
        .xtask(&["doctor", "--json"])
        .env("HOME", &home)
        .env_remove("XDG_CONFIG_HOME")
        .env("GOCACHE", "off")
        .env("GOTOOLCHAIN", "auto")
        .ok();
    let checks: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let find = |topic: &str| {
        checks
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["topic"] == topic)
            .unwrap_or_else(|| panic!("no {topic}: {checks}"))
            .clone()
    };
    assert_eq!(find("go")["severity"], "ok");
    assert_eq!(find("GOCACHE")["severity"], "warn");
    assert!(find("GOCACHE")["fix"]
        .as_str()
        .unwrap()
        .contains("unset GOCACHE"));
    assert_eq!(find("GOTOOLCHAIN")["severity"], "warn");
    let env_file = find("go env file");
    assert!(
        env_file["detail"]
            .as_str()
            .unwrap()
            .contains("GOFLAGS, GOPROXY"),
        "{env_file}"
    );
    assert!(
        env_file["fix"]
            .as_str()
            .unwrap()
            .contains("go env -u GOFLAGS GOPROXY"),
        "{env_file}"
    );
    assert!(find("build cache")["detail"]
        .as_str()
        .unwrap()
        .contains("target/go/cache"));

    let out = repo
        .xtask(&["doctor"])
        .env("PATH", repo.scratch("empty-bin"))
        .env_remove("GO")
        .run();
    assert_eq!(out.code, 1, "no go is an error: {}", out.stdout);
    assert!(
        out.stdout.contains("ERROR  go") && out.stdout.contains("go.dev/dl"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_justfile_recipe_runs_cargo_xtask() {
    let repo = Repo::copy_of("workspace");
    std::fs::copy(
        crate::support::fixtures().join("../../justfile"),
        repo.path("justfile"),
    )
    .unwrap();
    // `cargo xtask` inside this temp repo is the xtask binary under test: a shim `cargo` on PATH
    // runs it (the recipe text is what is checked; the real cargo is busy running this test).
    let bin = repo.scratch("shim-bin");
    let shim = bin.join("cargo");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\n[ \"$1\" = xtask ] || exit 99\nshift\nexec {} \"$@\"\n",
            env!("CARGO_BIN_EXE_xtask")
        ),
    )
    .unwrap();
    std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let just = which("just");
    let path = format!("{bin}:{}", std::env::var("PATH").unwrap());
    let out = std::process::Command::new(just)
        .arg("list")
        .current_dir(&repo.root)
        .env("PATH", path)
        .env("GOPROXY", "off")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("targets:") && stdout.contains("demo.test/tool/cmd/other"),
        "{stdout}"
    );
}

fn which(program: &str) -> Utf8PathBuf {
    let out = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .unwrap();
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        !path.is_empty(),
        "`{program}` is not installed: run `bash .ci/setup-just.sh` (CI's .ci/run does)"
    );
    Utf8PathBuf::from(path)
}

/// A new workspace whose own xtask depends on crates/xtask-go by path builds a Go program
/// through it: the library is usable from another repo.
#[test]
fn a_fresh_workspace_adopts_the_library_through_its_own_xtask() {
    let repo = Repo::copy_of("workspace");
    let library = Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/xtask-go")
        .canonicalize_utf8()
        .unwrap();
    repo.write(
        "Cargo.toml",
        "[workspace]\nmembers = [\"xtask\"]\nresolver = \"2\"\n",
    );
    repo.write(
        ".cargo/config.toml",
        "[alias]\nxtask = \"run --package xtask --\"\n",
    );
    repo.write(
        "xtask/Cargo.toml",
        &format!("[package]\nname = \"xtask\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n[dependencies]\nxtask-go = {{ path = \"{library}\" }}\nanyhow = \"1\"\ncamino = \"1\"\n"),
    );
    repo.write(
        "xtask/src/main.rs",
        r#"//! This repo's xtask: builds its Go programs with the xtask-go library.
use camino::Utf8PathBuf;
use xtask_go::{build, report::Reporter, BuildRequest, Session};

fn main() -> anyhow::Result<()> {
    let cwd = Utf8PathBuf::from_path_buf(std::env::current_dir()?).expect("UTF-8 cwd");
    let session = Session::load(&cwd)?;
    let report = build::build(&session, &BuildRequest::default(), &Reporter::new(false))?;
    std::process::exit(if report.success() { 0 } else { 1 })
}
"#,
    );
    // Our lock file pins the same versions, so the build needs no registry access.
    std::fs::copy(
        Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock"),
        repo.path("Cargo.lock"),
    )
    .unwrap();
    // A target dir of its own that survives between runs (the first build compiles the library).
    let target = Utf8PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("adoption-target");
    // Its Rust build is kept between runs; its Go outputs and records are not, so go must run.
    let _ = std::fs::remove_dir_all(target.join("go"));
    // The adopting repo's `cargo xtask`, offline, with `env` on top.
    let xtask = |env: &[(&str, &str)]| {
        std::process::Command::new(env!("CARGO"))
            .args(["xtask"])
            .current_dir(&repo.root)
            .env("CARGO_TARGET_DIR", &target)
            .env("XTASK_GO_GOCACHE", crate::support::shared_gocache())
            // A store of its own: the target dir (and its default store) outlives this run.
            .env("XTASK_GO_CACHE_DIR", repo.scratch("store"))
            .env("GOPROXY", "off")
            .env("CARGO_NET_OFFLINE", "true")
            .envs(env.iter().copied())
            .output()
            .unwrap()
    };
    let out = xtask(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("Compiling app (go/app)"), "{stderr}");
    let app = target.join("go/x86_64-unknown-linux-gnu/debug/app");
    let run = std::process::Command::new(&app).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout), "hello from lib\n");

    // With the library's default features the remote stacks are not in the xtask's graph...
    let tree = std::process::Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "xtask",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(&repo.root)
        .output()
        .unwrap();
    let tree = String::from_utf8_lossy(&tree.stdout);
    assert!(tree.contains("xtask-go"), "{tree}");
    for stack in ["ureq ", "rustls ", "tonic ", "tokio "] {
        assert!(
            !tree.contains(stack),
            "{stack}in the default graph:\n{tree}"
        );
    }
    // ...and a remote cache configured anyway is a warning that names the feature to enable
    // (a remote never fails a build: it builds, or here restores, locally).
    let out = xtask(&[("XTASK_GO_REMOTE_CACHE", "http://127.0.0.1:9")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("built without the `http` feature of xtask-go")
            && stderr.contains("building without the remote cache"),
        "{stderr}"
    );
}
