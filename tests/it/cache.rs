//! The build cache: every change that shapes the output misses (then hits), everything else hits,
//! and faults (corrupt blobs and entries, kills, races, read-only or full disks) never serve a
//! stale output.

use std::time::Duration;

use camino::Utf8PathBuf;

use crate::support::{real_go, Outcome, Repo, APP};

/// `go-build --json --explain` with extra args and env; returns the outcome and app's verdict.
fn build(repo: &Repo, args: &[&str], env: &[(&str, &str)]) -> (Outcome, String) {
    let mut all = vec!["go-build", "--json", "--explain"];
    all.extend(args);
    let mut cmd = repo
        .xtask(&all)
        .env("XTASK_GO_CACHE_DIR", repo.scratch("store"));
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    let out = cmd.ok();
    let verdict = out.verdict("app");
    (out, verdict)
}

/// A repo whose app was built once and then found fresh.
fn warm_repo() -> Repo {
    let repo = Repo::copy_of("cache");
    assert_eq!(build(&repo, &[], &[]).1, "miss");
    assert_eq!(build(&repo, &[], &[]).1, "fresh");
    repo
}

fn append(repo: &Repo, rel: &str, text: &str) {
    let mut content = std::fs::read_to_string(repo.path(rel)).unwrap();
    content.push_str(text);
    repo.write(rel, &content);
}

/// `"!"` becomes `"?"` in lib/other.go with its mtime put back: only the ctime moves.
fn edit_keeping_size_and_mtime(repo: &Repo) {
    let path = repo.path("go/app/lib/other.go");
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\"!\"", "\"?\"");
    std::fs::write(&path, text).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
}

fn config(repo: &Repo, toml: &str) {
    repo.write(
        "Cargo.toml",
        &format!("[workspace]\nmembers = []\n\n{toml}"),
    );
}

fn configure_target(repo: &Repo, fields: &str) {
    config(repo, &format!("[[workspace.metadata.xtask-go.targets]]\nname = \"app\"\nmodule = \"go/app\"\npackage = \".\"\n{fields}\n"));
}

/// Each change must miss, then hit on the next run.
#[test]
fn every_change_that_shapes_the_output_misses_then_hits() {
    let second_go = second_toolchain();
    type Change = Box<dyn Fn(&Repo) -> Vec<String>>;
    let no_args = || Vec::<String>::new();
    let cases: Vec<(&str, Change)> = vec![
        (
            "edit a .go file",
            Box::new(move |r| {
                append(r, "go/app/lib/other.go", "\n// edited\n");
                no_args()
            }),
        ),
        (
            "same size, mtime restored",
            Box::new(move |r| {
                edit_keeping_size_and_mtime(r);
                no_args()
            }),
        ),
        (
            "add a file to a package dir",
            Box::new(move |r| {
                r.write("go/app/lib/extra.go", "package lib\n\nvar Extra = 1\n");
                no_args()
            }),
        ),
        (
            "delete a file",
            Box::new(move |r| {
                r.remove("go/app/lib/tagged.go");
                no_args()
            }),
        ),
        (
            "change an embedded file",
            Box::new(move |r| {
                r.write("go/app/lib/data/greeting.txt", "howdy\n");
                no_args()
            }),
        ),
        (
            "flip a //go:build tag",
            Box::new(move |r| {
                let text = std::fs::read_to_string(r.path("go/app/lib/tagged.go"))
                    .unwrap()
                    .replace("//go:build never", "//go:build !never");
                r.write("go/app/lib/tagged.go", &text);
                no_args()
            }),
        ),
        (
            "edit a vendored file",
            Box::new(move |r| {
                append(
                    r,
                    "go/app/vendor/example.com/alpha/alpha.go",
                    "\n// patched\n",
                );
                no_args()
            }),
        ),
        (
            "edit go.mod",
            Box::new(move |r| {
                append(r, "go/app/go.mod", "\n// a comment\n");
                no_args()
            }),
        ),
        (
            "add go.sum",
            Box::new(move |r| {
                r.write("go/app/go.sum", "");
                no_args()
            }),
        ),
        (
            "GOFLAGS",
            Box::new(move |r| {
                config(r, "[workspace.metadata.xtask-go]\ngoflags = [\"-p=1\"]\n");
                no_args()
            }),
        ),
        (
            "CGO_ENABLED",
            Box::new(move |r| {
                config(r, "[workspace.metadata.xtask-go]\ncgo = true\n");
                no_args()
            }),
        ),
        (
            "GOAMD64",
            Box::new(move |r| {
                config(r, "[workspace.metadata.xtask-go]\ngoamd64 = \"v3\"\n");
                no_args()
            }),
        ),
        (
            "ldflags",
            Box::new(move |r| {
                configure_target(r, "ldflags = \"-X main.unused=1\"");
                no_args()
            }),
        ),
        (
            "tags",
            Box::new(move |r| {
                configure_target(r, "tags = [\"never\"]");
                no_args()
            }),
        ),
        (
            "a different go version",
            Box::new(move |_| vec![format!("GO={second_go}")]),
        ),
    ];
    for (name, change) in cases {
        let repo = warm_repo();
        let env_pairs = change(&repo);
        let env: Vec<(&str, &str)> = env_pairs
            .iter()
            .map(|p| p.split_once('=').unwrap())
            .collect();
        let (out, verdict) = build(&repo, &[], &env);
        assert_eq!(verdict, "miss", "{name}: expected a miss\n{}", out.stderr);
        let (out, verdict) = build(&repo, &[], &env);
        assert_eq!(
            verdict, "fresh",
            "{name}: expected a hit after the rebuild\n{}",
            out.stderr
        );
    }
}

