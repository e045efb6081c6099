//! `go-deps`: version skew across three modules that select different versions of alpha.

use crate::support::proxy::ModuleWorld;
use crate::support::Repo;

fn skew_repo(world: &ModuleWorld) -> Repo {
    let repo = Repo::copy_of("skew");
    world.write_go_sums(&repo, &["go/a", "go/b", "go/c"]);
    repo
}

#[test]
fn reports_who_needs_which_version() {
    let world = ModuleWorld::new();
    let repo = skew_repo(&world);
    let out = world.xtask(&repo, &["go-deps"]).ok();
    assert!(
        out.stderr
            .contains("example.com/alpha is selected at 2 versions:"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("v1.1.0       demo.test/a (go/a)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("v1.2.0       demo.test/b (go/b), demo.test/c (go/c)"),
        "c selects v1.2.0 through delta: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "3 Go modules, 5 distinct module versions, 1 dependency at different versions"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn json_and_deny_skew() {
    let world = ModuleWorld::new();
    let repo = skew_repo(&world);
    let out = world
        .xtask(&repo, &["go-deps", "--json", "--deny-skew"])
        .run();
    assert_eq!(out.code, 1, "{out:?}");
    let events = out.json_lines();
    let skew = events
        .iter()
        .find(|e| e["reason"] == "version-skew")
        .unwrap();
    assert_eq!(skew["module"], "example.com/alpha");
    assert_eq!(skew["versions"][0]["version"], "v1.1.0");
    assert_eq!(skew["versions"][0]["needed_by"][0]["module"], "demo.test/a");
    assert_eq!(
        skew["versions"][1]["needed_by"].as_array().unwrap().len(),
        2
    );
    let summary = events.last().unwrap();
    assert_eq!(summary["reason"], "deps-summary");
    assert_eq!(
        (
            summary["repo_modules"].as_u64(),
            summary["distinct_module_versions"].as_u64(),
            summary["skewed"].as_u64()
        ),
        (Some(3), Some(5), Some(1))
    );
    // Without disagreement, --deny-skew passes.
    std::fs::remove_dir_all(repo.path("go/a")).unwrap();
    world.xtask(&repo, &["go-deps", "--deny-skew"]).ok();
}
