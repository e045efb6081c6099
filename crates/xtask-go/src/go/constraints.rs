//! Build constraints, read from a file's leading comments and evaluated three-valued: as
//! `go mod vendor` sees them (go's `imports.ShouldBuild` with `AnyTags`, where every valid tag but
//! `ignore` counts as both set and unset; a file is left out of vendor/ only when no tag set
//! selects it, or when go cannot parse its constraint), and for one build whose tags are known
//! or not (`holds_for`, discovery's package scan).

/// go's `imports.ShouldBuild(content, AnyTags())`: false only for files no tag set selects,
/// i.e. whose constraint needs the `ignore` tag, or which go cannot parse.
pub fn should_build_with_any_tags(content: &[u8]) -> bool {
    evaluate(content, &|tag, prefer| Some(tag_value(tag, prefer))).unwrap_or(false)
}

/// Whether a build takes the file by its constraint lines, where `tag` says which tags that
/// build sets (Some) and which it may or may not (None: a release tag, an experiment, a custom
/// tag): Some when the known tags decide, None when an unknown one could, or when go cannot
/// parse the constraint.
pub fn holds_for(content: &[u8], tag: &dyn Fn(&str) -> Option<bool>) -> Option<bool> {
    evaluate(content, &|t, _| tag(t))
}

/// A tag's value for an evaluation: given the tag and `prefer` (true where the tag stands
/// negated an even number of times), Some(set) or None (could be either).
type Leaf<'l> = dyn Fn(&str, bool) -> Option<bool> + 'l;

/// The file's constraint lines under `leaf`, with Kleene's and/or; None also when go cannot
/// parse them (which `should_build_with_any_tags` takes as "no").
fn evaluate(content: &[u8], leaf: &Leaf<'_>) -> Option<bool> {
    let (go_build, plus_build) = constraint_lines(content)?;
    if let Some(expr) = go_build {
        return BuildExpr::new(&expr, leaf).parse()?;
    }
    let atom = |a: &str| match a.strip_prefix('!') {
        Some(tag) => leaf(tag, false).map(|v| !v),
        None => leaf(a, true),
    };
    let term = |t: &str| t.split(',').map(atom).fold(Some(true), and3);
    let line = |l: &String| l.split_whitespace().map(term).fold(Some(false), or3);
    plus_build.iter().map(line).fold(Some(true), and3)
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

/// A tiny recursive-descent evaluator for `//go:build` expressions; a step's None is a parse
/// error, Some(None) an undecided value.
struct BuildExpr<'a, 'l> {
    tokens: Vec<&'a str>,
    at: usize,
    leaf: &'l Leaf<'l>,
}

impl<'a, 'l> BuildExpr<'a, 'l> {
    fn new(text: &'a str, leaf: &'l Leaf<'l>) -> BuildExpr<'a, 'l> {
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
        BuildExpr {
            tokens,
            at: 0,
            leaf,
        }
    }

    fn parse(mut self) -> Option<Option<bool>> {
        let value = self.or(true)?;
        (self.at == self.tokens.len()).then_some(value)
    }

    fn or(&mut self, prefer: bool) -> Option<Option<bool>> {
        let mut value = self.and(prefer)?;
        while self.tokens.get(self.at) == Some(&"||") {
            self.at += 1;
            value = or3(self.and(prefer)?, value);
        }
        Some(value)
    }

    fn and(&mut self, prefer: bool) -> Option<Option<bool>> {
        let mut value = self.not(prefer)?;
        while self.tokens.get(self.at) == Some(&"&&") {
            self.at += 1;
            value = and3(self.not(prefer)?, value);
        }
        Some(value)
    }

    fn not(&mut self, prefer: bool) -> Option<Option<bool>> {
        let token = *self.tokens.get(self.at)?;
        self.at += 1;
        match token {
            "!" => Some(self.not(!prefer)?.map(|v| !v)),
            "(" => {
                let value = self.or(prefer)?;
                (self.tokens.get(self.at) == Some(&")")).then(|| self.at += 1)?;
                Some(value)
            }
            ")" | "&&" | "||" => None,
            tag => Some((self.leaf)(tag, prefer)),
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
