//! Build constraints as `go mod vendor` sees them: go's `imports.ShouldBuild` with `AnyTags`, where
//! every valid tag but `ignore` counts as both set and unset; a file is left out of vendor/ only
//! when no tag set selects it (`//go:build ignore`), or when go cannot parse its constraint.

/// go's `imports.ShouldBuild(content, AnyTags())`: false only for files no tag set selects,
/// i.e. whose constraint needs the `ignore` tag, or which go cannot parse.
pub fn should_build_with_any_tags(content: &[u8]) -> bool {
    let Some((go_build, plus_build)) = constraint_lines(content) else {
        return false;
    };
    if let Some(expr) = go_build {
        return BuildExpr::new(&expr).parse().unwrap_or(false);
    }
    plus_build.iter().all(|line| {
        line.split_whitespace().any(|term| {
            term.split(',').all(|atom| match atom.strip_prefix('!') {
                Some(tag) => !tag_value(tag, false),
                None => tag_value(atom, true),
            })
        })
    })
}

/// Whether a build takes the file by its constraint lines, where `tag` says which tags that
/// build sets (Some) and which it may or may not (None: a release tag, an experiment, a custom
/// tag): Some when the known tags decide, None when an unknown one could, or when go cannot
/// parse the constraint.
pub fn holds_for(content: &[u8], tag: &dyn Fn(&str) -> Option<bool>) -> Option<bool> {
    let (go_build, plus_build) = constraint_lines(content)?;
    if let Some(expr) = go_build {
        let mut tri = TriExpr {
            tokens: BuildExpr::new(&expr).tokens,
            at: 0,
            tag,
        };
        let value = tri.or()?;
        return (tri.at == tri.tokens.len()).then_some(value)?;
    }
    let atom = |a: &str| match a.strip_prefix('!') {
        Some(t) => tag(t).map(|v| !v),
        None => tag(a),
    };
    let mut all = Some(true);
    for line in &plus_build {
        let mut any = Some(false);
        for term in line.split_whitespace() {
            let each = term.split(',').map(atom).fold(Some(true), and3);
            any = or3(any, each);
        }
        all = and3(all, any);
    }
    all
}

/// Kleene's three-valued and, or: None is "could be either".
fn and3(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

fn or3(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    and3(a.map(|v| !v), b.map(|v| !v)).map(|v| !v)
}

/// A `//go:build` expression under three-valued tags (`holds_for`); None from a step is a
/// parse error, Some(None) an undecided value.
struct TriExpr<'a, 't> {
    tokens: Vec<&'a str>,
    at: usize,
    tag: &'t dyn Fn(&str) -> Option<bool>,
}

impl TriExpr<'_, '_> {
    fn or(&mut self) -> Option<Option<bool>> {
        let mut value = self.and()?;
        while self.tokens.get(self.at) == Some(&"||") {
            self.at += 1;
            value = or3(value, self.and()?);
        }
        Some(value)
    }

    fn and(&mut self) -> Option<Option<bool>> {
        let mut value = self.not()?;
        while self.tokens.get(self.at) == Some(&"&&") {
            self.at += 1;
            value = and3(value, self.not()?);
        }
        Some(value)
    }

    fn not(&mut self) -> Option<Option<bool>> {
        let token = *self.tokens.get(self.at)?;
        self.at += 1;
        match token {
            "!" => Some(self.not()?.map(|v| !v)),
            "(" => {
                let value = self.or()?;
                (self.tokens.get(self.at) == Some(&")")).then(|| self.at += 1)?;
                Some(value)
            }
            ")" | "&&" | "||" => None,
            tag => Some((self.tag)(tag)),
        }
    }
}

/// A file's `//go:build` expression (if any) and `// +build` lines, from the comments before
/// its package clause; None when go cannot take the file (two `//go:build` lines).
fn constraint_lines(content: &[u8]) -> Option<(Option<String>, Vec<String>)> {
    // Line by line, so that only the leading comments are decoded, not the whole file.
    let mut go_build: Option<String> = None;
    let mut plus_build = Vec::new();
    let mut in_block = false;
    for raw in content.split(|&b| b == b'\n') {
        let text = String::from_utf8_lossy(raw);
        let line = text.trim();
        if in_block {
            if line.contains("*/") {
                in_block = false;
            }
            continue;
        }
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix("//") {
            if let Some(expr) = comment.strip_prefix("go:build") {
                if expr.is_empty() || expr.starts_with([' ', '\t']) {
                    if go_build.is_some() {
                        return None; // multiple //go:build lines
                    }
                    go_build = Some(expr.trim().to_owned());
                }
            } else if let Some(expr) = comment.trim_start().strip_prefix("+build") {
                plus_build.push(expr.trim().to_owned());
            }
            continue;
        }
        if line.starts_with("/*") {
            in_block = !line.contains("*/");
            continue;
        }
        break;
    }
    Some((go_build, plus_build))
}

/// go's `matchTag` with `AnyTags`: every valid tag but `ignore` is both set and unset.
fn tag_value(tag: &str, prefer: bool) -> bool {
    let valid = !tag.is_empty()
        && tag
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.');
    valid && tag != "ignore" && prefer
}

/// A tiny recursive-descent evaluator for `//go:build` expressions under `AnyTags`.
struct BuildExpr<'a> {
    tokens: Vec<&'a str>,
    at: usize,
}

