//! Byte sizes, one unit system for everything a person reads or types (the `bytesize` crate):
//! `500M` or `500MB` is 500·10⁶ bytes, `500Mi` or `500MiB` 500·2²⁰; sizes print in IEC units.

use anyhow::{anyhow, Result};
use bytesize::ByteSize;

/// Parses `500MB`, `2GiB`, `1.5G`, `123456` (bytes).
pub fn parse_size(text: &str) -> Result<u64> {
    text.trim()
        .parse::<ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|e| anyhow!("`{text}` is not a size ({e}; try 500MB or 2GiB)"))
}

/// `1.5 KiB`, `512 B`: for people.
pub fn human_size(bytes: u64) -> String {
    ByteSize(bytes).display().iec().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_size("500MiB").unwrap(), 500 << 20);
        assert_eq!(parse_size("500M").unwrap(), 500_000_000);
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert!(parse_size("lots").is_err());
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(512), "512 B");
    }
}
