//! The vendor tree on disk against the files go would write: a listing that never follows
//! symlinks, and a parallel file-by-file comparison with the verified module contents.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

/// What a path under vendor/ is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A regular file (its size is learnt when it is read: listing stats nothing, which matters
    /// with a cold page cache).
    File,
    /// A symlink (never followed); `outside` when its target leaves the vendor tree.
    Symlink { target: Utf8PathBuf, outside: bool },
    /// A FIFO, socket or device.
    Special,
}

/// Everything under vendor/ except modules.txt, by slash-separated path relative to vendor/.
#[derive(Debug, Default)]
pub struct VendorListing {
    pub entries: BTreeMap<String, Entry>,
    /// Nested `vendor/` or `.git` directories (relative to vendor/), with the number of files below them.
    pub nested: Vec<(String, usize)>,
}

/// Lists `vendor` without following symlinks; nested vendor/ and .git dirs are not descended into.
pub fn list_vendor(vendor: &Utf8Path) -> Result<VendorListing> {
    let mut listing = VendorListing::default();
    let mut pending = vec![(vendor.to_owned(), String::new())];
    while let Some((dir, rel_dir)) = pending.pop() {
        for entry in dir
            .read_dir_utf8()
            .with_context(|| format!("listing {dir}"))?
        {
            let entry = entry.with_context(|| format!("listing {dir}"))?;
            let name = entry.file_name();
            let rel = if rel_dir.is_empty() {
                name.to_owned()
            } else {
                format!("{rel_dir}/{name}")
            };
            let kind = entry
                .file_type()
                .with_context(|| format!("reading {}", entry.path()))?;
            if kind.is_dir() {
                if name == "vendor" || name == ".git" {
                    listing.nested.push((rel, count_files(entry.path())));
                } else {
                    pending.push((entry.path().to_owned(), rel));
                }
            } else if kind.is_symlink() {
                let target = entry
                    .path()
                    .read_link_utf8()
                    .with_context(|| format!("reading symlink {}", entry.path()))?;
                let resolved = crate::workspace::project::absolute_in(&dir, &target);
                let outside = !resolved.starts_with(vendor);
                listing
                    .entries
                    .insert(rel, Entry::Symlink { target, outside });
            } else if kind.is_file() {
                if rel == "modules.txt" {
                    continue;
                }
                listing.entries.insert(rel, Entry::File);
            } else {
                listing.entries.insert(rel, Entry::Special);
            }
        }
    }
    Ok(listing)
}

/// The entries below `dir` that are no directory (symlinks are counted, not followed).
fn count_files(dir: &Utf8Path) -> usize {
    walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .flatten()
        .filter(|e| !e.file_type().is_dir())
        .count()
}

/// How one expected file compares with the file on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Comparison {
    Same,
    Modified {
        disk_size: u64,
    },
    Missing,
    /// A symlink or special file where go would write a regular file.
    NotRegular(Entry),
}

/// Compares each `(vendor-relative path, expected bytes)` with the tree, in parallel.
pub fn compare_all(
    vendor: &Utf8Path,
    listing: &VendorListing,
    expected: &[(&str, &[u8])],
) -> Vec<Result<Comparison>> {
    crate::util::par::io_map(expected, |(rel, want)| {
        Ok(match listing.entries.get(*rel) {
            None => Comparison::Missing,
            Some(Entry::File) => {
                let path = vendor.join(rel);
                // Sized by what is expected: no stat for the (usual) file that is the same.
                let mut file =
                    std::fs::File::open(&path).with_context(|| format!("opening {path}"))?;
                let got = crate::util::fsutil::read_sized(&mut file, want.len())
                    .with_context(|| format!("reading {path}"))?;
                if got == *want {
                    Comparison::Same
                } else {
                    Comparison::Modified {
                        disk_size: got.len() as u64,
                    }
                }
            }
            Some(other) => Comparison::NotRegular(other.clone()),
        })
    })
}