impl<'a> BuildExpr<'a> {
    fn new(text: &'a str) -> BuildExpr<'a> {
        let mut tokens = Vec::new();
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            let len = if c.is_whitespace() {
                rest = &rest[c.len_utf8()..];
                continue;
            } else if rest.starts_with("&&") || rest.starts_with("||") {
                2
            } else if matches!(c, '!' | '(' | ')') {
                1
            } else {
                rest.find(|ch: char| ch.is_whitespace() || "!()&|".contains(ch))
                    .unwrap_or(rest.len())
                    .max(1)
            };
            tokens.push(&rest[..len]);
            rest = &rest[len..];
        }
        BuildExpr { tokens, at: 0 }
    }

    fn parse(mut self) -> Option<bool> {
        let value = self.or(true)?;
        (self.at == self.tokens.len()).then_some(value)
    }

    fn or(&mut self, prefer: bool) -> Option<bool> {
        let mut value = self.and(prefer)?;
        while self.tokens.get(self.at) == Some(&"||") {
            self.at += 1;
            value = self.and(prefer)? || value;
        }
        Some(value)
    }

    fn and(&mut self, prefer: bool) -> Option<bool> {
        let mut value = self.not(prefer)?;
        while self.tokens.get(self.at) == Some(&"&&") {
            self.at += 1;
            value = self.not(prefer)? && value;
        }
        Some(value)
    }

    fn not(&mut self, prefer: bool) -> Option<bool> {
        let token = *self.tokens.get(self.at)?;
        self.at += 1;
        match token {
            "!" => Some(!self.not(!prefer)?),
            "(" => {
                let value = self.or(prefer)?;
                (self.tokens.get(self.at) == Some(&")")).then(|| self.at += 1)?;
                Some(value)
            }
            ")" | "&&" | "||" => None,
            tag => Some(tag_value(tag, prefer)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_constraints_exclude_only_what_no_tags_select() {
        let build = |s: &str| should_build_with_any_tags(s.as_bytes());
        assert!(build("package a\n"));
        assert!(!build("//go:build ignore\n\npackage a\n"));
        assert!(build("//go:build windows && !linux\n\npackage a\n"));
        assert!(build("//go:build !ignore\n\npackage a\n"));
        assert!(!build("//go:build ignore && linux\n\npackage a\n"));
        assert!(build("//go:build ignore || linux\n\npackage a\n"));
        assert!(!build("// +build ignore\n\npackage a\n"));
        assert!(build(
            "// Copyright\n\n//go:build (a || b) && !c\n\npackage a\n"
        ));
        assert!(!build("//go:build (a\n\npackage a\n"));
        assert!(build("package a\n\n//go:build ignore\n"));
    }
}
