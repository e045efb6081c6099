//! Reading Go and C source files the way go decides a package closure: the import block (go's
//! `ReadImports`), and a file's *shape*, the part of it that decides which files and packages a
//! build takes. Two contents with the same shape list the same closure; the build cache reuses
//! an input set only when every changed file keeps its shape.

use sha2::{Digest, Sha256};

/// The import paths of a Go source file: its `import` declarations after the package clause,
/// as go's `ReadImports` reads them (comments skipped; reading stops at the first other
/// declaration). `import "C"` is left out; a file that does not parse gives what was read.
pub fn imports(src: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    read_header(src, &mut out);
    out.retain(|p| p != "C");
    out
}

/// Whether a Go file imports "C" (is a cgo file).
pub fn imports_c(src: &[u8]) -> bool {
    let mut out = Vec::new();
    read_header(src, &mut out);
    out.iter().any(|p| p == "C")
}

/// The name in a Go file's package clause, if it has one.
pub fn package_name(src: &[u8]) -> Option<&str> {
    let mut lx = Lexer { s: src, i: 0 };
    lx.skip();
    if lx.ident() != Some("package") {
        return None;
    }
    lx.skip();
    let start = lx.i;
    lx.ident()?;
    std::str::from_utf8(&src[start..lx.i]).ok()
}

/// Where a Go file's header ends: after the package clause and every import declaration
/// (with the comments before them, which hold `//go:build` lines and the cgo preamble).
/// A file that does not parse that far ends where parsing stopped.
pub fn header_end(src: &[u8]) -> usize {
    read_header(src, &mut Vec::new())
}

fn read_header(src: &[u8], out: &mut Vec<String>) -> usize {
    let mut lx = Lexer { s: src, i: 0 };
    lx.skip();
    if lx.ident() != Some("package") {
        return lx.i;
    }
    lx.skip();
    if lx.ident().is_none() {
        return lx.i;
    }
    let mut end = lx.i;
    loop {
        lx.skip();
        if lx.ident() != Some("import") {
            return end;
        }
        lx.skip();
        if lx.eat(b'(') {
            loop {
                lx.skip();
                if lx.eat(b')') {
                    break;
                }
                if !lx.spec(out) {
                    return lx.i;
                }
            }
        } else if !lx.spec(out) {
            return lx.i;
        }
        end = lx.i;
    }
}

/// The kinds of source file whose shape the cache tracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A `.go` file: its header and its `//go:embed` lines.
    Go,
    /// A C-family or assembly file (`.c .h .cc .cpp .cxx .hh .hpp .hxx .m .s .S .sx .F .f ...`):
    /// its `#include`/`#import` lines.
    C,
}

/// What kind of source `path` names, if its shape can change a package closure.
pub fn source_kind(path: &str) -> Option<SourceKind> {
    let ext = path.rsplit_once('.').map(|(_, e)| e)?;
    match ext {
        "go" => Some(SourceKind::Go),
        "c" | "h" | "cc" | "cpp" | "cxx" | "hh" | "hpp" | "hxx" | "m" | "s" | "S" | "sx" | "F"
        | "f" | "for" | "f90" | "swig" | "swigcxx" => Some(SourceKind::C),
        _ => None,
    }
}

/// A short digest of the part of `src` that decides a closure: for Go, the header (package
/// clause, build constraints, cgo preamble and `#cgo` directives, imports) and every
/// `//go:embed` line; for C, every `#include`/`#import` line. Edits elsewhere keep the shape.
pub fn shape(kind: SourceKind, src: &[u8]) -> String {
    let mut hasher = Sha256::new();
    match kind {
        SourceKind::Go => {
            let end = header_end(src);
            hasher.update(&src[..end]);
            hasher.update(b"\0");
            for line in src[end..].split(|&c| c == b'\n') {
                if trim_start(line).starts_with(b"//go:embed") {
                    hasher.update(line);
                    hasher.update(b"\n");
                }
            }
        }
        SourceKind::C => {
            for line in src.split(|&c| c == b'\n') {
                if include_target(line).is_some() {
                    hasher.update(line);
                    hasher.update(b"\n");
                }
            }
        }
    }
    crate::util::hex(&hasher.finalize()[..16])
}

