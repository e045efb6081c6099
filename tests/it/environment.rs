//! The pinned environment: what go runs with, whatever the caller's environment holds.

use crate::support::Repo;

fn go_env(repo: &Repo, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["go-env", "--json"];
    all.extend(args);
    serde_json::from_str(&repo.xtask(&all).ok().stdout).unwrap()
}

#[test]
fn go_env_shows_the_pinned_values() {
    let repo = Repo::copy_of("workspace");
    let env = go_env(&repo, &[]);
    assert_eq!(env["GOENV"], "off");
    assert_eq!(env["GOTOOLCHAIN"], "local");
    assert_eq!(env["GOOS"], "linux");
    assert_eq!(env["GOARCH"], "amd64");
    assert_eq!(env["GOAMD64"], "v1");
    assert_eq!(env["CGO_ENABLED"], "0");
    assert_eq!(env["GOFLAGS"], "-mod=readonly -trimpath -buildvcs=false");
    assert!(env["GOWORK"].as_str().unwrap().ends_with("go/go.work"));
    let cache = env["GOCACHE"].as_str().unwrap();
    assert!(
        cache.starts_with('/') && cache.ends_with("x86_64-unknown-linux-gnu"),
        "{cache}"
    );
    let arm = go_env(&repo, &["--target", "armv7-unknown-linux-gnueabihf"]);
    assert_eq!(
        (arm["GOARCH"].as_str(), arm["GOARM"].as_str()),
        (Some("arm"), Some("7"))
    );
}

#[test]
fn gocache_defaults_to_the_target_dir_per_platform() {
    let repo = Repo::copy_of("workspace");
    let out = repo
        .xtask(&["go-env", "--json"])
        .env_remove("XTASK_GO_GOCACHE")
        .ok();
    let env: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        env["GOCACHE"].as_str().unwrap(),
        repo.path("target/go/x86_64-unknown-linux-gnu/gocache")
            .as_str()
    );
}

#[test]
fn leaked_variables_do_not_reach_go() {
    let repo = Repo::copy_of("workspace");
    let out = repo
        .xtask(&["go-env", "--json"])
        .env("GOOS", "windows")
        .env("GOFLAGS", "-mod=mod")
        .env("GOEXPERIMENT", "nocoverageredesign")
        .env("GOROOT", "/nonexistent")
        .env("GOWORK", "off")
        .env("GOPROXY", "file:///passes/through")
        .ok();
    let env: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(env["GOOS"], "linux");
    assert_eq!(env["GOFLAGS"], "-mod=readonly -trimpath -buildvcs=false");
    assert_eq!(env["GOEXPERIMENT"], "");
    assert!(env.get("GOROOT").is_none());
    assert!(env["GOWORK"].as_str().unwrap().ends_with("go.work"));
    assert_eq!(env["GOPROXY"], "file:///passes/through");
    assert!(
        out.stderr
            .contains("GOFLAGS=-mod=mod in your environment is ignored"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_parent_gocache_off_still_builds_with_one_warning() {
    let repo = Repo::copy_of("workspace");
    let out = repo.xtask(&["go-build"]).env("GOCACHE", "off").ok();
    assert_eq!(
        out.stderr
            .matches("GOCACHE=off in your environment is ignored")
            .count(),
        1,
        "{}",
        out.stderr
    );
    assert!(repo
        .path("target/go/x86_64-unknown-linux-gnu/debug/app")
        .is_file());
    let out = repo
        .xtask(&["go-build"])
        .env("GOCACHE", "relative/cache")
        .ok();
    assert!(
        out.stderr
            .contains("GOCACHE=relative/cache in your environment is ignored"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_users_go_env_file_does_not_leak_in() {
    let repo = Repo::copy_of("workspace");
    // `go env -w` writes $HOME/.config/go/env (XDG_CONFIG_HOME unset). GOEXPERIMENT is the
    // telling line: the pinned environment sets it empty, go falls back to the env file for
    // an empty variable, so only GOENV=off keeps this build from failing with
    // "unknown GOEXPERIMENT"; the other lines would change the output.
    let home = repo.scratch("home");
    std::fs::create_dir_all(home.join(".config/go")).unwrap();
    let env_file = "GOFLAGS=-mod=mod -tags=leaked\nGOOS=windows\nCGO_ENABLED=1\nGOEXPERIMENT=bogusexperiment\n";
    std::fs::write(home.join(".config/go/env"), env_file).unwrap();
    repo.write(
        "go/app/leak.go",
        "//go:build leaked\n\npackage main\n\nthis does not compile\n",
    );
    repo.xtask(&["go-build"])
        .env("HOME", &home)
        .env_remove("XDG_CONFIG_HOME")
        .ok();
    let bytes = std::fs::read(repo.path("target/go/x86_64-unknown-linux-gnu/debug/app")).unwrap();
    assert_eq!(
        crate::support::elf_machine(&bytes),
        62,
        "a linux/amd64 ELF, not a windows PE"
    );
    let out = repo
        .xtask(&["go-env", "--json"])
        .env("HOME", &home)
        .env_remove("XDG_CONFIG_HOME")
        .ok();
    let env: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(env["GOFLAGS"], "-mod=readonly -trimpath -buildvcs=false");
    assert_eq!(env["GOENV"], "off");
}

/// Warnings reach `--json` as events too (said once through the command's reporter), and stay
/// on stderr for people.
#[test]
fn warnings_are_json_events_under_json() {
    let repo = Repo::copy_of("workspace");
    let out = repo
        .xtask(&["go-build", "--json"])
        .env("GOCACHE", "off")
        .ok();
    let warnings: Vec<serde_json::Value> = out
        .json_lines()
        .into_iter()
        .filter(|e| e["reason"] == "warning")
        .collect();
    assert_eq!(warnings.len(), 1, "{}", out.stdout);
    assert!(warnings[0]["message"]
        .as_str()
        .unwrap()
        .starts_with("GOCACHE=off in your environment is ignored"));
    assert_eq!(out.stderr.matches("warning: GOCACHE=off").count(), 1);
}
