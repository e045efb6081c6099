//! Discovery by package clauses: the main packages found without go are exactly those real
//! `go list ./...` reports, and a module whose clauses cannot decide is listed by go.

use std::process::Command;

use crate::support::{logging_go, real_go, shared_gocache, Repo};

const MAIN: &str = "package main\n\nfunc main() {}\n";

/// The main packages real `go list -e ./...` reports in `module_dir`, as discovery takes them
/// (a package whose every file this build excludes is none).
fn go_listed_mains(repo: &Repo, module_dir: &str) -> Vec<String> {
    let out = Command::new(real_go())
        .args(["list", "-e", "-json=Name,ImportPath,Error", "./..."])
        .current_dir(repo.path(module_dir))
        .env("GOWORK", "off")
        .env("GOFLAGS", "-mod=mod")
        .env("GOENV", "off")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("CGO_ENABLED", "0")
        .env("GOCACHE", shared_gocache())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut mains: Vec<String> = serde_json::Deserializer::from_slice(&out.stdout)
        .into_iter::<serde_json::Value>()
        .map(Result::unwrap)
        .filter(|p| p["Name"] == "main")
        .filter(|p| {
            !p["Error"]["Err"]
                .as_str()
                .is_some_and(|e| e.contains("build constraints exclude all Go files"))
        })
        .map(|p| p["ImportPath"].as_str().unwrap().to_string())
        .collect();
    mains.sort();
    mains
}

#[test]
fn package_clauses_find_what_go_list_finds_and_leave_undecided_modules_to_go() {
    let repo = Repo::copy_of("workspace");
    repo.remove("go/go.work");
    // Every directory of this module is decided by its clauses, including what go skips.
    let decided = [
        ("go.mod", "module demo.test/scan\n\ngo 1.21\n"),
        ("main.go", MAIN),
        (
            "cmd/a/main.go",
            "// Copyright.\n/* A block. */\npackage main\n\nfunc main() {}\n",
        ),
        ("cmd/b/main.go", MAIN),
        ("cmd/b/b_linux.go", "package main\n"),
        ("cmd/b/b_test.go", "package main\n"),
        ("cmd/c/tools.go", "//go:build tools\n\npackage main\n"),
        ("cmd/c/main.go", MAIN),
        ("lib/lib.go", "package lib\n"),
        ("lib/lib_linux.go", "package lib\n"),
        ("lib/lib_test.go", "package lib_test\n"),
        (
            "lib/gen.go",
            "//go:build ignore\n\npackage main\n\nfunc main() {}\n",
        ),
        (
            "gen/main.go",
            "//go:build ignore\n\npackage main\n\nfunc main() {}\n",
        ),
        ("cmd/d/main.go", MAIN),
        ("cmd/d/bad.go", "//go:build (linux\n\npackage other\n"),
        ("cmd/a/main_test.go", "package main_test\n"),
        // The host's build (linux/amd64, no cgo, this go) decides these.
        ("cmd/l/main_linux.go", MAIN),
        (
            "cmd/u/main.go",
            "//go:build unix || windows\n\npackage main\n\nfunc main() {}\n",
        ),
        (
            "cmd/r/main.go",
            "//go:build go1.18\n\npackage main\n\nfunc main() {}\n",
        ),
        (
            "cmd/future/main.go",
            "//go:build go1.999\n\npackage main\n\nfunc main() {}\n",
        ),
        ("cmd/ar/x_arm64_linux.go", "package main\n"),
        ("cmd/ar/main.go", MAIN),
        ("cmd/w/main_windows.go", MAIN),
        (
            "cmd/nl/main.go",
            "//go:build !linux\n\npackage main\n\nfunc main() {}\n",
        ),
        (
            "cgo/main.go",
            "package main\n\n// int x;\nimport \"C\"\n\nfunc main() {}\n",
        ),
        ("itest/x_test.go", "package itest\n"),
        ("xtest/x_test.go", "package xtest_test\n"),
        ("doc/doc.go", "package documentation\n"),
        ("onlyc/x.c", "int x;\n"),
        ("_skip/main.go", MAIN),
        (".hidden/main.go", MAIN),
        ("testdata/main.go", MAIN),
        ("cmd/a/testdata/tool/main.go", MAIN),
        ("vendor/demo.test/v/main.go", MAIN),
        ("nested/go.mod", "module demo.test/nested\n\ngo 1.21\n"),
        ("nested/main.go", MAIN),
        ("nested/cmd/n/main.go", MAIN),
    ];
    for (rel, text) in decided {
        repo.write(&format!("go/scan/{rel}"), text);
    }
    // go ignores a symlinked directory in `./...`.
    std::os::unix::fs::symlink(repo.path("go/scan/cmd/a"), repo.path("go/scan/cmd/link")).unwrap();
    // Here only go can tell: a program for a custom tag, and a broken one.
    let undecided = [
        ("go.mod", "module demo.test/tricky\n\ngo 1.21\n"),
        (
            "custom/main.go",
            "//go:build special\n\npackage main\n\nfunc main() {}\n",
        ),
        ("plain/main.go", MAIN),
        // go names a package after its first file, a test too: this one is `other`.
        ("mixed/a_test.go", "package other\n"),
        ("mixed/main.go", MAIN),
    ];
    for (rel, text) in undecided {
        repo.write(&format!("go/tricky/{rel}"), text);
    }
    let (shim, log) = logging_go(&repo, "");
    let out = repo.xtask(&["go-list", "--json"]).env("GO", &shim).ok();
    let value: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    for (module, dir) in [
        ("demo.test/scan", "go/scan"),
        ("demo.test/nested", "go/scan/nested"),
        ("demo.test/tricky", "go/tricky"),
        ("demo.test/app", "go/app"),
    ] {
        let mut found: Vec<String> = value["targets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["module"] == module)
            .map(|t| t["package"].as_str().unwrap().to_string())
            .collect();
        found.sort();
        assert_eq!(found, go_listed_mains(&repo, dir), "{module}");
    }
    let listed = |package: &str| {
        value["targets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["package"] == package)
    };
    assert!(listed("demo.test/scan/cmd/l") && listed("demo.test/scan/cmd/r"));
    // go listed the undecided module, and only that one.
    let log = std::fs::read_to_string(&log).unwrap();
    let listings: Vec<&str> = log.lines().filter(|l| l.starts_with("list -e")).collect();
    assert_eq!(listings.len(), 1, "{log}");
    assert!(listings[0].ends_with("/go/tricky"), "{log}");
}

#[test]
fn tags_in_the_configs_goflags_leave_discovery_to_go() {
    let repo = Repo::copy_of("workspace");
    repo.write(
        "Cargo.toml",
        "[workspace]\nmembers = []\n\n[workspace.metadata.xtask-go]\ngoflags = [\"-tags=windows\"]\n",
    );
    // With `-tags=windows` go takes a `_windows.go` file on linux too.
    repo.write("go/app/cmd/w/main_windows.go", MAIN);
    let (shim, log) = logging_go(&repo, "");
    let out = repo.xtask(&["go-list", "--json"]).env("GO", &shim).ok();
    let value: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        value["targets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["package"] == "demo.test/app/cmd/w"),
        "{}",
        out.stdout
    );
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.lines().any(|l| l.starts_with("list -e")), "{log}");
}
