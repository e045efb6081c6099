//! Module cache directories already verified against go.sum, remembered by their files' stamps
//! (`target/go/vendor-verified`), so that a repeat `--check` stats a module's files instead of
//! reading and hashing every one of them.
//!
//! Why a stamp may stand for the content. go extracts a module once and makes it read-only;
//! nothing of go changes it afterwards. A stamp is (size, mtime, ctime, inode). The mtime alone
//! would not do: `touch -d` or `utimes` puts it back after an edit. The ctime cannot be put
//! back: the kernel sets it to the current time on every change of content or metadata
//! (`utimes` and `chmod` included, so making a read-only file writable moves it too), and no
//! system call sets it to a chosen value; an editor's atomic save, which renames a new file over
//! the old, gives a new inode. So an equal stamp means no change through the file system since
//! the stamp was taken, but for one case: a change within the same clock tick as the stamp,
//! which keeps the ctime. That is git's "racy" case, and the same rule answers it: a stamp from
//! within 2 s of when the list was written is never remembered (`StampList::write_to` refuses
//! the whole module, which is then hashed again next time). A directory's own stamp moves when
//! a file is added, removed or renamed in it, so every directory of the module is stamped
//! (before it was listed) and an added file is noticed.
//!
//! The key is the module (`path@version`), the `h1:` hash its directory matched and the
//! directory itself: a go.sum that records another hash, or another GOMODCACHE, is a miss. The
//! file is versioned and written atomically; anything in it that does not parse is a miss.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::sync::Mutex;

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use crate::buildcache::stamps::{self, StampList};
use crate::util::fsutil;
use crate::util::stamp::{now_ns, FileStamp};

/// The first line of the file; bump the number when the layout changes (an old file is a miss).
const HEADER: &str = "xtask-go verified module dirs 1";

/// At most this many modules are remembered; the ones this run used come first.
const MAX_ENTRIES: usize = 8192;

/// What a remembered directory was verified as.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct Key {
    /// `path@version`, unescaped.
    pub(super) module: String,
    /// The go.sum `h1:` hash the directory matched.
    pub(super) hash: String,
    /// The module cache directory (absolute).
    pub(super) dir: Utf8PathBuf,
}

/// A module directory's stamps as taken while it was hashed: every directory's own (taken before
/// it was listed) and every file's (taken from the open file before it was read), module-relative.
#[derive(Debug, Default)]
pub(super) struct DirStamps {
    pub(super) dirs: Vec<(String, FileStamp)>,
    pub(super) files: Vec<(String, FileStamp)>,
}

/// The remembered directories of one project, loaded once per check.
pub(super) struct VerifiedDirs {
    file: Utf8PathBuf,
    /// Each key's stamp list (the lines of a `StampList`, paths relative to the directory).
    entries: Mutex<BTreeMap<Key, String>>,
    /// Keys this run found holding or remembered anew.
    used: Mutex<HashSet<Key>>,
    /// Whether anything was remembered anew (else nothing is written).
    changed: Mutex<bool>,
}

impl VerifiedDirs {
    /// Loads `file`; a missing, old or corrupt one remembers nothing.
    pub(super) fn load(file: &Utf8Path) -> VerifiedDirs {
        let entries = std::fs::read_to_string(file)
            .ok()
            .and_then(|text| parse(&text))
            .unwrap_or_default();
        VerifiedDirs {
            file: file.to_owned(),
            entries: Mutex::new(entries),
            used: Mutex::default(),
            changed: Mutex::new(false),
        }
    }

    /// The files of `key.dir` (module-relative, with the stamps they were verified with) if the
    /// directory is remembered as verified with `key.hash` and every stamp of it still holds:
    /// no file or directory of it changed since. One stat per file, no read.
    pub(super) fn holding(&self, key: &Key) -> Option<Vec<(String, FileStamp)>> {
        let lines = self.entries.lock().unwrap().get(key)?.clone();
        if !stamps::all_hold_or(&lines, &key.dir, |_| false) {
            return None;
        }
        let files = stamps::files_in(&lines)?;
        self.used.lock().unwrap().insert(key.clone());
        Some(files)
    }

    /// Remembers `key.dir` as verified with `key.hash`, by `stamps`; not when a stamp is too
    /// recent to prove anything (the racy rule) or a name cannot be written.
    pub(super) fn remember(&self, key: Key, stamps: &DirStamps) {
        let mut list = StampList::default();
        for (rel, stamp) in &stamps.dirs {
            list.dir(rel, *stamp);
        }
        for (rel, stamp) in &stamps.files {
            list.file(rel, Some(*stamp));
        }
        let mut lines = String::new();
        if list.write_to(&mut lines, now_ns()).is_none() {
            return;
        }
        self.used.lock().unwrap().insert(key.clone());
        self.entries.lock().unwrap().insert(key, lines);
        *self.changed.lock().unwrap() = true;
    }

