//! Copies that write past the page cache (`O_DIRECT` on Linux), for the store's large blobs.
//!
//! Why: a blob is written once and read rarely (a restore, an upload), yet a buffered copy fills
//! fresh page-cache pages with it. On a VM that hands freed memory back to its host (free page
//! reporting: Firecracker, cloud VMs with a balloon) each fresh page is faulted back in from the
//! host, and the copy of the 40 programs of one many-mains edit (628 MB) took 1.6–1.9 s of CPU
//! against 0.3–0.5 s for a direct write of the same bytes (BENCHMARKS.md, "Latest: the store's
//! copy past the page cache"). A direct write waits for the disk instead, so it is kept to large files.
//!
//! Must not: be used for a file that is read soon after (an output, a library go links): those
//! belong in the page cache.

use std::io::{Read, Write};

use camino::Utf8Path;

/// Below this size a buffered copy is cheap whatever the machine, and a direct write's wait
/// for the disk is not worth it. Every Go program is above it (a hello world is ~1.5 MB), so
/// the tests' programs take this path too.
pub const MIN_UNCACHED_BYTES: u64 = 1 << 20;

/// The alignment of a direct write's buffer, offset and length (the largest logical block size
/// of common disks).
const ALIGN: usize = 4096;

/// Bytes per write.
const CHUNK: usize = 4 << 20;

/// Copies `from` into `to` (created or truncated) writing past the page cache. Err when the
/// platform or the file system does not take direct writes (tmpfs, some network file systems:
/// `EINVAL` at open or at the first write) or when a read or write failed: the caller then
/// copies as usual, which reports a real failure again.
#[cfg(target_os = "linux")]
pub fn copy(from: &Utf8Path, to: &Utf8Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut src = std::fs::File::open(from)?;
    let flags = rustix::fs::OFlags::DIRECT.bits();
    let mut dst = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(i32::try_from(flags).map_err(std::io::Error::other)?)
        .open(to)?;
    // An aligned window into a plain buffer: no allocator tricks, no unsafe.
    let mut storage = vec![0u8; CHUNK + ALIGN];
    let start = storage.as_ptr().align_offset(ALIGN);
    let buf = &mut storage[start..start + CHUNK];
    let mut total = 0u64;
    loop {
        let n = read_full(&mut src, buf)?;
        if n == 0 {
            break;
        }
        // The last block is padded to the alignment, then cut back to the true length.
        let padded = n.next_multiple_of(ALIGN);
        buf[n..padded].fill(0);
        dst.write_all(&buf[..padded])?;
        total += n as u64;
        if n < CHUNK {
            break;
        }
    }
    dst.set_len(total)
}

/// Elsewhere there is no direct write to make: the caller copies as usual.
#[cfg(not(target_os = "linux"))]
pub fn copy(_from: &Utf8Path, _to: &Utf8Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

/// Reads until `buf` is full or the file ends; the number of bytes read.
fn read_full(src: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match src.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sizes around the chunk and the alignment: every byte arrives, and nothing of the padding.
    #[test]
    fn copies_every_size_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(dir.path()).unwrap();
        for size in [
            1,
            ALIGN - 1,
            ALIGN,
            ALIGN + 1,
            CHUNK - 1,
            CHUNK,
            CHUNK + 7,
            3 * CHUNK + ALIGN,
        ] {
            let bytes: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8 + 1).collect();
            let (from, to) = (dir.join("from"), dir.join("to"));
            std::fs::write(&from, &bytes).unwrap();
            // Over a longer file: truncated, not mixed.
            std::fs::write(&to, vec![0xAA; size + 5000]).unwrap();
            match copy(&from, &to) {
                Ok(()) => assert!(std::fs::read(&to).unwrap() == bytes, "size {size}"),
                // A file system without direct writes (tmpfs): the caller's fallback covers it.
                Err(e) => assert!(!cfg!(target_os = "linux") || is_refusal(&e), "{e}"),
            }
        }
    }

    fn is_refusal(e: &std::io::Error) -> bool {
        e.raw_os_error() == Some(22) || e.kind() == std::io::ErrorKind::Unsupported
    }
}
