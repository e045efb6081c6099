//! Stamp packs: the directory blocks of every unit's stamp list, stored once per output
//! directory (`.deps/stamp-blocks.pack`) and named by the sha256 of their text, so that forty
//! targets whose closures share 290 packages keep, read and check each package's block once: a
//! no-op's cost grows with the distinct inputs, not targets × closure.
//!
//! ```text
//! xtask-go stamp pack 1
//! block <id> <len>
//! <len bytes: one directory's lines, as StampList::blocks writes them>
//! ```
//!
//! A unit's list names its blocks by id. An id that the pack lacks, or whose text no longer
//! hashes to it, is a change (the unit takes the slow path, which writes its blocks again): a
//! pack lost, torn, raced by another run or gc'd too eagerly only costs a miss.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, RwLock};

use camino::{Utf8Path, Utf8PathBuf};
use sha2::{Digest, Sha256};

use crate::util::fsutil::{self, Durability};

const HEADER: &str = "xtask-go stamp pack 1";
/// The pack's name in a unit list's directory (no unit list ends in `.pack`).
const PACK_NAME: &str = "stamp-blocks.pack";

/// A block's name: the first 128 bits of the sha256 of its text, in hex.
pub fn block_id(text: &str) -> String {
    crate::util::hex(&Sha256::digest(text.as_bytes())[..16])
}

/// One pack file read back: its text and where each block lies in it.
struct Pack {
    text: String,
    blocks: HashMap<String, std::ops::Range<usize>>,
}

impl Pack {
    fn parse(text: String) -> Option<Pack> {
        let mut blocks = HashMap::new();
        let mut at = text
            .strip_prefix(HEADER)?
            .strip_prefix('\n')
            .map(|_| HEADER.len() + 1)?;
        while at < text.len() {
            let (line, _) = text[at..].split_once('\n')?;
            let (id, len) = line.strip_prefix("block ")?.split_once(' ')?;
            let start = at + line.len() + 1;
            let end = start.checked_add(len.parse::<usize>().ok()?)?;
            text.get(start..end)?;
            blocks.insert(id.to_owned(), start..end);
            at = end;
        }
        Some(Pack { text, blocks })
    }

    fn block(&self, id: &str) -> Option<&str> {
        self.blocks.get(id).map(|r| &self.text[r.clone()])
    }
}

/// A run's view of the packs: each read once, the blocks proved this run, and the blocks
/// written this run, which `flush` adds to each directory's pack.
#[derive(Default)]
pub struct StampPacks {
    read: Mutex<HashMap<Utf8PathBuf, Option<Arc<Pack>>>>,
    /// Ids of the blocks that held this run (a run is one moment: what held once, holds).
    proven: RwLock<HashSet<String>>,
    /// Per directory, the blocks the run's unit lists name, to be written by `flush`.
    pending: Mutex<BTreeMap<Utf8PathBuf, BTreeMap<String, String>>>,
}

impl StampPacks {
    /// Keeps `blocks` (id → text) for the pack of `dir`, which `flush` writes.
    pub fn add(&self, dir: &Utf8Path, blocks: Vec<(String, String)>) {
        let mut pending = self.pending.lock().unwrap();
        pending.entry(dir.to_owned()).or_default().extend(blocks);
    }

    /// Whether every block `ids` names (in the pack of `dir`) still holds, paths resolved
    /// against `root`. Blocks proved earlier in the run are not checked again; the first block
    /// checked is `start` (modulo the count), so that threads checking units at once spread
    /// over different blocks instead of all proving the same ones.
    pub fn all_hold(&self, dir: &Utf8Path, ids: &[&str], start: usize, root: &Utf8Path) -> bool {
        if ids.is_empty() {
            return true;
        }
        let Some(pack) = self.pack(dir) else {
            return false;
        };
        let (tail, head) = ids.split_at(start % ids.len());
        // One read lock for the unit's ids; a lock per block only for the blocks to check.
        let unproven: Vec<&str> = {
            let proven = self.proven.read().unwrap();
            head.iter()
                .chain(tail)
                .copied()
                .filter(|id| !proven.contains(*id))
                .collect()
        };
        unproven.into_iter().all(|id| {
            if self.proven.read().unwrap().contains(id) {
                return true; // another thread proved it meanwhile
            }
            let holds = pack.block(id).is_some_and(|text| {
                block_id(text) == id && super::all_hold_or(text, root, |_| false)
            });
            if holds {
                self.proven.write().unwrap().insert(id.to_owned());
            }
            holds
        })
    }

    /// The pack of `dir`, read on first use; None when there is none (or it is not one).
    fn pack(&self, dir: &Utf8Path) -> Option<Arc<Pack>> {
        let mut read = self.read.lock().unwrap();
        read.entry(dir.to_owned())
            .or_insert_with(|| {
                let text = std::fs::read_to_string(dir.join(PACK_NAME)).ok()?;
                Pack::parse(text).map(Arc::new)
            })
            .clone()
    }

