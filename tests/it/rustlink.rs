//! Go programs that link Rust libraries: the crate is built by cargo for the Go build's triple
//! first and handed to cgo (library, header, native libraries); a Rust edit relinks; a no-op
//! spawns neither cargo nor go; a cdylib runs through its rpath; a build cycle and a missing
//! cross C compiler are one clear error each.

use camino::{Utf8Path, Utf8PathBuf};

use crate::support::{real_go, Repo};

const CALLER: &str = "target/go/x86_64-unknown-linux-gnu/debug/caller";
const MANIFEST: &str = "crates/scorer/Cargo.toml";

/// A shim at `<scratch>/<name>` that logs each invocation's arguments, then runs `real`.
fn logging(repo: &Repo, name: &str, real: &str) -> (Utf8PathBuf, Utf8PathBuf) {
    let dir = repo.scratch(&format!("logging-{name}"));
    let (shim, log) = (dir.join(name), dir.join("log"));
    let script = format!("#!/bin/sh\necho \"$*\" >> {log}\nexec {real} \"$@\"\n");
    std::fs::write(&shim, script).unwrap();
    std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    (shim, log)
}

fn logged(log: &Utf8Path) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines().map(String::from).collect()
}

/// The copied sources' stamps leave the racy window (two seconds), so that a build's stamps
/// can prove the next run a no-op.
fn settle() {
    std::thread::sleep(std::time::Duration::from_millis(2_100));
}

