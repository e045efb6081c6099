//! The synthetic repo of the build bench: N Go modules in a go.work, each with P packages of F files
//! and one main package, committed to a local git repo so that "fresh clone" is a real `git clone`.

use std::fmt::Write as _;

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::{cmd, Shell};

/// How big the synthetic repo is.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub modules: usize,
    pub packages: usize,
    pub files: usize,
}

impl Shape {
    /// 10 modules x 30 packages x 10 files: about 3,000 files.
    pub const DEFAULT: Shape = Shape {
        modules: 10,
        packages: 30,
        files: 10,
    };
    /// Ten times larger by the number of modules (so also ten times the targets): 100 x 30 x 10.
    pub const LARGE: Shape = Shape {
        modules: 100,
        packages: 30,
        files: 10,
    };

    pub fn go_files(&self) -> usize {
        self.modules * (self.packages * self.files + 1)
    }

    /// `m00`.. (`m000`.. from 100 modules on): also the name of the module's main package and target.
    pub fn module_name(&self, i: usize) -> String {
        let width = (self.modules.saturating_sub(1)).to_string().len().max(2);
        format!("m{i:0width$}")
    }

    pub fn module_names(&self) -> Vec<String> {
        (0..self.modules).map(|i| self.module_name(i)).collect()
    }

    /// The file the one-edit scenario changes: in the last package of module 0, which only module 0's
    /// main imports (packages chain within a module, and siblings import only package p00).
    pub fn leaf_file(&self) -> Utf8PathBuf {
        format!(
            "go/{}/p{:02}/f{}.go",
            self.module_name(0),
            self.packages - 1,
            self.files / 2
        )
        .into()
    }
}

/// Writes the Go sources of the repo into `dir` (which must exist).
pub fn write_sources(sh: &Shell, dir: &Utf8Path, shape: Shape) -> Result<()> {
    let names = shape.module_names();
    sh.write_file(dir.join("Cargo.toml"), "[workspace]\nmembers = []\n")?;
    sh.write_file(
        dir.join(".gitignore"),
        "/target/\nout/\n.turbo/\n.task/\nnode_modules/\n",
    )?;
    let mut work = String::from("go 1.21\n\nuse (\n");
    for name in &names {
        writeln!(work, "\t./{name}")?;
    }
    work.push_str(")\n");
    sh.write_file(dir.join("go/go.work"), work)?;
    for (i, name) in names.iter().enumerate() {
        let module_dir = dir.join("go").join(name);
        sh.write_file(
            module_dir.join("go.mod"),
            format!("module example.com/bench/{name}\n\ngo 1.21\n"),
        )?;
        for p in 0..shape.packages {
            for f in 0..shape.files {
                let path = module_dir.join(format!("p{p:02}/f{f}.go"));
                sh.write_file(path, go_file(&shape, i, p, f))?;
            }
        }
        let main = module_dir.join(format!("cmd/{name}/main.go"));
        sh.write_file(main, main_file(&shape, i))?;
    }
    Ok(())
}

/// `git init` and one commit of everything in `dir`.
pub fn commit(sh: &Shell, dir: &Utf8Path) -> Result<()> {
    let _cd = sh.push_dir(dir);
    let git = ["-c", "user.name=bench", "-c", "user.email=bench@localhost"];
    let git2 = ["-c", "commit.gpgsign=false"];
    cmd!(sh, "git init -q -b main").quiet().run()?;
    cmd!(sh, "git add -A").quiet().run()?;
    cmd!(sh, "git {git...} {git2...} commit -q -m synthetic")
        .quiet()
        .run()
        .with_context(|| format!("committing the synthetic repo in {dir}"))?;
    Ok(())
}

/// Rewrites the leaf file's `editMarker` so that its package (and only its main) must rebuild.
pub fn edit_leaf(repo: &Utf8Path, shape: Shape, stamp: u64) -> Result<()> {
    rewrite_marker(&repo.join(shape.leaf_file()), stamp)
}

/// Sets the `editMarker` constant of the generated file at `path` to `stamp` (in place).
pub fn rewrite_marker(path: &Utf8Path, stamp: u64) -> Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    let start = text
        .find("const editMarker = ")
        .with_context(|| format!("{path} has no editMarker"))?;
    let end = start + text[start..].find('\n').context("editMarker line")?;
    let edited = format!(
        "{}const editMarker = {stamp}{}",
        &text[..start],
        &text[end..]
    );
    std::fs::write(path, edited).with_context(|| format!("writing {path}"))
}

/// Every input of a Go build in the repo: go.work, go.mod and .go files under go/ (not outputs).
pub fn input_files(repo: &Utf8Path) -> Result<Vec<Utf8PathBuf>> {
    let mut files = Vec::new();
    walk(&repo.join("go"), &mut files)?;
    Ok(files)
}

