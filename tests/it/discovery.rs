//! Discovery: modules from go.work or go.mod files, targets from go list or the config.

use crate::support::Repo;

fn list(repo: &Repo) -> serde_json::Value {
    let out = repo.xtask(&["go-list", "--json"]).ok();
    serde_json::from_str(&out.stdout).unwrap()
}

fn names(value: &serde_json::Value, field: &str, key: &str) -> Vec<String> {
    let mut names: Vec<String> = value[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[key].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn finds_modules_and_main_packages_through_go_work() {
    let repo = Repo::copy_of("workspace");
    // A go.mod the go.work does not use is not a module of the workspace.
    repo.write("go/stray/go.mod", "module demo.test/stray\n\ngo 1.21\n");
    repo.write("go/stray/main.go", "package main\n\nfunc main() {}\n");
    let value = list(&repo);
    assert!(value["gowork"].as_str().unwrap().ends_with("go/go.work"));
    assert_eq!(
        names(&value, "modules", "path"),
        ["demo.test/app", "demo.test/lib", "demo.test/tool"]
    );
    assert_eq!(names(&value, "targets", "name"), ["app", "other"]);
    let other = value["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "other")
        .unwrap();
    assert_eq!(other["package"], "demo.test/tool/cmd/other");
    assert_eq!(other["module"], "demo.test/tool");
}

#[test]
fn without_go_work_every_go_mod_under_go_is_a_module_except_vendor_testdata_and_hidden() {
    let repo = Repo::copy_of("workspace");
    repo.remove("go/go.work");
    repo.write(
        "go/tool/testdata/fake/go.mod",
        "module demo.test/fake\n\ngo 1.21\n",
    );
    repo.write("go/.hidden/go.mod", "module demo.test/hidden\n\ngo 1.21\n");
    repo.write(
        "go/app/vendor/x/go.mod",
        "module demo.test/vendored\n\ngo 1.21\n",
    );
    let value = list(&repo);
    assert!(value["gowork"].is_null());
    assert_eq!(
        names(&value, "modules", "path"),
        ["demo.test/app", "demo.test/lib", "demo.test/tool"]
    );
    assert_eq!(names(&value, "targets", "name"), ["app", "other"]);
}

#[test]
fn configured_targets_replace_discovery() {
    let repo = Repo::copy_of("workspace");
    repo.write(
        "Cargo.toml",
        r#"[workspace]
members = []

[[workspace.metadata.xtask-go.targets]]
name = "renamed"
module = "demo.test/tool"
package = "./cmd/other"
output = "other-bin"
ldflags = "-X main.version=1"
tags = ["netgo"]
platforms = ["x86_64-unknown-linux-gnu"]
"#,
    );
    let value = list(&repo);
    assert_eq!(names(&value, "targets", "name"), ["renamed"]);
    let t = &value["targets"][0];
    assert_eq!(t["package"], "demo.test/tool/cmd/other");
    assert_eq!(t["output"], "other-bin");
    assert_eq!(t["tags"][0], "netgo");
    repo.xtask(&["go-build"]).ok();
    assert!(repo
        .path("target/go/x86_64-unknown-linux-gnu/debug/other-bin")
        .is_file());
}

#[test]
fn a_config_typo_is_an_error_that_names_the_manifest() {
    let repo = Repo::copy_of("workspace");
    repo.write(
        "Cargo.toml",
        "[workspace]\nmembers = []\n\n[workspace.metadata.xtask-go]\nrootz = [\"go\"]\n",
    );
    let out = repo.xtask(&["go-list"]).run();
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("Cargo.toml") && out.stderr.contains("rootz"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_malformed_go_mod_is_an_error_that_names_the_file_and_line() {
    let repo = Repo::copy_of("workspace");
    repo.write(
        "go/lib/go.mod",
        "module demo.test/lib\n\ngo 1.21\nrequire broken\n",
    );
    let out = repo.xtask(&["go-build"]).run();
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("go/lib/go.mod:4"), "{}", out.stderr);
}

#[test]
fn a_go_directive_newer_than_the_toolchain_is_refused() {
    let repo = Repo::copy_of("workspace");
    repo.write("go/lib/go.mod", "module demo.test/lib\n\ngo 1.99\n");
    let out = repo.xtask(&["go-build"]).run();
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("go/lib/go.mod requires go 1.99"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_remembered_session_still_notices_new_packages_config_and_go_work_edits() {
    let repo = Repo::copy_of("workspace");
    // Stamps younger than the racy window are never trusted; let the copy settle.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(names(&list(&repo), "targets", "name"), ["app", "other"]);
    assert!(
        repo.path("target/go/session.json").is_file(),
        "the session snapshot is written"
    );
    assert_eq!(names(&list(&repo), "targets", "name"), ["app", "other"]);

    repo.write(
        "go/tool/cmd/third/main.go",
        "package main\n\nfunc main() {}\n",
    );
    assert_eq!(
        names(&list(&repo), "targets", "name"),
        ["app", "other", "third"]
    );

    repo.write("go/go.work", "go 1.21\n\nuse (\n\t./app\n\t./lib\n)\n");
    let value = list(&repo);
    assert_eq!(
        names(&value, "modules", "path"),
        ["demo.test/app", "demo.test/lib"]
    );
    assert_eq!(names(&value, "targets", "name"), ["app"]);

    repo.write("Cargo.toml", "[workspace]\nmembers = []\n\n[[workspace.metadata.xtask-go.targets]]\nname = \"only\"\nmodule = \"demo.test/app\"\npackage = \".\"\n");
    assert_eq!(names(&list(&repo), "targets", "name"), ["only"]);
}

#[test]
fn an_editors_atomic_save_just_before_a_run_keeps_the_session_snapshot() {
    let repo = Repo::copy_of("workspace");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(names(&list(&repo), "targets", "name"), ["app", "other"]);
    // An atomic save (a temp file renamed over the old one, as many editors and `sed -i` do)
    // moves the directory's stamp; the run that follows at once must still keep a snapshot
    // (before: every such run reloaded with cargo metadata and go list, ~0.5 s more per edit).
    let dir = "go/tool/cmd/other";
    let temp = repo.path(&format!("{dir}/.main.go.swp"));
    std::fs::write(&temp, "package main\n\n// saved\nfunc main() {}\n").unwrap();
    std::fs::rename(&temp, repo.path(&format!("{dir}/main.go"))).unwrap();
    let snapshot = repo.path("target/go/session.json");
    let written = std::fs::metadata(&snapshot).unwrap().modified().unwrap();
    assert_eq!(names(&list(&repo), "targets", "name"), ["app", "other"]);
    let again = std::fs::metadata(&snapshot).expect("the snapshot is kept");
    assert_eq!(written, again.modified().unwrap(), "reused, not reloaded");
    // A full load right after such a save keeps a snapshot too (its stamp is too recent to
    // prove anything, so the directory is checked by its listing).
    std::fs::remove_file(&snapshot).unwrap();
    std::fs::write(&temp, "package main\n\n// saved again\nfunc main() {}\n").unwrap();
    std::fs::rename(&temp, repo.path(&format!("{dir}/main.go"))).unwrap();
    assert_eq!(names(&list(&repo), "targets", "name"), ["app", "other"]);
    let text = std::fs::read_to_string(&snapshot).expect("a snapshot after an atomic save");
    let stamps: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(
        stamps["stamps"]
            .as_str()
            .unwrap()
            .lines()
            .any(|l| { l.starts_with("listed ") && l.ends_with(&format!(" {}", repo.path(dir))) }),
        "{text}"
    );
    let written = std::fs::metadata(&snapshot).unwrap().modified().unwrap();
    assert_eq!(names(&list(&repo), "targets", "name"), ["app", "other"]);
    let again = std::fs::metadata(&snapshot).unwrap().modified().unwrap();
    assert_eq!(written, again, "the listed snapshot was reused");
    // That directory is now trusted by its listing alone: a new entry in it is still noticed.
    repo.write(
        &format!("{dir}/sub/main.go"),
        "package main\n\nfunc main() {}\n",
    );
    assert_eq!(
        names(&list(&repo), "targets", "name"),
        ["app", "other", "sub"]
    );
}

#[test]
fn discovery_remembered_in_the_store_is_reused_only_for_the_same_tree() {
    let first = Repo::copy_of("workspace");
    let store = first.scratch("store");
    let list_with_store = |repo: &Repo| {
        let out = repo
            .xtask(&["go-list", "--json"])
            .env("XTASK_GO_CACHE_DIR", &store)
            .ok();
        serde_json::from_str::<serde_json::Value>(&out.stdout).unwrap()
    };
    assert_eq!(
        names(&list_with_store(&first), "targets", "name"),
        ["app", "other"]
    );
    // Another checkout of the same tree: the remembered targets, rebased on its own root.
    let second = Repo::copy_of("workspace");
    let value = list_with_store(&second);
    assert_eq!(names(&value, "targets", "name"), ["app", "other"]);
    let app = value["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "app")
        .unwrap()
        .clone();
    assert_eq!(
        app["package_dir"].as_str().unwrap(),
        second.path("go/app").as_str()
    );
    // The same directories, but a package clause changed: the record must not be trusted.
    let third = Repo::copy_of("workspace");
    third.write(
        "go/tool/cmd/other/main.go",
        "package other\n\n// Other is no longer a command.\nfunc Other() {}\n",
    );
    assert_eq!(names(&list_with_store(&third), "targets", "name"), ["app"]);
}
