//! `go-vendor`: vendor trees made by the real go from the fixture proxy, then checked file by file.

#[path = "support/vendoring.rs"]
mod vendoring;

use vendoring::{findings, kinds_and_paths, summary, VendorRepo};

/// The `vendored` fixture with both modules vendored by `go-vendor` (go mod vendor).
fn vendored() -> VendorRepo {
    let vr = VendorRepo::new("vendored");
    let out = vr.vendor(&["go/app", "go/svc"]);
    assert!(out.stderr.contains("(go mod vendor)"), "{}", out.stderr);
    for module in ["go/app", "go/svc"] {
        assert!(vr.path(&format!("{module}/vendor/modules.txt")).is_file());
    }
    vr
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, p)| (k.to_string(), p.to_string()))
        .collect()
}

#[test]
fn clean_trees_pass_and_the_same_dependency_at_two_versions_is_listed() {
    let vr = vendored();
    let out = vr.check();
    assert_eq!(out.code, 0, "{out:?}");
    assert!(findings(&out).is_empty(), "{out:?}");
    let total = summary(&out);
    assert_eq!(total["outcome"], "clean");
    assert_eq!(total["trees"], 2);
    assert!(total["files"].as_u64().unwrap() >= 8, "{total}");
    let skew: Vec<_> = out
        .json_lines()
        .into_iter()
        .filter(|r| r["reason"] == "version-skew")
        .collect();
    assert_eq!(skew.len(), 1, "{out:?}");
    assert_eq!(skew[0]["module"], "example.com/alpha");
    assert_eq!(skew[0]["versions"]["v1.1.0"][0], "go/app");
    assert_eq!(skew[0]["versions"]["v1.2.0"][0], "go/svc");

    let human = vr.xtask(&["go-vendor", "--check"]).ok();
    assert!(human.stdout.contains("go/app/vendor:"), "{}", human.stdout);
    assert!(human.stdout.contains("MODULE"), "{}", human.stdout);
    assert!(
        human.stdout.contains("example.com/beta@v1.0.0"),
        "{}",
        human.stdout
    );
    assert!(
        human
            .stdout
            .contains("example.com/alpha: v1.1.0 in go/app; v1.2.0 in go/svc"),
        "{}",
        human.stdout
    );
    assert!(human.stderr.contains("Finished"), "{}", human.stderr);
}

#[test]
fn a_same_size_edit_of_a_vendored_file_is_modified() {
    let vr = vendored();
    vr.edit(
        "go/app/vendor/example.com/beta/beta.go",
        "Words returns",
        "Words RETURNS",
    );
    let out = vr.check();
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        kinds_and_paths(&out),
        pairs(&[("modified", "vendor/example.com/beta/beta.go")])
    );
    let finding = &findings(&out)[0];
    assert_eq!(finding["module"], "example.com/beta@v1.0.0");
    assert_eq!(finding["tree"], "go/app");
    let detail = finding["detail"].as_str().unwrap();
    assert!(
        detail.contains("go.sum-verified module cache") && detail.contains("same size"),
        "{detail}"
    );
    let human = vr.xtask(&["go-vendor", "--check"]).run();
    assert_eq!(human.code, 1);
    assert!(
        human.stdout.contains(
            "modified      example.com/beta@v1.0.0  vendor/example.com/beta/beta.go (content differs"
        ),
        "{}",
        human.stdout
    );
}

#[test]
fn a_deleted_embed_target_is_missing() {
    let vr = vendored();
    vr.repo
        .remove("go/app/vendor/example.com/beta/data/words.txt");
    let out = vr.check();
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        kinds_and_paths(&out),
        pairs(&[("missing", "vendor/example.com/beta/data/words.txt")])
    );
}

#[test]
fn an_added_file_is_extra() {
    let vr = vendored();
    vr.repo.write(
        "go/app/vendor/example.com/alpha/backdoor.go",
        "package alpha\n\nfunc init() {}\n",
    );
    let out = vr.check();
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        kinds_and_paths(&out),
        pairs(&[("extra", "vendor/example.com/alpha/backdoor.go")])
    );
    assert_eq!(findings(&out)[0]["module"], "example.com/alpha@v1.1.0");
}

