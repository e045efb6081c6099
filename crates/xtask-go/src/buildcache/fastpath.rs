//! The no-op fast path: `<target>.stamps`, beside a unit's depfile, holds the last build's key,
//! a digest of the settings it was computed with (spec, environment, toolchain, control files),
//! the outputs' stamps and the ids of the stamp blocks (one per directory, see `stamps/pack.rs`)
//! of every input file and package directory, which the directory's pack holds once for every
//! unit. When all of it holds, the key cannot have changed: a no-op reads and hashes no input.
//!
//! ```text
//! xtask-go stamps 6
//! key <hex>
//! settings <hex>
//! out <size> <mtime_ns> <ctime_ns> <inode> <output name>
//! block <id>
//! ```

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use camino::{Utf8Path, Utf8PathBuf};
use sha2::{Digest, Sha256};

use crate::buildcache::key::{CacheKey, KeyInputs};
use crate::buildcache::stamps::{self, StampList, StampPacks};
use crate::buildcache::statcache::{self, FileStamp};
use crate::util::fsutil::{self, Durability};

const HEADER: &str = "xtask-go stamps 6";

/// The fast path's file for the unit whose depfile is `depfile`.
pub fn stamp_file(depfile: &Utf8Path) -> Utf8PathBuf {
    depfile.with_extension("stamps")
}

/// sha256 over what a key depends on besides files: the spec, environment and toolchain
/// sections, and which control files (go.work, go.mod, ...) the unit has.
pub fn settings_digest(base: &KeyInputs, control: &[String]) -> String {
    let sections = (&base.spec, &base.env, &base.toolchain, control);
    let bytes = serde_json::to_vec(&sections).unwrap_or_default();
    statcache::hex(&Sha256::digest(&bytes))
}

/// What a successful build or restore leaves for the next no-op.
pub struct LastStamps<'a> {
    pub key: &'a CacheKey,
    pub settings: String,
    /// Each output's name and its stamp once in place.
    pub outputs: Vec<(&'a str, FileStamp)>,
    /// Every input file's stamp when the key was computed (None: absent), control files included.
    pub files: &'a BTreeMap<String, Option<FileStamp>>,
    /// Every directory of the input set and its stamp (None: too recent to trust).
    pub dirs: Vec<(&'a str, Option<FileStamp>)>,
    /// When the stamps were taken: none may be within the racy window before it.
    pub stamped_at_ns: i128,
}

/// Writes the fast path's file for `depfile` and hands its blocks to `packs` (which writes them
/// when the run ends); removes it when there is no last build or its stamps cannot be trusted
/// (a recent one, a directory without a stamp): the next run then takes the slow path.
pub fn write(depfile: &Utf8Path, last: Option<&LastStamps<'_>>, packs: &StampPacks) {
    let path = stamp_file(depfile);
    let _ = std::fs::remove_file(&path);
    if let Some((text, blocks)) = last.and_then(encode) {
        if let Some(dir) = path.parent() {
            packs.add(dir, blocks);
            let _ = fsutil::write_atomic_with(&path, text.as_bytes(), Durability::Scratch);
        }
    }
}

/// Removes the fast path's file for `depfile`: the next run takes the slow path.
pub fn remove(depfile: &Utf8Path) {
    let _ = std::fs::remove_file(stamp_file(depfile));
}

/// The unit's file and its blocks (id, text).
fn encode(last: &LastStamps<'_>) -> Option<(String, Vec<(String, String)>)> {
    let mut list = StampList::default();
    for (dir, stamp) in &last.dirs {
        list.dir(dir, (*stamp)?);
    }
    for (file, stamp) in last.files {
        list.file(file, *stamp);
    }
    let mut text = format!("{HEADER}\nkey {}\nsettings {}\n", last.key, last.settings);
    for (name, s) in &last.outputs {
        // No racy rule here: an output's stamp only tells whether the file was replaced, and
        // a build's outputs are always recent when the next no-op runs.
        if !crate::buildcache::storage::is_plain_file_name(name) {
            return None;
        }
        let (size, mtime, ctime, inode) = (s.size, s.mtime_ns, s.ctime_ns, s.inode);
        writeln!(text, "out {size} {mtime} {ctime} {inode} {name}").ok()?;
    }
    let blocks: Vec<(String, String)> = list
        .blocks(last.stamped_at_ns)?
        .into_iter()
        .map(|b| (stamps::block_id(&b), b))
        .collect();
    for (id, _) in &blocks {
        writeln!(text, "block {id}").ok()?;
    }
    Some((text, blocks))
}

/// The block ids the unit files in `dir` name: what its pack must keep.
pub fn blocks_named_in(dir: &Utf8Path) -> HashSet<String> {
    let mut named = HashSet::new();
    let Ok(entries) = dir.read_dir_utf8() else {
        return named;
    };
    for entry in entries.flatten() {
        if entry.path().extension() != Some("stamps") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        if text.starts_with(HEADER) {
            let ids = text.lines().filter_map(|l| l.strip_prefix("block "));
            named.extend(ids.map(str::to_owned));
        }
    }
    named
}

/// The key of the unit's last build, if its settings digest is `settings`, every stamp holds
/// and its outputs are in place in `output_dir`.
pub fn unchanged_key(
    depfile: &Utf8Path,
    root: &Utf8Path,
    settings: &str,
    output_dir: &Utf8Path,
    packs: &StampPacks,
) -> Option<CacheKey> {
    let path = stamp_file(depfile);
    let text = std::fs::read_to_string(&path).ok()?;
    let (header, rest) = text.split_once('\n')?;
    if header != HEADER {
        return None;
    }
    let (line, rest) = rest.split_once('\n')?;
    let key = CacheKey::from_hex(line.strip_prefix("key ")?.to_owned()).ok()?;
    let (line, mut rest) = rest.split_once('\n')?;
    if line.strip_prefix("settings ")? != settings {
        return None;
    }
    while let Some(out) = rest.strip_prefix("out ") {
        let (line, after) = out.split_once('\n')?;
        let (before, name) = stamps::parse_stamp(line)?;
        let in_place = crate::buildcache::storage::is_plain_file_name(name)
            && FileStamp::of(&output_dir.join(name)).is_ok_and(|s| s == before);
        if !in_place {
            return None;
        }
        rest = after;
    }
    let ids = rest
        .lines()
        .map(|line| line.strip_prefix("block "))
        .collect::<Option<Vec<&str>>>()?;
    if ids.is_empty() {
        return None; // every unit has its control files' block: a list without one proves nothing
    }
    // Units looked up at once start on different blocks (see `StampPacks::all_hold`).
    let start = key
        .as_str()
        .get(..8)
        .and_then(|h| usize::from_str_radix(h, 16).ok());
    let start = start.unwrap_or(0);
    packs
        .all_hold(path.parent()?, &ids, start, root)
        .then_some(key)
}

/// Root-relative names of the control files, as the input set and the settings digest hold them.
pub fn control_names(root: &Utf8Path, control: &[Utf8PathBuf]) -> Vec<String> {
    control
        .iter()
        .map(|p| {
            p.strip_prefix(root)
                .map_or_else(|_| p.to_string(), |r| r.to_string())
        })
        .collect()
}

/// Whether every control file is among the recorded input stamps (the fast path checks only
/// what it recorded, so a control file it did not record would go unseen).
pub fn covers_control(files: &BTreeMap<String, Option<FileStamp>>, control: &[String]) -> bool {
    control.iter().all(|c| files.contains_key(c))
}
