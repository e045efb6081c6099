//! The remote cache over gRPC (REAPI) against a real BuildGrid on loopback: the scenarios of
//! `remote.rs` again. A second clone with an empty store builds with 0 go builds and
//! byte-identical outputs, a binary over the batch limit through ByteStream; a dead, hanging or
//! lying server never fails a build (and does with `--remote-required`); read-only writes
//! nothing; GOCACHEPROG fills a fresh clone's compile cache. Only the hanging and the
//! non-gRPC servers are stubs; the lying one is BuildGrid serving blobs a test overwrote.

use std::time::{Duration, Instant};

use xtask_test_support::buildgrid::BuildGrid;

use crate::remote::{
    build, built_locally_with_a_warning, compile_actions, ok, Stub, ERROR_500, GOCACHEPROG_CONFIG,
    HELLO,
};
use crate::support::{logging_go, Repo, APP};

/// A repo built once against `url`, so the server holds its outputs.
fn uploaded(url: &str, env: &[(&str, &str)]) -> Repo {
    let repo = Repo::copy_of("cache");
    let out = ok(build(&repo, url, &[], env));
    assert_eq!(out.verdict("app"), "miss");
    repo
}

/// Makes the app embed `size` bytes, so that its binary is over BuildGrid's 4 MiB batch limit.
fn embed_big_file(repo: &Repo, size: usize) {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let bytes: Vec<u8> = (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    std::fs::write(repo.path("go/app/lib/data/big.bin"), bytes).unwrap();
    repo.write(
        "go/app/lib/big.go",
        "package lib\n\nimport _ \"embed\"\n\n//go:embed data/big.bin\nvar big []byte\n",
    );
    repo.write(
        "go/app/lib/other.go",
        "package lib\n\nfunc other() string {\n\tif len(big) == 0 {\n\t\treturn \"?\"\n\t}\n\treturn \"!\"\n}\n",
    );
}

#[test]
fn a_second_clone_downloads_over_grpc_with_identical_outputs_and_no_go_build() {
    let server = BuildGrid::start();
    let first = Repo::copy_of("cache");
    embed_big_file(&first, 6 << 20);
    let out = ok(build(&first, &server.url, &[], &[]));
    assert_eq!(out.verdict("app"), "miss", "{}", out.stderr);
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    let built = std::fs::read(first.path(APP)).unwrap();
    assert!(built.len() > 5 << 20, "the binary goes through ByteStream");
    let second = Repo::copy_of("cache");
    embed_big_file(&second, 6 << 20);
    let (go, log) = logging_go(&second, "");
    let out = ok(build(&second, &server.url, &[], &[("GO", go.as_str())]));
    assert_eq!(out.verdict("app"), "restored", "{}", out.stderr);
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        !calls.lines().any(|l| l.starts_with("build")),
        "go ran: {calls}"
    );
    let restored = std::fs::read(second.path(APP)).unwrap();
    assert!(
        restored == built,
        "the restored binary differs from the built one"
    );
    assert_eq!(second.run_app(), HELLO);
}

#[test]
fn the_grpc_server_stopped_mid_run_only_warns() {
    let server = BuildGrid::start();
    let repo = Repo::copy_of("cache");
    let (go, _) = logging_go(&repo, &format!("kill {}; sleep 0.5;", server.pid()));
    let out = ok(build(&repo, &server.url, &[], &[("GO", go.as_str())]));
    built_locally_with_a_warning(&out, &repo);
}

#[test]
fn a_server_that_does_not_speak_grpc_warns_unless_required() {
    let stub = Stub::start(Some(ERROR_500));
    let url = stub.url.replace("http://", "grpc://");
    let repo = Repo::copy_of("cache");
    let out = ok(build(&repo, &url, &[], &[]));
    built_locally_with_a_warning(&out, &repo);
    let out = build(&repo, &url, &["--remote-required"], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("does not answer"), "{}", out.stderr);
}

#[test]
fn a_hanging_grpc_server_is_given_up_on_within_the_timeouts() {
    let stub = Stub::start(None);
    let url = stub.url.replace("http://", "grpc://");
    let repo = Repo::copy_of("cache");
    let start = Instant::now();
    let out = ok(build(
        &repo,
        &url,
        &[],
        &[("XTASK_GO_REMOTE_TIMEOUT_MS", "1000")],
    ));
    assert!(
        start.elapsed() < Duration::from_secs(40),
        "{:?}",
        start.elapsed()
    );
    built_locally_with_a_warning(&out, &repo);
    let out = build(
        &repo,
        &url,
        &["--remote-required"],
        &[("XTASK_GO_REMOTE_TIMEOUT_MS", "1000")],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("timed out"), "{}", out.stderr);
}

#[test]
fn a_grpc_server_serving_wrong_bytes_is_a_miss_and_a_correct_local_build() {
    let server = BuildGrid::start_on_disk();
    uploaded(&server.url, &[]);
    // The binaries (BuildGrid keeps the ActionResults in the same CAS: those stay whole).
    let binaries: Vec<_> = server
        .cas_files()
        .into_iter()
        .filter(|f| std::fs::metadata(f).unwrap().len() > 100_000)
        .collect();
    assert!(!binaries.is_empty());
    for blob in binaries {
        std::fs::write(&blob, b"#!/bin/sh\necho pwned\n").unwrap();
    }
    let repo = Repo::copy_of("cache");
    let out = ok(build(&repo, &server.url, &[], &[]));
    assert_eq!(out.verdict("app"), "miss", "{}", out.stderr);
    assert!(out.stderr.contains("sha256"), "{}", out.stderr);
    assert_eq!(repo.run_app(), HELLO);
    // And a required remote that lied fails the run, after a correct build.
    let repo = Repo::copy_of("cache");
    let out = build(&repo, &server.url, &["--remote-required"], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("is required"), "{}", out.stderr);
    assert_eq!(repo.run_app(), HELLO);
}