#[test]
fn a_package_line_removed_from_modules_txt_is_caught_though_go_builds() {
    let vr = vendored();
    vr.edit(
        "go/app/vendor/modules.txt",
        "example.com/beta/strutil\n",
        "",
    );
    let out = vr.check();
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        kinds_and_paths(&out),
        pairs(&[
            ("extra", "vendor/example.com/beta/strutil/strutil.go"),
            ("inconsistent", "vendor/modules.txt"),
        ])
    );
}

#[test]
fn go_mod_bumped_without_re_vendoring_is_inconsistent_in_gos_words() {
    let vr = vendored();
    vr.edit(
        "go/app/go.mod",
        "example.com/alpha v1.1.0",
        "example.com/alpha v1.2.0",
    );
    let out = vr.check();
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        kinds_and_paths(&out),
        pairs(&[
            ("inconsistent", "vendor/modules.txt"),
            ("inconsistent", "vendor/modules.txt"),
        ])
    );
    let details: Vec<String> = findings(&out)
        .iter()
        .map(|f| f["detail"].as_str().unwrap().to_owned())
        .collect();
    // go's own wording, checked against the real go below.
    let required = "example.com/alpha@v1.2.0: is explicitly required in go.mod, but not marked as explicit in vendor/modules.txt";
    let explicit = "example.com/alpha@v1.1.0: is marked as explicit in vendor/modules.txt, but not explicitly required in go.mod";
    assert!(details[0].starts_with(required), "{details:?}");
    assert_eq!(details[1], explicit);
    let go = std::process::Command::new("go")
        .args(["list", "./..."])
        .current_dir(vr.path("go/app"))
        .env("GOFLAGS", "-mod=vendor")
        .env("GOWORK", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOPROXY", "off")
        .env("GOMODCACHE", &vr.modcache)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&go.stderr);
    assert!(
        stderr.contains(required) && stderr.contains(explicit),
        "{stderr}"
    );
}

#[test]
fn a_local_replacement_that_changed_is_caught() {
    let vr = vendored();
    vr.edit(
        "third_party/widget/widget.go",
        "BigCo widget",
        "Forked widget",
    );
    let out = vr.check();
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        kinds_and_paths(&out),
        pairs(&[("modified", "vendor/example.com/BigCo/widget/widget.go")])
    );
    let finding = &findings(&out)[0];
    assert!(
        finding["detail"]
            .as_str()
            .unwrap()
            .contains("replacement directory"),
        "{finding}"
    );
    assert_eq!(
        finding["module"],
        "example.com/BigCo/widget@v1.0.0 => ../../third_party/widget"
    );

    // Pointing the replace directive elsewhere is a consistency problem, as go says.
    vr.edit(
        "third_party/widget/widget.go",
        "Forked widget",
        "BigCo widget",
    );
    xtask_test_support::copy_dir(
        &vr.path("third_party/widget"),
        &vr.path("third_party/widget2"),
    );
    vr.edit("go/app/go.mod", "third_party/widget", "third_party/widget2");
    let out = vr.check();
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        kinds_and_paths(&out),
        pairs(&[("inconsistent", "vendor/modules.txt")])
    );
    assert_eq!(
        findings(&out)[0]["detail"],
        "example.com/BigCo/widget: is replaced by ../../third_party/widget2 in go.mod, \
         but marked as replaced by ../../third_party/widget in vendor/modules.txt"
    );
}

#[test]
fn go_work_vendor_trees_are_generated_and_checked() {
    let vr = VendorRepo::new("vendored-work");
    let out = vr.vendor(&["demo.test/app"]);
    assert!(out.stderr.contains("(go work vendor)"), "{}", out.stderr);
    let modules_txt = std::fs::read_to_string(vr.path("go/vendor/modules.txt")).unwrap();
    assert!(modules_txt.starts_with("## workspace\n"), "{modules_txt}");
    let out = vr.check();
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(summary(&out)["trees"], 1);
    vr.edit("go/vendor/example.com/alpha/alpha.go", "\"Hi \"", "\"Yo \"");
    let out = vr.check();
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        kinds_and_paths(&out),
        pairs(&[("modified", "vendor/example.com/alpha/alpha.go")])
    );
    assert_eq!(findings(&out)[0]["tree"], "go");
}