#[test]
fn explain_names_what_changed() {
    let repo = warm_repo();
    append(&repo, "go/app/lib/other.go", "\n// edited\n");
    let (out, _) = build(&repo, &[], &[]);
    assert!(
        out.stderr.contains(
            "Explain app (x86_64-unknown-linux-gnu): miss: file changed: go/app/lib/other.go"
        ),
        "{}",
        out.stderr
    );
    config(&repo, "[workspace.metadata.xtask-go]\ngoamd64 = \"v2\"\n");
    let (out, _) = build(&repo, &[], &[]);
    assert!(
        out.stderr.contains("env GOAMD64: \"v1\" -> \"v2\""),
        "{}",
        out.stderr
    );
}

#[test]
fn other_triples_and_platforms_are_separate_keys() {
    let repo = warm_repo();
    let (out, _) = build(&repo, &["--target", "aarch64-unknown-linux-gnu"], &[]);
    assert_eq!(out.verdict("app"), "miss");
    let (out, _) = build(&repo, &["--target", "aarch64-unknown-linux-gnu"], &[]);
    assert_eq!(out.verdict("app"), "fresh");
    assert_eq!(build(&repo, &[], &[]).1, "fresh");
}

#[test]
fn touch_an_unrelated_env_var_and_a_fresh_clone_all_hit() {
    let repo = warm_repo();
    let now = std::time::SystemTime::now() + Duration::from_secs(5);
    for file in ["go/app/main.go", "go/app/lib/lib.go", "go/app/go.mod"] {
        std::fs::File::options()
            .write(true)
            .open(repo.path(file))
            .unwrap()
            .set_modified(now)
            .unwrap();
    }
    assert_eq!(build(&repo, &[], &[]).1, "fresh", "touch only");
    assert_eq!(
        build(
            &repo,
            &[],
            &[
                ("TERM", "xterm-kitty"),
                ("CARGO_MAKEFLAGS", "-j8"),
                ("UNRELATED", "1")
            ]
        )
        .1,
        "fresh"
    );

    // A fresh clone of the same commit at another path: new mtimes, no outputs, the same store.
    git(&repo.root, &["init", "-q"]);
    git(&repo.root, &["add", "-A", "go", "Cargo.toml"]);
    git(
        &repo.root,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "fixture",
        ],
    );
    let clone_dir = repo.scratch("clone-parent").join("clone");
    git(
        &repo.scratch("clone-parent"),
        &["clone", "-q", repo.root.as_str(), clone_dir.as_str()],
    );
    let store = repo.scratch("store");
    let out = repo
        .xtask_in(&clone_dir, &["go-build", "--json", "--explain"])
        .env("XTASK_GO_CACHE_DIR", &store)
        .ok();
    assert_eq!(out.verdict("app"), "restored", "{}", out.stderr);
    let restored = clone_dir.join(APP);
    let run = std::process::Command::new(restored).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&run.stdout).trim(),
        "hello! Hi cache, from alpha v1.2.0"
    );
}

