//! The model behind the differential edit search (`tests/it/differential.rs`): the small Go
//! workspace of `tests/fixtures/repos/differential` as data, the sources it renders to, what each
//! of its programs must print, the operations that change it (each printed and parsed as one
//! line, so a failing sequence can be replayed as written), and the seeded generator of them.
//!
//! Every package of the workspace has a `Visit` that appends one line per package of its
//! dependency closure (`name=value`, plus the embedded files or the build-tagged file's part);
//! each program prints its own value and those lines, sorted. A binary built from a stale input
//! set therefore prints a wrong value, or a line too many or too few.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The module path prefix: module `core` is `diff.test/core` in `go/core`.
pub const MODULE_PREFIX: &str = "diff.test";
/// The package with a `//go:embed` directive (in `embed.go`), and the patterns it switches between.
pub const EMBED_PKG: &str = "epsilon";
pub const EMBED_PATTERNS: [&str; 4] = ["data/a.txt", "data/b.txt", "data/*.txt", "data"];
/// The package with two files behind opposite build constraints (`tag_a.go`, `tag_b.go`); the
/// second imports `TAG_IMPORT`, so a flip changes the closure without touching an import block.
pub const TAGGED_PKG: &str = "gamma";
pub const TAG_IMPORT: &str = "zeta";
/// No more packages than this (the search creates new ones up to it).
const MAX_PACKAGES: usize = 16;

/// One Go package: a library, or a program when its rank is 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pkg {
    /// The module's short name (`core`): directory `go/core`, path `diff.test/core`.
    pub module: String,
    /// The package directory inside the module (`alpha`, `cmd/one`); its last part is the name.
    pub dir: String,
    /// Imports go only to higher ranks, so the graph stays acyclic; programs are rank 0.
    pub rank: u32,
    pub value: u64,
    /// The packages its own file imports (by name).
    pub imports: BTreeSet<String>,
}

impl Pkg {
    pub fn is_main(&self) -> bool {
        self.rank == 0
    }

    pub fn import_path(&self) -> String {
        format!("{MODULE_PREFIX}/{}/{}", self.module, self.dir)
    }

    /// The package's main file, root-relative.
    fn file(&self, name: &str) -> String {
        let file = if self.is_main() { "main" } else { name };
        format!("go/{}/{}/{file}.go", self.module, self.dir)
    }
}

/// A module's go.mod: `require` and `replace` lines naming other workspace modules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GoMod {
    pub requires: BTreeSet<String>,
    pub replaces: BTreeSet<String>,
}

/// The whole workspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Model {
    pub pkgs: BTreeMap<String, Pkg>,
    pub gomods: BTreeMap<String, GoMod>,
    /// The `//go:embed` pattern of `EMBED_PKG`.
    pub embed: String,
    /// The files under `EMBED_PKG`'s directory that a pattern may embed, and their values.
    pub data: BTreeMap<String, u64>,
    /// Whether the build constraints of `TAGGED_PKG`'s files are swapped (`tag_b.go` builds).
    pub flipped: bool,
}

impl Model {
    /// The state `tests/fixtures/repos/differential` holds.
    pub fn initial() -> Model {
        let mut pkgs = BTreeMap::new();
        let mut add =
            |name: &str, module: &str, dir: &str, rank: u32, value: u64, imports: &[&str]| {
                let imports = imports.iter().map(|s| s.to_string()).collect();
                let (module, dir) = (module.to_string(), dir.to_string());
                pkgs.insert(
                    name.to_string(),
                    Pkg {
                        module,
                        dir,
                        rank,
                        value,
                        imports,
                    },
                );
            };
        add("alpha", "core", "alpha", 10, 11, &["beta", "delta"]);
        add("beta", "core", "beta", 20, 22, &["gamma"]);
        add("gamma", "core", "gamma", 30, 33, &[]);
        add("delta", "extra", "delta", 40, 44, &["epsilon"]);
        add("epsilon", "extra", "epsilon", 50, 55, &["eta"]);
        add("zeta", "tools", "zeta", 60, 66, &[]);
        add("eta", "tools", "eta", 70, 77, &[]);
        add("one", "core", "cmd/one", 0, 1, &["alpha"]);
        add("two", "extra", "cmd/two", 0, 2, &["delta"]);
        add("three", "tools", "cmd/three", 0, 3, &["zeta"]);
        let gomods = ["core", "extra", "tools"]
            .into_iter()
            .map(|m| (m.to_string(), GoMod::default()))
            .collect();
        let data = [
            ("data/a.txt", 101),
            ("data/b.txt", 202),
            ("data/sub/c.txt", 303),
        ]
        .into_iter()
        .map(|(f, v)| (f.to_string(), v))
        .collect();
        Model {
            pkgs,
            gomods,
            embed: EMBED_PATTERNS[0].to_string(),
            data,
            flipped: false,
        }
    }