#[cfg(unix)]
#[test]
fn a_symlink_planted_in_vendor_pointing_outside_is_an_anomaly() {
    let vr = vendored();
    let outside = vr.repo.scratch("outside").join("evil.go");
    std::fs::write(&outside, "package beta\n").unwrap();
    std::os::unix::fs::symlink(&outside, vr.path("go/app/vendor/example.com/beta/evil.go"))
        .unwrap();
    let out = vr.check();
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        kinds_and_paths(&out),
        pairs(&[("anomaly", "vendor/example.com/beta/evil.go")])
    );
    let detail = findings(&out)[0]["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("outside the vendor tree"), "{detail}");
}

#[test]
fn a_tampered_module_cache_entry_is_not_trusted() {
    let vr = vendored();
    // The attacker changes the vendored file and the module cache's extracted directory the
    // same way: the zip, still intact, is what the check trusts.
    let (from, to) = ("Words returns", "Words RETURNS");
    vr.edit("go/app/vendor/example.com/beta/beta.go", from, to);
    vr.tamper_cached_dir("example.com/beta", "v1.0.0", "beta.go", from, to);
    let cached_dir = vr.modcache.join("example.com/beta@v1.0.0");
    let out = vr.check();
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        kinds_and_paths(&out),
        pairs(&[
            ("anomaly", cached_dir.as_str()),
            ("modified", "vendor/example.com/beta/beta.go"),
        ])
    );
    let modified = findings(&out)
        .into_iter()
        .find(|f| f["kind"] == "modified")
        .unwrap();
    let detail = modified["detail"].as_str().unwrap();
    assert!(detail.contains("go.sum-verified zip"), "{detail}");
    assert!(!out.stderr.contains("Downloading"), "{}", out.stderr);

    // And the zip too: only a fresh download is left to trust.
    let tampered = vr.tampered_zip("example.com/beta", "v1.0.0", "beta.go", from, to);
    let cached = vr.cached_zip("example.com/beta", "v1.0.0");
    vendoring::make_file_writable(&cached);
    std::fs::copy(&tampered, &cached).unwrap();

    let out = vr.check();
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        kinds_and_paths(&out),
        pairs(&[
            ("anomaly", cached.as_str()),
            ("anomaly", cached_dir.as_str()),
            ("modified", "vendor/example.com/beta/beta.go"),
        ])
    );
    assert!(out.stderr.contains("Downloading"), "{}", out.stderr);

    // Offline, nothing trustworthy is left to compare with: could not check.
    let out = vr
        .xtask(&["go-vendor", "--check", "--json", "--offline"])
        .run();
    assert_eq!(out.code, 2, "{out:?}");
    let unchecked: Vec<_> = out
        .json_lines()
        .into_iter()
        .filter(|r| r["reason"] == "could-not-check")
        .collect();
    assert_eq!(unchecked.len(), 1, "{out:?}");
    assert_eq!(unchecked[0]["module"], "example.com/beta@v1.0.0");
}

#[test]
fn a_package_missing_from_both_modules_txt_and_vendor_is_found_from_its_importers() {
    let vr = vendored();
    // A main-module import that no module provides at all.
    let extra = vr.path("go/app/extra.go");
    std::fs::write(
        &extra,
        "package main\n\nimport _ \"example.org/nowhere/pkg\"\n",
    )
    .unwrap();
    let out = vr.check();
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        kinds_and_paths(&out),
        pairs(&[("inconsistent", "vendor/modules.txt")])
    );
    let detail = findings(&out)[0]["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.contains("example.org/nowhere/pkg") && detail.contains("go/app/extra.go"),
        "{detail}"
    );
    std::fs::remove_file(&extra).unwrap();

    // beta.go imports example.com/beta/strutil: drop that package from modules.txt and vendor/.
    vr.edit(
        "go/app/vendor/modules.txt",
        "example.com/beta/strutil\n",
        "",
    );
    std::fs::remove_dir_all(vr.path("go/app/vendor/example.com/beta/strutil")).unwrap();
    let out = vr.check();
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        kinds_and_paths(&out),
        pairs(&[("missing", "vendor/example.com/beta/strutil/")])
    );
    let detail = findings(&out)[0]["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.contains("imported by vendor/example.com/beta/beta.go"),
        "{detail}"
    );
}

