//! Crash points, not timings: a run aborted (as `kill -9` would) at each named point of the
//! cache's write and restore sequence (`XTASK_GO_TEST_CRASH_AT`, see `util::crash`) leaves a
//! store and outputs from which the next run makes the right binary, the run after is fresh,
//! a clean copy sharing the store restores it, and the dead run's temp files are swept.

use std::os::unix::process::ExitStatusExt;

use camino::{Utf8Path, Utf8PathBuf};

use crate::support::{Outcome, Repo, APP};

const HELLO: &str = "hello! Hi cache, from alpha v1.2.0";
const SIGABRT: i32 = 6;
const TEMP_PREFIX: &str = ".xtask-go-tmp-";

/// `go-build --json --explain` with `store` as the store.
fn build(repo: &Repo, store: &Utf8Path) -> Outcome {
    repo.xtask(&["go-build", "--json", "--explain"])
        .env("XTASK_GO_CACHE_DIR", store)
        .ok()
}

/// Runs go-build set to crash at `point` and asserts it died there, by SIGABRT (so a point
/// renamed or no longer reached fails the test).
fn crash_at(repo: &Repo, store: &Utf8Path, point: &str) {
    let out = repo
        .xtask(&["go-build"])
        .env("XTASK_GO_CACHE_DIR", store)
        .env("XTASK_GO_TEST_CRASH_AT", point)
        .cmd
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(SIGABRT),
        "{point}: {:?}\n{stderr}",
        out.status
    );
    assert!(
        stderr.contains(&format!("crashing at `{point}`")),
        "{point}: {stderr}"
    );
}

/// Every temp file of ours below `dir`.
fn temp_files(dir: &Utf8Path) -> Vec<Utf8PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = dir.read_dir_utf8() else {
        return found;
    };
    for entry in entries.map(Result::unwrap) {
        let path = entry.path().to_owned();
        if path.is_dir() {
            found.extend(temp_files(&path));
        } else if entry.file_name().starts_with(TEMP_PREFIX) {
            found.push(path);
        }
    }
    found
}

/// Each point, where its run leaves a temp file (None: it dies between two whole files), and
/// the next run's verdict: a build when the store has no usable entry, else a restore.
const POINTS: &[(&str, Option<&str>, &str)] = &[
    ("blob-temp", Some("store"), "miss"),
    ("blob-renamed", None, "miss"),
    ("entry-written", None, "miss"),
    ("manifest-written", None, "restored"),
    ("mid-restore", Some("outputs"), "restored"),
    ("depfile-temp", Some("outputs"), "restored"),
];

#[test]
fn a_crash_at_every_point_then_a_correct_run_then_fresh() {
    for &(point, debris, next_verdict) in POINTS {
        let repo = Repo::copy_of("cache");
        let store = repo.scratch("store");
        let outputs = repo.path("target/go");
        if point == "mid-restore" {
            // Only a restore reaches it: a stored build, and its output gone.
            assert_eq!(build(&repo, &store).verdict("app"), "miss");
            repo.remove(APP);
        }
        crash_at(&repo, &store, point);
        let left = match debris {
            Some("store") => temp_files(&store),
            Some(_) => temp_files(&outputs),
            None => [temp_files(&store), temp_files(&outputs)].concat(),
        };
        assert_eq!(left.is_empty(), debris.is_none(), "{point}: {left:?}");

        // The automatic gc (at most every 10 minutes, after a build) sweeps too: make it recent,
        // so that what is swept below is the recovering run's own doing.
        std::fs::write(store.join("last-gc"), b"").unwrap();
        let out = build(&repo, &store);
        assert_eq!(out.verdict("app"), next_verdict, "{point}: {}", out.stderr);
        assert_eq!(repo.run_app(), HELLO, "{point}");
        let left = [temp_files(&store), temp_files(&outputs)].concat();
        assert!(left.is_empty(), "{point}: not swept: {left:?}");
        assert_eq!(build(&repo, &store).verdict("app"), "fresh", "{point}");

        // A clean copy sharing the store restores what the recovering run stored.
        let other = Repo::copy_of("cache");
        assert_eq!(build(&other, &store).verdict("app"), "restored", "{point}");
        assert_eq!(other.run_app(), HELLO, "{point}");
    }
}

#[test]
fn an_unknown_crash_point_is_an_error_that_names_it() {
    let repo = Repo::copy_of("cache");
    let out = repo
        .xtask(&["go-build"])
        .env("XTASK_GO_CACHE_DIR", repo.scratch("store"))
        .env("XTASK_GO_TEST_CRASH_AT", "blob_temp")
        .run();
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("XTASK_GO_TEST_CRASH_AT=blob_temp")
            && out.stderr.contains("unknown crash point `blob_temp`"),
        "{}",
        out.stderr
    );
    assert!(!repo.path(APP).exists());
}
