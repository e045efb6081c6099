//! `//go:embed` as go's vendoring reads it: the patterns of a Go file, which files count
//! (`embeds_count`), `path.Match` globs, and the files a package's patterns select
//! (`resolve_embeds`, go's `load.ResolveEmbed`).

use std::collections::BTreeSet;

use crate::go::gosource::{imports_c, package_name};

/// Whether the `//go:embed` lines of the Go file `name` decide what is vendored: go reads them
/// with go/build's `UseAllFiles` (so build-ignored files count too) but skips files whose names
/// start with `.` or `_`, files of `package documentation`, cgo files when cgo is off, and (main
/// module go 1.22 and later) test files.
pub(super) fn embeds_count(name: &str, content: &[u8], test_embeds: bool, cgo: bool) -> bool {
    let test = name.ends_with("_test.go");
    !name.starts_with(['.', '_'])
        && (test_embeds || !test)
        && package_name(content) != Some("documentation")
        && (cgo || test || !imports_c(content))
}

/// The `names` matched by `//go:embed` patterns of a package in `dir` (go's `load.ResolveEmbed`):
/// a pattern matches files or directories; a directory brings every file below it except
/// those under names starting with `.` or `_` (unless the pattern starts with `all:`).
pub(super) fn resolve_embeds(dir: &str, patterns: &[String], names: &[&str]) -> Vec<String> {
    let mut found = BTreeSet::new();
    for pattern in patterns {
        let (all, glob) = match pattern.strip_prefix("all:") {
            Some(rest) => (true, rest),
            None => (false, pattern.as_str()),
        };
        let segments: Vec<&str> = glob.split('/').collect();
        for &rel in names {
            let below = if dir.is_empty() {
                Some(rel)
            } else {
                rel.strip_prefix(dir).and_then(|r| r.strip_prefix('/'))
            };
            let Some(below) = below else { continue };
            let parts: Vec<&str> = below.split('/').collect();
            if parts.len() < segments.len()
                || !segments.iter().zip(&parts).all(|(s, p)| glob_match(s, p))
            {
                continue;
            }
            let hidden = parts[segments.len()..]
                .iter()
                .any(|p| p.starts_with(['.', '_']));
            if parts.len() == segments.len() || all || !hidden {
                found.insert(rel.to_owned());
            }
        }
    }
    found.into_iter().collect()
}

/// `path.Match` for one path segment: `*`, `?`, `[...]` classes (with `^` negation and ranges), `\` escapes.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    fn class(p: &[char], mut i: usize, c: char) -> Option<(bool, usize)> {
        let negate = p.get(i) == Some(&'^');
        if negate {
            i += 1;
        }
        let mut matched = false;
        let mut first = true;
        while i < p.len() && (first || p[i] != ']') {
            first = false;
            let mut lo = p[i];
            if lo == '\\' {
                i += 1;
                lo = *p.get(i)?;
            }
            let mut hi = lo;
            if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|c| *c != ']') {
                hi = p[i + 2];
                i += 2;
            }
            matched |= lo <= c && c <= hi;
            i += 1;
        }
        (i < p.len()).then_some((matched != negate, i + 1))
    }
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|k| go(&p[1..], &n[k..])),
            Some('?') => !n.is_empty() && go(&p[1..], &n[1..]),
            Some('[') => match (n.first(), class(p, 1, *n.first().unwrap_or(&'\0'))) {
                (Some(_), Some((true, next))) => go(&p[next..], &n[1..]),
                _ => false,
            },
            Some('\\') if p.len() > 1 => n.first() == Some(&p[1]) && go(&p[2..], &n[1..]),
            Some(c) => n.first() == Some(c) && go(&p[1..], &n[1..]),
        }
    }
    go(&p, &n)
}

/// The patterns of every `//go:embed` directive of a Go file (quoted patterns unquoted).
pub fn embed_patterns(content: &[u8]) -> Vec<String> {
    // Most files have none: one fast search before any line is decoded.
    // Most files have none: one search of the bytes before any of them is decoded.
    if memchr::memmem::find(content, b"//go:embed").is_none() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(content);
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.trim_start().strip_prefix("//go:embed") else {
            continue;
        };
        if !rest.starts_with([' ', '\t']) {
            continue;
        }
        let mut chars = rest.trim().chars().peekable();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                chars.next();
            } else if c == '"' || c == '`' {
                chars.next();
                let mut value = String::new();
                while let Some(ch) = chars.next() {
                    if ch == c {
                        break;
                    }
                    if ch == '\\' && c == '"' {
                        if let Some(esc) = chars.next() {
                            value.push(esc);
                        }
                        continue;
                    }
                    value.push(ch);
                }
                out.push(value);
            } else {
                let mut value = String::new();
                while let Some(&ch) = chars.peek() {
                    if ch.is_whitespace() {
                        break;
                    }
                    value.push(ch);
                    chars.next();
                }
                out.push(value);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_embed_directives() {
        assert!(glob_match("*.txt", "words.txt"));
        assert!(!glob_match("*.txt", "words.md"));
        assert!(glob_match("w?rd[a-z]", "words"));
        assert!(!glob_match("[^a-z]*", "words"));
        assert_eq!(
            embed_patterns(b"//go:embed data/*.txt \"a b\" `c`\nvar x string\n"),
            ["data/*.txt", "a b", "c"]
        );
    }
}