    pub fn mains(&self) -> Vec<&str> {
        self.pkgs
            .iter()
            .filter(|(_, p)| p.is_main())
            .map(|(n, _)| n.as_str())
            .collect()
    }

    fn pkg(&self, name: &str) -> Result<&Pkg, String> {
        self.pkgs
            .get(name)
            .ok_or_else(|| format!("no package `{name}`"))
    }

    /// What a package's build imports: its own file's imports and, for the tagged package, the
    /// import of whichever tagged file builds.
    fn effective_imports(&self, name: &str) -> BTreeSet<String> {
        let mut imports = self.pkgs[name].imports.clone();
        if name == TAGGED_PKG && self.flipped {
            imports.insert(TAG_IMPORT.to_string());
        }
        imports
    }

    /// The library packages a program's build includes.
    pub fn closure(&self, main: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<String> = self.effective_imports(main).into_iter().collect();
        while let Some(name) = todo.pop() {
            if seen.insert(name.clone()) {
                todo.extend(self.effective_imports(&name));
            }
        }
        seen
    }

    /// The files `EMBED_PKG`'s pattern matches (relative to its directory), sorted.
    pub fn embedded_files(&self) -> Vec<&str> {
        let pattern = self.embed.as_str();
        self.data
            .keys()
            .map(String::as_str)
            .filter(|f| match pattern {
                "data" => true,
                "data/*.txt" => f.matches('/').count() == 1 && f.ends_with(".txt"),
                exact => *f == exact,
            })
            .collect()
    }

