//! The differential test of the vendored file set: the real `go mod vendor` against what
//! `go-vendor --check` expects (`ops/vendoring/expected.rs`), file for file, on the fixture
//! modules `example.com/rules` (every case the selection rules decide), its nested module and a
//! local replacement with symlinks, for main modules at go 1.16, 1.21 and 1.22, cgo off and on.

use std::collections::BTreeSet;

use camino::Utf8Path;

use super::vendoring::{findings, summary, VendorRepo};

const APPS: [&str; 3] = ["go/app116", "go/app121", "go/app122"];

/// Every path under `vendor` but modules.txt, relative to it (symlinks too: go writes none).
fn files_under(vendor: &Utf8Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut pending = vec![vendor.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in dir.read_dir_utf8().unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                pending.push(entry.path().to_owned());
            } else {
                found.insert(entry.path().strip_prefix(vendor).unwrap().to_string());
            }
        }
    }
    found.remove("modules.txt");
    found
}

/// `go mod vendor` in `app`, as a user runs it, against the fixture proxy.
fn go_mod_vendor(vr: &VendorRepo, app: &str, cgo: bool) {
    let dir = vr.path(app);
    let _ = std::fs::remove_dir_all(dir.join("vendor"));
    let out = std::process::Command::new("go")
        .args(["mod", "vendor"])
        .current_dir(&dir)
        .env("GOFLAGS", "-mod=mod")
        .env("GOWORK", "off")
        .env("GOENV", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOPROXY", vr.proxy.url())
        .env("GOSUMDB", "off")
        .env("GOMODCACHE", &vr.modcache)
        .env("GOCACHE", vr.repo.scratch("gocache"))
        .env("CGO_ENABLED", if cgo { "1" } else { "0" })
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "go mod vendor in {app}: {stderr}");
}

/// The symlinks of the fixture (a module zip cannot hold one; a repository can).
fn add_symlinks(vr: &VendorRepo) {
    let link = |target: &str, at: &str| std::os::unix::fs::symlink(target, vr.path(at)).unwrap();
    // A main module's Go file that is a symlink: go reads its imports.
    link("../../shared/viasymlink.go.txt", "go/app122/viasymlink.go");
    // In a replacement directory: go copies regular files only, and embeds none through one.
    link("local.go", "third_party/localrules/link.go");
    link("a.txt", "third_party/localrules/data/link.txt");
}

#[test]
fn go_mod_vendor_writes_exactly_the_files_the_check_expects() {
    let vr = VendorRepo::new("vendor-rules");
    add_symlinks(&vr);
    for cgo in [false, true] {
        let config =
            format!("[workspace]\nmembers = []\n\n[workspace.metadata.xtask-go]\ncgo = {cgo}\n");
        vr.repo.write("Cargo.toml", &config);
        let mut written = 0;
        for app in APPS {
            go_mod_vendor(&vr, app, cgo);
            let files = files_under(&vr.path(&format!("{app}/vendor")));
            go_decided_as_documented(app, &files, cgo);
            written += files.len();
        }
        if !cgo {
            // Old enough to be remembered: the second check below trusts the stamps.
            std::thread::sleep(std::time::Duration::from_millis(2100));
        }
        // Hashing the module cache, then (remembered) reading only what vendoring needs.
        let _ = std::fs::remove_file(vr.path("target/go/vendor-verified"));
        for (run, by_stamps) in [(1, "0 by their files' stamps"), (2, "0 hashed")] {
            let out = vr.check();
            let found: Vec<String> = findings(&out)
                .iter()
                .map(|f| format!("{} {} {}", f["kind"], f["path"], f["detail"]))
                .collect();
            assert_eq!(found, Vec::<String>::new(), "cgo {cgo}, run {run}: {out:?}");
            assert!(out.stderr.contains(by_stamps), "run {run}: {}", out.stderr);
            let total = summary(&out);
            assert_eq!(total["outcome"], "clean", "cgo {cgo}: {total}");
            assert_eq!(total["trees"], 3);
            assert_eq!(total["excluded_by_repo"], 0, "{total}");
            assert_eq!(total["unchecked"], 0, "{total}");
            assert_eq!(total["files"], written, "go wrote {written} files: {total}");
        }
    }
}

