//! Signed remote entries: HMAC-SHA256 (RFC 2104) with `XTASK_GO_CACHE_SIGNING_KEY`, and the
//! wrapper JSON `{"format":"xtask-go-signed-v1","entry":"<the entry's JSON>","hmac":"<hex>"}`
//! that carries the signature next to the exact entry bytes.
//!
//! The MAC covers the remote key (the `/ac/<sha256>` name) as well as the bytes, so a validly
//! signed entry cannot be replayed under another key.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

const FORMAT: &str = "xtask-go-signed-v1";

#[derive(Serialize, Deserialize)]
struct Signed {
    format: String,
    entry: String,
    hmac: String,
}

/// The MAC of `entry` stored as `name`, before finalizing.
fn mac(key: &[u8], name: &str, entry: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(name.as_bytes());
    mac.update(b"\n");
    mac.update(entry);
    mac
}

/// The bytes to upload for `entry` (UTF-8 JSON) stored as `name`: signed when there is a key.
pub fn wrap(key: Option<&[u8]>, name: &str, entry: &[u8]) -> Vec<u8> {
    let (Some(key), Ok(text)) = (key, std::str::from_utf8(entry)) else {
        return entry.to_vec();
    };
    let signed = Signed {
        format: FORMAT.into(),
        entry: text.to_string(),
        hmac: crate::util::hex(&mac(key, name, entry).finalize().into_bytes()),
    };
    serde_json::to_vec(&signed).expect("strings encode")
}

/// The entry bytes inside what the remote served for `name`, or why they are not trusted.
/// With a key, only a wrapper whose MAC matches is accepted; without one, a wrapper is opened
/// (nothing is trusted more than the remote itself then) and plain bytes pass as they are.
pub fn unwrap(key: Option<&[u8]>, name: &str, served: &[u8]) -> Result<Vec<u8>, &'static str> {
    let signed = serde_json::from_slice::<Signed>(served)
        .ok()
        .filter(|s| s.format == FORMAT);
    match (key, signed) {
        (None, None) => Ok(served.to_vec()),
        (None, Some(signed)) => Ok(signed.entry.into_bytes()),
        (Some(_), None) => Err("it is not signed"),
        (Some(key), Some(signed)) => {
            let claimed = hex::decode(&signed.hmac).unwrap_or_default();
            let mac = mac(key, name, signed.entry.as_bytes());
            if mac.verify_slice(&claimed).is_ok() {
                Ok(signed.entry.into_bytes())
            } else {
                Err("its signature does not match XTASK_GO_CACHE_SIGNING_KEY")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_matching_signature_is_accepted() {
        let entry = br#"{"key":"k"}"#;
        let signed = wrap(Some(b"secret"), "ab", entry);
        assert_eq!(unwrap(Some(b"secret"), "ab", &signed).unwrap(), entry);
        assert!(unwrap(Some(b"other"), "ab", &signed).is_err());
        assert!(unwrap(Some(b"secret"), "cd", &signed).is_err(), "replayed");
        assert!(unwrap(Some(b"secret"), "ab", entry).is_err(), "unsigned");
        let tampered = String::from_utf8(signed)
            .unwrap()
            .replace(r#"\"k\""#, r#"\"x\""#);
        assert!(unwrap(Some(b"secret"), "ab", tampered.as_bytes()).is_err());
        assert_eq!(unwrap(None, "ab", entry).unwrap(), entry);
    }
}