    /// Writes the file back when something was remembered anew (atomically; a failure only
    /// costs hashing again): this run's modules first, then older ones up to `MAX_ENTRIES`.
    pub(super) fn save(&self) -> Result<()> {
        if !*self.changed.lock().unwrap() {
            return Ok(());
        }
        let entries = self.entries.lock().unwrap();
        let used = self.used.lock().unwrap();
        let (fresh, old): (Vec<_>, Vec<_>) = entries.iter().partition(|(k, _)| used.contains(*k));
        let mut out = format!("{HEADER}\n");
        for (key, lines) in fresh.into_iter().chain(old).take(MAX_ENTRIES) {
            let _ = writeln!(out, "module {} {} {}", key.module, key.hash, key.dir);
            out.push_str(lines);
        }
        fsutil::write_atomic_with(&self.file, out.as_bytes(), fsutil::Durability::Scratch)
            .with_context(|| format!("saving {}", self.file))
    }
}

/// The entries of a saved file; None for anything unexpected.
fn parse(text: &str) -> Option<BTreeMap<Key, String>> {
    let mut lines = text.lines();
    if lines.next()? != HEADER {
        return None;
    }
    let mut entries = BTreeMap::new();
    let mut current: Option<(Key, String)> = None;
    for line in lines {
        if let Some(rest) = line.strip_prefix("module ") {
            let mut parts = rest.splitn(3, ' ');
            let key = Key {
                module: parts.next()?.to_owned(),
                hash: parts.next()?.to_owned(),
                dir: Utf8PathBuf::from(parts.next()?),
            };
            if !key.hash.starts_with("h1:") || !key.dir.is_absolute() {
                return None;
            }
            entries.extend(current.replace((key, String::new())));
            continue;
        }
        let (_, block) = current.as_mut()?;
        block.push_str(line);
        block.push('\n');
    }
    entries.extend(current);
    entries
        .values()
        .all(|b| stamps::files_in(b).is_some())
        .then_some(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory with a file in it and one below, stamped as `cachedirs` stamps them.
    fn stamped(root: &Utf8Path) -> DirStamps {
        let stamp = |rel: &str| FileStamp::of(&root.join(rel)).unwrap();
        DirStamps {
            dirs: vec![(".".into(), stamp(".")), ("sub".into(), stamp("sub"))],
            files: vec![
                ("a.go".into(), stamp("a.go")),
                ("sub/b.go".into(), stamp("sub/b.go")),
            ],
        }
    }

    fn tree() -> (tempfile::TempDir, Utf8PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::from_path_buf(tmp.path().join("m@v1.0.0")).unwrap();
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("a.go"), "package a\n").unwrap();
        std::fs::write(root.join("sub/b.go"), "package sub\n").unwrap();
        // Older than the racy window, as a module go extracted a while ago.
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        for f in ["a.go", "sub/b.go"] {
            let file = std::fs::File::options()
                .write(true)
                .open(root.join(f))
                .unwrap();
            file.set_modified(old).unwrap();
        }
        (tmp, root)
    }

    fn key(root: &Utf8Path, hash: &str) -> Key {
        Key {
            module: "m@v1.0.0".into(),
            hash: hash.into(),
            dir: root.to_owned(),
        }
    }

    #[test]
    fn a_recent_stamp_is_not_remembered() {
        let (tmp, root) = tree();
        let memo = VerifiedDirs::load(&Utf8Path::from_path(tmp.path()).unwrap().join("memo"));
        // The directories were just written: their ctimes are within the racy window.
        memo.remember(key(&root, "h1:x"), &stamped(&root));
        assert!(memo.holding(&key(&root, "h1:x")).is_none());
        memo.save().unwrap();
        assert!(!tmp.path().join("memo").exists(), "nothing to write");
    }

    #[test]
    fn the_file_round_trips_and_anything_odd_is_a_miss() {
        let (tmp, root) = tree();
        let text = {
            let mut list = StampList::default();
            for (rel, s) in stamped(&root).files {
                list.file(&rel, Some(s));
            }
            let mut lines = String::new();
            list.write_to(&mut lines, i128::MAX / 2).unwrap();
            format!("{HEADER}\nmodule m@v1.0.0 h1:x {root}\n{lines}")
        };
        let file = Utf8Path::from_path(tmp.path()).unwrap().join("memo");
        std::fs::write(&file, &text).unwrap();
        let memo = VerifiedDirs::load(&file);
        let files = memo
            .holding(&key(&root, "h1:x"))
            .expect("every stamp holds");
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a.go", "sub/b.go"]);
        assert!(
            memo.holding(&key(&root, "h1:other")).is_none(),
            "another hash"
        );
        std::fs::write(root.join("sub/b.go"), "package sub\n").unwrap();
        assert!(
            memo.holding(&key(&root, "h1:x")).is_none(),
            "a rewritten file"
        );
        for bad in [
            text.replace(HEADER, "xtask-go verified module dirs 0"),
            text.replace("h1:x", "x"),
            text.replace("file ", "fil "),
            format!("{HEADER}\nfile 1 2 3 4 a.go\n"),
        ] {
            assert!(parse(&bad).is_none(), "{bad}");
        }
    }
}