/// The header names a C-family file includes: (name, quoted) for `#include "x.h"` (true) and
/// `#include <x.h>` (false), `#import` alike. In a Go file, only the cgo preamble's lines count.
pub fn c_includes(src: &[u8]) -> Vec<(String, bool)> {
    src.split(|&c| c == b'\n')
        .filter_map(include_target)
        .collect()
}

fn include_target(line: &[u8]) -> Option<(String, bool)> {
    let rest = trim_start(line.strip_prefix(b"//").unwrap_or(line));
    let rest = trim_start(rest.strip_prefix(b"#")?);
    let rest = rest
        .strip_prefix(b"include")
        .or_else(|| rest.strip_prefix(b"import"))?;
    let rest = trim_start(rest);
    let (close, quoted) = match rest.first()? {
        b'"' => (b'"', true),
        b'<' => (b'>', false),
        _ => return None,
    };
    let body = &rest[1..];
    let end = body.iter().position(|&c| c == close)?;
    let name = std::str::from_utf8(&body[..end]).ok()?;
    Some((name.to_owned(), quoted))
}

fn trim_start(s: &[u8]) -> &[u8] {
    let n = s
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\r'))
        .unwrap_or(s.len());
    &s[n..]
}

struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
}

impl Lexer<'_> {
    /// Skips white space, semicolons and comments.
    fn skip(&mut self) {
        while self.i < self.s.len() {
            let rest = &self.s[self.i..];
            if matches!(rest[0], b' ' | b'\t' | b'\n' | b'\r' | b';') {
                self.i += 1;
            } else if rest.starts_with(b"//") {
                self.i += rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
            } else if rest.starts_with(b"/*") {
                let end = rest.windows(2).skip(2).position(|w| w == b"*/");
                self.i += end.map_or(rest.len(), |e| e + 4);
            } else {
                break;
            }
        }
    }

    fn ident(&mut self) -> Option<&str> {
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric()
                || self.s[self.i] == b'_'
                || self.s[self.i] >= 0x80)
        {
            self.i += 1;
        }
        (self.i > start)
            .then(|| std::str::from_utf8(&self.s[start..self.i]).ok())
            .flatten()
    }

    fn eat(&mut self, c: u8) -> bool {
        let found = self.s.get(self.i) == Some(&c);
        self.i += usize::from(found);
        found
    }

    /// `[name | . | _] "path"`; false when the spec does not parse.
    fn spec(&mut self, out: &mut Vec<String>) -> bool {
        let named = self.eat(b'.')
            || matches!(self.s.get(self.i), Some(b'"' | b'`'))
            || self.ident().is_some();
        if !named {
            return false;
        }
        self.skip();
        match self.string() {
            Some(path) => {
                out.push(path);
                true
            }
            None => false,
        }
    }

    /// A Go string literal: interpreted (escapes kept as written: import paths have none) or raw.
    fn string(&mut self) -> Option<String> {
        let quote = *self.s.get(self.i)?;
        if quote != b'"' && quote != b'`' {
            return None;
        }
        let start = self.i + 1;
        let mut j = start;
        while j < self.s.len() && self.s[j] != quote {
            if quote == b'"' && (self.s[j] == b'\\' || self.s[j] == b'\n') {
                return None;
            }
            j += 1;
        }
        let text = std::str::from_utf8(self.s.get(start..j)?).ok()?.to_owned();
        self.i = j + 1;
        Some(text)
    }
}

