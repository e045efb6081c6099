//! The remote cache over HTTP against a real nginx (WebDAV) and loopback stubs: a second clone
//! downloads instead of building; a stopped, failing, hanging or lying server, a hostile entry
//! and a bad signature never fail a build nor serve a wrong output; read-only writes nothing;
//! GOCACHEPROG shares go's per-package cache; every AC value is a REAPI ActionResult (decoded
//! with `bazel-remote-apis`, as bazel-remote checks them), and signed ones survive a server's
//! re-encoding. The same scenarios over gRPC are in `remote_grpc.rs`.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bazel_remote_apis::build::bazel::remote::execution::v2 as re;
use camino::{Utf8Path, Utf8PathBuf};
use prost::Message;
use sha2::{Digest, Sha256};
use xtask_test_support::nginx::Nginx;

use crate::support::{logging_go, Outcome, Repo};

pub(crate) const HELLO: &str = "hello! Hi cache, from alpha v1.2.0";
/// The entry blob's path among an ActionResult's output files.
pub(crate) const ENTRY: &str = ".xtask-go/entry.json";
pub(crate) const SIGNATURE: &str = ".xtask-go/signature";

/// `go-build --json --explain` with its own store and the remote at `url`.
pub(crate) fn build(repo: &Repo, url: &str, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let mut all = vec!["go-build", "--json", "--explain"];
    all.extend(args);
    let mut cmd = repo
        .xtask(&all)
        .env("XTASK_GO_CACHE_DIR", repo.scratch("store"))
        .env("XTASK_GO_REMOTE_CACHE", url);
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    cmd.run()
}

pub(crate) fn ok(out: Outcome) -> Outcome {
    assert_eq!(
        out.code, 0,
        "--- stdout\n{}\n--- stderr\n{}",
        out.stdout, out.stderr
    );
    out
}

/// The remote failed: the app was built locally, correct, and the failure was only a warning.
pub(crate) fn built_locally_with_a_warning(out: &Outcome, repo: &Repo) {
    assert_eq!(out.verdict("app"), "miss");
    assert!(
        out.stderr.contains("warning: remote cache"),
        "{}",
        out.stderr
    );
    assert_eq!(repo.run_app(), HELLO);
}

/// A repo built once against `url`, so the remote holds its outputs.
fn uploaded(url: &str, env: &[(&str, &str)]) -> Repo {
    let repo = Repo::copy_of("cache");
    let out = ok(build(&repo, url, &[], env));
    assert_eq!(out.verdict("app"), "miss");
    repo
}

#[test]
fn a_second_clone_downloads_and_runs_no_go_build() {
    let nginx = Nginx::start();
    let _first = uploaded(&nginx.url, &[]);
    assert!(nginx.files("ac").len() >= 2, "entry and input set uploaded");
    assert!(!nginx.files("cas").is_empty(), "blob uploaded");
    let second = Repo::copy_of("cache");
    let (go, log) = logging_go(&second, "");
    let out = ok(build(&second, &nginx.url, &[], &[("GO", go.as_str())]));
    assert_eq!(out.verdict("app"), "restored", "{}", out.stderr);
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        !calls.lines().any(|l| l.starts_with("build")),
        "go ran: {calls}"
    );
    assert_eq!(second.run_app(), HELLO);
    // The remote hit filled the local store: the next clone on this store needs no server.
    assert!(
        std::fs::read_dir(second.scratch("store").join("v1/blobs"))
            .unwrap()
            .count()
            > 0
    );
}

#[test]
fn the_server_stopped_mid_run_only_warns() {
    let nginx = Nginx::start();
    let repo = Repo::copy_of("cache");
    // Lookups reach the live server; it is gone by the time the uploads start.
    let (go, _) = logging_go(&repo, &format!("kill {}; sleep 0.3;", nginx.pid()));
    let out = ok(build(&repo, &nginx.url, &[], &[("GO", go.as_str())]));
    built_locally_with_a_warning(&out, &repo);
}

