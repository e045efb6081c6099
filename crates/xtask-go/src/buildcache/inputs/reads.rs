//! `ListingReads`: what splitting one `go list -deps` into input sets reads, read once for every
//! target of a batch. Forty mains that share 290 packages then read each directory's listing,
//! each control file and each source file's shape once, not forty times (measured: the serial
//! split of such a batch took ~2 s after go had finished). One batch is one moment, as its
//! listing is: the reads are those of the moment the first target needed them.

use std::collections::HashMap;
use std::sync::Mutex;

use camino::{Utf8Path, Utf8PathBuf};

use super::{listing_hash, resolve};
use crate::go::gosource::{self, SourceKind};

#[derive(Default)]
pub struct ListingReads {
    listings: Mutex<HashMap<Utf8PathBuf, String>>,
    control: Mutex<HashMap<String, String>>,
    /// Root-relative source file → its shape (None: it could not be read).
    shapes: Mutex<HashMap<String, Option<String>>>,
}

impl ListingReads {
    /// `listing_hash` of `dir`; errors are not kept.
    pub(super) fn listing(&self, dir: &Utf8Path) -> std::io::Result<String> {
        if let Some(hash) = self.listings.lock().unwrap().get(dir) {
            return Ok(hash.clone());
        }
        let hash = listing_hash(dir)?;
        self.listings
            .lock()
            .unwrap()
            .insert(dir.to_owned(), hash.clone());
        Ok(hash)
    }

    /// The sha256 of a control file (`absent` when it cannot be read).
    pub(super) fn control_hash(&self, root: &Utf8Path, file: &str) -> String {
        if let Some(hash) = self.control.lock().unwrap().get(file) {
            return hash.clone();
        }
        let hash = crate::buildcache::statcache::sha256_file(&resolve(root, file))
            .unwrap_or_else(|_| "absent".into());
        self.control
            .lock()
            .unwrap()
            .insert(file.to_owned(), hash.clone());
        hash
    }

    /// The shape of source file `file` (root-relative), None when it cannot be read.
    pub(super) fn shape(&self, root: &Utf8Path, file: &str, kind: SourceKind) -> Option<String> {
        if let Some(shape) = self.shapes.lock().unwrap().get(file) {
            return shape.clone();
        }
        let shape = std::fs::read(resolve(root, file))
            .ok()
            .map(|bytes| gosource::shape(kind, &bytes));
        self.shapes
            .lock()
            .unwrap()
            .insert(file.to_owned(), shape.clone());
        shape
    }
}
