//! Missed units that share a module (or a go.work), a platform and the flags that shape output
//! are built by one go invocation; a failure in one still names its target and lets the others
//! land.

use crate::support::{logging_go, Repo};

const DIR: &str = "target/go/x86_64-unknown-linux-gnu/debug";

fn builds_in(log: &camino::Utf8Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("build "))
        .map(String::from)
        .collect()
}

#[test]
fn misses_of_one_workspace_share_one_go_build_and_each_gets_its_own_output() {
    let repo = Repo::copy_of("manymains");
    let (shim, log) = logging_go(&repo, "");
    let out = repo.xtask(&["go-build", "--json"]).env("GO", &shim).ok();
    for name in ["other-generate", "report", "cmd-generate", "doc-generate"] {
        assert_eq!(out.verdict(name), "miss", "{name}");
    }
    // Four programs are named `generate` by go (`-o DIR/` writes the last path element), so they
    // need four invocations; `report` shares the first.
    let builds = builds_in(&log);
    assert_eq!(builds.len(), 4, "{builds:#?}");
    let shared = builds
        .iter()
        .find(|b| b.contains("demo.test/tools/cmd/report"))
        .unwrap();
    assert!(shared.contains("demo.test/other/cmd/generate"), "{shared}");
    assert!(shared.contains("/out/ "), "one -o DIR/ for all: {shared}");
    assert_eq!(
        Repo::run_file(&repo.path(&format!("{DIR}/report"))),
        "tools/cmd/report"
    );
    assert_eq!(
        Repo::run_file(&repo.path(&format!("{DIR}/other-generate"))),
        "other/cmd/generate"
    );
    // Each was recorded on its own: a no-op runs no go at all.
    std::fs::remove_file(&log).unwrap();
    let again = repo.xtask(&["go-build", "--json"]).env("GO", &shim).ok();
    assert_eq!(again.verdict("report"), "fresh");
    assert!(builds_in(&log).is_empty());
}

#[test]
fn a_broken_package_in_a_batch_names_its_target_and_the_others_still_land() {
    let repo = Repo::copy_of("manymains");
    repo.write(
        "go/tools/cmd/report/main.go",
        "package main\n\nfunc main() { undefinedCall() }\n",
    );
    let out = repo.xtask(&["go-build", "--json"]).run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("could not build `report`") && out.stderr.contains("undefinedCall"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("could not build `other-generate`"),
        "{}",
        out.stderr
    );
    assert_eq!(
        Repo::run_file(&repo.path(&format!("{DIR}/other-generate"))),
        "other/cmd/generate"
    );
    assert!(!repo.path(&format!("{DIR}/report")).exists());
    // Fixed, only the broken one builds.
    repo.write(
        "go/tools/cmd/report/main.go",
        "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"fixed\") }\n",
    );
    let out = repo.xtask(&["go-build", "--json"]).ok();
    assert_eq!(out.verdict("report"), "miss");
    assert_eq!(out.verdict("other-generate"), "fresh");
    assert_eq!(
        Repo::run_file(&repo.path(&format!("{DIR}/report"))),
        "fixed"
    );
}

#[test]
fn an_input_edited_while_a_batch_builds_is_not_stored_for_the_target_that_reads_it() {
    let repo = Repo::copy_of("manymains");
    // A go that edits `report`'s main.go as the batch that builds it starts (fault injection).
    let victim = repo.path("go/tools/cmd/report/main.go");
    let hook = format!(
        "case \"$*\" in *cmd/report*) echo '// edited during the build' >> '{victim}';; esac;"
    );
    let (shim, _log) = logging_go(&repo, &hook);
    let out = repo.xtask(&["go-build", "--json"]).env("GO", &shim).ok();
    assert!(
        out.stderr
            .contains("changed while `report` was building; not caching this build"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("while `other-generate`"),
        "{}",
        out.stderr
    );
    // The batch's other target was stored; `report` trusts nothing from that build.
    let again = repo.xtask(&["go-build", "--json"]).ok();
    assert_eq!(again.verdict("report"), "miss");
    assert_eq!(again.verdict("other-generate"), "fresh");
    assert_eq!(
        repo.xtask(&["go-build", "--json"]).ok().verdict("report"),
        "fresh"
    );
}
