//! Layer 0, what every other layer may use: atomic and verified file writes, copies past the
//! page cache, hex, the environment variables read by name, byte sizes, order-keeping parallel
//! maps (rayon), the reporter, and the test-only crash points.

pub mod crash;
pub mod env_vars;
pub mod fsutil;
pub mod par;
pub mod report;
pub mod stamp;
pub mod uncached_copy;
pub mod units;

/// Lower-case hex of `bytes` (sha256 names of blobs and keys).
pub fn hex(bytes: &[u8]) -> String {
    ::hex::encode(bytes)
}
