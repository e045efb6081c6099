//! Parsers for `go.mod` and `go.work` (go's modfile syntax: directives, blocks, comments, quoting).
//!
//! Only reading: this module never writes a go.mod. Errors name the file and line.

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;

use crate::go::modfile::{expect_args, lines, Line};

/// `module@version`, or a local directory for replacements by path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleVersion {
    pub path: String,
    /// Empty for a replacement by a local directory.
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Require {
    pub module: ModuleVersion,
    pub indirect: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Replace {
    /// The module replaced; an empty version replaces every version.
    pub old: ModuleVersion,
    pub new: ModuleVersion,
}

impl Replace {
    /// A replacement by a local directory (`=> ../fork`), not by another module.
    pub fn is_local(&self) -> bool {
        self.new.version.is_empty()
    }
}

/// A parsed `go.mod`.
#[derive(Debug, Clone, Serialize)]
pub struct GoMod {
    pub file: Utf8PathBuf,
    pub module: String,
    pub go: Option<String>,
    pub toolchain: Option<String>,
    pub requires: Vec<Require>,
    pub replaces: Vec<Replace>,
    pub excludes: Vec<ModuleVersion>,
}

/// A parsed `go.work`.
#[derive(Debug, Clone, Serialize)]
pub struct GoWork {
    pub file: Utf8PathBuf,
    pub go: Option<String>,
    /// The `use` directives, as written (relative to the go.work directory).
    pub uses: Vec<String>,
    pub replaces: Vec<Replace>,
}

fn parse_replace(line: &Line<'_>, file: &Utf8Path) -> Result<Replace> {
    let usage = "replace module [version] => newpath [newversion]";
    let arrow = line
        .args
        .iter()
        .position(|t| t == "=>")
        .with_context(|| format!("{file}:{}: usage: {usage}", line.number))?;
    let (left, right) = (&line.args[..arrow], &line.args[arrow + 1..]);
    if left.is_empty() || left.len() > 2 || right.is_empty() || right.len() > 2 {
        bail!("{file}:{}: usage: {usage}", line.number);
    }
    let mv = |t: &[String]| ModuleVersion {
        path: t[0].clone(),
        version: t.get(1).cloned().unwrap_or_default(),
    };
    Ok(Replace {
        old: mv(left),
        new: mv(right),
    })
}

fn check_version(version: &str, file: &Utf8Path, number: usize) -> Result<()> {
    if !version.starts_with('v') || version.len() < 2 {
        bail!("{file}:{number}: invalid version `{version}`: versions look like v1.2.3");
    }
    Ok(())
}

fn check_go_version(version: &str, file: &Utf8Path, number: usize) -> Result<()> {
    let ok = version
        .split('.')
        .next()
        .is_some_and(|major| !major.is_empty() && major.bytes().all(|b| b.is_ascii_digit()));
    if !ok {
        bail!(
            "{file}:{number}: invalid go version `{version}`: must match the form 1.23 or 1.23.0"
        );
    }
    Ok(())
}

impl GoMod {
    pub fn read(file: &Utf8Path) -> Result<GoMod> {
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
        GoMod::parse(&text, file)
    }

    pub fn parse(text: &str, file: &Utf8Path) -> Result<GoMod> {
        let mut module = None;
        let mut m = GoMod {
            file: file.to_owned(),
            module: String::new(),
            go: None,
            toolchain: None,
            requires: Vec::new(),
            replaces: Vec::new(),
            excludes: Vec::new(),
        };
        for line in lines(text, file)? {
            match line.verb {
                "module" => {
                    expect_args(&line, file, 1, "module module/path")?;
                    if module.is_some() {
                        bail!("{file}:{}: repeated module statement", line.number);
                    }
                    module = Some(line.args[0].clone());
                }
                "go" => {
                    expect_args(&line, file, 1, "go 1.23")?;
                    check_go_version(&line.args[0], file, line.number)?;
                    m.go = Some(line.args[0].clone());
                }
                "toolchain" => {
                    expect_args(&line, file, 1, "toolchain go1.23.1")?;
                    m.toolchain = Some(line.args[0].clone());
                }
                "require" => {
                    expect_args(&line, file, 2, "require module/path v1.2.3")?;
                    check_version(&line.args[1], file, line.number)?;
                    let indirect = line
                        .comment
                        .split(';')
                        .any(|part| part.trim() == "indirect");
                    m.requires.push(Require {
                        module: ModuleVersion {
                            path: line.args[0].clone(),
                            version: line.args[1].clone(),
                        },
                        indirect,
                    });
                }
                "exclude" => {
                    expect_args(&line, file, 2, "exclude module/path v1.2.3")?;
                    m.excludes.push(ModuleVersion {
                        path: line.args[0].clone(),
                        version: line.args[1].clone(),
                    });
                }
                "replace" => m.replaces.push(parse_replace(&line, file)?),
                "retract" | "godebug" | "tool" | "ignore" => {}
                other => bail!("{file}:{}: unknown directive: {other}", line.number),
            }
        }
        m.module = module.with_context(|| {
            format!("{file}: no module statement (a go.mod starts with `module path`)")
        })?;
        Ok(m)
    }

    /// The directory that holds this go.mod.
    pub fn dir(&self) -> &Utf8Path {
        self.file
            .parent()
            .expect("a go.mod file has a parent directory")
    }
}

impl GoWork {
    pub fn read(file: &Utf8Path) -> Result<GoWork> {
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
        GoWork::parse(&text, file)
    }

    pub fn parse(text: &str, file: &Utf8Path) -> Result<GoWork> {
        let mut w = GoWork {
            file: file.to_owned(),
            go: None,
            uses: Vec::new(),
            replaces: Vec::new(),
        };
        for line in lines(text, file)? {
            match line.verb {
                "go" => {
                    expect_args(&line, file, 1, "go 1.23")?;
                    check_go_version(&line.args[0], file, line.number)?;
                    w.go = Some(line.args[0].clone());
                }
                "use" => {
                    expect_args(&line, file, 1, "use ./dir")?;
                    w.uses.push(line.args[0].clone());
                }
                "replace" => w.replaces.push(parse_replace(&line, file)?),
                "toolchain" | "godebug" => {}
                other => bail!("{file}:{}: unknown directive: {other}", line.number),
            }
        }
        Ok(w)
    }

    pub fn dir(&self) -> &Utf8Path {
        self.file
            .parent()
            .expect("a go.work file has a parent directory")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_blocks_comments_and_replacements() {
        let text = r#"
// A comment.
module example.com/app // trailing

go 1.22

require (
	example.com/alpha v1.2.0
	example.com/beta v1.0.0 // indirect
)
require "example.com/quoted" v0.1.0
replace example.com/beta v1.0.0 => ../beta
replace (
	example.com/old => example.com/new v1.1.0
)
exclude example.com/alpha v1.1.0
"#;
        let m = GoMod::parse(text, "go.mod".into()).unwrap();
        assert_eq!(m.module, "example.com/app");
        assert_eq!(m.go.as_deref(), Some("1.22"));
        assert_eq!(m.requires.len(), 3);
        assert!(!m.requires[0].indirect && m.requires[1].indirect);
        assert_eq!(m.requires[2].module.path, "example.com/quoted");
        assert!(m.replaces[0].is_local());
        assert_eq!(
            m.replaces[1].new,
            ModuleVersion {
                path: "example.com/new".into(),
                version: "v1.1.0".into()
            }
        );
        assert_eq!(m.excludes.len(), 1);
    }

    #[test]
    fn errors_name_file_and_line() {
        let err = GoMod::parse("module a\nrequire example.com/x\n", "go/a/go.mod".into())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("go/a/go.mod:2:"), "{err}");
        let err = GoMod::parse("go 1.21\n", "go/b/go.mod".into())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("go/b/go.mod") && err.contains("no module statement"),
            "{err}"
        );
        let err = GoMod::parse("module a\nrequire (\n x v1.0.0\n", "m/go.mod".into())
            .unwrap_err()
            .to_string();
        assert!(err.contains("never closed"), "{err}");
        let err = GoMod::parse("module a\nfrobnicate x\n", "m/go.mod".into())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("m/go.mod:2: unknown directive: frobnicate"),
            "{err}"
        );
    }

    #[test]
    fn parses_go_work() {
        let w = GoWork::parse(
            "go 1.22\n\nuse (\n\t./hello\n\t./greet\n)\nuse ./tool\n",
            "go/go.work".into(),
        )
        .unwrap();
        assert_eq!(w.uses, ["./hello", "./greet", "./tool"]);
    }
}