fn git(dir: &camino::Utf8Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

/// The store's files of one kind (`entries` or `blobs`).
fn store_files(repo: &Repo, kind: &str) -> Vec<Utf8PathBuf> {
    let mut out = Vec::new();
    let dir = repo.scratch("store").join("v1").join(kind);
    for shard in std::fs::read_dir(dir).unwrap() {
        for file in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            out.push(Utf8PathBuf::from_path_buf(file.unwrap().path()).unwrap());
        }
    }
    out
}

#[test]
fn a_corrupt_blob_or_entry_is_a_miss_that_repairs_itself() {
    type Damage = fn(&Repo);
    let damages: [(&str, Damage); 4] = [
        ("truncated blob", |r| {
            for blob in store_files(r, "blobs") {
                let len = std::fs::metadata(&blob).unwrap().len();
                std::fs::File::options()
                    .write(true)
                    .open(&blob)
                    .unwrap()
                    .set_len(len / 2)
                    .unwrap();
            }
        }),
        ("flipped byte", |r| {
            for blob in store_files(r, "blobs") {
                let mut bytes = std::fs::read(&blob).unwrap();
                bytes[1000] ^= 0x40;
                std::fs::write(&blob, bytes).unwrap();
            }
        }),
        ("corrupt entry", |r| {
            for entry in store_files(r, "entries") {
                std::fs::write(&entry, b"{\"key\": \"nonsense").unwrap();
            }
        }),
        ("output names escaping the output dir", |r| {
            // Every entry: the build entry and the discovery record (which names targets) alike.
            for entry in store_files(r, "entries") {
                let text = std::fs::read_to_string(&entry).unwrap();
                std::fs::write(
                    &entry,
                    text.replace("\"name\":\"app\"", "\"name\":\"../../../escaped\""),
                )
                .unwrap();
            }
        }),
    ];
    for (name, damage) in damages {
        let repo = warm_repo();
        std::fs::remove_file(repo.path(APP)).unwrap();
        damage(&repo);
        let (out, verdict) = build(&repo, &[], &[]);
        assert_eq!(verdict, "miss", "{name}\n{}", out.stderr);
        assert_eq!(
            repo.run_app(),
            "hello! Hi cache, from alpha v1.2.0",
            "{name}"
        );
        assert!(
            !repo.path("escaped").exists() && !repo.root.parent().unwrap().join("escaped").exists(),
            "{name}"
        );
        // Repaired: with the outputs gone again, the store now restores them.
        std::fs::remove_file(repo.path(APP)).unwrap();
        assert_eq!(build(&repo, &[], &[]).1, "restored", "{name}");
    }
}

#[test]
fn a_replaced_output_is_restored_not_trusted() {
    let repo = warm_repo();
    std::fs::write(repo.path(APP), b"#!/bin/sh\necho tampered\n").unwrap();
    assert_eq!(build(&repo, &[], &[]).1, "restored");
    assert_eq!(repo.run_app(), "hello! Hi cache, from alpha v1.2.0");
}

#[test]
fn a_script_in_place_of_an_output_the_store_lost_is_built_over() {
    let repo = warm_repo();
    std::fs::write(repo.path(APP), b"#!/bin/sh\necho tampered\n").unwrap();
    std::fs::remove_dir_all(repo.scratch("store")).unwrap();
    // go refuses to write over a file that is not an object file: it must never see this one.
    assert_eq!(build(&repo, &[], &[]).1, "miss");
    assert_eq!(repo.run_app(), "hello! Hi cache, from alpha v1.2.0");
}

#[test]
fn a_symlinked_input_outside_the_repo_is_hashed_through_the_link() {
    let repo = Repo::copy_of("cache");
    let outside = repo.scratch("outside").join("linked.go");
    std::fs::write(&outside, "package lib\n\nvar Linked = 1\n").unwrap();
    std::os::unix::fs::symlink(&outside, repo.path("go/app/lib/linked.go")).unwrap();
    assert_eq!(build(&repo, &[], &[]).1, "miss");
    assert_eq!(build(&repo, &[], &[]).1, "fresh");
    std::fs::write(&outside, "package lib\n\nvar Linked = 2\n").unwrap();
    assert_eq!(build(&repo, &[], &[]).1, "miss");
}