    /// What a program must print: its own line, then one line per package of its closure.
    pub fn expected_output(&self, main: &str) -> String {
        let mut lines: Vec<String> = self
            .closure(main)
            .iter()
            .map(|name| {
                let value = self.pkgs[name].value;
                let extra = match name.as_str() {
                    TAGGED_PKG => format!(" tag={}", if self.flipped { "b" } else { "a" }),
                    EMBED_PKG => {
                        let parts: Vec<String> = self
                            .embedded_files()
                            .iter()
                            .map(|f| format!("{f}:{}", self.data[*f]))
                            .collect();
                        format!(" [{}]", parts.join(","))
                    }
                    _ => String::new(),
                };
                format!("{name}={value}{extra}")
            })
            .collect();
        lines.sort();
        let mut out = format!("{main}={}\n", self.pkgs[main].value);
        for line in lines {
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    /// Every file under `go/` (root-relative path, contents).
    pub fn render(&self) -> BTreeMap<String, String> {
        let mut files = BTreeMap::new();
        let mut work = String::from("go 1.21\n\nuse (\n");
        for module in self.gomods.keys() {
            work.push_str(&format!("\t./{module}\n"));
        }
        work.push_str(")\n");
        files.insert("go/go.work".to_string(), work);
        for (module, gomod) in &self.gomods {
            files.insert(format!("go/{module}/go.mod"), render_gomod(module, gomod));
        }
        for (name, pkg) in &self.pkgs {
            files.insert(pkg.file(name), self.render_pkg(name, pkg));
        }
        let tagged = &self.pkgs[TAGGED_PKG];
        let dir = format!("go/{}/{}", tagged.module, tagged.dir);
        let (a, b) = if self.flipped {
            ("flip", "!flip")
        } else {
            ("!flip", "flip")
        };
        let zeta = self.pkgs[TAG_IMPORT].import_path();
        files.insert(
            format!("{dir}/tag_a.go"),
            format!(
                "//go:build {a}\n\npackage {TAGGED_PKG}\n\n\
                 // tagged is this file's part of the package's line (tag_b.go's when the build\n\
                 // constraints are flipped).\n\
                 func tagged(seen map[string]bool, out *[]string) string {{\n\
                 \treturn \" tag=a\"\n}}\n"
            ),
        );
        files.insert(
            format!("{dir}/tag_b.go"),
            format!(
                "//go:build {b}\n\npackage {TAGGED_PKG}\n\nimport \"{zeta}\"\n\n\
                 // tagged is this file's part of the package's line; the file also brings\n\
                 // {TAG_IMPORT} into the closure.\n\
                 func tagged(seen map[string]bool, out *[]string) string {{\n\
                 \t{TAG_IMPORT}.Visit(seen, out)\n\treturn \" tag=b\"\n}}\n"
            ),
        );
        let embed = &self.pkgs[EMBED_PKG];
        let dir = format!("go/{}/{}", embed.module, embed.dir);
        files.insert(
            format!("{dir}/embed.go"),
            format!(
                "package {EMBED_PKG}\n\nimport (\n\t\"embed\"\n\t\"io/fs\"\n\t\"strings\"\n)\n\n\
                 //go:embed {}\nvar files embed.FS\n\n\
                 // embedded lists every embedded file with its trimmed contents.\n\
                 func embedded() string {{\n\
                 \tvar parts []string\n\
                 \t_ = fs.WalkDir(files, \".\", func(path string, d fs.DirEntry, err error) error {{\n\
                 \t\tif err == nil && !d.IsDir() {{\n\
                 \t\t\tb, _ := files.ReadFile(path)\n\
                 \t\t\tparts = append(parts, path+\":\"+strings.TrimSpace(string(b)))\n\
                 \t\t}}\n\
                 \t\treturn nil\n\
                 \t}})\n\
                 \treturn \" [\" + strings.Join(parts, \",\") + \"]\"\n}}\n",
                self.embed
            ),
        );
        for (file, value) in &self.data {
            files.insert(format!("{dir}/{file}"), format!("{value}\n"));
        }
        files
    }

    fn render_pkg(&self, name: &str, pkg: &Pkg) -> String {
        let std: &[&str] = if pkg.is_main() { &["fmt", "sort"] } else { &[] };
        let mut imports: Vec<String> = pkg
            .imports
            .iter()
            .map(|i| self.pkgs[i].import_path())
            .collect();
        imports.sort();
        let visits: Vec<String> = pkg.imports.iter().map(|i| format!("{i}.Visit")).collect();
        let visits = format!(
            "\tfor _, visit := range []func(map[string]bool, *[]string){{{}}} {{\n",
            visits.join(", ")
        );
        let mut text = if pkg.is_main() {
            format!(
                "// Command {name} prints its value and one line per package of its dependency closure\n\
                 // (the differential edit search's workspace, tests/it/differential.rs).\npackage main\n"
            )
        } else {
            format!(
                "// Package {name} is part of the differential edit search's workspace\n\
                 // (tests/it/differential.rs).\npackage {name}\n"
            )
        };
        let groups: Vec<String> = [std.iter().map(|s| s.to_string()).collect(), imports]
            .into_iter()
            .filter(|g: &Vec<String>| !g.is_empty())
            .map(|g| g.iter().map(|i| format!("\t\"{i}\"\n")).collect::<String>())
            .collect();
        if !groups.is_empty() {
            text.push_str(&format!("\nimport (\n{})\n", groups.join("\n")));
        }
        text.push_str(&format!(
            "\n// Value is what the edit search changes.\nconst Value = \"{}\"\n\n",
            pkg.value
        ));
        if pkg.is_main() {
            text.push_str(&format!(
                "func main() {{\n\tseen := map[string]bool{{}}\n\tvar out []string\n{visits}\
                 \t\tvisit(seen, &out)\n\t}}\n\tsort.Strings(out)\n\tfmt.Println(\"{name}=\" + Value)\n\
                 \tfor _, line := range out {{\n\t\tfmt.Println(line)\n\t}}\n}}\n"
            ));
        } else {
            let extra = match name {
                TAGGED_PKG => " + tagged(seen, out)",
                EMBED_PKG => " + embedded()",
                _ => "",
            };
            text.push_str(&format!(
                "// Visit appends the lines of this package and of its imports to out, each package once.\n\
                 func Visit(seen map[string]bool, out *[]string) {{\n\
                 \tif seen[\"{name}\"] {{\n\t\treturn\n\t}}\n\tseen[\"{name}\"] = true\n{visits}\
                 \t\tvisit(seen, out)\n\t}}\n\tline := \"{name}=\" + Value{extra}\n\
                 \t*out = append(*out, line)\n}}\n"
            ));
        }
        text
    }

    /// Applies an operation that changes sources (the others leave the model alone).
    pub fn apply(&mut self, op: &Op) -> Result<(), String> {
        match op {
            Op::Edit { pkg, value, .. } => {
                self.pkg(pkg)?;
                self.pkgs.get_mut(pkg).unwrap().value = *value;
            }
            Op::EditEmbedded { file, value, .. } => {
                let slot = self
                    .data
                    .get_mut(file)
                    .ok_or_else(|| format!("no embeddable file `{file}`"))?;
                *slot = *value;
            }
            Op::AddImport { from, to } => {
                self.check_edge(from, to)?;
                if !self.pkgs.get_mut(from).unwrap().imports.insert(to.clone()) {
                    return Err(format!("{from} already imports {to}"));
                }
            }
            Op::DropImport { from, to } => {
                self.pkg(from)?;
                if !self.pkgs.get_mut(from).unwrap().imports.remove(to) {
                    return Err(format!("{from} does not import {to}"));
                }
            }
            Op::MoveImport { from, old, new } => {
                self.apply(&Op::DropImport {
                    from: from.clone(),
                    to: old.clone(),
                })?;
                self.apply(&Op::AddImport {
                    from: from.clone(),
                    to: new.clone(),
                })?;
            }
            Op::NewPackage {
                module,
                dir,
                rank,
                importer,
            } => {
                let name = dir.rsplit('/').next().unwrap().to_string();
                if self.pkgs.contains_key(&name) || !self.gomods.contains_key(module) {
                    return Err(format!("cannot create {module}/{dir}"));
                }
                if *rank == 0 {
                    return Err("rank 0 is for programs".into());
                }
                let pkg = Pkg {
                    module: module.clone(),
                    dir: dir.clone(),
                    rank: *rank,
                    value: u64::from(*rank) * 7,
                    imports: BTreeSet::new(),
                };
                self.pkgs.insert(name.clone(), pkg);
                self.apply(&Op::AddImport {
                    from: importer.clone(),
                    to: name,
                })?;
            }
            Op::Embed { pattern } => {
                if !EMBED_PATTERNS.contains(&pattern.as_str()) {
                    return Err(format!("unknown embed pattern `{pattern}`"));
                }
                self.embed = pattern.clone();
            }
            Op::FlipConstraint => self.flipped = !self.flipped,
            Op::ToggleRequire { module, other } | Op::ToggleReplace { module, other } => {
                if module == other || !self.gomods.contains_key(other) {
                    return Err(format!("{module} cannot name {other}"));
                }
                let gomod = self
                    .gomods
                    .get_mut(module)
                    .ok_or_else(|| format!("no module `{module}`"))?;
                let set = if matches!(op, Op::ToggleRequire { .. }) {
                    &mut gomod.requires
                } else {
                    &mut gomod.replaces
                };
                if !set.remove(other) {
                    set.insert(other.clone());
                }
            }
            Op::Checkout { .. }
            | Op::Clone { .. }
            | Op::RemoteClone { .. }
            | Op::TouchAll
            | Op::Pause => {}
        }
        Ok(())
    }

    fn check_edge(&self, from: &str, to: &str) -> Result<(), String> {
        let (f, t) = (self.pkg(from)?, self.pkg(to)?);
        if t.is_main() || t.rank <= f.rank {
            return Err(format!(
                "{from} (rank {}) may not import {to} (rank {})",
                f.rank, t.rank
            ));
        }
        Ok(())
    }

    /// A random operation that applies to this state; `commits` is how many commits exist.
    pub fn generate(&self, rng: &mut Rng, commits: usize) -> Op {
        loop {
            if let Some(op) = self.try_generate(rng, commits) {
                return op;
            }
        }
    }

    fn try_generate(&self, rng: &mut Rng, commits: usize) -> Option<Op> {
        let names: Vec<&String> = self.pkgs.keys().collect();
        // (weight, kind): edits and import changes dominate, whole-tree operations are rarer.
        const KINDS: [(u64, &str); 16] = [
            (14, "edit"),
            (10, "edit-same-size"),
            (4, "edit-embedded"),
            (3, "edit-embedded-same-size"),
            (12, "add-import"),
            (7, "drop-import"),
            (6, "move-import"),
            (4, "new-package"),
            (5, "embed"),
            (5, "flip-constraint"),
            (3, "toggle-require"),
            (3, "toggle-replace"),
            (5, "checkout"),
            (3, "touch-all"),
            (3, "clone"),
            (2, "remote-clone"),
        ];
        let total: u64 = KINDS.iter().map(|(w, _)| w).sum::<u64>() + 1;
        let mut roll = rng.below(total);
        let kind = KINDS
            .iter()
            .find(|(w, _)| {
                let hit = roll < *w;
                roll = roll.saturating_sub(*w);
                hit
            })
            .map_or("pause", |(_, k)| k);
        let op = match kind {
            "edit" | "edit-same-size" => {
                let pkg = rng.pick(&names).to_string();
                let same_size = kind == "edit-same-size";
                let value = new_value(rng, self.pkgs[&pkg].value, same_size);
                Op::Edit {
                    pkg,
                    value,
                    same_size,
                }
            }
            "edit-embedded" | "edit-embedded-same-size" => {
                let files: Vec<&String> = self.data.keys().collect();
                let file = rng.pick(&files).to_string();
                let same_size = kind == "edit-embedded-same-size";
                let value = new_value(rng, self.data[&file], same_size);
                Op::EditEmbedded {
                    file,
                    value,
                    same_size,
                }
            }
            "add-import" => {
                let from = rng.pick(&names).to_string();
                let to = self.importable(&from, rng, |_| true)?;
                Op::AddImport { from, to }
            }
            "drop-import" => {
                let from = rng.pick(&names).to_string();
                let imports: Vec<&String> = self.pkgs[&from].imports.iter().collect();
                let to = rng.pick_opt(&imports)?.to_string();
                Op::DropImport { from, to }
            }
            "move-import" => {
                let from = rng.pick(&names).to_string();
                let imports: Vec<&String> = self.pkgs[&from].imports.iter().collect();
                let old = rng.pick_opt(&imports)?.to_string();
                let old_module = self.pkgs[&old].module.clone();
                let new = self.importable(&from, rng, |p| p.module != old_module)?;
                Op::MoveImport { from, old, new }
            }
            "new-package" => {
                if self.pkgs.len() >= MAX_PACKAGES {
                    return None;
                }
                let modules: Vec<&String> = self.gomods.keys().collect();
                let module = rng.pick(&modules).to_string();
                let name = (1..)
                    .map(|i| format!("pkg{i}"))
                    .find(|n| !self.pkgs.contains_key(n))?;
                // At the module root, or inside another package's directory.
                let parents: Vec<&Pkg> =
                    self.pkgs.values().filter(|p| p.module == module).collect();
                let dir = match rng.below(2) {
                    0 => name,
                    _ => format!("{}/{name}", rng.pick(&parents).dir),
                };
                let rank = 1 + rng.below(99) as u32;
                let importers: Vec<&String> = names
                    .iter()
                    .copied()
                    .filter(|n| self.pkgs[*n].rank < rank)
                    .collect();
                let importer = rng.pick(&importers).to_string();
                Op::NewPackage {
                    module,
                    dir,
                    rank,
                    importer,
                }
            }
            "embed" => {
                let others: Vec<&str> = EMBED_PATTERNS
                    .iter()
                    .copied()
                    .filter(|p| *p != self.embed)
                    .collect();
                Op::Embed {
                    pattern: rng.pick(&others).to_string(),
                }
            }
            "flip-constraint" => Op::FlipConstraint,
            "toggle-require" | "toggle-replace" => {
                let modules: Vec<&String> = self.gomods.keys().collect();
                let module = rng.pick(&modules).to_string();
                let others: Vec<&String> =
                    modules.iter().copied().filter(|m| **m != module).collect();
                let other = rng.pick(&others).to_string();
                if kind == "toggle-require" {
                    Op::ToggleRequire { module, other }
                } else {
                    Op::ToggleReplace { module, other }
                }
            }
            "checkout" => Op::Checkout {
                commit: rng.below(commits as u64) as usize,
            },
            "remote-clone" => Op::RemoteClone {
                commit: rng.below(commits as u64) as usize,
            },
            "clone" => Op::Clone {
                commit: rng.below(commits as u64) as usize,
            },
            "touch-all" => Op::TouchAll,
            _ => Op::Pause,
        };
        Some(op)
    }

    /// A library `from` may newly import (a higher rank, not imported yet), if any.
    fn importable(
        &self,
        from: &str,
        rng: &mut Rng,
        filter: impl Fn(&Pkg) -> bool,
    ) -> Option<String> {
        let f = &self.pkgs[from];
        let candidates: Vec<&String> = self
            .pkgs
            .iter()
            .filter(|(n, p)| p.rank > f.rank && !f.imports.contains(*n) && filter(p))
            .map(|(n, _)| n)
            .collect();
        rng.pick_opt(&candidates).map(|s| s.to_string())
    }
}

/// A value different from `old`; with `same_size`, of as many digits (so the file keeps its size).
fn new_value(rng: &mut Rng, old: u64, same_size: bool) -> u64 {
    loop {
        let value = if same_size {
            let digits = old.to_string().len() as u32;
            let low = if digits == 1 {
                0
            } else {
                10u64.pow(digits - 1)
            };
            low + rng.below(10u64.pow(digits) - low)
        } else {
            rng.below(100_000)
        };
        if value != old {
            return value;
        }
    }
}

fn render_gomod(module: &str, gomod: &GoMod) -> String {
    let mut text = format!("module {MODULE_PREFIX}/{module}\n\ngo 1.21\n");
    if !gomod.requires.is_empty() {
        text.push_str("\nrequire (\n");
        for other in &gomod.requires {
            text.push_str(&format!("\t{MODULE_PREFIX}/{other} v0.0.0\n"));
        }
        text.push_str(")\n");
    }
    if !gomod.replaces.is_empty() {
        text.push_str("\nreplace (\n");
        for other in &gomod.replaces {
            text.push_str(&format!("\t{MODULE_PREFIX}/{other} => ../{other}\n"));
        }
        text.push_str(")\n");
    }
    text
}

/// One step of a sequence. `Display` and `FromStr` use the same one-line form, which the test
/// prints for every step: a failing sequence pasted into a regression test replays exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `edit PKG VALUE`; `edit-same-size PKG VALUE`: as many digits, the file's mtime put back.
    Edit {
        pkg: String,
        value: u64,
        same_size: bool,
    },
    /// `edit-embedded FILE VALUE`, `edit-embedded-same-size FILE VALUE` (FILE under `EMBED_PKG`).
    EditEmbedded {
        file: String,
        value: u64,
        same_size: bool,
    },
    /// `add-import FROM TO`: an import of an existing package.
    AddImport { from: String, to: String },
    /// `drop-import FROM TO`
    DropImport { from: String, to: String },
    /// `move-import FROM OLD NEW`: OLD and NEW are in different go.work modules.
    MoveImport {
        from: String,
        old: String,
        new: String,
    },
    /// `new-package MODULE DIR RANK IMPORTER`: a new package, imported by IMPORTER.
    NewPackage {
        module: String,
        dir: String,
        rank: u32,
        importer: String,
    },
    /// `embed PATTERN`: `EMBED_PKG`'s `//go:embed` pattern.
    Embed { pattern: String },
    /// `flip-constraint`: swaps the `//go:build` lines of `TAGGED_PKG`'s two files.
    FlipConstraint,
    /// `toggle-require MODULE OTHER`: adds or removes `require diff.test/OTHER v0.0.0`.
    ToggleRequire { module: String, other: String },
    /// `toggle-replace MODULE OTHER`: adds or removes `replace diff.test/OTHER => ../OTHER`.
    ToggleReplace { module: String, other: String },
    /// `checkout N`: commits the work tree if it changed, then `git checkout` of commit N.
    Checkout { commit: usize },
    /// `clone N`: commits if needed, clones the repo at another path, checks out commit N there
    /// and goes on in the clone (same store, empty target dir).
    Clone { commit: usize },
    /// `remote-clone N`: like `clone N`, but with a new, empty local store: the clone's builds
    /// restore from the remote cache (a real nginx) that every earlier build uploaded to.
    RemoteClone { commit: usize },
    /// `touch-all`: every file under go/ gets a new mtime, contents unchanged.
    TouchAll,
    /// `pause`: waits out the racy window, so that the next builds may take the no-op fast path.
    Pause,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let same = |s: &bool| if *s { "-same-size" } else { "" };
        match self {
            Op::Edit {
                pkg,
                value,
                same_size,
            } => write!(f, "edit{} {pkg} {value}", same(same_size)),
            Op::EditEmbedded {
                file,
                value,
                same_size,
            } => {
                write!(f, "edit-embedded{} {file} {value}", same(same_size))
            }
            Op::AddImport { from, to } => write!(f, "add-import {from} {to}"),
            Op::DropImport { from, to } => write!(f, "drop-import {from} {to}"),
            Op::MoveImport { from, old, new } => write!(f, "move-import {from} {old} {new}"),
            Op::NewPackage {
                module,
                dir,
                rank,
                importer,
            } => {
                write!(f, "new-package {module} {dir} {rank} {importer}")
            }
            Op::Embed { pattern } => write!(f, "embed {pattern}"),
            Op::FlipConstraint => write!(f, "flip-constraint"),
            Op::ToggleRequire { module, other } => write!(f, "toggle-require {module} {other}"),
            Op::ToggleReplace { module, other } => write!(f, "toggle-replace {module} {other}"),
            Op::Checkout { commit } => write!(f, "checkout {commit}"),
            Op::Clone { commit } => write!(f, "clone {commit}"),
            Op::RemoteClone { commit } => write!(f, "remote-clone {commit}"),
            Op::TouchAll => write!(f, "touch-all"),
            Op::Pause => write!(f, "pause"),
        }
    }
}

