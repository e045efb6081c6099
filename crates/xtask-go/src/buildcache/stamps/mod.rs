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
//! `<len>`: the byte length of the block of `file`/`absent` lines that follows. A directory's
//! line and its block are one unit's record of that directory: `pack.rs` stores each once for
//! every unit's list that names it.
//!
//! Paths are kept as the caller gives them (root-relative or absolute) and resolved against a
//! root when checked. A list holds no stamp from within the racy window of when it was written:
//! such a stamp proves nothing, so `write_to` refuses the whole list.

mod check;
mod pack;
mod parse;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use camino::Utf8Path;

use crate::buildcache::statcache::FileStamp;

#[cfg(test)]
pub use check::all_hold;
pub use check::all_hold_or;
pub use pack::{block_id, StampPacks};
pub use parse::parse_stamp;

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
        out.extend(self.blocks(now_ns)?);
        Some(())
    }

    /// The list's lines, one text per directory: its directory line and the block of its
    /// files (what a stamp pack stores once for every unit that names it). None as `write_to`.
    pub fn blocks(&self, now_ns: i128) -> Option<Vec<String>> {
        let plain = |s: &str| !s.is_empty() && !s.contains(['\n', '\r']);
        let settled = |s: &FileStamp| !s.is_recent(now_ns);
        let mut texts = Vec::with_capacity(self.dirs.len());
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
            let mut text = String::with_capacity(len + dir.len() + 64);
            match &stamps.own {
                _ if stamps.listed => writeln!(text, "listed {len} {dir}").ok()?,
                Some(own) if settled(own) => {
                    writeln!(text, "dir {len} {} {dir}", encode(own)).ok()?
                }
                Some(_) => return None,
                None => writeln!(text, "in {len} {dir}").ok()?,
            }
            text.push_str(&block);
            texts.push(text);
        }
        Some(texts)
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

/// The files a list names with their stamps, paths joined to their directory's as written
/// (`.` the root): for a caller that must tell which files moved, not just whether one did.
/// None when the text is not a list of `dir`/`in` blocks of `file` lines.
pub fn files_in(text: &str) -> Option<Vec<(String, FileStamp)>> {
    let mut dir = "";
    let mut files = Vec::new();
    for line in text.lines() {
        let (tag, rest) = line.split_once(' ')?;
        match tag {
            "dir" => dir = parse_stamp(rest.split_once(' ')?.1)?.1,
            "in" => dir = rest.split_once(' ')?.1,
            "file" => {
                let (stamp, name) = parse_stamp(rest)?;
                let rel = if dir == "." {
                    name.to_owned()
                } else {
                    format!("{dir}/{name}")
                };
                files.push((rel, stamp));
            }
            _ => return None,
        }
    }
    Some(files)
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

    /// A root with `pkg/a.go` and `go.mod` (the temp dir lives as long as the first value).
    fn tree() -> (tempfile::TempDir, Utf8PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::from_path_buf(tmp.path().to_owned()).unwrap();
        std::fs::create_dir(root.join("pkg")).unwrap();
        std::fs::write(root.join("pkg/a.go"), "package pkg\n").unwrap();
        std::fs::write(root.join("go.mod"), "module m\n").unwrap();
        (tmp, root)
    }

    #[test]
    fn a_list_holds_until_something_it_names_changes() {
        let (_tmp, root) = tree();
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
    fn a_directory_with_no_files_listed_holds_until_its_own_stamp_moves() {
        let (_tmp, root) = tree();
        let stamp = |p: &str| FileStamp::of(&root.join(p)).unwrap();
        let text = |dirs: &[&str]| {
            let mut list = StampList::default();
            dirs.iter().for_each(|d| list.dir(d, stamp(d)));
            let mut out = String::new();
            list.write_to(&mut out, i128::MAX / 2).unwrap();
            out
        };
        let list = text(&["pkg"]);
        assert!(list.starts_with("dir 0 "), "{list}");
        assert!(all_hold(&list, &root), "{list}");
        std::fs::write(root.join("pkg/b.go"), "package pkg\n").unwrap();
        assert!(!all_hold(&list, &root), "the directory gained a file");
        let list = text(&["pkg"]);
        std::fs::remove_dir_all(root.join("pkg")).unwrap();
        assert!(!all_hold(&list, &root), "the directory is gone");
        std::fs::write(root.join("pkg"), "").unwrap();
        assert!(!all_hold(&list, &root), "a file where the directory was");
    }

    #[test]
    fn a_block_length_that_does_not_end_on_its_last_line_is_a_change() {
        let (_tmp, root) = tree();
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