#[test]
fn two_builds_of_the_same_target_at_once_both_succeed() {
    let repo = Repo::copy_of("cache");
    let store = repo.scratch("store");
    let spawn = || {
        repo.xtask(&["go-build"])
            .env("XTASK_GO_CACHE_DIR", &store)
            .cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{:?} stdout {} stderr {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(repo.run_app(), "hello! Hi cache, from alpha v1.2.0");
    // No go run after them: fresh, or restored when the last depfile written is not that of the
    // last output placed (the two raced; the store holds the one output, so a copy is safe).
    let verdict = build(&repo, &[], &[]).1;
    assert!(verdict == "fresh" || verdict == "restored", "{verdict}");
    assert_eq!(build(&repo, &[], &[]).1, "fresh");
}

#[test]
fn kill_9_during_a_build_then_a_correct_rebuild() {
    let repo = Repo::copy_of("cache");
    let store = repo.scratch("store");
    // Kill at several moments; whatever was half-written, the next run must be correct.
    for delay_ms in [50u64, 300, 800] {
        let mut cmd = repo
            .xtask(&["go-build"])
            .env("XTASK_GO_CACHE_DIR", &store)
            .cmd;
        let mut child = cmd.stderr(std::process::Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let (out, _) = build(&repo, &[], &[]);
        assert_eq!(out.code, 0);
        assert_eq!(repo.run_app(), "hello! Hi cache, from alpha v1.2.0");
        assert_eq!(build(&repo, &[], &[]).1, "fresh");
        append(&repo, "go/app/lib/other.go", "\n// next round\n");
    }
}

#[test]
fn an_input_edited_while_go_runs_is_not_stored() {
    let repo = Repo::copy_of("cache");
    // A go that edits an input while it builds (fault injection: the real go does the work).
    let real_go = real_go();
    let fake = repo.scratch("fakego").join("go");
    let victim = repo.path("go/app/lib/other.go");
    std::fs::write(&fake, format!("#!/bin/sh\nif [ \"$1\" = build ]; then echo '// edited during the build' >> {victim}; fi\nexec {real_go} \"$@\"\n")).unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let (out, verdict) = build(&repo, &[], &[("GO", fake.as_str())]);
    assert_eq!(verdict, "miss");
    assert!(
        out.stderr
            .contains("changed while `app` was building; not caching this build"),
        "{}",
        out.stderr
    );
    // The next run (with the real go) must not trust anything from that build.
    let (_, verdict) = build(&repo, &[], &[]);
    assert_eq!(verdict, "miss");
    assert_eq!(build(&repo, &[], &[]).1, "fresh");
}

/// The second toolchain `.ci/setup-go-toolchain.sh` installs (a real go of another version).
fn second_toolchain() -> String {
    let path = std::env::var("XTASK_GO_TEST_GO2").unwrap_or_else(|_| {
        let home = std::env::var("XDG_CACHE_HOME")
            .unwrap_or_else(|_| format!("{}/.cache", std::env::var("HOME").unwrap()));
        format!("{home}/xtask-go-tests/go1.25.5/bin/go")
    });
    assert!(
        std::path::Path::new(&path).is_file(),
        "no second go toolchain at {path}: run `bash .ci/setup-go-toolchain.sh`"
    );
    path
}

/// A tmpfs mounted at `dir` for the life of the guard (the tests run as root, as CI does).
struct Mount(Utf8PathBuf);

impl Mount {
    fn tmpfs(dir: &Utf8PathBuf, options: &str) -> Mount {
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs", dir.as_str()])
            .status()
            .unwrap();
        assert!(
            status.success(),
            "mount -t tmpfs -o {options} failed (these tests need root, as CI has)"
        );
        Mount(dir.clone())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.as_str())
            .status();
    }
}

#[test]
fn a_read_only_or_full_cache_dir_warns_and_still_builds() {
    for options in ["ro,size=1m", "size=64k"] {
        let repo = Repo::copy_of("cache");
        let store = repo.scratch("store");
        let _mount = Mount::tmpfs(&store, options);
        let (out, verdict) = build(&repo, &[], &[]);
        assert_eq!(verdict, "miss", "{options}");
        assert!(
            out.stderr.contains("could not write to the build cache"),
            "{options}: {}",
            out.stderr
        );
        assert_eq!(
            repo.run_app(),
            "hello! Hi cache, from alpha v1.2.0",
            "{options}"
        );
        // Nothing half-written is trusted: with the outputs gone, it builds again.
        std::fs::remove_file(repo.path(APP)).unwrap();
        let (_, verdict) = build(&repo, &[], &[]);
        assert_eq!(verdict, "miss", "{options}");
        assert_eq!(
            repo.run_app(),
            "hello! Hi cache, from alpha v1.2.0",
            "{options}"
        );
    }
}

#[test]
fn cache_stats_gc_and_clean() {
    let repo = warm_repo();
    let store = repo.scratch("store");
    let stats = repo
        .xtask(&["cache", "stats", "--json"])
        .env("XTASK_GO_CACHE_DIR", &store)
        .ok();
    let stats: serde_json::Value = serde_json::from_str(&stats.stdout).unwrap();
    assert_eq!(stats["blobs"], 1);
    assert_eq!(
        stats["entries"], 3,
        "the build entry, the input set's manifest and the discovery record"
    );
    let gc = repo
        .xtask(&["cache", "gc", "--max-size", "1K", "--json"])
        .env("XTASK_GO_CACHE_DIR", &store)
        .ok();
    let gc: serde_json::Value = serde_json::from_str(&gc.stdout).unwrap();
    assert_eq!(gc["removed_blobs"], 1, "{gc}");
    repo.xtask(&["cache", "clean"])
        .env("XTASK_GO_CACHE_DIR", &store)
        .ok();
    assert!(!store.join("v1").exists());
    let out = repo
        .xtask(&["cache", "clean"])
        .env("XTASK_GO_CACHE_DIR", repo.path("go"))
        .run();
    assert_eq!(
        out.code, 2,
        "a directory without CACHEDIR.TAG is never deleted"
    );
    assert!(repo.path("go/app/main.go").is_file());
}

#[test]
fn gc_over_the_limit_keeps_the_newest_build_that_fits_and_frees_an_older_ones_outputs() {
    let repo = warm_repo();
    let store = repo.scratch("store");
    let stats = |repo: &Repo| -> serde_json::Value {
        let out = repo
            .xtask(&["cache", "stats", "--json"])
            .env("XTASK_GO_CACHE_DIR", &store)
            .ok();
        serde_json::from_str(&out.stdout).unwrap()
    };
    let text = std::fs::read_to_string(repo.path("go/app/lib/other.go")).unwrap();
    repo.write("go/app/lib/other.go", &text.replace("\"!\"", "\"?\""));
    assert_eq!(build(&repo, &[], &[]).1, "miss");
    let before = stats(&repo);
    assert_eq!(before["blobs"], 2, "{before}");
    let blob_bytes = before["blob_bytes"].as_u64().unwrap();
    let total = before["entry_bytes"].as_u64().unwrap() + blob_bytes;
    // Room for one build's outputs, not two: the older build goes, with its blob.
    let max = (total - blob_bytes / 4).to_string();
    let gc = repo
        .xtask(&["cache", "gc", "--max-size", &max, "--json"])
        .env("XTASK_GO_CACHE_DIR", &store)
        .ok();
    let gc: serde_json::Value = serde_json::from_str(&gc.stdout).unwrap();
    assert_eq!(gc["removed_blobs"], 1, "{gc}");
    let after = stats(&repo);
    assert_eq!(after["blobs"], 1, "{after}");
    assert!(
        after["entries"].as_u64().unwrap() >= 1,
        "the newest build's entry is kept: {after}"
    );
    std::fs::remove_file(repo.path(APP)).unwrap();
    assert_eq!(
        build(&repo, &[], &[]).1,
        "restored",
        "the kept entry still serves"
    );
    assert_eq!(repo.run_app(), "hello? Hi cache, from alpha v1.2.0");
}

/// Once stamps are older than the racy window, a no-op reads no file: it must still see a
/// content change that kept size and mtime, a settings change, and a replaced output.
/// Waits out the racy window, then builds once to renew the recorded stamps (that build may
/// rebuild: an edit in the same clock tick as the last build's start was, rightly, not stored),
/// after which a no-op must take the fast path.
fn settle(repo: &Repo) {
    std::thread::sleep(Duration::from_millis(2100));
    build(repo, &[], &[]);
    assert_eq!(build(repo, &[], &[]).1, "fresh");
}

#[test]
fn the_no_op_fast_path_still_sees_every_change() {
    let repo = warm_repo();
    settle(&repo);
    edit_keeping_size_and_mtime(&repo);
    assert_eq!(
        build(&repo, &[], &[]).1,
        "miss",
        "same size, restored mtime"
    );
    assert_eq!(repo.run_app(), "hello? Hi cache, from alpha v1.2.0");
    settle(&repo);
    config(&repo, "[workspace.metadata.xtask-go]\ngoamd64 = \"v2\"\n");
    assert_eq!(build(&repo, &[], &[]).1, "miss", "a setting");
    settle(&repo);
    repo.write("go/app/lib/new.go", "package lib\n\nvar New = 1\n");
    assert_eq!(build(&repo, &[], &[]).1, "miss", "a new file");
    settle(&repo);
    std::fs::remove_file(repo.path("go/app/lib/new.go")).unwrap();
    assert_eq!(build(&repo, &[], &[]).1, "miss", "a file removed");
    settle(&repo);
    repo.write("go/app/go.sum", "");
    assert_eq!(
        build(&repo, &[], &[]).1,
        "miss",
        "an absent go.sum appeared"
    );
    settle(&repo);
    std::fs::remove_file(repo.path(APP)).unwrap();
    std::fs::copy("/bin/true", repo.path(APP)).unwrap();
    assert_eq!(build(&repo, &[], &[]).1, "restored", "an output replaced");
    assert_eq!(repo.run_app(), "hello? Hi cache, from alpha v1.2.0");
}

/// The go version that built `binary`, as `go version` reads it from the binary's build info.
fn built_by(binary: &camino::Utf8Path) -> String {
    let out = std::process::Command::new(real_go())
        .args(["version", binary.as_str()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .last()
        .unwrap_or_default()
        .to_string()
}

/// A version manager's shim (a script named `go` that picks the toolchain from a file, as asdf,
/// mise and goenv do) keeps its stamp while the version changes: each switch must miss and
/// rebuild with the go that now runs, and a switch back must find the first go's outputs.
#[test]
fn a_shim_go_that_switches_versions_misses_and_rebuilds() {
    let repo = Repo::copy_of("cache");
    let shim_dir = repo.scratch("shim");
    let choice = shim_dir.join("version");
    let shim = shim_dir.join("go");
    std::fs::write(&choice, real_go()).unwrap();
    std::fs::write(
        &shim,
        format!("#!/bin/sh\nexec \"$(cat {choice})\" \"$@\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let env = [("GO", shim.as_str())];

    assert_eq!(build(&repo, &[], &env).1, "miss");
    let first = built_by(&repo.path(APP));
    // Past the racy window the session snapshot is kept, and the no-op takes its fast path.
    std::thread::sleep(Duration::from_millis(2100));
    build(&repo, &[], &env);
    assert_eq!(build(&repo, &[], &env).1, "fresh");

    std::fs::write(&choice, second_toolchain()).unwrap();
    let (out, verdict) = build(&repo, &[], &env);
    assert_eq!(verdict, "miss", "{}", out.stderr);
    assert_eq!(built_by(&repo.path(APP)), "go1.25.5");
    assert_ne!(first, "go1.25.5");
    assert_eq!(repo.run_app(), "hello! Hi cache, from alpha v1.2.0");
    assert_eq!(build(&repo, &[], &env).1, "fresh");

    std::fs::write(&choice, real_go()).unwrap();
    assert_eq!(build(&repo, &[], &env).1, "restored");
    assert_eq!(built_by(&repo.path(APP)), first);
}

/// A size that does not parse is an error when the config is read, naming the file and the
/// setting, before anything is built.
#[test]
fn a_malformed_cache_max_size_names_the_manifest_and_the_setting() {
    let repo = Repo::copy_of("cache");
    config(
        &repo,
        "[workspace.metadata.xtask-go]\ncache-max-size = \"lots\"\n",
    );
    let out = repo.xtask(&["go-build"]).run();
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("Cargo.toml: invalid [workspace.metadata.xtask-go]")
            && out.stderr.contains("cache-max-size = \"lots\""),
        "{}",
        out.stderr
    );
    assert!(!repo.path(APP).exists(), "nothing was built");
}

/// A buildmode the tool does not know is an error when the config is read, naming the file and
/// the modes it knows.
#[test]
fn an_unknown_buildmode_names_the_manifest_and_the_known_modes() {
    let repo = Repo::copy_of("cache");
    configure_target(&repo, "buildmode = \"shared\"");
    let out = repo.xtask(&["go-build"]).run();
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("Cargo.toml: invalid [workspace.metadata.xtask-go]")
            && out.stderr.contains("unknown variant `shared`")
            && out.stderr.contains("c-archive"),
        "{}",
        out.stderr
    );
}