/// Whether go ignores a directory of this name when it looks for packages (`go help packages`:
/// names beginning with `.` or `_`, and `testdata`), or treats it as a vendor tree.
pub fn is_ignored_dir(name: &str) -> bool {
    name.starts_with('.') || name.starts_with('_') || name == "vendor" || name == "testdata"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names_and_cgo_files() {
        let cgo = b"// #include <stdio.h>\nimport \"C\"\n";
        assert_eq!(
            package_name(b"// doc\npackage documentation\n"),
            Some("documentation")
        );
        assert_eq!(
            package_name(b"/* x */ package p_2; import \"C\""),
            Some("p_2")
        );
        assert_eq!(package_name(b"func f() {}\n"), None);
        assert!(imports_c(&[b"package p\n\n".as_slice(), cgo].concat()));
        assert!(!imports_c(b"package p\n\nimport \"fmt\"\n"));
    }

    #[test]
    fn reads_imports_as_go_does() {
        let src = br#"// Copyright
/* block
   comment */
//go:build linux

package p // trailing

import "fmt"
import (
	"os" // why
	str "strings"
	. "example.com/dot"
	_ "example.com/blank"; "example.com/semi"
	`example.com/raw`
)
import "C"

import "example.com/late"

func f() { _ = "example.com/not-an-import" }
"#;
        assert_eq!(
            imports(src),
            [
                "fmt",
                "os",
                "strings",
                "example.com/dot",
                "example.com/blank",
                "example.com/semi",
                "example.com/raw",
                "example.com/late"
            ]
        );
        assert!(imports(b"not go").is_empty());
        assert_eq!(
            imports(b"package p\nimport \"a.b/c\"\nvar x = 1\nimport \"no\""),
            ["a.b/c"]
        );
    }

    #[test]
    fn the_shape_changes_with_what_decides_a_closure_and_only_with_that() {
        let base = "//go:build linux\n\npackage p\n\n// #include \"x.h\"\nimport \"C\"\nimport \"fmt\"\n\n//go:embed data/*.txt\nvar files embed.FS\n\nconst V = 1\n";
        let go = |s: &str| shape(SourceKind::Go, s.as_bytes());
        let same = [
            base.replace("const V = 1", "const V = 2"),
            base.replace(
                "const V = 1",
                "func f() { fmt.Println(\"import \\\"x\\\"\") }",
            ),
        ];
        for s in same {
            assert_eq!(go(base), go(&s), "{s}");
        }
        let changed = [
            base.replace("import \"fmt\"", "import (\"fmt\"; \"os\")"),
            base.replace("linux", "darwin"),
            base.replace("x.h", "y.h"),
            base.replace("data/*.txt", "data/*"),
            base.replace("package p", "package q"),
            base.replace("\nvar files", "\n//go:embed more.txt\nvar files"),
        ];
        for s in changed {
            assert_ne!(go(base), go(&s), "{s}");
        }
        let c = "#include \"a.h\"\n#include <stdio.h>\nint x = 1;\n";
        let cs = |s: &str| shape(SourceKind::C, s.as_bytes());
        assert_eq!(cs(c), cs(&c.replace("x = 1", "x = 2")));
        assert_ne!(cs(c), cs(&c.replace("a.h", "../b.h")));
        assert_ne!(cs(c), cs(&format!("{c}  #  include \"late.h\"\n")));
    }

    #[test]
    fn includes_are_read_from_c_lines_and_cgo_preambles() {
        let src = b"// #include \"../inc/v.h\"\n//#include <zlib.h>\n#import \"m.h\"\n# include \"sp.h\"\n#define X\n#include MACRO\n";
        assert_eq!(
            c_includes(src),
            [
                ("../inc/v.h".to_owned(), true),
                ("zlib.h".to_owned(), false),
                ("m.h".to_owned(), true),
                ("sp.h".to_owned(), true),
            ]
        );
        assert_eq!(source_kind("a/b.go"), Some(SourceKind::Go));
        assert_eq!(source_kind("a/b.S"), Some(SourceKind::C));
        assert_eq!(source_kind("a/b.txt"), None);
    }
}
