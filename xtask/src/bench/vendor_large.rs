//! The large synthetic vendor tree of `cargo xtask bench vendor --large`: 160 modules (and 16
//! nested modules) with the mix real trees have: deep package trees, non-Go files in package
//! directories, LICENSE and NOTICE files up the tree, `testdata/`, tests, commands and examples
//! nothing imports, assembly and cgo files, build-ignored generators, embed targets (files,
//! directories, `all:`): 9,017 vendored files of the 21,608 in the module cache directories.

use anyhow::Result;
use camino::Utf8Path;

use super::vendor::{write, Tree};

/// Top-level modules; every tenth has a nested module `<module>/contrib`.
const MODULES: usize = 160;

/// Writes the module sources under `sources`; returns the modules and the packages the app imports.
pub(super) fn write_modules(sources: &Utf8Path) -> Result<Tree> {
    let mut tree = Tree::default();
    for m in 0..MODULES {
        let module = format!("bench.example/large/m{m:03}");
        write_module(&sources.join(format!("{module}@v1.2.3")), &module, m)?;
        tree.modules.push((module.clone(), "v1.2.3".to_owned()));
        tree.imports.push(module.clone());
        if m.is_multiple_of(10) {
            let nested = format!("{module}/contrib");
            write_nested(&sources.join(format!("{nested}@v0.4.0")), &nested, m)?;
            tree.modules.push((nested.clone(), "v0.4.0".to_owned()));
            tree.imports.push(nested);
        }
    }
    Ok(tree)
}

/// About 1.5 KB of Go: a package clause after `header`, `funcs` functions, and `imports`.
fn go_file(header: &str, package: &str, imports: &[String], tag: &str, funcs: usize) -> String {
    let mut text =
        format!("{header}// Code in package {package}, file {tag}.\npackage {package}\n\n");
    if !imports.is_empty() {
        text.push_str("import (\n");
        for i in imports {
            text.push_str(&format!("\t_ \"{i}\"\n"));
        }
        text.push_str(")\n\n");
    }
    for k in 0..funcs {
        text.push_str(&format!(
            "// {tag}F{k} combines its arguments; it exists to give the file a realistic size.\n\
             func {tag}F{k}(a, b int) int {{ return a*{k} + b - len(\"{tag}\") }}\n\n"
        ));
    }
    text
}

/// Lines of text data, about `lines * 40` bytes.
fn data(what: &str, lines: usize) -> String {
    (0..lines)
        .map(|i| format!("{what}: line {i} of synthetic data\n"))
        .collect()
}

/// One top-level module: the root package importing a chain of `pkg/...` packages (depth 2 to
/// 5), `internal/asm`, `internal/web` and (every third) `internal/cgo`; plus what vendoring
/// leaves out.
fn write_module(dir: &Utf8Path, module: &str, m: usize) -> Result<()> {
    write(
        &dir.join("go.mod"),
        &format!("module {module}\n\ngo 1.21\n"),
    )?;
    write(
        &dir.join("LICENSE"),
        &data("Apache License 2.0 (synthetic)", 40),
    )?;
    if m.is_multiple_of(2) {
        write(&dir.join("NOTICE"), "Synthetic notice.\n")?;
    }
    for name in [
        "README.md",
        "CONTRIBUTING.md",
        "Makefile",
        ".gitignore",
        ".golangci.yml",
    ] {
        write(&dir.join(name), &data(name, 20))?;
    }
    write(&dir.join(".github/workflows/ci.yml"), &data("ci", 30))?;
    for d in 0..3 {
        write(&dir.join(format!("docs/guide{d}.md")), &data("guide", 60))?;
    }
    let depth = 2 + m % 4;
    let chain: Vec<String> = (0..depth)
        .map(|d| ["pkg", "a", "b", "c", "d", "e"][..=d + 1].join("/"))
        .collect();
    let mut root_imports = vec![
        format!("{module}/{}", chain[0]),
        format!("{module}/internal/asm"),
    ];
    root_imports.push(format!("{module}/internal/web"));
    if m.is_multiple_of(3) {
        root_imports.push(format!("{module}/internal/cgo"));
    }
    let name = format!("m{m:03}");
    write_package(dir, "", &name, &root_imports, 6, 12)?;
    for (d, rel) in chain.iter().enumerate() {
        let next: Vec<String> = chain
            .get(d + 1)
            .map(|n| format!("{module}/{n}"))
            .into_iter()
            .collect();
        let package = rel.rsplit('/').next().expect("a last element");
        write_package(dir, rel, package, &next, 6, 3)?;
        write(&dir.join(format!("{rel}/schema.json")), &data("schema", 15))?;
    }
    write(&dir.join("pkg/LICENSE"), &data("pkg license", 10))?;
    write(&dir.join("pkg/a/NOTICE"), "Notice for pkg/a.\n")?;
    write_asm(dir)?;
    write_web(dir)?;
    if m.is_multiple_of(3) {
        write_cgo(dir)?;
    }
    write(
        &dir.join("gen.go"),
        &go_file("//go:build ignore\n\n", "main", &[], "Gen", 4),
    )?;
    for (rel, package) in [("cmd/tool", "main"), ("internal/unused", "unused")] {
        write_package(dir, rel, package, &[], 3, 2)?;
    }
    for e in 0..8 {
        write_package(dir, &format!("examples/ex{e}"), "main", &[], 2, 1)?;
    }
    Ok(())
}

