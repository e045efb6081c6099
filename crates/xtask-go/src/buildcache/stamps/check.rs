//! Checking stamp lists: whether every stamp a list holds still holds, and what one run has
//! already proved (`StampMemo`), so that a block shared by many units is checked once.

use std::borrow::Borrow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::ops::Range;
use std::sync::{Arc, RwLock};

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
/// which renames a new file over the old one and so moves its directory's stamp). One list
/// checked on its own: nothing is remembered.
pub fn all_hold_or(
    text: &str,
    root: &Utf8Path,
    moved_dir_holds: impl Fn(&Utf8Path) -> bool,
) -> bool {
    check(text, root, None, moved_dir_holds)
}

/// What one run's checks have proved, shared by every unit's: forty targets whose closures
/// share most packages check each directory's block of files once, not forty times (a no-op's
/// cost grows with the distinct inputs). Only successes are kept, per directory as its path is
/// written in the lists (so a memo serves one root), and a block is known by its exact text: a
/// unit that shares nothing pays one insert per directory. A run is one moment: a file that
/// changes while it runs counts as changed after the run.
///
/// The memo keeps each list's text (shared, see [`all_hold_in`]) and refers to its directories
/// and blocks by their place in it: remembering copies no text (copies and their allocations
/// cost a no-op of 300 packages about a tenth of its time).
#[derive(Default)]
pub struct StampMemo {
    /// Each directory's own stamp, as first seen (None: it could not be read).
    dirs: RwLock<HashMap<Slice, Option<FileStamp>>>,
    /// Per directory, the blocks of `file`/`absent` lines that held.
    blocks: RwLock<HashMap<Slice, Vec<Slice>>>,
}

impl StampMemo {
    /// Adds what one list's check learnt: one write lock per map and list, so that the threads
    /// looking up units at once read the memo without waiting on each other's every directory.
    /// A directory two lists stamped at once keeps the first stamp added (each list compared
    /// its own, a real look of this run).
    fn add(&self, learnt: Learnt) {
        if !learnt.dirs.is_empty() {
            let mut dirs = self.dirs.write().unwrap();
            for (dir, stamp) in learnt.dirs {
                dirs.entry(dir).or_insert(stamp);
            }
        }
        if !learnt.blocks.is_empty() {
            let mut blocks = self.blocks.write().unwrap();
            for (dir, block) in learnt.blocks {
                blocks.entry(dir).or_default().push(block);
            }
        }
    }
}

/// What one list's check learnt, added to the memo when the check ends.
#[derive(Default)]
struct Learnt {
    dirs: Vec<(Slice, Option<FileStamp>)>,
    blocks: Vec<(Slice, Slice)>,
}

/// A part of a list's text, kept alive with it; hashed and compared as the `str` it is.
#[derive(Clone)]
struct Slice {
    text: Arc<str>,
    range: Range<usize>,
}

impl Slice {
    /// `part`, which must lie within `text`.
    fn of(text: &Arc<str>, part: &str) -> Slice {
        let start = part.as_ptr() as usize - text.as_ptr() as usize;
        debug_assert!(start + part.len() <= text.len(), "a part of another text");
        Slice {
            text: Arc::clone(text),
            range: start..start + part.len(),
        }
    }

    fn as_str(&self) -> &str {
        &self.text[self.range.clone()]
    }
}

impl Borrow<str> for Slice {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl Hash for Slice {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl PartialEq for Slice {
    fn eq(&self, other: &Slice) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Slice {}

/// A run's memo, the text of the list being checked (which the memo may keep) and what the
/// check learnt so far.
#[derive(Clone, Copy)]
struct Shared<'a> {
    memo: &'a StampMemo,
    text: &'a Arc<str>,
    learnt: &'a RefCell<Learnt>,
}

impl Shared<'_> {
    fn seen_dir(&self, written: &str) -> Option<Option<FileStamp>> {
        self.memo.dirs.read().unwrap().get(written).copied()
    }

    fn remember_dir(&self, written: &str, stamp: Option<FileStamp>) {
        let dir = Slice::of(self.text, written);
        self.learnt.borrow_mut().dirs.push((dir, stamp));
    }

    fn block_held(&self, dir: &str, block: &str) -> bool {
        let blocks = self.memo.blocks.read().unwrap();
        blocks
            .get(dir)
            .is_some_and(|held| held.iter().any(|b| b.as_str() == block))
    }

    fn remember_block(&self, dir: &str, block: &str) {
        let entry = (Slice::of(self.text, dir), Slice::of(self.text, block));
        self.learnt.borrow_mut().blocks.push(entry);
    }
}

/// The directory's own stamp as first seen this run, and the directory opened when this call
/// was the first look and its block has files to check (one path walk then serves the stamp and
/// the block's checks; a directory with an empty block, as most of a session snapshot's, is
/// stamped by its path: one system call, not an open, a stat and a close).
fn dir_stamp(
    shared: Option<Shared<'_>>,
    written: &str,
    path: &Utf8Path,
    block_is_empty: bool,
) -> (Option<FileStamp>, Option<OpenDir>) {
    if let Some(seen) = shared.and_then(|s| s.seen_dir(written)) {
        return (seen, None);
    }
    let (stamp, opened) = if block_is_empty {
        (FileStamp::of(path).ok(), None)
    } else {
        let opened = OpenDir::open(path).ok();
        (opened.as_ref().and_then(|d| d.stamp().ok()), opened)
    };
    if let Some(shared) = shared {
        shared.remember_dir(written, stamp);
    }
    (stamp, opened)
}

/// The first line of `text` (without its newline) and the rest.
fn split_line(text: &str) -> (&str, &str) {
    text.split_once('\n').unwrap_or((text, ""))
}

/// [`all_hold_or`] of the list that starts at byte `start` of `text`, through `memo`, the
/// run's shared proofs, which may keep `text`.
pub fn all_hold_in(
    text: &Arc<str>,
    start: usize,
    root: &Utf8Path,
    memo: &StampMemo,
    moved_dir_holds: impl Fn(&Utf8Path) -> bool,
) -> bool {
    let Some(list) = text.get(start..) else {
        return false;
    };
    let learnt = RefCell::new(Learnt::default());
    let shared = Shared {
        memo,
        text,
        learnt: &learnt,
    };
    let holds = check(list, root, Some(shared), moved_dir_holds);
    memo.add(learnt.into_inner());
    holds
}

fn check(
    text: &str,
    root: &Utf8Path,
    shared: Option<Shared<'_>>,
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
                let (stamp, opened) = dir_stamp(shared, written, &path, block.is_empty());
                let holds = stamp == Some(before) || moved_dir_holds(&path);
                (written, holds, opened)
            }
            "in" => (tail, true, None),
            "listed" => (tail, moved_dir_holds(&resolve(root, tail)), None),
            _ => return false,
        };
        if !holds || !block_holds(root, written, block, shared, opened) {
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
    shared: Option<Shared<'_>>,
    opened: Option<OpenDir>,
) -> bool {
    if block.is_empty() || shared.is_some_and(|s| s.block_held(written, block)) {
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
    if let (true, Some(shared)) = (holds, shared) {
        shared.remember_block(written, block);
    }
    holds
}