#[test]
fn grpc_read_only_mode_writes_nothing_and_still_reads() {
    let server = BuildGrid::start_on_disk();
    let repo = Repo::copy_of("cache");
    let out = ok(build(&repo, &server.url, &["--remote-read-only"], &[]));
    assert_eq!(out.verdict("app"), "miss");
    // BuildGrid keeps ActionResults in its CAS too: an empty CAS means nothing was written.
    assert!(server.cas_files().is_empty(), "{:?}", server.cas_files());
    uploaded(&server.url, &[]);
    let reader = Repo::copy_of("cache");
    let out = ok(build(&reader, &server.url, &["--remote-read-only"], &[]));
    assert_eq!(out.verdict("app"), "restored", "{}", out.stderr);
}

#[test]
fn signed_entries_over_grpc_verify_and_a_wrong_key_is_a_miss() {
    let server = BuildGrid::start();
    let key = [("XTASK_GO_CACHE_SIGNING_KEY", "main-branch-secret")];
    uploaded(&server.url, &key);
    let good = Repo::copy_of("cache");
    let out = ok(build(&good, &server.url, &[], &key));
    assert_eq!(out.verdict("app"), "restored", "{}", out.stderr);
    let bad = Repo::copy_of("cache");
    let wrong = [("XTASK_GO_CACHE_SIGNING_KEY", "a-forged-key")];
    let out = ok(build(&bad, &server.url, &[], &wrong));
    assert_eq!(out.verdict("app"), "miss");
    assert!(
        out.stderr.contains("signature does not match"),
        "{}",
        out.stderr
    );
}

#[test]
fn gocacheprog_over_grpc_fills_a_fresh_clones_compile_cache() {
    let server = BuildGrid::start();
    let run = |name: &str| {
        let repo = Repo::copy_of("cache");
        repo.write("Cargo.toml", GOCACHEPROG_CONFIG);
        let out = ok(repo
            .xtask(&["go-build", "--json", "--no-cache"])
            .env("XTASK_GO_GOCACHE", repo.scratch(&format!("gocache-{name}")))
            .env("XTASK_GO_CACHE_DIR", repo.scratch(&format!("store-{name}")))
            .env("XTASK_GO_REMOTE_CACHE", &server.url)
            .run());
        assert_eq!(repo.run_app(), HELLO);
        assert!(!out.stderr.contains("warning"), "{}", out.stderr);
        out
    };
    assert!(compile_actions(&run("first")) > 0);
    // A fresh machine: empty GOCACHE, empty local store, the same server.
    let out = run("fresh");
    assert_eq!(compile_actions(&out), 0, "{}", out.stdout);
}

#[test]
fn the_instance_name_reaches_the_server() {
    let server = BuildGrid::start_with_instance("main");
    let instance = [("XTASK_GO_REMOTE_INSTANCE", "main")];
    uploaded(&server.url, &instance);
    let reader = Repo::copy_of("cache");
    let out = ok(build(&reader, &server.url, &[], &instance));
    assert_eq!(out.verdict("app"), "restored", "{}", out.stderr);
    // Without it the server knows no such instance: a warning and a local build.
    let lost = Repo::copy_of("cache");
    let out = ok(build(&lost, &server.url, &[], &[]));
    built_locally_with_a_warning(&out, &lost);
}

/// `doctor --json`'s remote-cache check with `XTASK_GO_REMOTE_CACHE=url`.
fn doctor_remote(url: &str) -> serde_json::Value {
    let repo = Repo::copy_of("cache");
    let out = repo
        .xtask(&["doctor", "--json"])
        .env("XTASK_GO_REMOTE_CACHE", url)
        .env("XTASK_GO_REMOTE_TIMEOUT_MS", "2000")
        .run();
    let checks: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["topic"] == "remote cache")
        .unwrap_or_else(|| panic!("no remote check: {checks}"))
        .clone()
}

#[test]
fn doctor_asks_the_configured_remote() {
    let server = BuildGrid::start();
    let check = doctor_remote(&server.url);
    assert_eq!(check["severity"], "ok", "{check}");
    assert!(
        check["detail"].as_str().unwrap().contains("sha256"),
        "{check}"
    );
    let nginx = xtask_test_support::nginx::Nginx::start();
    let check = doctor_remote(&nginx.url);
    assert_eq!(check["severity"], "ok", "{check}");
    assert!(check["detail"].as_str().unwrap().contains("GET"), "{check}");
    let dead = format!(
        "grpc://127.0.0.1:{}",
        xtask_test_support::nginx::free_port()
    );
    let check = doctor_remote(&dead);
    assert_eq!(check["severity"], "warn", "{check}");
    assert!(
        check["detail"]
            .as_str()
            .unwrap()
            .contains("does not answer"),
        "{check}"
    );
    assert!(
        check["fix"]
            .as_str()
            .unwrap()
            .contains("XTASK_GO_REMOTE_CACHE"),
        "{check}"
    );
}
