//! Checking stamp lists: whether every stamp a list holds still holds, and what one run has
//! already proved (`StampMemo`), so that a block shared by many units is checked once.

use std::collections::HashMap;
use std::sync::Mutex;

use camino::Utf8Path;

use super::parse_stamp;
use crate::buildcache::inputs::resolve;
use crate::buildcache::statcache::{FileStamp, OpenDir};

/// Whether every stamp in `text` (lines as `write_to` wrote them) still holds, paths resolved
/// against `root`. Anything unreadable or unknown is a change: the caller then does the work.
#[cfg(test)]
pub fn all_hold(text: &str, root: &Utf8Path) -> bool {
    all_hold_in(text, root, &StampMemo::default(), |_| false)
}

/// [`all_hold`], where a `dir` line whose stamp moved still holds if `moved_dir_holds` says so
/// for that directory (for example: it lists the same names, as after an editor's atomic save,
/// which renames a new file over the old one and so moves its directory's stamp).
pub fn all_hold_or(
    text: &str,
    root: &Utf8Path,
    moved_dir_holds: impl Fn(&Utf8Path) -> bool,
) -> bool {
    all_hold_in(text, root, &StampMemo::default(), moved_dir_holds)
}

/// What one run's checks have proved, shared by every unit's: forty targets whose closures
/// share most packages check each directory's block of files once, not forty times (a no-op's
/// cost grows with the distinct inputs). Only successes are kept, per directory as its path is
/// written in the lists (so a memo serves one root), and a block is known by its exact text: a
/// unit that shares nothing pays one insert per directory. A run is one moment: a file that
/// changes while it runs counts as changed after the run.
#[derive(Default)]
pub struct StampMemo {
    /// Each directory's own stamp, as first seen (None: it could not be read).
    dirs: Mutex<HashMap<String, Option<FileStamp>>>,
    /// Per directory, the texts of its blocks of `file`/`absent` lines that held.
    blocks: Mutex<HashMap<String, Vec<Box<str>>>>,
}

impl StampMemo {
    /// The directory's own stamp as first seen this run, and the directory opened when this
    /// call was the first look and its block has files to check (one path walk then serves the
    /// stamp and the block's checks; a directory with an empty block, as most of a session
    /// snapshot's, is stamped by its path: one system call, not an open, a stat and a close).
    fn dir_stamp(
        &self,
        written: &str,
        path: &Utf8Path,
        block_is_empty: bool,
    ) -> (Option<FileStamp>, Option<OpenDir>) {
        if let Some(seen) = self.dirs.lock().unwrap().get(written) {
            return (*seen, None);
        }
        let (stamp, opened) = if block_is_empty {
            (FileStamp::of(path).ok(), None)
        } else {
            let opened = OpenDir::open(path).ok();
            (opened.as_ref().and_then(|d| d.stamp().ok()), opened)
        };
        self.dirs.lock().unwrap().insert(written.to_owned(), stamp);
        (stamp, opened)
    }

    fn block_held(&self, dir: &str, block: &str) -> bool {
        let blocks = self.blocks.lock().unwrap();
        blocks
            .get(dir)
            .is_some_and(|held| held.iter().any(|b| &**b == block))
    }

    fn remember_block(&self, dir: &str, block: &str) {
        let mut blocks = self.blocks.lock().unwrap();
        blocks.entry(dir.to_owned()).or_default().push(block.into());
    }
}

/// The first line of `text` (without its newline) and the rest.
fn split_line(text: &str) -> (&str, &str) {
    text.split_once('\n').unwrap_or((text, ""))
}

/// [`all_hold_or`] through `memo`, the run's shared proofs.
pub fn all_hold_in(
    text: &str,
    root: &Utf8Path,
    memo: &StampMemo,
    moved_dir_holds: impl Fn(&Utf8Path) -> bool,
) -> bool {
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
                let (stamp, opened) = memo.dir_stamp(written, &path, block.is_empty());
                let holds = stamp == Some(before) || moved_dir_holds(&path);
                (written, holds, opened)
            }
            "in" => (tail, true, None),
            "listed" => (tail, moved_dir_holds(&resolve(root, tail)), None),
            _ => return false,
        };
        if !holds || !block_holds(root, written, block, memo, opened) {
            return false;
        }
        rest = next;
    }
    true
}

/// Whether every `file` and `absent` line of the block of directory `written` holds (or held
/// earlier this run).
fn block_holds(
    root: &Utf8Path,
    written: &str,
    block: &str,
    memo: &StampMemo,
    opened: Option<OpenDir>,
) -> bool {
    if block.is_empty() || memo.block_held(written, block) {
        return true;
    }
    // A directory that cannot be opened holds no file: its `absent` lines hold.
    let opened = opened.or_else(|| OpenDir::open(&resolve(root, written)).ok());
    let holds = block.lines().all(|line| match line.split_once(' ') {
        Some(("file", rest)) => parse_stamp(rest).is_some_and(|(before, name)| {
            opened
                .as_ref()
                .is_some_and(|d| d.stamp_of(name).is_ok_and(|s| s == before))
        }),
        Some(("absent", name)) => opened.as_ref().is_none_or(|d| d.stamp_of(name).is_err()),
        _ => false,
    });
    if holds {
        memo.remember_block(written, block);
    }
    holds
}
