//! Repo rules, enforced under `cargo test` (rust-analyzer's tidy): module docs, one place that
//! spawns processes, module and function lengths, gofmt'd Go code, documented subcommands, the
//! layer table.

use camino::{Utf8Path, Utf8PathBuf};

fn repo_root() -> Utf8PathBuf {
    Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn rust_files(dir: &Utf8Path, out: &mut Vec<Utf8PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = Utf8PathBuf::from_path_buf(entry.path()).unwrap();
        let name = path.file_name().unwrap();
        if entry.file_type().unwrap().is_dir() {
            if name != "target" && name != "fixtures" && !name.starts_with('.') {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

fn all_rust_files() -> Vec<Utf8PathBuf> {
    let root = repo_root();
    let mut files = Vec::new();
    for dir in ["xtask", "crates", "tests"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 10, "found only {files:?}");
    files
}

#[test]
fn every_module_says_what_it_owns() {
    let missing: Vec<_> = all_rust_files()
        .into_iter()
        .filter(|f| {
            !std::fs::read_to_string(f)
                .unwrap()
                .trim_start()
                .starts_with("//!")
        })
        .collect();
    assert!(
        missing.is_empty(),
        "these files do not open with a `//!` line: {missing:?}"
    );
}

#[test]
fn only_the_toolchain_module_spawns_processes() {
    let root = repo_root();
    let library = root.join("crates/xtask-go/src");
    let offenders: Vec<_> = all_rust_files()
        .into_iter()
        .filter(|f| f.starts_with(&library) && f.file_name() != Some("toolchain.rs"))
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            text.contains("Command::new") || text.contains("process::Command")
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "spawn processes through toolchain::run only: {offenders:?}"
    );
}

/// The library's and the CLI's own code (tests and fixtures are free to be longer).
fn code_files() -> Vec<Utf8PathBuf> {
    let root = repo_root();
    let dirs = [root.join("crates/xtask-go/src"), root.join("xtask/src")];
    all_rust_files()
        .into_iter()
        .filter(|f| dirs.iter().any(|d| f.starts_with(d)))
        .collect()
}

/// The most lines a module or a function may have.
const MODULE_LINES: usize = 400;
const FUNCTION_LINES: usize = 80;

/// Functions longer than [`FUNCTION_LINES`] whose doc or comment lines just above do not give a
/// reason (`Long: ...`): `(name, lines)`. A function ends at the first `}` at its own indent.
fn long_functions(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut long = Vec::new();
    for (start, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let Some(rest) = ["fn ", "pub fn ", "pub(crate) fn ", "pub(super) fn "]
            .iter()
            .find_map(|p| trimmed.strip_prefix(p))
        else {
            continue;
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        // The body opens on the first line ending with `{`; a `;` first means no body.
        let Some(open) = (start..lines.len()).find(|&k| {
            let l = lines[k].trim_end();
            l.ends_with('{') || l.ends_with(';')
        }) else {
            continue;
        };
        if lines[open].trim_end().ends_with(';') {
            continue;
        }
        let close = (open + 1..lines.len()).find(|&k| {
            let l = lines[k];
            l.len() - l.trim_start().len() == indent && l.trim_start().starts_with('}')
        });
        let Some(close) = close else { continue };
        let length = close - start + 1;
        let reason = lines[..start]
            .iter()
            .rev()
            .take_while(|l| l.trim_start().starts_with("//") || l.trim_start().starts_with("#["))
            .any(|l| l.contains("Long:"));
        if length > FUNCTION_LINES && !reason {
            long.push((name, length));
        }
    }
    long
}

#[test]
fn modules_and_functions_stay_readable() {
    let mut long = Vec::new();
    for file in code_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let lines = text.lines().count();
        if lines > MODULE_LINES {
            long.push(format!("{file}: {lines} lines"));
        }
        for (name, length) in long_functions(&text) {
            long.push(format!("{file}: fn {name} is {length} lines"));
        }
    }
    assert!(
        long.is_empty(),
        "split these by responsibility (modules over {MODULE_LINES} lines, functions over \
         {FUNCTION_LINES} without a `Long:` reason in a comment above): {long:#?}"
    );
}

#[test]
fn the_length_check_finds_a_long_function_and_accepts_a_reason() {
    let body = "    step();\n".repeat(FUNCTION_LINES);
    let text = format!("fn long() {{\n{body}}}\n\nfn short() {{\n    step();\n}}\n");
    assert_eq!(
        long_functions(&text),
        [("long".to_string(), FUNCTION_LINES + 2)]
    );
    let excused = format!("// Long: one table, row by row.\n{text}");
    assert!(long_functions(&excused).is_empty());
}

#[test]
fn go_code_is_gofmt_clean() {
    let root = repo_root();
    let out = std::process::Command::new("gofmt")
        .arg("-l")
        .arg(root.join("go"))
        .arg(root.join("tests/fixtures"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "gofmt failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files = String::from_utf8_lossy(&out.stdout);
    let files: Vec<_> = files.lines().filter(|l| !l.contains("/vendor/")).collect();
    assert!(files.is_empty(), "run gofmt -w on: {files:?}");
}

#[test]
fn every_subcommand_is_in_the_readme() {
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let flags = std::fs::read_to_string(root.join("xtask/src/flags.rs")).unwrap();
    let enum_body = flags
        .split("pub enum Command {")
        .nth(1)
        .unwrap()
        .split('}')
        .next()
        .unwrap();
    for line in enum_body
        .lines()
        .map(str::trim)
        .filter(|l| l.ends_with("),"))
    {
        let variant = line.split('(').next().unwrap();
        let mut kebab = String::new();
        for (i, c) in variant.chars().enumerate() {
            if c.is_uppercase() && i > 0 {
                kebab.push('-');
            }
            kebab.push(c.to_ascii_lowercase());
        }
        assert!(
            readme.contains(&format!("cargo xtask {kebab}")),
            "README.md does not document `cargo xtask {kebab}`"
        );
    }
}

/// The layer of each top-level library module, from the table in ARCHITECTURE.md.
fn layer_table() -> std::collections::BTreeMap<String, usize> {
    let text = std::fs::read_to_string(repo_root().join("ARCHITECTURE.md")).unwrap();
    let section = text
        .split("## Layers")
        .nth(1)
        .expect("ARCHITECTURE.md has a `## Layers` section");
    let mut table = std::collections::BTreeMap::new();
    for line in section.lines().take_while(|l| !l.starts_with("## ")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let Some(layer) = cells.get(1).and_then(|c| c.parse::<usize>().ok()) else {
            continue;
        };
        for name in cells[2].split('`').skip(1).step_by(2) {
            table.insert(name.to_string(), layer);
        }
    }
    assert!(
        table.len() >= 5,
        "no layer table in ARCHITECTURE.md: {table:?}"
    );
    table
}

/// The `crate::` paths of `text` (comments skipped) that point to a higher layer than
/// `layer`, or to a module the table does not name.
fn upward_uses(
    layer: usize,
    text: &str,
    table: &std::collections::BTreeMap<String, usize>,
) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap();
        for part in code.split("crate::").skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            match table.get(&name) {
                Some(&to) if to <= layer => {}
                Some(&to) => found.push(format!("{name} (layer {to}) in `{}`", line.trim())),
                None if name.is_empty() => {}
                None => found.push(format!(
                    "{name} (not in the layer table) in `{}`",
                    line.trim()
                )),
            }
        }
    }
    found
}

#[test]
fn library_arrows_point_down_the_layer_table() {
    let table = layer_table();
    let src = repo_root().join("crates/xtask-go/src");
    let mut offenders = Vec::new();
    for file in all_rust_files().into_iter().filter(|f| f.starts_with(&src)) {
        let rel = file.strip_prefix(&src).unwrap();
        if rel == "lib.rs" {
            continue; // the facade re-exports from every layer
        }
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_str()
            .trim_end_matches(".rs");
        let layer = *table.get(top).unwrap_or_else(|| {
            panic!("{rel}: module `{top}` is not in ARCHITECTURE.md's layer table")
        });
        let text = std::fs::read_to_string(&file).unwrap();
        for found in upward_uses(layer, &text, &table) {
            offenders.push(format!("{rel} (layer {layer}) uses {found}"));
        }
    }
    assert!(
        offenders.is_empty(),
        "upward uses:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_layer_check_fails_on_an_upward_use() {
    let table = layer_table();
    let util = table["util"];
    assert_eq!(
        upward_uses(util, "use crate::session::Session;\n", &table).len(),
        1
    );
    assert!(upward_uses(
        util,
        "use crate::util::hex;\n// crate::ops in a comment\n",
        &table
    )
    .is_empty());
    assert_eq!(
        upward_uses(util, "use crate::nowhere::X;\n", &table).len(),
        1
    );
}