/// A loopback server that answers every request with `reply` (or never, when None).
pub(crate) struct Stub {
    pub(crate) url: String,
    stop: Arc<AtomicBool>,
}

impl Stub {
    pub(crate) fn start(reply: Option<&'static str>) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(120);
            while !stopped.load(Ordering::SeqCst) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        if let Some(reply) = reply {
                            stream.set_nonblocking(false).unwrap();
                            stream
                                .set_read_timeout(Some(Duration::from_secs(2)))
                                .unwrap();
                            let mut buf = [0u8; 8192];
                            let _ = stream.read(&mut buf);
                            let _ = stream.write_all(reply.as_bytes());
                        } else {
                            held.push(stream);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Stub { url, stop }
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

pub(crate) const ERROR_500: &str =
    "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

#[test]
fn a_server_answering_500_warns_unless_required() {
    let stub = Stub::start(Some(ERROR_500));
    let repo = Repo::copy_of("cache");
    let out = ok(build(&repo, &stub.url, &[], &[]));
    assert_eq!(out.verdict("app"), "miss");
    assert!(out.stderr.contains("answered 500"), "{}", out.stderr);
    assert_eq!(repo.run_app(), HELLO);
    let out = build(&repo, &stub.url, &["--remote-required"], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("does not answer") && out.stderr.contains("500"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_hanging_server_is_given_up_on_within_the_timeouts() {
    let stub = Stub::start(None);
    let repo = Repo::copy_of("cache");
    let start = Instant::now();
    let out = ok(build(
        &repo,
        &stub.url,
        &[],
        &[("XTASK_GO_REMOTE_TIMEOUT_MS", "1000")],
    ));
    assert!(
        start.elapsed() < Duration::from_secs(40),
        "{:?}",
        start.elapsed()
    );
    built_locally_with_a_warning(&out, &repo);
}

#[test]
fn wrong_bytes_for_a_blob_are_a_miss_and_a_correct_local_build() {
    let nginx = Nginx::start();
    uploaded(&nginx.url, &[]);
    for blob in nginx.files("cas") {
        std::fs::write(&blob, b"#!/bin/sh\necho pwned\n").unwrap();
    }
    let repo = Repo::copy_of("cache");
    let out = ok(build(&repo, &nginx.url, &[], &[]));
    assert_eq!(out.verdict("app"), "miss", "{}", out.stderr);
    assert!(out.stderr.contains("sha256"), "{}", out.stderr);
    assert_eq!(repo.run_app(), HELLO);
}

/// The AC value at `path` (a file nginx stored), decoded with the maintained REAPI types.
pub(crate) fn action_result(path: &Utf8Path) -> re::ActionResult {
    let bytes = std::fs::read(path).unwrap();
    re::ActionResult::decode(bytes.as_slice())
        .unwrap_or_else(|e| panic!("{path} is not an ActionResult: {e}"))
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The entry blob an ActionResult names, as JSON, read from the server's `cas/`.
fn entry_blob(nginx: &Nginx, result: &re::ActionResult) -> serde_json::Value {
    let file = result
        .output_files
        .iter()
        .find(|f| f.path == ENTRY)
        .unwrap();
    let hash = &file.digest.as_ref().unwrap().hash;
    serde_json::from_slice(&std::fs::read(nginx.data.join("cas").join(hash)).unwrap()).unwrap()
}

/// Rewrites every AC value on `nginx`: `edit` changes the ActionResult and the entry (the JSON
/// inside the entry blob), which is stored as a new blob the ActionResult then names.
fn rewrite_entries(nginx: &Nginx, edit: impl Fn(&mut re::ActionResult, &mut serde_json::Value)) {
    for path in nginx.files("ac") {
        let mut result = action_result(&path);
        let mut blob = entry_blob(nginx, &result);
        let mut entry: serde_json::Value =
            serde_json::from_str(blob["entry"].as_str().unwrap()).unwrap();
        edit(&mut result, &mut entry);
        blob["entry"] = entry.to_string().into();
        let bytes = serde_json::to_vec(&blob).unwrap();
        let hash = sha256_hex(&bytes);
        std::fs::write(nginx.data.join("cas").join(&hash), &bytes).unwrap();
        let file = result
            .output_files
            .iter_mut()
            .find(|f| f.path == ENTRY)
            .unwrap();
        file.digest = Some(re::Digest {
            hash,
            size_bytes: bytes.len() as i64,
        });
        std::fs::write(&path, result.encode_to_vec()).unwrap();
    }
}

#[test]
fn a_remote_entry_naming_a_file_outside_the_output_dir_is_rejected_whole() {
    for evil in ["../../../escaped", "/tmp/xtask-go-escaped"] {
        let nginx = Nginx::start();
        uploaded(&nginx.url, &[]);
        // A consistent forgery: the ActionResult and the entry both name the evil path.
        rewrite_entries(&nginx, |result, entry| {
            for file in &mut result.output_files {
                if file.path == "app" {
                    file.path = evil.into();
                }
            }
            let outputs = entry.get_mut("outputs").and_then(|o| o.as_array_mut());
            for output in outputs.into_iter().flatten() {
                output["name"] = evil.into();
            }
        });
        let repo = Repo::copy_of("cache");
        let out = ok(build(&repo, &nginx.url, &[], &[]));
        assert_eq!(out.verdict("app"), "miss", "{evil}: {}", out.stderr);
        assert!(
            out.stderr.contains("outside the output directory"),
            "{}",
            out.stderr
        );
        assert_eq!(repo.run_app(), HELLO);
        assert!(!repo.root.parent().unwrap().join("escaped").exists());
        assert!(!Utf8PathBuf::from("/tmp/xtask-go-escaped").exists());
    }
}

#[test]
fn an_action_result_that_disagrees_with_its_entry_is_a_miss() {
    let nginx = Nginx::start();
    uploaded(&nginx.url, &[]);
    rewrite_entries(&nginx, |result, _| {
        for file in &mut result.output_files {
            if file.path == "app" {
                file.is_executable = !file.is_executable;
            }
        }
    });
    let repo = Repo::copy_of("cache");
    let out = ok(build(&repo, &nginx.url, &[], &[]));
    assert_eq!(out.verdict("app"), "miss", "{}", out.stderr);
    assert!(out.stderr.contains("disagree"), "{}", out.stderr);
    assert_eq!(repo.run_app(), HELLO);
}

#[test]
fn entries_are_signed_and_a_bad_or_missing_signature_is_a_miss() {
    let nginx = Nginx::start();
    let key = [("XTASK_GO_CACHE_SIGNING_KEY", "main-branch-secret")];
    uploaded(&nginx.url, &key);
    for entry in nginx.files("ac") {
        let result = action_result(&entry);
        assert!(result.output_files.iter().any(|f| f.path == SIGNATURE));
    }
    let good = Repo::copy_of("cache");
    assert_eq!(
        ok(build(&good, &nginx.url, &[], &key)).verdict("app"),
        "restored"
    );
    let bad = Repo::copy_of("cache");
    let wrong = [("XTASK_GO_CACHE_SIGNING_KEY", "a-forged-key")];
    let out = ok(build(&bad, &nginx.url, &[], &wrong));
    assert_eq!(out.verdict("app"), "miss");
    assert!(
        out.stderr.contains("signature does not match"),
        "{}",
        out.stderr
    );
    assert_eq!(bad.run_app(), HELLO);
    // An unsigned entry is a miss for a reader that holds a key.
    let unsigned_server = Nginx::start();
    uploaded(&unsigned_server.url, &[]);
    let reader = Repo::copy_of("cache");
    let out = ok(build(&reader, &unsigned_server.url, &[], &key));
    assert_eq!(out.verdict("app"), "miss");
    assert!(out.stderr.contains("not signed"), "{}", out.stderr);
}

#[test]
fn a_signed_entry_verifies_after_a_server_reencodes_it_and_not_after_a_digest_changed() {
    let nginx = Nginx::start();
    let key = [("XTASK_GO_CACHE_SIGNING_KEY", "main-branch-secret")];
    uploaded(&nginx.url, &key);
    // What bazel-remote does to every AC value it stores: decode, fill in the execution
    // metadata, re-encode (and a server may list the outputs in another order).
    for path in nginx.files("ac") {
        let mut result = action_result(&path);
        let metadata = result
            .execution_metadata
            .get_or_insert_with(Default::default);
        metadata.worker = "bazel-remote on ci-runner-7".into();
        metadata.worker_completed_timestamp =
            Some(bazel_remote_apis::google::protobuf::Timestamp {
                seconds: 1_700_000_000,
                nanos: 5,
            });
        result.output_files.reverse();
        let bytes = result.encode_to_vec();
        assert_ne!(
            bytes,
            std::fs::read(&path).unwrap(),
            "re-encoded differently"
        );
        std::fs::write(&path, bytes).unwrap();
    }
    let reader = Repo::copy_of("cache");
    let out = ok(build(&reader, &nginx.url, &[], &key));
    assert_eq!(out.verdict("app"), "restored", "{}", out.stderr);
    // A changed digest: the app now names another blob the server holds (the entry blob).
    for path in nginx.files("ac") {
        let mut result = action_result(&path);
        let entry = result
            .output_files
            .iter()
            .find(|f| f.path == ENTRY)
            .cloned()
            .unwrap();
        for file in &mut result.output_files {
            if file.path == "app" {
                file.digest = entry.digest.clone();
            }
        }
        std::fs::write(&path, result.encode_to_vec()).unwrap();
    }
    let forged = Repo::copy_of("cache");
    let out = ok(build(&forged, &nginx.url, &[], &key));
    assert_eq!(out.verdict("app"), "miss", "{}", out.stderr);
    assert!(
        out.stderr.contains("signature does not match"),
        "{}",
        out.stderr
    );
    assert_eq!(forged.run_app(), HELLO);
}

/// The config that also sends go's own per-package cache through `cacheprog`.
pub(crate) const GOCACHEPROG_CONFIG: &str = "[workspace]\nmembers = []\n\n\
    [workspace.metadata.xtask-go]\ngocacheprog = true\ngoflags = [\"-x\"]\n";

#[test]
fn every_ac_value_written_is_an_action_result_whose_blobs_exist() {
    let nginx = Nginx::start();
    let repo = Repo::copy_of("cache");
    repo.write("Cargo.toml", GOCACHEPROG_CONFIG);
    let key = [("XTASK_GO_CACHE_SIGNING_KEY", "main-branch-secret")];
    ok(build(&repo, &nginx.url, &[], &key));
    let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
    for path in nginx.files("ac") {
        let stored = std::fs::read(&path).unwrap();
        let result = action_result(&path);
        // Ours is the canonical encoding: the generated types write the same bytes.
        assert_eq!(result.encode_to_vec(), stored, "{path}");
        assert_eq!(result.exit_code, 0);
        for file in &result.output_files {
            let digest = file.digest.as_ref().unwrap();
            let blob = std::fs::read(nginx.data.join("cas").join(&digest.hash))
                .unwrap_or_else(|e| panic!("{path} names {}, not on the server: {e}", file.path));
            assert_eq!(blob.len() as i64, digest.size_bytes, "{}", file.path);
            assert_eq!(sha256_hex(&blob), digest.hash, "{}", file.path);
        }
        assert!(result.output_files.iter().any(|f| f.path == SIGNATURE));
        let blob = entry_blob(&nginx, &result);
        assert_eq!(blob["format"], "xtask-go-remote-entry-v1");
        assert_eq!(blob["key"].as_str(), path.file_name());
        let entry: serde_json::Value =
            serde_json::from_str(blob["entry"].as_str().unwrap()).unwrap();
        let kind = match (entry.get("outputs"), entry["target"].as_str()) {
            (Some(_), Some("gocacheprog")) => "gocacheprog index entry",
            (Some(_), _) => "build entry",
            (None, _) => "input set",
        };
        *kinds.entry(kind).or_default() += 1;
        let outputs = entry
            .get("outputs")
            .map_or(0, |o| o.as_array().unwrap().len());
        assert_eq!(result.output_files.len(), outputs + 2, "{path}");
    }
    assert_eq!(kinds.len(), 3, "{kinds:?}");
}

#[test]
fn read_only_mode_writes_nothing() {
    let nginx = Nginx::start();
    let repo = Repo::copy_of("cache");
    let out = ok(build(&repo, &nginx.url, &["--remote-read-only"], &[]));
    assert_eq!(out.verdict("app"), "miss");
    assert!(nginx.files("ac").is_empty() && nginx.files("cas").is_empty());
    // And it still reads what a trusted build uploaded.
    uploaded(&nginx.url, &[]);
    let reader = Repo::copy_of("cache");
    let out = ok(build(&reader, &nginx.url, &["--remote-read-only"], &[]));
    assert_eq!(out.verdict("app"), "restored");
}

/// The lines of go's `-x` output that run the compiler.
pub(crate) fn compile_actions(out: &Outcome) -> usize {
    out.json_lines()
        .iter()
        .filter(|e| e["reason"] == "target-finished")
        .map(|e| {
            e["stderr"]
                .as_str()
                .unwrap_or("")
                .lines()
                .filter(|l| l.contains("/compile "))
                .count()
        })
        .sum()
}

#[test]
fn gocacheprog_shares_go_package_cache_across_clones() {
    let nginx = Nginx::start();
    let clone = |name: &str| {
        let repo = Repo::copy_of("cache");
        repo.write("Cargo.toml", GOCACHEPROG_CONFIG);
        let gocache = repo.scratch(&format!("gocache-{name}"));
        (repo, gocache)
    };
    // Two go processes at once, each with its own GOCACHE, on one store and one remote.
    let (a, a_cache) = clone("a");
    let (b, b_cache) = clone("b");
    let shared_store = a.scratch("shared-store");
    let run = |repo: &Repo, gocache: &Utf8PathBuf| {
        repo.xtask(&["go-build", "--json", "--no-cache"])
            .env("XTASK_GO_GOCACHE", gocache)
            .env("XTASK_GO_CACHE_DIR", &shared_store)
            .env("XTASK_GO_REMOTE_CACHE", &nginx.url)
            .run()
    };
    let (first, second) = std::thread::scope(|s| {
        let one = s.spawn(|| run(&a, &a_cache));
        let two = s.spawn(|| run(&b, &b_cache));
        (one.join().unwrap(), two.join().unwrap())
    });
    let (first, second) = (ok(first), ok(second));
    assert!(compile_actions(&first) + compile_actions(&second) > 0);
    assert_eq!(a.run_app(), HELLO);
    assert_eq!(b.run_app(), HELLO);
    // A fresh machine: empty GOCACHE, empty local store, the same remote.
    let (c, c_cache) = clone("c");
    let out = ok(c
        .xtask(&["go-build", "--json", "--no-cache"])
        .env("XTASK_GO_GOCACHE", &c_cache)
        .env("XTASK_GO_CACHE_DIR", c.scratch("fresh-store"))
        .env("XTASK_GO_REMOTE_CACHE", &nginx.url)
        .run());
    assert_eq!(compile_actions(&out), 0, "{}", out.stdout);
    assert_eq!(c.run_app(), HELLO);
}
