//! The remote cache against a real nginx (WebDAV) and loopback stubs: a second clone downloads
//! instead of building; a stopped, failing, hanging or lying server, a hostile entry and a bad
//! signature never fail a build nor serve a wrong output; read-only writes nothing; GOCACHEPROG
//! shares go's per-package cache.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use camino::Utf8PathBuf;
use xtask_test_support::nginx::Nginx;

use crate::support::{real_go, Outcome, Repo};

const HELLO: &str = "hello! Hi cache, from alpha v1.2.0";

/// `go-build --json --explain` with its own store and the remote at `url`.
fn build(repo: &Repo, url: &str, args: &[&str], env: &[(&str, &str)]) -> Outcome {
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

fn ok(out: Outcome) -> Outcome {
    assert_eq!(
        out.code, 0,
        "--- stdout\n{}\n--- stderr\n{}",
        out.stdout, out.stderr
    );
    out
}

/// A GO that logs its arguments to `<scratch>/go.log`, runs `before_build` (shell) before a
/// `go build`, then the real go.
/// The remote failed: the app was built locally, correct, and the failure was only a warning.
fn built_locally_with_a_warning(out: &Outcome, repo: &Repo) {
    assert_eq!(out.verdict("app"), "miss");
    assert!(
        out.stderr.contains("warning: remote cache"),
        "{}",
        out.stderr
    );
    assert_eq!(repo.run_app(), HELLO);
}

fn logging_go(repo: &Repo, before_build: &str) -> (Utf8PathBuf, Utf8PathBuf) {
    let dir = repo.scratch("fakego");
    let log = dir.join("go.log");
    let script = dir.join("go");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{log}'\nif [ \"$1\" = build ]; then {before_build} :; fi\nexec '{}' \"$@\"\n",
            real_go()
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .unwrap();
    (script, log)
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
struct Stub {
    url: String,
    stop: Arc<AtomicBool>,
}

impl Stub {
    fn start(reply: Option<&'static str>) -> Stub {
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

const ERROR_500: &str =
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

#[test]
fn a_remote_entry_naming_a_file_outside_the_output_dir_is_rejected_whole() {
    for evil in ["../../../escaped", "/tmp/xtask-go-escaped"] {
        let nginx = Nginx::start();
        uploaded(&nginx.url, &[]);
        for entry in nginx.files("ac") {
            let text = std::fs::read_to_string(&entry).unwrap();
            let text = text.replace("\"name\":\"app\"", &format!("\"name\":\"{evil}\""));
            std::fs::write(&entry, text).unwrap();
        }
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
fn entries_are_signed_and_a_bad_or_missing_signature_is_a_miss() {
    let nginx = Nginx::start();
    let key = [("XTASK_GO_CACHE_SIGNING_KEY", "main-branch-secret")];
    uploaded(&nginx.url, &key);
    for entry in nginx.files("ac") {
        assert!(std::fs::read_to_string(&entry)
            .unwrap()
            .contains("\"hmac\""));
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
fn compile_actions(out: &Outcome) -> usize {
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
    let config = "[workspace]\nmembers = []\n\n[workspace.metadata.xtask-go]\n\
                  gocacheprog = true\ngoflags = [\"-x\"]\n";
    let clone = |name: &str| {
        let repo = Repo::copy_of("cache");
        repo.write("Cargo.toml", config);
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