impl std::str::FromStr for Op {
    type Err = String;

    fn from_str(line: &str) -> Result<Op, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let bad = || format!("not an operation: `{line}`");
        let s = |i: usize| words.get(i).map(|w| w.to_string()).ok_or_else(bad);
        let n = |i: usize| {
            words
                .get(i)
                .and_then(|w| w.parse::<u64>().ok())
                .ok_or_else(bad)
        };
        let op = match *words.first().ok_or_else(bad)? {
            "edit" | "edit-same-size" => Op::Edit {
                pkg: s(1)?,
                value: n(2)?,
                same_size: words[0] == "edit-same-size",
            },
            "edit-embedded" | "edit-embedded-same-size" => Op::EditEmbedded {
                file: s(1)?,
                value: n(2)?,
                same_size: words[0] == "edit-embedded-same-size",
            },
            "add-import" => Op::AddImport {
                from: s(1)?,
                to: s(2)?,
            },
            "drop-import" => Op::DropImport {
                from: s(1)?,
                to: s(2)?,
            },
            "move-import" => Op::MoveImport {
                from: s(1)?,
                old: s(2)?,
                new: s(3)?,
            },
            "new-package" => Op::NewPackage {
                module: s(1)?,
                dir: s(2)?,
                rank: n(3)? as u32,
                importer: s(4)?,
            },
            "embed" => Op::Embed { pattern: s(1)? },
            "flip-constraint" => Op::FlipConstraint,
            "toggle-require" => Op::ToggleRequire {
                module: s(1)?,
                other: s(2)?,
            },
            "toggle-replace" => Op::ToggleReplace {
                module: s(1)?,
                other: s(2)?,
            },
            "checkout" => Op::Checkout {
                commit: n(1)? as usize,
            },
            "remote-clone" => Op::RemoteClone {
                commit: n(1)? as usize,
            },
            "clone" => Op::Clone {
                commit: n(1)? as usize,
            },
            "touch-all" => Op::TouchAll,
            "pause" => Op::Pause,
            _ => return Err(bad()),
        };
        Ok(op)
    }
}

/// SplitMix64: a tiny seeded generator, so a seed names one sequence on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    pub fn pick_opt<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| self.pick(items))
    }
}
