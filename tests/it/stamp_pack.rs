//! The no-op fast path's stamp pack (`.deps/stamp-blocks.pack`): the targets of one output
//! directory share it, a no-op that holds writes nothing, and a block is trusted only under the
//! sha256 it is named by: a lost pack or a lying one costs the slow path, never a stale binary.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use camino::Utf8Path;

use crate::support::Repo;

const DIR: &str = "target/go/x86_64-unknown-linux-gnu/debug";
const TARGETS: [&str; 5] = [
    "report",
    "cmd-generate",
    "doc-generate",
    "protocol-generate",
    "other-generate",
];

fn build_all(repo: &Repo) -> Vec<String> {
    let out = repo.xtask(&["go-build", "--json"]).ok();
    TARGETS.iter().map(|t| out.verdict(t)).collect()
}

/// Built, then past the racy window built again, so that every target has a stamp list.
fn settled_repo() -> Repo {
    let repo = Repo::copy_of("manymains");
    build_all(&repo);
    std::thread::sleep(Duration::from_millis(2100));
    build_all(&repo);
    assert_eq!(build_all(&repo), ["fresh"; 5]);
    repo
}

fn mtime_ns(path: &Utf8Path) -> i128 {
    let m = std::fs::metadata(path).unwrap();
    i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec())
}

/// The ids the pack holds.
fn pack_ids(repo: &Repo) -> BTreeSet<String> {
    let pack = std::fs::read_to_string(repo.path(&format!("{DIR}/.deps/stamp-blocks.pack")));
    pack.unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("block "))
        .map(|l| l.split(' ').next().unwrap().to_owned())
        .collect()
}

#[test]
fn targets_share_one_pack_and_a_no_op_that_holds_rewrites_nothing() {
    let repo = settled_repo();
    let ids = pack_ids(&repo);
    let mut named = 0;
    for target in TARGETS {
        let list = std::fs::read_to_string(repo.path(&format!("{DIR}/.deps/{target}.stamps")));
        for id in list
            .unwrap()
            .lines()
            .filter_map(|l| l.strip_prefix("block "))
        {
            assert!(
                ids.contains(id),
                "{target} names {id}, which the pack lacks"
            );
            named += 1;
        }
    }
    // go.work's and go/tools' blocks are named by several targets and stored once.
    assert!(named > ids.len(), "{named} names, {} blocks", ids.len());

    let files: Vec<_> = ["stamp-blocks.pack", "report.stamps", "report.json"]
        .iter()
        .map(|f| repo.path(&format!("{DIR}/.deps/{f}")))
        .collect();
    let before: Vec<i128> = files.iter().map(|f| mtime_ns(f)).collect();
    assert_eq!(build_all(&repo), ["fresh"; 5]);
    let after: Vec<i128> = files.iter().map(|f| mtime_ns(f)).collect();
    assert_eq!(before, after, "the fast path writes nothing");

    // A lost pack: every target is still fresh (by its depfile), and the pack comes back.
    std::fs::remove_file(&files[0]).unwrap();
    assert_eq!(build_all(&repo), ["fresh"; 5]);
    assert_eq!(pack_ids(&repo), ids);
}

/// Rewrites the pack's block of `dir` with the stamps the files have now, keeping its id: a
/// pack that lies about a change.
fn forge_block(repo: &Repo, dir: &str) {
    let path = repo.path(&format!("{DIR}/.deps/stamp-blocks.pack"));
    let text = std::fs::read_to_string(&path).unwrap();
    let stamp = |rel: &str| {
        let m = std::fs::metadata(repo.path(rel)).unwrap();
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        let (mtime, ctime) = (ns(m.mtime(), m.mtime_nsec()), ns(m.ctime(), m.ctime_nsec()));
        format!("{} {mtime} {ctime} {}", m.size(), m.ino())
    };
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    out.push_str(lines.next().unwrap());
    out.push('\n');
    while let Some(header) = lines.next() {
        let mut block = Vec::new();
        while lines.peek().is_some_and(|l| !l.starts_with("block ")) {
            block.push(lines.next().unwrap().to_owned());
        }
        let id = header.split(' ').nth(1).unwrap();
        if block[0].starts_with("dir ") && block[0].ends_with(&format!(" {dir}")) {
            let mut files = String::new();
            for line in &block[1..] {
                match line.split_once(' ') {
                    Some(("file", rest)) => {
                        let name = rest.rsplit(' ').next().unwrap();
                        files.push_str(&format!(
                            "file {} {name}\n",
                            stamp(&format!("{dir}/{name}"))
                        ));
                    }
                    _ => files.push_str(&format!("{line}\n")),
                }
            }
            block = vec![format!("dir {} {} {dir}", files.len(), stamp(dir))];
            block.extend(files.lines().map(String::from));
        }
        let body: String = block.iter().map(|l| format!("{l}\n")).collect();
        out.push_str(&format!("block {id} {}\n{body}", body.len()));
    }
    assert_ne!(out, text, "no block of {dir}");
    std::fs::write(&path, out).unwrap();
}

#[test]
fn a_pack_that_lies_about_a_change_is_a_miss_not_a_stale_binary() {
    let repo = settled_repo();
    repo.write(
        "go/tools/cmd/report/main.go",
        "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"edited\") }\n",
    );
    forge_block(&repo, "go/tools/cmd/report");
    let out = repo.xtask(&["go-build", "--json"]).ok();
    assert_eq!(out.verdict("report"), "miss");
    assert_eq!(out.verdict("doc-generate"), "fresh");
    assert_eq!(
        Repo::run_file(&repo.path(&format!("{DIR}/report"))),
        "edited"
    );
}
