//! `go-fetch` and offline builds, against a file:// fixture proxy and an empty temp module cache.

use std::time::Duration;

use xtask_test_support::copy_dir;

use crate::support::proxy::ModuleWorld;
use crate::support::{fixtures, Repo};

/// The `fetch` repo (a go.work with `app` and `tool`) with go.sum files from the proxy.
fn fetch_repo(world: &ModuleWorld) -> Repo {
    let repo = Repo::copy_of("fetch");
    world.write_go_sums(&repo, &["go/app", "go/tool"]);
    repo
}

/// The five module versions app and tool need (alpha v1.2.0 is shared), escaped.
const NEEDED: [(&str, &str); 5] = [
    ("example.com/!big!co/widget", "v1.0.0"),
    ("example.com/alpha", "v1.2.0"),
    ("example.com/beta", "v1.0.0"),
    ("example.com/delta", "v1.0.0"),
    ("example.com/gamma/v2", "v2.1.0"),
];

#[test]
fn fetches_every_module_once_into_an_empty_cache() {
    let world = ModuleWorld::new();
    let repo = fetch_repo(&world);
    let out = world.xtask(&repo, &["go-fetch", "--json"]).ok();
    assert!(
        out.stderr.contains("Fetched 5 modules (") && out.stderr.contains(", 0 already cached"),
        "{}",
        out.stderr
    );
    for (module, version) in NEEDED {
        for ext in ["zip", "ziphash", "mod"] {
            assert!(
                world.cached(module, version, ext).is_file(),
                "{module} {version}.{ext}"
            );
        }
    }
    assert!(!world.cached("example.com/alpha", "v1.1.0", "zip").exists());
    let events = out.json_lines();
    let fetched: Vec<_> = events
        .iter()
        .filter(|e| e["reason"] == "module-fetched")
        .collect();
    assert_eq!(fetched.len(), 5, "deduplicated: {events:?}");
    assert!(fetched.iter().all(|e| e["bytes"].as_u64().unwrap() > 0));
    let last = events.last().unwrap();
    assert_eq!(last["reason"], "fetch-finished");
    assert_eq!(
        (last["success"].as_bool(), last["fetched"].as_u64()),
        (Some(true), Some(5))
    );
}

