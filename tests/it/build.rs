//! `go-build`: outputs, cross builds, status lines, JSON events and failures.

use crate::support::{elf_machine, pe_machine, Repo};

#[test]
fn builds_every_target_into_the_triple_and_profile_dir() {
    let repo = Repo::copy_of("workspace");
    let out = repo.xtask(&["go-build"]).ok();
    assert!(
        out.stderr
            .contains("Compiling app (go/app) for x86_64-unknown-linux-gnu"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("Finished `debug` profile [go] 2 targets in"),
        "{}",
        out.stderr
    );
    let app = repo.path("target/go/x86_64-unknown-linux-gnu/debug/app");
    let run = std::process::Command::new(&app).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout), "hello from lib\n");
    assert!(repo
        .path("target/go/x86_64-unknown-linux-gnu/debug/other")
        .is_file());
    // Nothing is left in the scratch dirs: each GOTMPDIR is removed after its build.
    let tmp = repo.path("target/go/x86_64-unknown-linux-gnu/tmp");
    assert_eq!(std::fs::read_dir(tmp).unwrap().count(), 0);
}

#[test]
fn release_builds_go_to_the_release_dir_and_strip_symbols() {
    let repo = Repo::copy_of("workspace");
    repo.xtask(&["go-build", "--release", "app"]).ok();
    repo.xtask(&["go-build", "app"]).ok();
    let release = std::fs::metadata(repo.path("target/go/x86_64-unknown-linux-gnu/release/app"))
        .unwrap()
        .len();
    let debug = std::fs::metadata(repo.path("target/go/x86_64-unknown-linux-gnu/debug/app"))
        .unwrap()
        .len();
    assert!(
        release < debug,
        "release {release} should be smaller than debug {debug} (-s -w)"
    );
    assert!(!repo
        .path("target/go/x86_64-unknown-linux-gnu/release/other")
        .exists());
}

#[test]
fn cross_builds_give_an_arm64_elf_and_a_windows_pe() {
    let repo = Repo::copy_of("workspace");
    repo.xtask(&[
        "go-build",
        "other",
        "--target",
        "aarch64-unknown-linux-gnu",
        "--target",
        "x86_64-pc-windows-gnu",
    ])
    .ok();
    let elf = std::fs::read(repo.path("target/go/aarch64-unknown-linux-gnu/debug/other")).unwrap();
    assert_eq!(elf_machine(&elf), 183, "EM_AARCH64");
    let pe = std::fs::read(repo.path("target/go/x86_64-pc-windows-gnu/debug/other.exe")).unwrap();
    assert_eq!(pe_machine(&pe), 0x8664, "IMAGE_FILE_MACHINE_AMD64");
}

#[test]
fn json_events_describe_every_target() {
    let repo = Repo::copy_of("workspace");
    let out = repo.xtask(&["go-build", "--json", "-j", "1"]).ok();
    let events = out.json_lines();
    let finished: Vec<_> = events
        .iter()
        .filter(|e| e["reason"] == "target-finished")
        .collect();
    assert_eq!(finished.len(), 2);
    assert!(finished
        .iter()
        .all(|e| e["success"] == true && e["triple"] == "x86_64-unknown-linux-gnu"));
    let last = events.last().unwrap();
    assert_eq!(
        (last["reason"].as_str(), last["success"].as_bool()),
        (Some("build-finished"), Some(true))
    );
}

#[test]
fn a_compile_error_fails_the_run_shows_gos_message_and_other_targets_still_build() {
    let repo = Repo::copy_of("workspace");
    repo.write(
        "go/app/broken.go",
        "package main\n\nfunc broken() { undefinedThing() }\n",
    );
    let out = repo.xtask(&["go-build", "--json"]).run();
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr
            .contains("could not build `app` (go/app) for x86_64-unknown-linux-gnu"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("undefined: undefinedThing"),
        "go's own message: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains("1 of 2 Go targets failed: `app`"),
        "{}",
        out.stderr
    );
    assert!(repo
        .path("target/go/x86_64-unknown-linux-gnu/debug/other")
        .is_file());
    let events = out.json_lines();
    let app = events
        .iter()
        .find(|e| e["reason"] == "target-finished" && e["target"] == "app")
        .unwrap();
    assert_eq!(app["success"], false);
    assert!(app["stderr"].as_str().unwrap().contains("undefinedThing"));
}

#[test]
fn no_go_on_path_says_how_to_install_it() {
    let repo = Repo::copy_of("workspace");
    let out = repo
        .xtask(&["go-build"])
        .env("PATH", repo.scratch("empty-bin"))
        .env_remove("GO")
        .run();
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("no `go` on PATH") && out.stderr.contains("go.dev/dl"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_unknown_target_or_triple_is_a_clear_error() {
    let repo = Repo::copy_of("workspace");
    let out = repo.xtask(&["go-build", "nope"]).run();
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("no Go target named `nope`; known targets: app, other"),
        "{}",
        out.stderr
    );
    let out = repo
        .xtask(&["go-build", "--target", "thumbv7em-none-eabihf"])
        .run();
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("Go cannot build for `thumbv7em-none-eabihf`"),
        "{}",
        out.stderr
    );
}