    /// Writes each directory's pack that gained blocks this run: the blocks some unit list
    /// there still names, from this run and the pack as it is now. A failure only costs the
    /// next run its fast path.
    pub fn flush(&self, names_in: impl Fn(&Utf8Path) -> HashSet<String>) {
        let pending = std::mem::take(&mut *self.pending.lock().unwrap());
        for (dir, new) in pending {
            let path = dir.join(PACK_NAME);
            let old = std::fs::read_to_string(&path).ok().and_then(Pack::parse);
            let named = names_in(&dir);
            let mut blocks: BTreeMap<&str, &str> = BTreeMap::new();
            if let Some(old) = &old {
                for id in old.blocks.keys() {
                    if named.contains(id) {
                        blocks.insert(id, old.block(id).unwrap_or_default());
                    }
                }
            }
            blocks.extend(new.iter().map(|(id, text)| (id.as_str(), text.as_str())));
            let mut text = format!("{HEADER}\n");
            for (id, block) in blocks {
                let _ = writeln!(text, "block {id} {}", block.len());
                text.push_str(block);
            }
            let _ = fsutil::write_atomic_with(&path, text.as_bytes(), Durability::Scratch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buildcache::stamps::StampList;
    use crate::buildcache::statcache::FileStamp;

    /// A root with `pkg/a.go` and `go.mod`, and the blocks of a list naming both.
    fn tree() -> (tempfile::TempDir, Utf8PathBuf, Vec<(String, String)>) {
        let tmp = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::from_path_buf(tmp.path().to_owned()).unwrap();
        std::fs::create_dir(root.join("pkg")).unwrap();
        std::fs::write(root.join("pkg/a.go"), "package pkg\n").unwrap();
        std::fs::write(root.join("go.mod"), "module m\n").unwrap();
        let stamp = |p: &str| FileStamp::of(&root.join(p)).ok();
        let mut list = StampList::default();
        list.dir("pkg", stamp("pkg").unwrap());
        list.file("pkg/a.go", stamp("pkg/a.go"));
        list.file("go.mod", stamp("go.mod"));
        let blocks = list.blocks(i128::MAX / 2).unwrap();
        let named = blocks.iter().map(|b| (block_id(b), b.clone())).collect();
        (tmp, root, named)
    }

    #[test]
    fn blocks_hold_through_the_pack_until_a_file_changes() {
        let (_tmp, root, blocks) = tree();
        let ids: Vec<&str> = blocks.iter().map(|(id, _)| id.as_str()).collect();
        let packs = StampPacks::default();
        assert!(!packs.all_hold(&root, &ids, 0, &root), "no pack yet");
        packs.add(&root, blocks.clone());
        packs.flush(|_| HashSet::new());
        let packs = StampPacks::default();
        assert!(packs.all_hold(&root, &ids, 1, &root));
        std::fs::write(root.join("go.mod"), "module changed\n").unwrap();
        assert!(packs.all_hold(&root, &ids, 0, &root), "proved this run");
        assert!(
            !StampPacks::default().all_hold(&root, &ids, 0, &root),
            "a new run"
        );
    }

    #[test]
    fn a_block_whose_text_does_not_hash_to_its_id_is_a_change() {
        let (_tmp, root, blocks) = tree();
        let ids: Vec<&str> = blocks.iter().map(|(id, _)| id.as_str()).collect();
        let packs = StampPacks::default();
        packs.add(&root, blocks.clone());
        packs.flush(|_| HashSet::new());
        let path = root.join(PACK_NAME);
        let text = std::fs::read_to_string(&path).unwrap();
        // The same length, another digit: a block that would still parse.
        let tampered = text.replacen("file 9 ", "file 8 ", 1);
        assert_ne!(tampered, text);
        std::fs::write(&path, tampered).unwrap();
        assert!(!StampPacks::default().all_hold(&root, &ids, 0, &root));
        std::fs::write(&path, &text[..text.len() - 2]).unwrap();
        assert!(
            !StampPacks::default().all_hold(&root, &ids, 0, &root),
            "cut"
        );
    }

    #[test]
    fn flush_keeps_the_named_blocks_and_drops_the_rest() {
        let (_tmp, root, blocks) = tree();
        let packs = StampPacks::default();
        packs.add(&root, blocks.clone());
        packs.flush(|_| HashSet::new());
        let packs = StampPacks::default();
        packs.add(&root, vec![("f00".into(), "in 0 other\n".into())]);
        let keep: HashSet<String> = [blocks[0].0.clone()].into();
        packs.flush(|_| keep.clone());
        let pack = Pack::parse(std::fs::read_to_string(root.join(PACK_NAME)).unwrap()).unwrap();
        let mut ids: Vec<&String> = pack.blocks.keys().collect();
        ids.sort();
        let mut want = vec![&blocks[0].0, &"f00".to_string()]
            .into_iter()
            .cloned()
            .collect::<Vec<_>>();
        want.sort();
        assert_eq!(ids.into_iter().cloned().collect::<Vec<_>>(), want);
        assert_eq!(pack.block(&blocks[0].0), Some(blocks[0].1.as_str()));
    }
}
