//! Module cache directories remembered as verified by their files' stamps
//! (`target/go/vendor-verified`): a repeat check stats instead of hashing, and a tampered
//! module cache is still caught wherever its stat tuple moved, even with the mtime put back.

use std::time::Duration;

use camino::Utf8PathBuf;

use super::vendoring::{kinds_and_paths, make_file_writable, VendorRepo};

/// The `vendored` fixture, vendored, and its module cache older than the racy window (a stamp
/// from within 2 s of being recorded is never remembered).
fn settled() -> VendorRepo {
    let vr = VendorRepo::new("vendored");
    vr.vendor(&["go/app", "go/svc"]);
    std::thread::sleep(Duration::from_millis(2100));
    vr
}

fn memo_file(vr: &VendorRepo) -> Utf8PathBuf {
    vr.path("target/go/vendor-verified")
}

/// `--check --json`, asserting its exit code; returns (kind, path) of every finding and, over
/// both trees, how many module cache directories were hashed and how many trusted by stamps.
fn check(vr: &VendorRepo, code: i32) -> (Vec<(String, String)>, (usize, usize)) {
    let out = vr.check();
    assert_eq!(out.code, code, "{out:?}");
    let mut counts = (0, 0);
    for line in out
        .stderr
        .lines()
        .filter(|l| l.contains("module cache directories against go.sum"))
    {
        let number = |before: &str| -> usize {
            let head = line.split(before).next().unwrap();
            head.rsplit(' ')
                .find(|w| !w.is_empty())
                .unwrap()
                .parse()
                .unwrap()
        };
        counts.0 += number(" hashed");
        counts.1 += number(" by their files' stamps");
    }
    (kinds_and_paths(&out), counts)
}

/// Writes `path`, making it (and its directory) writable first only when that is needed (not
/// for root): a chmod would move the ctime on its own.
fn write_anyway(path: &camino::Utf8Path, text: &str) {
    if std::fs::write(path, text).is_err() {
        make_file_writable(path);
        std::fs::write(path, text).unwrap();
    }
}

/// Rewrites `rel` of the module cache's `example.com/beta@v1.0.0` (`from` → `to`), then puts
/// its mtime back: only the ctime (and for another size, the size) tells.
fn tamper_keeping_mtime(vr: &VendorRepo, rel: &str, from: &str, to: &str) {
    let path = vr.modcache.join("example.com/beta@v1.0.0").join(rel);
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{path}: {text}");
    write_anyway(&path, &text.replacen(from, to, 1));
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(mtime).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime);
}

#[test]
fn a_repeat_check_trusts_unchanged_module_cache_directories_by_their_stamps() {
    let vr = settled();
    // go/app: alpha v1.1.0 and beta; go/svc: delta and alpha v1.2.0 (widget is a directory).
    let (found, counts) = check(&vr, 0);
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(counts, (4, 0));
    let memo = std::fs::read_to_string(memo_file(&vr)).unwrap();
    assert!(
        memo.starts_with("xtask-go verified module dirs 1\n"),
        "{memo}"
    );
    assert!(
        memo.contains("module example.com/beta@v1.0.0 h1:"),
        "{memo}"
    );

    let (found, counts) = check(&vr, 0);
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(counts, (0, 4));

    // A corrupt file remembers nothing: everything is hashed again, and remembered anew.
    std::fs::write(
        memo_file(&vr),
        "xtask-go verified module dirs 1\nfile 1 2 3 4 x\n",
    )
    .unwrap();
    let (found, counts) = check(&vr, 0);
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(counts, (4, 0));
    assert_eq!(check(&vr, 0).1, (0, 4));
}

/// The finding of a tampered `example.com/beta@v1.0.0` module cache directory.
fn tampered(vr: &VendorRepo) -> (String, String) {
    let dir = vr.modcache.join("example.com/beta@v1.0.0");
    ("anomaly".to_owned(), dir.to_string())
}

#[test]
fn a_same_size_edit_with_the_mtime_put_back_is_caught_with_or_without_the_memo() {
    let vr = settled();
    check(&vr, 0);
    // In a file go does not vendor (the test): only the ctime moved.
    tamper_keeping_mtime(&vr, "beta_test.go", "package beta", "package bet2");
    let (found, counts) = check(&vr, 1);
    assert_eq!(found, [tampered(&vr)]);
    assert_eq!(
        counts,
        (1, 3),
        "beta hashed again, the others by their stamps"
    );
    // A check that remembers nothing finds the same.
    std::fs::remove_file(memo_file(&vr)).unwrap();
    assert_eq!(check(&vr, 1), (vec![tampered(&vr)], (4, 0)));
    assert_eq!(
        check(&vr, 1).1,
        (1, 3),
        "a tampered directory is never remembered"
    );
}

#[test]
fn an_edit_of_another_size_is_caught_and_the_intact_zip_trusted_instead() {
    let vr = settled();
    check(&vr, 0);
    // The module cache's vendored file and the vendored copy alike, the mtime put back.
    let (from, to) = ("Words returns", "Words returns, slowly,");
    tamper_keeping_mtime(&vr, "beta.go", from, to);
    vr.edit("go/app/vendor/example.com/beta/beta.go", from, to);
    let modified = (
        "modified".to_owned(),
        "vendor/example.com/beta/beta.go".to_owned(),
    );
    let want = vec![tampered(&vr), modified];
    assert_eq!(check(&vr, 1), (want.clone(), (1, 3)));
    std::fs::remove_file(memo_file(&vr)).unwrap();
    assert_eq!(check(&vr, 1), (want, (4, 0)), "without the memo");
}

#[test]
fn a_file_added_to_a_remembered_directory_is_caught() {
    let vr = settled();
    check(&vr, 0);
    // The directory's own stamp moves (as root, without a chmod of it).
    write_anyway(
        &vr.modcache.join("example.com/beta@v1.0.0/planted.txt"),
        "x",
    );
    assert_eq!(check(&vr, 1), (vec![tampered(&vr)], (1, 3)));
}
