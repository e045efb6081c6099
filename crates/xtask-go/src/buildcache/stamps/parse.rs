//! Reading one stamp back: the numbers of a `file` or `dir` line, as `encode` (mod.rs) wrote
//! them. A no-op reads one per input, so this is the hot loop of the fast path.

use crate::buildcache::statcache::FileStamp;

/// `<size> <mtime_ns> <ctime_ns> <inode> <rest>` → the stamp and the rest. A no-op parses one
/// of these per input, so the numbers are read digit by digit (`str::parse::<i128>` and a
/// `splitn` cost a no-op ~5% of its time); anything `encode` would not write is None.
pub fn parse_stamp(line: &str) -> Option<(FileStamp, &str)> {
    let mut rest = line.as_bytes();
    let size = next_number(&mut rest, false)?;
    let mtime_ns = next_number(&mut rest, true)?;
    let ctime_ns = next_number(&mut rest, true)?;
    let inode = next_number(&mut rest, false)?;
    let stamp = FileStamp {
        size: u64::try_from(size).ok()?,
        mtime_ns,
        ctime_ns,
        inode: u64::try_from(inode).ok()?,
    };
    // The numbers are ASCII, so the rest starts on a character boundary.
    Some((stamp, &line[line.len() - rest.len()..]))
}

/// The decimal number at the start of `rest` (a leading `-` only when `signed`) and the space
/// after it, which `rest` is moved past. One pass over the bytes, in a u64 while it fits.
fn next_number(rest: &mut &[u8], signed: bool) -> Option<i128> {
    let (negative, digits) = match rest.split_first() {
        Some((b'-', tail)) if signed => (true, tail),
        _ => (false, *rest),
    };
    let mut value: u64 = 0;
    for (i, &b) in digits.iter().enumerate() {
        match b {
            b'0'..=b'9' if i < 19 => value = value * 10 + u64::from(b - b'0'),
            b' ' if i > 0 => {
                *rest = &digits[i + 1..];
                let value = i128::from(value);
                return Some(if negative { -value } else { value });
            }
            b'0'..=b'9' => return long_number(rest, negative, digits),
            _ => return None,
        }
    }
    None
}

/// [`next_number`] of twenty digits or more (up to 38, an i128's): no file system writes them.
#[cold]
fn long_number<'a>(rest: &mut &'a [u8], negative: bool, digits: &'a [u8]) -> Option<i128> {
    let end = digits.iter().position(|&b| b == b' ')?;
    if end > 38 || !digits[..end].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = digits[..end]
        .iter()
        .fold(0i128, |v, &b| v * 10 + i128::from(b - b'0'));
    *rest = &digits[end + 1..];
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_parses_back_to_what_encode_wrote_and_nothing_else_parses() {
        let stamps = [
            FileStamp {
                size: 0,
                mtime_ns: 0,
                ctime_ns: 0,
                inode: 0,
            },
            FileStamp {
                size: u64::MAX,
                mtime_ns: -1_500_000_000,
                ctime_ns: 1_796_214_822_147_012_844,
                inode: u64::MAX,
            },
            FileStamp {
                size: 38,
                mtime_ns: i64::MAX as i128 * 1000,
                ctime_ns: -7,
                inode: 5_416_707,
            },
        ];
        for stamp in stamps {
            for name in ["go.mod", "a name with spaces.go", ""] {
                let line = format!("{} {name}", super::super::encode(&stamp));
                assert_eq!(parse_stamp(&line), Some((stamp, name)), "{line}");
            }
        }
        for bad in [
            "",
            "1 2 3 4",
            "1 2 3",
            "+1 2 3 4 x",
            "1 +2 3 4 x",
            "-1 2 3 4 x",
            "1 2 3 -4 x",
            "1  2 3 4 x",
            " 1 2 3 4 x",
            "1 2a 3 4 x",
            "1 - 3 4 x",
            "18446744073709551616 2 3 4 x",
            "1 2 3 18446744073709551616 x",
            "1 123456789012345678901234567890123456789 3 4 x",
        ] {
            assert_eq!(parse_stamp(bad), None, "{bad:?}");
        }
    }
}
