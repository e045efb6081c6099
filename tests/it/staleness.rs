//! Input sets never go stale: an edit that changes a package closure without changing any
//! directory listing (an import of an existing package, an embed pattern naming an existing
//! file, a flipped build constraint) makes the next build list its inputs again, so that later
//! edits of the newly reached files are seen, here and in a fresh clone restoring from the store.

use crate::support::{copy_dir, Outcome, Repo, APP};

fn build(repo: &Repo, dir: &camino::Utf8Path) -> (Outcome, String) {
    let out = repo
        .xtask_in(dir, &["go-build", "--json", "--explain"])
        .env("XTASK_GO_CACHE_DIR", repo.scratch("store"))
        .ok();
    let verdict = out.verdict("app");
    (out, verdict)
}

fn run(path: &camino::Utf8Path) -> String {
    let out = std::process::Command::new(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

const MAIN: &str = "package main\n\nimport (\n\t\"fmt\"\n\n\t\"demo.test/cacheapp/extra\"\n\t\"demo.test/cacheapp/lib\"\n\t\"example.com/alpha\"\n)\n\nfunc main() { fmt.Println(lib.Greeting(), alpha.Greet(\"cache\"), extra.Msg) }\n";

/// The example: a package that exists first, is imported by an edit of main.go (no
/// listing changes), then edited itself: the binary must print the new value.
#[test]
fn an_import_of_an_existing_package_is_followed_into_later_edits() {
    let repo = Repo::copy_of("cache");
    repo.write(
        "go/app/extra/extra.go",
        "package extra\n\nconst Msg = \"one\"\n",
    );
    assert_eq!(build(&repo, &repo.root).1, "miss");
    repo.write("go/app/main.go", MAIN);
    assert_eq!(build(&repo, &repo.root).1, "miss");
    assert_eq!(repo.run_app(), "hello! Hi cache, from alpha v1.2.0 one");
    repo.write(
        "go/app/extra/extra.go",
        "package extra\n\nconst Msg = \"two\"\n",
    );
    assert_eq!(
        build(&repo, &repo.root).1,
        "miss",
        "the imported package changed"
    );
    assert_eq!(repo.run_app(), "hello! Hi cache, from alpha v1.2.0 two");
    assert_eq!(build(&repo, &repo.root).1, "fresh");

    // A fresh clone at another path, restoring from the same store: the stored input set must
    // hold extra/, so that a clone with another Msg is not served the "two" binary.
    let clone = repo.scratch("clone");
    copy_dir(&repo.path("go"), &clone.join("go"));
    std::fs::copy(repo.path("Cargo.toml"), clone.join("Cargo.toml")).unwrap();
    assert_eq!(build(&repo, &clone).1, "restored");
    assert_eq!(
        run(&clone.join(APP)),
        "hello! Hi cache, from alpha v1.2.0 two"
    );
    std::fs::write(
        clone.join("go/app/extra/extra.go"),
        "package extra\n\nconst Msg = \"three\"\n",
    )
    .unwrap();
    assert_eq!(build(&repo, &clone).1, "miss");
    assert_eq!(
        run(&clone.join(APP)),
        "hello! Hi cache, from alpha v1.2.0 three"
    );
}

/// A build constraint flipped on an existing file swaps which files build; an embed pattern
/// switched to another existing file changes what is embedded: later edits must be seen.
#[test]
fn flipped_constraints_and_switched_embed_patterns_list_again() {
    let repo = Repo::copy_of("cache");
    repo.write("go/app/extra/a.go", "package extra\n\nconst Msg = \"a\"\n");
    repo.write(
        "go/app/extra/b.go",
        "//go:build never\n\npackage extra\n\nconst Msg = \"b\"\n",
    );
    repo.write("go/app/main.go", MAIN);
    assert_eq!(build(&repo, &repo.root).1, "miss");
    assert_eq!(repo.run_app(), "hello! Hi cache, from alpha v1.2.0 a");
    // Swap the constraint from b.go to a.go (both files exist before and after).
    repo.write(
        "go/app/extra/a.go",
        "//go:build never\n\npackage extra\n\nconst Msg = \"a\"\n",
    );
    repo.write("go/app/extra/b.go", "package extra\n\nconst Msg = \"b\"\n");
    assert_eq!(build(&repo, &repo.root).1, "miss");
    assert_eq!(repo.run_app(), "hello! Hi cache, from alpha v1.2.0 b");
    repo.write("go/app/extra/b.go", "package extra\n\nconst Msg = \"B\"\n");
    assert_eq!(build(&repo, &repo.root).1, "miss");
    assert_eq!(repo.run_app(), "hello! Hi cache, from alpha v1.2.0 B");

    // Embed: two existing files; the pattern moves from one to the other, then it is edited.
    repo.write("go/app/extra/one.txt", "first");
    repo.write("go/app/extra/two.txt", "second");
    let embed = |file: &str| {
        format!("package extra\n\nimport _ \"embed\"\n\n//go:embed {file}\nvar Msg string\n")
    };
    repo.write("go/app/extra/b.go", &embed("one.txt"));
    assert_eq!(build(&repo, &repo.root).1, "miss");
    assert_eq!(repo.run_app(), "hello! Hi cache, from alpha v1.2.0 first");
    repo.write("go/app/extra/b.go", &embed("two.txt"));
    assert_eq!(build(&repo, &repo.root).1, "miss");
    assert_eq!(repo.run_app(), "hello! Hi cache, from alpha v1.2.0 second");
    repo.write("go/app/extra/two.txt", "changed");
    assert_eq!(
        build(&repo, &repo.root).1,
        "miss",
        "the newly embedded file changed"
    );
    assert_eq!(repo.run_app(), "hello! Hi cache, from alpha v1.2.0 changed");
}
