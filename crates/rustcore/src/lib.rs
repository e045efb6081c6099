//! A small Rust library that Go calls through cgo: the 64-bit FNV-1a hash, and a revision
//! number the demo prints (edit it and `cargo xtask go-build` relinks go/rustcall).
//!
//! The C API is `include/rustcore.h`; go/rustcall includes it, and `cargo xtask go-build`
//! passes its directory, this crate's `librustcore.a` and the native libraries it needs to cgo.

/// What `rustcore_revision` returns.
pub const REVISION: i32 = 1;

/// The 64-bit FNV-1a hash of `bytes`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// C: `uint64_t rustcore_fnv1a(const uint8_t *data, size_t len)`; a null `data` hashes nothing.
///
/// # Safety
/// `data` must point to `len` readable bytes (or be null).
#[allow(unsafe_code)]
#[no_mangle]
pub unsafe extern "C" fn rustcore_fnv1a(data: *const u8, len: usize) -> u64 {
    if data.is_null() {
        return fnv1a(&[]);
    }
    // SAFETY: the caller promises `len` readable bytes at `data`.
    fnv1a(unsafe { std::slice::from_raw_parts(data, len) })
}

/// C: `int32_t rustcore_revision(void)`.
#[allow(unsafe_code)]
#[no_mangle]
pub extern "C" fn rustcore_revision() -> i32 {
    REVISION
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(unsafe_code)]
    fn fnv1a_matches_the_published_test_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(unsafe { rustcore_fnv1a(std::ptr::null(), 0) }, fnv1a(b""));
    }
}
