//! Stamp lists: the stat stamps of many files and directories, grouped by directory, in a line
//! format that a no-op run checks with one open per directory and one `fstatat` per file (the
//! kernel walks one path component per file, not the whole path), allocating nothing per file.
//!
//! ```text
//! dir <size> <mtime_ns> <ctime_ns> <inode> <path>    a directory whose own stamp must hold
//! listed <path>                                       a directory the caller checks by its listing
//! in <path>                                           a directory only looked into
//! file <size> <mtime_ns> <ctime_ns> <inode> <name>   a file of the directory above
//! absent <name>                                       a file of the directory above, not there
//! ```
//!
//! Paths are kept as the caller gives them (root-relative or absolute) and resolved against a
//! root when checked. A list holds no stamp from within the racy window of when it was written:
//! such a stamp proves nothing, so `write_to` refuses the whole list.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use camino::{Utf8Path, Utf8PathBuf};

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
            match &stamps.own {
                _ if stamps.listed => writeln!(out, "listed {dir}").ok()?,
                Some(own) if settled(own) => writeln!(out, "dir {} {dir}", encode(own)).ok()?,
                Some(_) => return None,
                None => writeln!(out, "in {dir}").ok()?,
            }
            for (name, stamp) in &stamps.files {
                if !plain(name) || name.contains('/') {
                    return None;
                }
                match stamp {
                    Some(s) if settled(s) => writeln!(out, "file {} {name}", encode(s)).ok()?,
                    Some(_) => return None,
                    None => writeln!(out, "absent {name}").ok()?,
                }
            }
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

/// Whether every stamp in `lines` (as `write_to` wrote them) still holds, paths resolved
/// against `root`. Anything unreadable or unknown is a change: the caller then does the work.
#[cfg(test)]
pub fn all_hold<'a>(lines: impl Iterator<Item = &'a str>, root: &Utf8Path) -> bool {
    all_hold_in(lines, root, &StampMemo::default(), |_| false)
}

/// [`all_hold`], where a `dir` line whose stamp moved still holds if `moved_dir_holds` says so
/// for that directory (for example: it lists the same names, as after an editor's atomic save,
/// which renames a new file over the old one and so moves its directory's stamp).
pub fn all_hold_or<'a>(
    lines: impl Iterator<Item = &'a str>,
    root: &Utf8Path,
    moved_dir_holds: impl Fn(&Utf8Path) -> bool,
) -> bool {
    all_hold_in(lines, root, &StampMemo::default(), moved_dir_holds)
}

/// What one run's checks have proved, shared by every unit's: forty targets whose closures
/// share most packages check each directory's block of files once, not forty times (a no-op's
/// cost grows with the distinct inputs). Only successes are kept, and only per directory (a
/// hash of its block of lines), so a unit that shares nothing pays one insert per directory. A
/// run is one moment: a file that changes while it runs counts as changed after the run.
#[derive(Default)]
pub struct StampMemo {
    /// Each directory's own stamp, as first seen (None: it could not be read).
    dirs: Mutex<HashMap<Utf8PathBuf, Option<FileStamp>>>,
    /// (directory, hash of its `file`/`absent` lines) that held.
    blocks: Mutex<HashSet<(Utf8PathBuf, u64)>>,
}

impl StampMemo {
    /// The directory's own stamp as first seen this run, and the directory opened when this
    /// call was the first look (one path walk serves the stamp and the block's checks).
    fn dir_stamp(&self, path: &Utf8Path) -> (Option<FileStamp>, Option<OpenDir>) {
        if let Some(seen) = self.dirs.lock().unwrap().get(path) {
            return (*seen, None);
        }
        let opened = OpenDir::open(path).ok();
        let stamp = opened.as_ref().and_then(|d| d.stamp().ok());
        self.dirs.lock().unwrap().insert(path.to_owned(), stamp);
        (stamp, opened)
    }
}

