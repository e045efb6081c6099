//! Stamp lists: the stat stamps of many files and directories, grouped by directory, in a line
//! format that a no-op run checks with one open per directory and one `fstatat` per file (the
//! kernel walks one path component per file, not the whole path), allocating nothing per file.
//!
//! ```text
//! dir <len> <size> <mtime_ns> <ctime_ns> <inode> <path>  a directory whose own stamp must hold
//! listed <len> <path>                                     a directory the caller checks by its listing
//! in <len> <path>                                         a directory only looked into
//! file <size> <mtime_ns> <ctime_ns> <inode> <name>       a file of the directory above
//! absent <name>                                           a file of the directory above, not there
//! ```
//!
//! `<len>`: the byte length of the block of `file`/`absent` lines that follows (a block proved
//! earlier in the run, see `StampMemo`, is skipped with one comparison, its lines unscanned).
//!
//! Paths are kept as the caller gives them (root-relative or absolute) and resolved against a
//! root when checked. A list holds no stamp from within the racy window of when it was written:
//! such a stamp proves nothing, so `write_to` refuses the whole list.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Mutex;

use camino::Utf8Path;

use crate::buildcache::inputs::resolve;
use crate::buildcache::statcache::{FileStamp, OpenDir};

/// Stamps to record, grouped by directory.
#[derive(Debug, Default)]
pub struct StampList {
    dirs: BTreeMap<String, DirStamps>,
}

#[derive(Debug, Default)]
struct DirStamps {
    /// The directory's own stamp, when it is to be checked.
    own: Option<FileStamp>,
    /// Checked by the caller's listing test alone (its stamp is too recent to prove anything).
    listed: bool,
    files: Vec<(String, Option<FileStamp>)>,
}

impl StampList {
    /// A directory whose own stamp must hold (a file added to it or removed moves it).
    pub fn dir(&mut self, path: &str, stamp: FileStamp) {
        self.dirs.entry(dir_name(path).to_owned()).or_default().own = Some(stamp);
    }

    /// A directory that the caller's `moved_dir_holds` test checks by its listing alone (see
    /// [`all_hold_or`]): for a directory whose stamp is within the racy window.
    pub fn listed_dir(&mut self, path: &str) {
        self.dirs
            .entry(dir_name(path).to_owned())
            .or_default()
            .listed = true;
    }

    /// A file with its stamp; None: the file must stay absent.
    pub fn file(&mut self, path: &str, stamp: Option<FileStamp>) {
        let path = Utf8Path::new(path);
        let (dir, name) = match (path.parent(), path.file_name()) {
            (Some(dir), Some(name)) => (dir.as_str(), name),
            _ => (".", path.as_str()),
        };
        let files = &mut self.dirs.entry(dir_name(dir).to_owned()).or_default().files;
        files.push((name.to_owned(), stamp));
    }

    /// Appends the list's lines to `out`. None when it cannot be trusted later: a stamp from
    /// within the racy window before `now_ns`, or a path the line format cannot hold.
    pub fn write_to(&self, out: &mut String, now_ns: i128) -> Option<()> {
        let plain = |s: &str| !s.is_empty() && !s.contains(['\n', '\r']);
        let settled = |s: &FileStamp| !s.is_recent(now_ns);
        for (dir, stamps) in &self.dirs {
            if !plain(dir) {
                return None;
            }
            let mut block = String::new();
            for (name, stamp) in &stamps.files {
                if !plain(name) || name.contains('/') {
                    return None;
                }
                match stamp {
                    Some(s) if settled(s) => writeln!(block, "file {} {name}", encode(s)).ok()?,
                    Some(_) => return None,
                    None => writeln!(block, "absent {name}").ok()?,
                }
            }
            let len = block.len();
            match &stamps.own {
                _ if stamps.listed => writeln!(out, "listed {len} {dir}").ok()?,
                Some(own) if settled(own) => {
                    writeln!(out, "dir {len} {} {dir}", encode(own)).ok()?
                }
                Some(_) => return None,
                None => writeln!(out, "in {len} {dir}").ok()?,
            }
            out.push_str(&block);
        }
        Some(())
    }
}

/// `""` (the root, as `Utf8Path::parent` gives it) is written `.`.
fn dir_name(path: &str) -> &str {
    if path.is_empty() {
        "."
    } else {
        path
    }
}

fn encode(s: &FileStamp) -> String {
    format!("{} {} {} {}", s.size, s.mtime_ns, s.ctime_ns, s.inode)
}

