//! Target names and outputs stay unique: many main packages in one module, directories of the
//! same name, and configured names or outputs that clash.

use crate::support::Repo;

const DIR: &str = "target/go/x86_64-unknown-linux-gnu/debug";

fn target_names(repo: &Repo) -> Vec<(String, String)> {
    let out = repo.xtask(&["go-list", "--json"]).ok();
    let value: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let mut names: Vec<(String, String)> = value["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let (name, package) = (t["name"].as_str(), t["package"].as_str());
            (name.unwrap().to_string(), package.unwrap().to_string())
        })
        .collect();
    names.sort();
    names
}

#[test]
fn mains_in_directories_of_one_name_get_the_shortest_names_that_tell_them_apart() {
    let repo = Repo::copy_of("manymains");
    let pairs = [
        ("cmd-generate", "demo.test/tools/cmd/generate"),
        ("doc-generate", "demo.test/tools/internal/doc/generate"),
        ("other-generate", "demo.test/other/cmd/generate"),
        (
            "protocol-generate",
            "demo.test/tools/internal/protocol/generate",
        ),
        ("report", "demo.test/tools/cmd/report"),
    ];
    let expected: Vec<(String, String)> = pairs
        .iter()
        .map(|(n, p)| (n.to_string(), p.to_string()))
        .collect();
    assert_eq!(target_names(&repo), expected);
    // Each output is its own program (before: two `tools-generate` targets wrote one file).
    let out = repo.xtask(&["go-build", "--json"]).ok();
    for (name, package) in pairs {
        assert_eq!(out.verdict(name), "miss");
        let printed = Repo::run_file(&repo.path(&format!("{DIR}/{name}")));
        assert_eq!(printed, package.trim_start_matches("demo.test/"), "{name}");
    }
    // And a no-op finds every one in place: none is "restored" over another's output.
    let again = repo.xtask(&["go-build", "--json"]).ok();
    for (name, _) in pairs {
        assert_eq!(again.verdict(name), "fresh", "{name}: {}", again.stderr);
    }
}

#[test]
fn configured_targets_with_one_name_or_one_output_are_refused_naming_both() {
    let repo = Repo::copy_of("manymains");
    let config = |second_name: &str, second_output: &str| {
        format!(
            r#"[workspace]
members = []

[[workspace.metadata.xtask-go.targets]]
name = "gen"
module = "demo.test/tools"
package = "./cmd/generate"

[[workspace.metadata.xtask-go.targets]]
name = "{second_name}"
module = "demo.test/other"
package = "./cmd/generate"
output = "{second_output}"
"#
        )
    };
    repo.write("Cargo.toml", &config("gen", "gen2"));
    let out = repo.xtask(&["go-build"]).run();
    assert_ne!(out.code, 0, "{out:?}");
    for needle in [
        "two Go targets are named `gen`",
        "demo.test/tools/cmd/generate",
        "demo.test/other/cmd/generate",
    ] {
        assert!(out.stderr.contains(needle), "{needle}: {}", out.stderr);
    }
    assert!(!repo.path(DIR).join("gen").exists(), "nothing was built");

    repo.write("Cargo.toml", &config("gen2", "gen"));
    let out = repo.xtask(&["go-build"]).run();
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("both write the output `gen`")
            && out.stderr.contains("demo.test/other/cmd/generate"),
        "{}",
        out.stderr
    );

    repo.write("Cargo.toml", &config("gen2", "gen2"));
    let out = repo.xtask(&["go-build"]).ok();
    assert_eq!(out.code, 0);
    assert_eq!(
        Repo::run_file(&repo.path(&format!("{DIR}/gen2"))),
        "other/cmd/generate"
    );
}

fn module_paths(repo: &Repo) -> Vec<String> {
    let out = repo.xtask(&["go-list", "--json"]).ok();
    let value: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let mut paths: Vec<String> = value["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["path"].as_str().unwrap().to_string())
        .collect();
    paths.sort();
    paths
}

#[test]
fn a_root_module_leaves_out_what_exclude_and_gitignore_name() {
    let repo = Repo::copy_of("rootmodule");
    // Written here, not kept in the fixture: the fixture's own .gitignore would hide it from git.
    repo.write(".gitignore", "/target/\nscratch/\n");
    repo.write("scratch/m/go.mod", "module demo.test/scratch\n\ngo 1.21\n");
    repo.write("scratch/m/main.go", "package main\n\nfunc main() {}\n");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(module_paths(&repo), ["demo.test/root"]);
    assert_eq!(
        target_names(&repo),
        [("tool".to_string(), "demo.test/root/cmd/tool".to_string())]
    );
    let out = repo.xtask(&["go-build", "--json"]).ok();
    assert_eq!(out.verdict("tool"), "miss");
    assert_eq!(Repo::run_file(&repo.path(&format!("{DIR}/tool"))), "tool");
    // The build wrote target/: the session still holds (target/ is ignored), nothing new found.
    assert_eq!(module_paths(&repo), ["demo.test/root"]);

    // An in-place edit of .gitignore is noticed by a remembered session.
    repo.write(".gitignore", "/target/\n");
    assert_eq!(module_paths(&repo), ["demo.test/root", "demo.test/scratch"]);
    // And the exclude line is what keeps the fixture out.
    repo.write(
        "Cargo.toml",
        "[workspace]\nmembers = []\n\n[workspace.metadata.xtask-go]\nroots = [\".\"]\n",
    );
    assert_eq!(
        module_paths(&repo),
        ["demo.test/root", "demo.test/sample", "demo.test/scratch"]
    );
}

#[test]
fn a_malformed_exclude_line_is_an_error_naming_it() {
    let repo = Repo::copy_of("rootmodule");
    repo.write(
        "Cargo.toml",
        "[workspace]\nmembers = []\n\n[workspace.metadata.xtask-go]\nroots = [\".\"]\nexclude = [\"a/[z-a]\"]\n",
    );
    let out = repo.xtask(&["go-list"]).run();
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("a/[z-a]"), "{}", out.stderr);
}

#[test]
fn a_project_inside_another_repositorys_ignored_directory_still_finds_its_modules() {
    let repo = Repo::copy_of("workspace");
    // As the bench repos under this repo's own target/: the enclosing work tree ignores the
    // project's directory, which must not hide the project from itself.
    let outer = repo.path("").parent().unwrap().to_owned();
    std::fs::create_dir_all(outer.join(".git")).unwrap();
    let name = repo.path("").file_name().unwrap().to_string();
    std::fs::write(outer.join(".gitignore"), format!("/{name}/\n")).unwrap();
    let names: Vec<String> = target_names(&repo).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["app", "other"]);
}