/// [`all_hold_or`] through `memo`, the run's shared proofs.
pub fn all_hold_in<'a>(
    lines: impl Iterator<Item = &'a str>,
    root: &Utf8Path,
    memo: &StampMemo,
    moved_dir_holds: impl Fn(&Utf8Path) -> bool,
) -> bool {
    let lines: Vec<&str> = lines.collect();
    let mut i = 0;
    while i < lines.len() {
        let Some((tag, rest)) = lines[i].split_once(' ') else {
            return false;
        };
        // The directory line, then the block of `file`/`absent` lines that belong to it.
        let end = i
            + 1
            + lines[i + 1..]
                .iter()
                .take_while(|l| l.starts_with("file ") || l.starts_with("absent "))
                .count();
        let (dir, holds, opened) = match tag {
            "dir" => {
                let Some((before, path)) = parse_stamp(rest) else {
                    return false;
                };
                let path = resolve(root, path);
                let (stamp, opened) = memo.dir_stamp(&path);
                let holds = stamp == Some(before) || moved_dir_holds(&path);
                (path, holds, opened)
            }
            "in" => (resolve(root, rest), true, None),
            "listed" => {
                let path = resolve(root, rest);
                let holds = moved_dir_holds(&path);
                (path, holds, None)
            }
            _ => return false,
        };
        if !holds || !block_holds(&dir, &lines[i + 1..end], memo, opened) {
            return false;
        }
        i = end;
    }
    true
}

/// Whether every `file` and `absent` line of `dir`'s block holds (or held earlier this run).
fn block_holds(dir: &Utf8Path, block: &[&str], memo: &StampMemo, opened: Option<OpenDir>) -> bool {
    if block.is_empty() {
        return true;
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    block.hash(&mut hasher);
    let key = (dir.to_owned(), hasher.finish());
    if memo.blocks.lock().unwrap().contains(&key) {
        return true;
    }
    // A directory that cannot be opened holds no file: its `absent` lines hold.
    let opened = opened.or_else(|| OpenDir::open(dir).ok());
    let holds = block.iter().all(|line| match line.split_once(' ') {
        Some(("file", rest)) => parse_stamp(rest).is_some_and(|(before, name)| {
            opened
                .as_ref()
                .is_some_and(|d| d.stamp_of(name).is_ok_and(|s| s == before))
        }),
        Some(("absent", name)) => opened.as_ref().is_none_or(|d| d.stamp_of(name).is_err()),
        _ => false,
    });
    if holds {
        memo.blocks.lock().unwrap().insert(key);
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
            text.contains("\nin .\n") || text.starts_with("in .\n"),
            "{text}"
        );
        assert!(all_hold(text.lines(), &root), "{text}");

        std::fs::write(root.join("pkg/gone.go"), "package pkg\n").unwrap();
        assert!(!all_hold(text.lines(), &root), "an absent file appeared");
        std::fs::remove_file(root.join("pkg/gone.go")).unwrap();
        let text = list_of(&root);
        std::fs::write(root.join("go.mod"), "module n\n").unwrap();
        assert!(!all_hold(text.lines(), &root), "a file changed");
        let text = list_of(&root);
        std::fs::create_dir(root.join("vendor")).unwrap();
        assert!(all_hold(text.lines(), &root), "an unrelated directory");
        std::fs::write(root.join("vendor/modules.txt"), "").unwrap();
        assert!(!all_hold(text.lines(), &root), "an absent file appeared");
        let text = list_of(&root);
        std::fs::write(root.join("pkg/b.go"), "package pkg\n").unwrap();
        assert!(!all_hold(text.lines(), &root), "a directory gained a file");
        assert!(!all_hold("bogus 1".lines(), &root), "an unknown line");
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
        assert!(text.starts_with("listed pkg\n"), "{text}");
        assert!(!all_hold(text.lines(), &root), "no test: a change");
        assert!(all_hold_or(text.lines(), &root, |d| d == root.join("pkg")));
        assert!(!all_hold_or(text.lines(), &root, |_| false));
        std::fs::write(root.join("pkg/gone.go"), "package pkg\n").unwrap();
        assert!(
            !all_hold_or(text.lines(), &root, |_| true),
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
        assert!(all_hold_in(text.lines(), &root, &memo, |_| false));
        std::fs::write(root.join("go.mod"), "module changed\n").unwrap();
        // The same run saw go.mod already: a second unit's list gets the stamp of that moment.
        assert!(all_hold_in(text.lines(), &root, &memo, |_| false));
        assert!(!all_hold(text.lines(), &root), "a new run sees the change");
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