/// `<size> <mtime_ns> <ctime_ns> <inode> <rest>` → the stamp and the rest.
pub fn parse_stamp(line: &str) -> Option<(FileStamp, &str)> {
    let mut parts = line.splitn(5, ' ');
    let stamp = FileStamp {
        size: parts.next()?.parse().ok()?,
        mtime_ns: parts.next()?.parse().ok()?,
        ctime_ns: parts.next()?.parse().ok()?,
        inode: parts.next()?.parse().ok()?,
    };
    Some((stamp, parts.next()?))
}

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
    /// call was the first look (one path walk serves the stamp and the block's checks).
    fn dir_stamp(&self, written: &str, path: &Utf8Path) -> (Option<FileStamp>, Option<OpenDir>) {
        if let Some(seen) = self.dirs.lock().unwrap().get(written) {
            return (*seen, None);
        }
        let opened = OpenDir::open(path).ok();
        let stamp = opened.as_ref().and_then(|d| d.stamp().ok());
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
                let (stamp, opened) = memo.dir_stamp(written, &path);
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

#[cfg(test)]
mod tests {
    use super::*;
    use camino::Utf8PathBuf;

    fn list_of(root: &Utf8Path) -> String {
        let mut list = StampList::default();
        let stamp = |p: &str| FileStamp::of(&root.join(p)).ok();
        list.dir("pkg", stamp("pkg").unwrap());
        list.file("pkg/a.go", stamp("pkg/a.go"));
        list.file("pkg/gone.go", None);
        list.file("go.mod", stamp("go.mod"));
        list.file("vendor/modules.txt", None);
        let mut out = String::new();
        // Written "later" than the racy window, as a settled tree would be.
        list.write_to(&mut out, i128::MAX / 2).unwrap();
        out
    }

    #[test]
    fn a_list_holds_until_something_it_names_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::from_path_buf(tmp.path().to_owned()).unwrap();
        std::fs::create_dir(root.join("pkg")).unwrap();
        std::fs::write(root.join("pkg/a.go"), "package pkg\n").unwrap();
        std::fs::write(root.join("go.mod"), "module m\n").unwrap();
        let text = list_of(&root);
        assert!(
            text.lines()
                .any(|l| l.starts_with("in ") && l.ends_with(" .")),
            "{text}"
        );
        assert!(all_hold(&text, &root), "{text}");

        std::fs::write(root.join("pkg/gone.go"), "package pkg\n").unwrap();
        assert!(!all_hold(&text, &root), "an absent file appeared");
        std::fs::remove_file(root.join("pkg/gone.go")).unwrap();
        let text = list_of(&root);
        std::fs::write(root.join("go.mod"), "module n\n").unwrap();
        assert!(!all_hold(&text, &root), "a file changed");
        let text = list_of(&root);
        std::fs::create_dir(root.join("vendor")).unwrap();
        assert!(all_hold(&text, &root), "an unrelated directory");
        std::fs::write(root.join("vendor/modules.txt"), "").unwrap();
        assert!(!all_hold(&text, &root), "an absent file appeared");
        let text = list_of(&root);
        std::fs::write(root.join("pkg/b.go"), "package pkg\n").unwrap();
        assert!(!all_hold(&text, &root), "a directory gained a file");
        assert!(!all_hold("bogus 1", &root), "an unknown line");
    }

    #[test]
    fn a_block_length_that_does_not_end_on_its_last_line_is_a_change() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::from_path_buf(tmp.path().to_owned()).unwrap();
        std::fs::create_dir(root.join("pkg")).unwrap();
        std::fs::write(root.join("pkg/a.go"), "package pkg\n").unwrap();
        std::fs::write(root.join("go.mod"), "module m\n").unwrap();
        let text = list_of(&root);
        assert!(all_hold(&text, &root), "{text}");
        let line = text.lines().find(|l| l.starts_with("dir ")).unwrap();
        let len: usize = line.split(' ').nth(1).unwrap().parse().unwrap();
        assert!(len > 0, "{text}");
        for skewed in [len - 1, len + 1, 0] {
            let edited = text.replacen(
                line,
                &line.replacen(&len.to_string(), &skewed.to_string(), 1),
                1,
            );
            assert!(
                !all_hold(&edited, &root),
                "length {skewed} for {len}:\n{edited}"
            );
        }
        assert!(!all_hold(&text[..text.len() - 3], &root), "a cut list");
    }

    #[test]
    fn a_listed_directory_holds_only_by_the_callers_test() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::from_path_buf(tmp.path().to_owned()).unwrap();
        std::fs::create_dir(root.join("pkg")).unwrap();
        std::fs::write(root.join("pkg/a.go"), "package pkg\n").unwrap();
        let mut list = StampList::default();
        list.listed_dir("pkg");
        list.file("pkg/gone.go", None);
        let mut text = String::new();
        // A listed directory needs no settled stamp: it is written even right away.
        list.write_to(&mut text, crate::buildcache::statcache::now_ns())
            .unwrap();
        assert!(
            text.starts_with("listed 15 pkg\nabsent gone.go\n"),
            "{text}"
        );
        assert!(!all_hold(&text, &root), "no test: a change");
        assert!(all_hold_or(&text, &root, |d| d == root.join("pkg")));
        assert!(!all_hold_or(&text, &root, |_| false));
        std::fs::write(root.join("pkg/gone.go"), "package pkg\n").unwrap();
        assert!(
            !all_hold_or(&text, &root, |_| true),
            "the files below are still checked"
        );
    }

    #[test]
    fn one_memo_stats_each_file_once_for_every_list_that_names_it() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::from_path_buf(tmp.path().to_owned()).unwrap();
        std::fs::create_dir(root.join("pkg")).unwrap();
        std::fs::write(root.join("go.mod"), "module m\n").unwrap();
        let text = list_of(&root);
        let memo = StampMemo::default();
        assert!(all_hold_in(&text, &root, &memo, |_| false));
        std::fs::write(root.join("go.mod"), "module changed\n").unwrap();
        // The same run saw go.mod already: a second unit's list gets the stamp of that moment.
        assert!(all_hold_in(&text, &root, &memo, |_| false));
        assert!(!all_hold(&text, &root), "a new run sees the change");
    }

    #[test]
    fn recent_stamps_and_odd_names_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::from_path_buf(tmp.path().to_owned()).unwrap();
        std::fs::write(root.join("a.go"), "package a\n").unwrap();
        let mut list = StampList::default();
        list.file("a.go", FileStamp::of(&root.join("a.go")).ok());
        let now = crate::buildcache::statcache::now_ns();
        assert!(list.write_to(&mut String::new(), now).is_none(), "racy");
        let mut list = StampList::default();
        list.file("a\nb.go", None);
        assert!(list.write_to(&mut String::new(), now).is_none(), "newline");
    }
}