/// A package: `files` Go files, a test, and `testdata` files.
fn write_package(
    dir: &Utf8Path,
    rel: &str,
    package: &str,
    imports: &[String],
    files: usize,
    testdata: usize,
) -> Result<()> {
    let at = |name: &str| {
        if rel.is_empty() {
            dir.join(name)
        } else {
            dir.join(rel).join(name)
        }
    };
    for f in 0..files {
        let imported: &[String] = if f == 0 { imports } else { &[] };
        write(
            &at(&format!("f{f}.go")),
            &go_file("", package, imported, &format!("P{f}"), 10),
        )?;
    }
    write(&at("x_test.go"), &go_file("", package, &[], "Test", 6))?;
    for t in 0..testdata {
        write(
            &at(&format!("testdata/case{t}.golden")),
            &data("golden", 50),
        )?;
    }
    Ok(())
}

/// `internal/asm`: assembly for two architectures, their Go declarations and a fallback.
fn write_asm(dir: &Utf8Path) -> Result<()> {
    let at = |name: &str| dir.join("internal/asm").join(name);
    write(&at("asm.go"), &go_file("", "asm", &[], "Asm", 6))?;
    for arch in ["amd64", "arm64"] {
        let header = format!("//go:build {arch}\n\n");
        write(
            &at(&format!("decl_{arch}.go")),
            &format!("{header}package asm\n\nfunc add(a, b int) int\n"),
        )?;
        write(
            &at(&format!("add_{arch}.s")),
            &format!("{header}#include \"textflag.h\"\n\nTEXT ·add(SB),NOSPLIT,$0\n\tRET\n"),
        )?;
    }
    let other =
        "//go:build !amd64 && !arm64\n\npackage asm\n\nfunc add(a, b int) int { return a + b }\n";
    write(&at("add_other.go"), other)
}

/// `internal/web`: a file, a directory and an `all:` directory embedded.
fn write_web(dir: &Utf8Path) -> Result<()> {
    let at = |name: &str| dir.join("internal/web").join(name);
    let header = "import \"embed\"\n\n//go:embed version.txt\nvar Version string\n\n\
                  //go:embed templates\nvar Templates embed.FS\n\n//go:embed all:static\nvar Static embed.FS\n";
    write(&at("web.go"), &format!("package web\n\n{header}"))?;
    write(&at("version.txt"), "v1.2.3\n")?;
    for t in ["index", "list", "item"] {
        write(&at(&format!("templates/{t}.tmpl")), &data(t, 30))?;
    }
    write(&at("templates/.draft.tmpl"), "not embedded\n")?;
    for f in [
        "static/.keep",
        "static/_base.css",
        "static/app.js",
        "static/img/logo.svg",
    ] {
        write(&at(f), &data(f, 20))?;
    }
    Ok(())
}

/// `internal/cgo`: a cgo file with its C source and header.
fn write_cgo(dir: &Utf8Path) -> Result<()> {
    let at = |name: &str| dir.join("internal/cgo").join(name);
    let cgo = "package cgo\n\n// #include \"sum.h\"\nimport \"C\"\n\nfunc Sum(a, b int) int { return int(C.sum(C.int(a), C.int(b))) }\n";
    write(&at("cgo.go"), cgo)?;
    write(&at("sum.h"), "int sum(int a, int b);\n")?;
    write(
        &at("sum.c"),
        "#include \"sum.h\"\n\nint sum(int a, int b) { return a + b; }\n",
    )?;
    write(
        &at("nocgo.go"),
        "//go:build !cgo\n\npackage cgo\n\nfunc Sum(a, b int) int { return a + b }\n",
    )
}

/// A nested module `<module>/contrib`: a package with a subpackage and its own LICENSE.
fn write_nested(dir: &Utf8Path, module: &str, m: usize) -> Result<()> {
    write(
        &dir.join("go.mod"),
        &format!("module {module}\n\ngo 1.21\n"),
    )?;
    write(&dir.join("LICENSE"), &data("contrib license", 20))?;
    let sub = vec![format!("{module}/otel")];
    write_package(dir, "", "contrib", &sub, 4, 2)?;
    write_package(dir, "otel", "otel", &[], 4, 2)?;
    write(
        &dir.join("otel/README.md"),
        &data(&format!("contrib {m}"), 10),
    )
}