#[test]
fn a_go_program_links_a_rust_staticlib_an_edit_relinks_and_a_no_op_spawns_nothing() {
    let repo = Repo::copy_of("rustlink");
    let (go, go_log) = logging(&repo, "go", &real_go());
    let (cargo, cargo_log) = logging(&repo, "cargo", env!("CARGO"));
    settle();
    let out = repo
        .xtask(&["go-build", "caller"])
        .env("GO", &go)
        .env("CARGO", &cargo)
        .ok();
    assert!(
        out.stderr.contains(
            "Compiling scorer (crates/scorer) for x86_64-unknown-linux-gnu, linked by Go"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(Repo::run_file(&repo.path(CALLER)), "score 40");
    let cargo_runs = logged(&cargo_log);
    assert!(
        cargo_runs
            .iter()
            .any(|l| l.starts_with("rustc -p scorer --lib --target x86_64-unknown-linux-gnu")),
        "{cargo_runs:#?}"
    );

    std::fs::remove_file(&go_log).unwrap();
    std::fs::remove_file(&cargo_log).unwrap();
    let again = repo
        .xtask(&["go-build", "caller", "--json"])
        .env("GO", &go)
        .env("CARGO", &cargo)
        .ok();
    assert_eq!(again.verdict("caller"), "fresh");
    assert_eq!(
        logged(&cargo_log),
        Vec::<String>::new(),
        "a no-op runs no cargo"
    );
    // (A shim is not a real go inside its GOROOT, so it is asked `go env` each run.)
    let go_runs: Vec<String> = logged(&go_log)
        .into_iter()
        .filter(|l| !l.starts_with("env "))
        .collect();
    assert_eq!(
        go_runs,
        Vec::<String>::new(),
        "a no-op builds and lists nothing"
    );

    repo.edit("crates/scorer/src/lib.rs", "x * 10", "x * 7");
    let edited = repo
        .xtask(&["go-build", "caller", "--explain"])
        .env("GO", &go)
        .env("CARGO", &cargo)
        .ok();
    assert_eq!(
        Repo::run_file(&repo.path(CALLER)),
        "score 28",
        "the edit relinked"
    );
    assert!(
        edited.stderr.contains("libscorer.a"),
        "--explain names the library: {}",
        edited.stderr
    );
}

#[test]
fn a_cdylib_is_found_at_run_time_through_its_rpath() {
    let repo = Repo::copy_of("rustlink");
    repo.edit(MANIFEST, "[\"staticlib\"]", "[\"cdylib\"]");
    repo.xtask(&["go-build", "caller"]).ok();
    assert!(repo
        .path("target/go/rustlibs/x86_64-unknown-linux-gnu/debug/scorer/libscorer.so")
        .is_file());
    assert_eq!(Repo::run_file(&repo.path(CALLER)), "score 40");
}

#[test]
fn a_build_cycle_between_rust_and_go_names_both_ends() {
    let repo = Repo::copy_of("rustlink");
    repo.edit(
        MANIFEST,
        "header = ",
        "c-archive = \"go/caller\"\nheader = ",
    );
    let out = repo.xtask(&["go-build"]).run();
    assert_ne!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("build cycle between Rust and Go")
            && out.stderr.contains("Go package go/caller")
            && out.stderr.contains("crate `scorer`"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_missing_cross_c_compiler_names_the_variable_and_the_debian_package_before_go_runs() {
    let repo = Repo::copy_of("rustlink");
    // A PATH with go and rustc alone: no aarch64-linux-gnu-gcc, even where CI installed one.
    let bin = repo.scratch("bin-go-only");
    std::os::unix::fs::symlink(real_go(), bin.join("go")).unwrap();
    let rustc = std::process::Command::new("sh")
        .args(["-c", "command -v rustc"])
        .output()
        .unwrap();
    let rustc = String::from_utf8_lossy(&rustc.stdout).trim().to_string();
    std::os::unix::fs::symlink(rustc, bin.join("rustc")).unwrap();
    let (go, go_log) = logging(&repo, "go", &real_go());
    let out = repo
        .xtask(&["go-build", "--target", "aarch64-unknown-linux-gnu"])
        .env("PATH", &bin)
        .env("GO", &go)
        .run();
    assert_ne!(out.code, 0, "{}", out.stderr);
    for needle in [
        "`caller` needs a C compiler for aarch64-unknown-linux-gnu",
        "`aarch64-linux-gnu-gcc` is not on PATH",
        "apt install gcc-aarch64-linux-gnu",
        "CC_aarch64_unknown_linux_gnu",
    ] {
        assert!(out.stderr.contains(needle), "{needle}: {}", out.stderr);
    }
    let builds: Vec<String> = logged(&go_log)
        .into_iter()
        .filter(|l| l.starts_with("build"))
        .collect();
    assert!(builds.is_empty(), "go never built: {builds:#?}");
}

#[test]
fn a_cross_build_for_aarch64_links_the_crate_built_for_aarch64_into_an_arm64_elf() {
    let repo = Repo::copy_of("rustlink");
    let out = repo
        .xtask(&["go-build", "--target", "aarch64-unknown-linux-gnu"])
        .ok();
    assert!(
        out.stderr
            .contains("Compiling scorer (crates/scorer) for aarch64-unknown-linux-gnu"),
        "{}",
        out.stderr
    );
    let bin = std::fs::read(repo.path("target/go/aarch64-unknown-linux-gnu/debug/caller")).unwrap();
    assert_eq!(&bin[..4], b"\x7fELF");
    assert_eq!(
        u16::from_le_bytes([bin[18], bin[19]]),
        0xB7,
        "e_machine is AArch64"
    );
}

#[test]
fn an_undeclared_link_of_a_workspace_crate_gets_a_hint_naming_the_declaration() {
    let repo = Repo::copy_of("rustlink");
    repo.edit(MANIFEST, "linked-by = [\"go/caller\"]\n", "");
    // cgo on for the repo: without the declaration nothing else turns it on.
    repo.write(
        "Cargo.toml",
        "[workspace]\nmembers = [\"crates/scorer\"]\nresolver = \"2\"\n\n[workspace.metadata.xtask-go]\ncgo = true\n",
    );
    repo.write(
        "go/caller/main.go",
        "package main\n\n// #cgo LDFLAGS: -lscorer\n// #include <stdint.h>\n// int32_t scorer_value(int32_t x);\nimport \"C\"\n\nfunc main() { println(C.scorer_value(1)) }\n",
    );
    let out = repo.xtask(&["go-build", "caller"]).run();
    assert_ne!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("hint: `-lscorer` is the workspace crate `scorer`: declare `linked-by = [\"go/caller\"]`"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_crate_with_a_build_script_is_asked_of_cargo_every_run_so_what_only_it_reads_relinks() {
    let repo = Repo::copy_of("rustlink");
    // SCORER_FACTOR is in no dep-info and in none of the variables xtask-go keys on: only cargo,
    // told by the build script's rerun-if-env-changed, knows that the library must be rebuilt.
    repo.write(
        "crates/scorer/build.rs",
        "fn main() {\n    println!(\"cargo::rerun-if-env-changed=SCORER_FACTOR\");\n    let factor = std::env::var(\"SCORER_FACTOR\").unwrap();\n    let out = std::env::var(\"OUT_DIR\").unwrap();\n    let code = format!(\"const FACTOR: i32 = {factor};\");\n    std::fs::write(format!(\"{out}/factor.rs\"), code).unwrap();\n}\n",
    );
    let lib = std::fs::read_to_string(repo.path("crates/scorer/src/lib.rs")).unwrap();
    repo.write(
        "crates/scorer/src/lib.rs",
        &format!(
            "{}\ninclude!(concat!(env!(\"OUT_DIR\"), \"/factor.rs\"));\n",
            lib.replace("x * 10", "x * FACTOR")
        ),
    );
    settle();
    let build = |factor: &str| {
        repo.xtask(&["go-build", "caller"])
            .env("SCORER_FACTOR", factor)
            .ok();
        Repo::run_file(&repo.path(CALLER))
    };
    assert_eq!(build("10"), "score 40");
    settle();
    assert_eq!(build("10"), "score 40");
    assert_eq!(build("3"), "score 12");
}

#[test]
fn a_source_edited_while_cargo_builds_is_built_again_on_the_next_run() {
    let repo = Repo::copy_of("rustlink");
    // A cargo that, once, edits the crate's source after compiling it and then waits out the
    // racy window: what it built is the old source, though the source's stamp is settled.
    let lib = repo.path("crates/scorer/src/lib.rs");
    let once = repo.scratch("edit-once").join("pending");
    std::fs::write(&once, "").unwrap();
    let dir = repo.scratch("editing-cargo");
    let shim = dir.join("cargo");
    let script = format!(
        "#!/bin/sh\n{} \"$@\"\nrc=$?\nif [ \"$1\" = rustc ] && [ -f {once} ]; then rm {once}; sed -i 's/x \\* 10/x * 5/' {lib}; sleep 2.2; fi\nexit $rc\n",
        env!("CARGO")
    );
    std::fs::write(&shim, script).unwrap();
    std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    settle();
    repo.xtask(&["go-build", "caller"]).env("CARGO", &shim).ok();
    assert_eq!(
        Repo::run_file(&repo.path(CALLER)),
        "score 40",
        "built before the edit"
    );
    repo.xtask(&["go-build", "caller"]).env("CARGO", &shim).ok();
    assert_eq!(
        Repo::run_file(&repo.path(CALLER)),
        "score 20",
        "the edit is built"
    );
}

#[test]
fn a_cross_cdylib_is_linked_by_the_triples_c_compiler() {
    let repo = Repo::copy_of("rustlink");
    repo.edit(MANIFEST, "[\"staticlib\"]", "[\"cdylib\"]");
    // Nothing configured: cargo links the .so with aarch64-linux-gnu-gcc, as cgo does the program.
    repo.xtask(&["go-build", "--target", "aarch64-unknown-linux-gnu"])
        .ok();
    let so = "target/go/rustlibs/aarch64-unknown-linux-gnu/debug/scorer/libscorer.so";
    for file in [so, "target/go/aarch64-unknown-linux-gnu/debug/caller"] {
        let bin = std::fs::read(repo.path(file)).unwrap();
        assert_eq!(
            u16::from_le_bytes([bin[18], bin[19]]),
            0xB7,
            "{file} is AArch64"
        );
    }
}