/// What go wrote for `app`, case by case: the rules the check must follow. A failure here
/// means go's behaviour differs from what the fixture documents (fix the fixture's README and
/// /work/shared/go-facts.md's account, then the check).
fn go_decided_as_documented(app: &str, files: &BTreeSet<String>, cgo: bool) {
    let r = |p: &str| format!("example.com/rules/{p}");
    let always: Vec<String> = [
        // Every regular file of a package directory: dotfiles, `_` files, non-Go files.
        "LICENSE",
        "COPYING",
        "AUTHORS",
        "README.md",
        ".editorconfig",
        "_notes.txt",
        ".hidden.go",
        "_skip.go",
        "rules.go",
        "linux.go",
        "windows.go",
        "ignore_or_linux.go",
        "not_ignore.go",
        // Packages only some build tags import; what an ignored generator embeds.
        "linuxonly/l.go",
        "windowsonly/w.go",
        "gendata/g.txt",
        // LICENSE-like files of parent directories; a package's non-Go files.
        "deep/NOTICE",
        "deep/er/LICENSE.txt",
        "deep/er/PATENTS",
        "deep/er/pkg/p.go",
        "deep/er/pkg/data.json",
        // Assembly, syso, C files.
        "asm/add_amd64.s",
        "asm/blob_linux_amd64.syso",
        "asm/helper.c",
        "asm/helper.h",
        "cgo/cgo.go",
        "cgo/c.c",
        "cgo/c.h",
        // Embeds: a glob (hidden names too), a directory, all:, testdata, a hidden file named.
        "embeds/file.txt",
        "embeds/templates/a.tmpl",
        "embeds/templates/.hidden.tmpl",
        "embeds/assets/x.txt",
        "embeds/assets/sub/y.txt",
        "embeds/assets/testdata/t.txt",
        "embeds/static/.keep",
        "embeds/static/_u.css",
        "embeds/static/app.js",
        "embeds/testdata/golden.txt",
        "embeds/hidden/.secret",
        "embeds/doc.go",
        "embeds/_under.go",
        // The nested module.
        "nested/LICENSE",
        "nested/nested.go",
        "nested/inner/inner.go",
        "nested/inner/NOTES.md",
    ]
    .iter()
    .map(|p| r(p))
    .chain(["LICENSE", "local.go", "data/a.txt"].map(|p| format!("example.com/localrules/{p}")))
    .collect();
    let never: Vec<String> = [
        "deep/license.md",
        "gen.go",
        "ignore_and_linux.go",
        "rules_test.go",
        "genonly/g.go",
        "unembedded/by_underscore.txt",
        "testdata/fixture.txt",
        "deep/er/pkg/testdata/case.txt",
        "deep/er/pkg/sub/notes.md",
        "deep/er/pkg/p_test.go",
        "embeds/templates/c.txt",
        "embeds/assets/.dot.txt",
        "embeds/assets/_under/z.txt",
        "embeds/testdata/other.txt",
        "embeds/hidden/plain.txt",
        "embeds/docdata/d.txt",
        "embeds/underscore/u.txt",
        "embeds/embeds_test.go",
    ]
    .iter()
    .map(|p| r(p))
    .chain(
        [
            "link.go",
            "data/link.txt",
            "data/inner/i.txt",
            "data/inner/go.mod",
            "nestedmod/n.go",
        ]
        .map(|p| format!("example.com/localrules/{p}")),
    )
    .collect();
    let old = app == "go/app116";
    let depends = [
        (r("cgo/cgodata/c.txt"), cgo),
        (r("go.mod"), old),
        (r("go.sum"), old),
        (r("embeds/testonly/t.txt"), app != "go/app122"),
        (r("unimported/u.go"), app == "go/app122"),
    ];
    for path in &always {
        assert!(
            files.contains(path),
            "{app}: go did not vendor {path}: {files:#?}"
        );
    }
    for path in &never {
        assert!(!files.contains(path), "{app}: go vendored {path}");
    }
    for (path, wanted) in &depends {
        assert_eq!(files.contains(path), *wanted, "{app} (cgo {cgo}): {path}");
    }
}