#[test]
fn files_the_repos_gitignore_excludes_are_reported_apart_not_as_drift() {
    let vr = vendored();
    // As on a fresh clone of a repo whose .gitignore lists a file go mod vendor writes.
    vr.repo.write(".gitignore", "README.md\nwords.txt\n");
    vr.repo.write(
        "go/app/vendor/example.com/beta/.gitignore",
        "!data/words.txt\n",
    );
    vr.repo.remove("go/app/vendor/example.com/beta/README.md");
    vr.repo
        .remove("go/app/vendor/example.com/beta/data/words.txt");
    let out = vr.check();
    // The negation in the deeper .gitignore re-includes words.txt: its absence is drift; the
    // README's is by design. (The planted .gitignore itself is an extra file of the module.)
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        kinds_and_paths(&out),
        pairs(&[
            ("extra", "vendor/example.com/beta/.gitignore"),
            ("missing", "vendor/example.com/beta/data/words.txt"),
        ])
    );
    vr.repo.remove("go/app/vendor/example.com/beta/.gitignore");
    let out = vr.check();
    assert_eq!(out.code, 0, "{out:?}");
    let excluded: Vec<_> = out
        .json_lines()
        .into_iter()
        .filter(|r| r["reason"] == "excluded-by-repo")
        .collect();
    assert_eq!(excluded.len(), 2, "{out:?}");
    assert_eq!(excluded[0]["path"], "vendor/example.com/beta/README.md");
    assert_eq!(excluded[0]["ignore_file"], ".gitignore");
    assert_eq!(excluded[0]["rule"], "README.md");
    assert_eq!(summary(&out)["excluded_by_repo"], 2);
    let human = vr.xtask(&["go-vendor", "--check"]).ok();
    assert!(
        human.stdout.contains("ignored") && human.stdout.contains("excludes it (`README.md`)"),
        "{}",
        human.stdout
    );
}

/// Empties the module cache (go leaves it read-only).
fn empty_modcache(vr: &VendorRepo) {
    xtask_test_support::make_writable(&vr.modcache).unwrap();
    std::fs::remove_dir_all(&vr.modcache).unwrap();
}

#[test]
fn what_a_check_downloads_lands_in_the_module_cache_so_the_next_needs_no_network() {
    let vr = vendored();
    empty_modcache(&vr);
    let out = vr.check();
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("into the module cache"),
        "{}",
        out.stderr
    );
    // go verified the downloads against go.sum and extracted them where builds look.
    assert!(vr
        .modcache
        .join("example.com/beta@v1.0.0/beta.go")
        .is_file());
    assert!(vr.cached_zip("example.com/beta", "v1.0.0").is_file());

    let out = vr
        .xtask(&["go-vendor", "--check", "--json"])
        .env("GOPROXY", "off")
        .run();
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stderr.contains("Downloading"), "{}", out.stderr);
    assert_eq!(summary(&out)["outcome"], "clean");
}

#[test]
fn a_module_the_proxy_refuses_is_named_with_why_and_exit_code_2_the_rest_still_checked() {
    let vr = vendored();
    empty_modcache(&vr);
    // The proxy no longer serves beta v1.0.0's zip; alpha is still there, and edited in vendor/.
    std::fs::remove_file(vr.proxy.dir.join("example.com/beta/@v/v1.0.0.zip")).unwrap();
    vr.edit(
        "go/app/vendor/example.com/alpha/alpha.go",
        "Hello, ",
        "Howdy, ",
    );
    let out = vr.check();
    assert_eq!(out.code, 2, "{out:?}");
    let unchecked: Vec<_> = out
        .json_lines()
        .into_iter()
        .filter(|r| r["reason"] == "could-not-check")
        .collect();
    let modules: Vec<&str> = unchecked
        .iter()
        .map(|u| u["module"].as_str().unwrap())
        .collect();
    assert_eq!(modules, ["example.com/beta@v1.0.0"]);
    let detail = unchecked[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("could not download example.com/beta@v1.0.0"),
        "{detail}"
    );
    assert_eq!(
        kinds_and_paths(&out),
        pairs(&[("modified", "vendor/example.com/alpha/alpha.go")])
    );
    let total = summary(&out);
    assert_eq!(total["exit_code"], 2);
    let human = vr.xtask(&["go-vendor", "--check"]).run();
    assert_eq!(human.code, 2);
    assert!(
        human
            .stderr
            .contains("could not be checked, so the exit code is 2")
            && human
                .stderr
                .contains("example.com/beta@v1.0.0 in go/app/vendor (could not download"),
        "{}",
        human.stderr
    );
}

mod memo;
mod rules;