fn walk(dir: &Utf8Path, out: &mut Vec<Utf8PathBuf>) -> Result<()> {
    for entry in dir
        .read_dir_utf8()
        .with_context(|| format!("reading {dir}"))?
    {
        let entry = entry?;
        let name = entry.file_name();
        if entry.file_type()?.is_dir() {
            if name != "out" && !name.starts_with('.') {
                walk(entry.path(), out)?;
            }
        } else if name.ends_with(".go") || name == "go.mod" || name == "go.work" {
            out.push(entry.path().to_owned());
        }
    }
    Ok(())
}

/// One file of package `p` of module `m`: a record type and a few functions (~50 lines); file 0
/// also holds `Run`, which calls every file's code and the package this one chains to.
pub fn go_file(shape: &Shape, m: usize, p: usize, f: usize) -> String {
    let module = shape.module_name(m);
    // Packages chain in runs of five: p01 imports p00, p02 imports p01, ...; p05 starts a new chain.
    let position_in_chain = p % 5;
    let dep = (f == 0 && position_in_chain > 0).then(|| format!("p{:02}", p - 1));
    let mut s = format!("// Package p{p:02} is synthetic code generated by `cargo xtask bench build`.\npackage p{p:02}\n\nimport (\n\t\"sort\"\n\t\"strconv\"\n\t\"strings\"\n");
    if let Some(dep) = &dep {
        write!(s, "\n\t\"example.com/bench/{module}/{dep}\"\n").unwrap();
    }
    s.push_str(")\n\n");
    if f == shape.files / 2 {
        s.push_str("// editMarker is what the benchmark's one-edit scenario rewrites.\nconst editMarker = 0\n\n");
    }
    let bonus = if f == shape.files / 2 {
        " + editMarker"
    } else {
        ""
    };
    write!(
        s,
        r#"// Record{f} is one row of generated data.
type Record{f} struct {{
	ID    int
	Name  string
	Tags  []string
	Score float64
}}

// NewRecord{f} builds a Record{f} from a seed.
func NewRecord{f}(seed int) Record{f} {{
	name := "{module}-p{p:02}-" + strconv.Itoa(seed*{mul}+{f})
	tags := make([]string, 0, 4)
	for i := 0; i < seed%4+1; i++ {{
		tags = append(tags, strings.Repeat("t", i+1))
	}}
	return Record{f}{{ID: seed, Name: name, Tags: tags, Score: float64(seed)*1.5{bonus}}}
}}

// Key returns a stable key for r.
func (r Record{f}) Key() string {{
	var b strings.Builder
	b.WriteString(r.Name)
	for _, t := range r.Tags {{
		b.WriteByte(':')
		b.WriteString(t)
	}}
	return b.String()
}}

// Sort{f} orders records by score, then by name.
func Sort{f}(rs []Record{f}) {{
	sort.Slice(rs, func(i, j int) bool {{
		if rs[i].Score != rs[j].Score {{
			return rs[i].Score > rs[j].Score
		}}
		return rs[i].Name < rs[j].Name
	}})
}}

// Sum{f} makes n records, sorts them and adds the scores of those whose key contains sub.
func Sum{f}(n int, sub string) float64 {{
	rs := make([]Record{f}, 0, n)
	for i := 0; i < n; i++ {{
		rs = append(rs, NewRecord{f}(i))
	}}
	Sort{f}(rs)
	total := 0.0
	for _, r := range rs {{
		if strings.Contains(r.Key(), sub) {{
			total += r.Score
		}}
	}}
	return total
}}
"#,
        mul = m * 7 + p + 3,
    )
    .unwrap();
    if f == 0 {
        s.push_str("\n// Run exercises every file of the package (and the package it builds on).\nfunc Run(n int) float64 {\n\ttotal := 0.0\n");
        for g in 0..shape.files {
            writeln!(s, "\ttotal += Sum{g}(n, \"t\")").unwrap();
        }
        if let Some(dep) = &dep {
            writeln!(s, "\ttotal += {dep}.Run(n)").unwrap();
        }
        s.push_str("\treturn total\n}\n");
    }
    s
}

/// The main package of module `m`: imports all of its packages, and for odd modules package p00 of
/// the previous module too, so that the module graph is not trivial.
fn main_file(shape: &Shape, m: usize) -> String {
    let module = shape.module_name(m);
    let mut s = String::from("// Command generated by `cargo xtask bench build`.\npackage main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n\n");
    for p in 0..shape.packages {
        writeln!(s, "\t\"example.com/bench/{module}/p{p:02}\"").unwrap();
    }
    let sibling = (m % 2 == 1).then(|| shape.module_name(m - 1));
    if let Some(sibling) = &sibling {
        writeln!(s, "\tsibling \"example.com/bench/{sibling}/p00\"").unwrap();
    }
    s.push_str(")\n\nfunc main() {\n\tn := len(os.Args) + 3\n\ttotal := 0.0\n");
    for p in 0..shape.packages {
        writeln!(s, "\ttotal += p{p:02}.Run(n)").unwrap();
    }
    if sibling.is_some() {
        s.push_str("\ttotal += sibling.Run(n)\n");
    }
    s.push_str("\tfmt.Println(total)\n}\n");
    s
}
