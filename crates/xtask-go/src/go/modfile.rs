//! go's modfile syntax, shared by go.mod and go.work: directive lines, `verb ( ... )` blocks,
//! `//` comments, quoted and back-quoted tokens. Errors name the file and line.

use anyhow::{bail, Context, Result};
use camino::Utf8Path;

/// One directive line: its verb (inherited from an enclosing block) and its tokens.
pub(crate) struct Line<'a> {
    pub number: usize,
    pub verb: &'a str,
    pub args: Vec<String>,
    pub comment: &'a str,
}

/// Splits modfile text into directive lines, expanding `verb ( ... )` blocks.
pub(crate) fn lines<'a>(text: &'a str, file: &Utf8Path) -> Result<Vec<Line<'a>>> {
    let mut out = Vec::new();
    let mut block: Option<&'a str> = None;
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let (code, comment) = split_comment(raw);
        let mut tokens = tokenize(code)
            .with_context(|| format!("{file}:{number}: malformed line `{}`", raw.trim()))?;
        if tokens.is_empty() {
            continue;
        }
        if let Some(verb) = block {
            if tokens == [")"] {
                block = None;
                continue;
            }
            out.push(Line {
                number,
                verb,
                args: tokens,
                comment,
            });
            continue;
        }
        let verb = code.split_whitespace().next().unwrap_or_default();
        tokens.remove(0);
        if tokens == ["("] {
            block = Some(verb);
            continue;
        }
        if tokens == ["(", ")"] {
            continue;
        }
        out.push(Line {
            number,
            verb,
            args: tokens,
            comment,
        });
    }
    if let Some(verb) = block {
        bail!("{file}: the `{verb} (` block is never closed with `)`");
    }
    Ok(out)
}

/// Splits off a `//` comment that is not inside a quoted string.
fn split_comment(line: &str) -> (&str, &str) {
    let mut quote = None;
    let bytes = line.as_bytes();
    for i in 0..bytes.len() {
        match (quote, bytes[i]) {
            (None, b'"') | (None, b'`') => quote = Some(bytes[i]),
            (Some(q), c) if c == q && (q == b'`' || i == 0 || bytes[i - 1] != b'\\') => {
                quote = None
            }
            (None, b'/') if bytes.get(i + 1) == Some(&b'/') => {
                return (&line[..i], line[i + 2..].trim())
            }
            _ => {}
        }
    }
    (line, "")
}

fn tokenize(code: &str) -> Result<Vec<String>> {
    let mut tokens = Vec::new();
    let mut chars = code.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' || c == '`' {
            chars.next();
            let mut value = String::new();
            let mut closed = false;
            while let Some((_, ch)) = chars.next() {
                if ch == c {
                    closed = true;
                    break;
                }
                if ch == '\\' && c == '"' {
                    if let Some((_, esc)) = chars.next() {
                        value.push(esc);
                    }
                    continue;
                }
                value.push(ch);
            }
            if !closed {
                bail!("unterminated quoted string");
            }
            tokens.push(value);
        } else if c == '(' || c == ')' {
            chars.next();
            tokens.push(c.to_string());
        } else if code[start..].starts_with("=>") {
            chars.next();
            chars.next();
            tokens.push("=>".into());
        } else {
            let mut end = code.len();
            while let Some(&(i, ch)) = chars.peek() {
                if ch.is_whitespace()
                    || ch == '('
                    || ch == ')'
                    || ch == '"'
                    || code[i..].starts_with("=>")
                {
                    end = i;
                    break;
                }
                chars.next();
            }
            tokens.push(code[start..end].to_string());
        }
    }
    Ok(tokens)
}

pub(crate) fn expect_args(line: &Line<'_>, file: &Utf8Path, n: usize, form: &str) -> Result<()> {
    if line.args.len() != n {
        bail!("{file}:{}: usage: {form}", line.number);
    }
    Ok(())
}