#[test]
fn a_second_fetch_is_a_no_op_that_needs_no_proxy() {
    let world = ModuleWorld::new();
    let repo = fetch_repo(&world);
    world.xtask(&repo, &["go-fetch"]).ok();
    // With GOPROXY=off any download would fail: the cache alone must satisfy the plan.
    let out = world
        .xtask(&repo, &["go-fetch", "--json", "--verify"])
        .env("GOPROXY", "off")
        .ok();
    assert!(
        out.stderr.contains("Fetched 0 modules (0 B) in")
            && out.stderr.contains("5 already cached"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("Verified 5 modules against go.sum"),
        "{}",
        out.stderr
    );
    let planned = &out.json_lines()[0];
    assert_eq!(planned["reason"], "fetch-planned");
    assert_eq!(
        (planned["cached"].as_u64(), planned["to_fetch"].as_u64()),
        (Some(5), Some(0))
    );
}

#[test]
fn two_fetches_at_once_share_the_cache() {
    let world = ModuleWorld::new();
    let repo = fetch_repo(&world);
    let mut children: Vec<_> = (0..2)
        .map(|_| {
            let mut x = world.xtask(&repo, &["go-fetch", "-j", "2"]);
            x.cmd
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            x.cmd.spawn().unwrap()
        })
        .collect();
    for child in children.drain(..) {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    world.xtask(&repo, &["go-fetch", "--verify"]).ok();
}

#[test]
fn a_tampered_zip_in_the_proxy_fails_loudly_and_is_never_cached() {
    let world = ModuleWorld::new();
    let repo = fetch_repo(&world);
    // The same module with one changed byte, served under the recorded version.
    let altered = world.path("altered");
    copy_dir(&fixtures().join("modules"), &altered);
    let beta = altered.join("example.com/beta@v1.0.0/beta.go");
    let text = std::fs::read_to_string(&beta).unwrap();
    std::fs::write(&beta, text + "// changed\n").unwrap();
    let bad = xtask_test_support::build_proxy(&altered, &world.path("bad-proxy")).unwrap();
    let zip = "example.com/beta/@v/v1.0.0.zip";
    std::fs::copy(bad.dir.join(zip), world.proxy.dir.join(zip)).unwrap();

    let out = world
        .xtask(
            &repo,
            &["go-fetch", "--tries", "3", "--retry-delay-ms", "1"],
        )
        .run();
    assert_eq!(out.code, 1, "{out:?}");
    let recorded = world.proxy.module("example.com/beta", "v1.0.0").unwrap();
    let seen = bad.module("example.com/beta", "v1.0.0").unwrap();
    assert!(
        out.stderr
            .contains("checksum mismatch for example.com/beta@v1.0.0"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(&format!("example.com/beta v1.0.0 {}", recorded.zip_sum)),
        "the go.sum line: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&seen.zip_sum),
        "the hash seen: {}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("retrying"),
        "never retried: {}",
        out.stderr
    );
    assert!(!world.cached("example.com/beta", "v1.0.0", "zip").exists());
    assert!(!world.modcache.join("example.com/beta@v1.0.0").exists());
    // The other modules are fetched all the same.
    assert!(world.cached("example.com/delta", "v1.0.0", "zip").is_file());
}

#[test]
fn a_missing_go_sum_entry_names_the_module_and_go_mod_tidy() {
    let world = ModuleWorld::new();
    let repo = fetch_repo(&world);
    let sum = std::fs::read_to_string(repo.path("go/tool/go.sum")).unwrap();
    let kept: String = sum
        .lines()
        .filter(|l| !l.contains("gamma"))
        .map(|l| format!("{l}\n"))
        .collect();
    repo.write("go/tool/go.sum", &kept);
    let out = world.xtask(&repo, &["go-fetch"]).run();
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr
            .contains("go/tool/go.sum has no entry for example.com/gamma/v2 v2.1.0")
            && out
                .stderr
                .contains(&format!("run `go mod tidy` in {}", repo.path("go/tool"))),
        "{}",
        out.stderr
    );
    assert!(!world
        .cached("example.com/gamma/v2", "v2.1.0", "zip")
        .exists());
}

#[test]
fn a_vanished_proxy_dir_is_retried_then_named_in_the_error() {
    let world = ModuleWorld::new();
    let repo = fetch_repo(&world);
    let away = world.path("proxy-away");
    std::fs::rename(&world.proxy.dir, &away).unwrap();
    let out = world
        .xtask(
            &repo,
            &[
                "go-fetch",
                "--json",
                "--tries",
                "3",
                "--retry-delay-ms",
                "5",
            ],
        )
        .run();
    assert_eq!(out.code, 1, "{out:?}");
    let retries = out
        .json_lines()
        .iter()
        .filter(|e| e["reason"] == "fetch-retry")
        .count();
    assert_eq!(retries, 5 * 2, "two retries per module: {}", out.stdout);
    let expected = format!(
        "could not download example.com/delta@v1.0.0 from {} after 3 tries",
        world.proxy.url()
    );
    assert!(out.stderr.contains(&expected), "{}", out.stderr);
}

#[test]
fn a_proxy_dir_that_comes_back_during_the_backoff_is_a_success() {
    let world = ModuleWorld::new();
    let repo = fetch_repo(&world);
    let away = world.path("proxy-away");
    std::fs::rename(&world.proxy.dir, &away).unwrap();
    let mut x = world.xtask(
        &repo,
        &[
            "go-fetch",
            "--json",
            "--tries",
            "3",
            "--retry-delay-ms",
            "3000",
        ],
    );
    x.cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = x.cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    std::fs::rename(&away, &world.proxy.dir).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("retrying in 3.00s (try 2 of 3)"),
        "{stderr}"
    );
    assert!(stderr.contains("Fetched 5 modules"), "{stderr}");
}

#[test]
fn an_offline_build_after_a_fetch_needs_no_proxy() {
    let world = ModuleWorld::new();
    let repo = fetch_repo(&world);
    world.xtask(&repo, &["go-fetch"]).ok();
    world
        .xtask(&repo, &["go-build", "--offline"])
        .env("GOPROXY", "off")
        .ok();
    let app = repo.path("target/go/x86_64-unknown-linux-gnu/debug/app");
    let run = std::process::Command::new(&app).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        "Hi app, from alpha v1.2.0 (via delta) BigCo widget 3\n"
    );
}

#[test]
fn an_offline_build_without_a_fetch_says_which_module_and_what_to_run() {
    let world = ModuleWorld::new();
    let repo = fetch_repo(&world);
    // GOPROXY=off for the caller too: target discovery (`go list`) runs before the build and
    // is not offline itself; a machine without network is what this test stands for.
    let out = world
        .xtask(&repo, &["go-build", "--offline", "--json", "tool"])
        .env("GOPROXY", "off")
        .run();
    assert_eq!(out.code, 1, "{out:?}");
    let error = out
        .stderr
        .lines()
        .skip_while(|l| !l.starts_with("error: could not build `tool`"))
        .nth(1)
        .unwrap_or_default();
    assert!(
        error.contains("is not in the module cache") && error.contains("cargo xtask go-fetch"),
        "one clear line: {}",
        out.stderr
    );
    assert!(
        error.contains("example.com/") && error.contains("@v"),
        "names the module: {}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("module lookup disabled"),
        "no page of go output: {}",
        out.stderr
    );
    let finished = out
        .json_lines()
        .into_iter()
        .find(|e| e["reason"] == "target-finished")
        .unwrap();
    assert!(finished["stderr"]
        .as_str()
        .unwrap()
        .contains("module lookup disabled by GOPROXY=off"));
}

#[test]
fn verify_finds_a_changed_file_in_the_module_cache() {
    let world = ModuleWorld::new();
    let repo = fetch_repo(&world);
    world.xtask(&repo, &["go-fetch"]).ok();
    let file = world.modcache.join("example.com/alpha@v1.2.0/alpha.go");
    xtask_test_support::make_writable(&world.modcache).unwrap();
    std::fs::write(&file, "package alpha\n").unwrap();
    let out = world.xtask(&repo, &["go-fetch", "--verify"]).run();
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr
            .contains("module cache differs from go.sum: example.com/alpha@v1.2.0: dir"),
        "{}",
        out.stderr
    );
}
