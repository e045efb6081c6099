//! Input sets never go stale: an edit that changes a package closure without changing any
//! directory listing (an import of an existing package, an embed pattern naming an existing
//! file, a flipped build constraint) makes the next build list its inputs again, so that later
//! edits of the newly reached files are seen, here and in a fresh clone restoring from the store.

use xtask_test_support::copy_dir;

use crate::support::{Outcome, Repo, APP};

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

/// Builds `go/native/lib/libgreet.a` from greet.c, whose function returns `value`. The mtime is
/// put back to `keep_mtime` when given: a library of the same size and mtime must still count.
fn build_c_library(repo: &Repo, value: u32, keep_mtime: Option<std::time::SystemTime>) {
    let native = repo.path("go/native");
    let source = format!("#include \"greet.h\"\n\nint greet_value(void) {{ return {value}; }}\n");
    std::fs::write(native.join("greet.c"), source).unwrap();
    std::fs::create_dir_all(native.join("lib")).unwrap();
    let sh = |program: &str, args: &[&str]| {
        let status = std::process::Command::new(program)
            .args(args)
            .current_dir(&native)
            .status()
            .unwrap();
        assert!(status.success(), "{program} {args:?}");
    };
    sh("cc", &["-c", "-Iinclude", "-o", "greet.o", "greet.c"]);
    let _ = std::fs::remove_file(native.join("lib/libgreet.a"));
    sh("ar", &["rcsD", "lib/libgreet.a", "greet.o"]);
    if let Some(mtime) = keep_mtime {
        std::fs::File::options()
            .write(true)
            .open(native.join("lib/libgreet.a"))
            .unwrap()
            .set_modified(mtime)
            .unwrap();
    }
}

/// cgo inputs go does not track: a header included from outside the package and a C library
/// named by `#cgo LDFLAGS`. A changed library (even of the same size and mtime) misses and
/// relinks; a changed header misses and recompiles; going back restores from the store.
#[test]
fn a_changed_c_library_or_outside_header_relinks() {
    let repo = Repo::copy_of("clib");
    let library = repo.path("go/native/lib/libgreet.a");
    build_c_library(&repo, 1, None);
    assert_eq!(build(&repo, &repo.root).1, "miss");
    assert_eq!(repo.run_app(), "value 1 base 10");
    assert_eq!(build(&repo, &repo.root).1, "fresh");

    let mtime = std::fs::metadata(&library).unwrap().modified().unwrap();
    build_c_library(&repo, 2, Some(mtime));
    let (out, verdict) = build(&repo, &repo.root);
    assert_eq!(verdict, "miss", "{}", out.stderr);
    assert_eq!(repo.run_app(), "value 2 base 10");
    assert_eq!(build(&repo, &repo.root).1, "fresh");
    // go itself sees a directory named by the native inputs' contents in its cgo flags.
    let clibs = std::fs::read_dir(repo.path("target/go/native"))
        .unwrap()
        .count();
    assert_eq!(
        clibs, 2,
        "one directory per content of the header and library"
    );

    repo.write(
        "go/native/include/greet.h",
        "#define GREET_BASE 20\n\nint greet_value(void);\n",
    );
    assert_eq!(build(&repo, &repo.root).1, "miss");
    assert_eq!(repo.run_app(), "value 2 base 20");

    build_c_library(&repo, 1, None);
    assert_eq!(build(&repo, &repo.root).1, "miss");
    assert_eq!(repo.run_app(), "value 1 base 20");
    repo.write(
        "go/native/include/greet.h",
        "#define GREET_BASE 10\n\nint greet_value(void);\n",
    );
    assert_eq!(build(&repo, &repo.root).1, "restored");
    assert_eq!(repo.run_app(), "value 1 base 10");
}
