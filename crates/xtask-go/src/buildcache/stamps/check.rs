//! Checking stamp lists: whether every stamp a list holds still holds. A directory with files
//! listed is opened once and its files stat'ed by name; one with none is one stat.

use camino::Utf8Path;

use super::parse_stamp;
use crate::buildcache::inputs::resolve;
use crate::buildcache::statcache::{FileStamp, OpenDir};

/// Whether every stamp in `text` (lines as `write_to` wrote them) still holds, paths resolved
/// against `root`. Anything unreadable or unknown is a change: the caller then does the work.
#[cfg(test)]
pub fn all_hold(text: &str, root: &Utf8Path) -> bool {
    all_hold_or(text, root, |_| false)
}

/// [`all_hold`], where a `dir` line whose stamp moved still holds if `moved_dir_holds` says so
/// for that directory (for example: it lists the same names, as after an editor's atomic save,
/// which renames a new file over the old one and so moves its directory's stamp).
pub fn all_hold_or(
    text: &str,
    root: &Utf8Path,
    moved_dir_holds: impl Fn(&Utf8Path) -> bool,
) -> bool {
    check(text, root, moved_dir_holds)
}

/// The directory's stamp, and the directory opened when its block has files to check (one path
/// walk then serves the stamp and the block's checks; a directory with an empty block, as most
/// of a session snapshot's, is stamped by its path: one system call, not an open, a stat and a
/// close).
fn dir_stamp(path: &Utf8Path, block_is_empty: bool) -> (Option<FileStamp>, Option<OpenDir>) {
    if block_is_empty {
        (FileStamp::of(path).ok(), None)
    } else {
        let opened = OpenDir::open(path).ok();
        (opened.as_ref().and_then(|d| d.stamp().ok()), opened)
    }
}

/// The first line of `text` (without its newline) and the rest.
fn split_line(text: &str) -> (&str, &str) {
    text.split_once('\n').unwrap_or((text, ""))
}

fn check(text: &str, root: &Utf8Path, moved_dir_holds: impl Fn(&Utf8Path) -> bool) -> bool {
    let mut rest = text;
    while !rest.is_empty() {
        let (line, after) = split_line(rest);
        // The directory line, then the block of `file`/`absent` lines that belong to it.
        let Some((tag, len, tail)) = line.split_once(' ').and_then(|(tag, rest)| {
            let (len, tail) = rest.split_once(' ')?;
            Some((tag, len.parse::<usize>().ok()?, tail))
        }) else {
            return false;
        };
        let Some((block, next)) = after.split_at_checked(len) else {
            return false;
        };
        if !(block.is_empty() || block.ends_with('\n')) {
            return false;
        }
        let (written, holds, opened) = match tag {
            "dir" => {
                let Some((before, written)) = parse_stamp(tail) else {
                    return false;
                };
                let path = resolve(root, written);
                let (stamp, opened) = dir_stamp(&path, block.is_empty());
                let holds = stamp == Some(before) || moved_dir_holds(&path);
                (written, holds, opened)
            }
            "in" => (tail, true, None),
            "listed" => (tail, moved_dir_holds(&resolve(root, tail)), None),
            _ => return false,
        };
        if !holds || !block_holds(root, written, block, opened) {
            return false;
        }
        rest = next;
    }
    true
}

/// Whether every `file` and `absent` line of the block of directory `written` holds.
fn block_holds(root: &Utf8Path, written: &str, block: &str, opened: Option<OpenDir>) -> bool {
    if block.is_empty() {
        return true;
    }
    // A directory that cannot be opened holds no file: its `absent` lines hold.
    let opened = opened.or_else(|| OpenDir::open(&resolve(root, written)).ok());
    block.lines().all(|line| match line.split_once(' ') {
        Some(("file", rest)) => parse_stamp(rest).is_some_and(|(before, name)| {
            opened
                .as_ref()
                .is_some_and(|d| d.stamp_of(name).is_ok_and(|s| s == before))
        }),
        Some(("absent", name)) => opened.as_ref().is_none_or(|d| d.stamp_of(name).is_err()),
        _ => false,
    })
}
