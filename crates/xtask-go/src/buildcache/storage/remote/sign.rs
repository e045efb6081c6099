//! Signed remote entries: HMAC-SHA256 (RFC 2104) with `XTASK_GO_CACHE_SIGNING_KEY` over a
//! canonical encoding of what an entry means, never over the bytes a server stores: servers
//! re-encode ActionResults (bazel-remote fills in worker metadata), so a MAC over raw bytes
//! would not survive them.
//!
//! The message is the AC key and, sorted by path, every output file's path, sha256, size and
//! executable bit, the entry blob's among them (its digest covers the rest: target, modes,
//! go's OutputID, an input set). The AC key in it keeps a signed entry from being replayed
//! under another key. The MAC travels as a small CAS blob, `{"format","hmac"}`, named by the
//! ActionResult (`action_result::SIGNATURE_PATH`).

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::reapi::OutputFile;

const FORMAT: &str = "xtask-go-hmac-sha256-v1";

#[derive(Serialize, Deserialize)]
struct SignatureBlob {
    format: String,
    hmac: String,
}

/// One output in the signed message.
#[derive(Serialize)]
struct Signed<'a> {
    path: &'a str,
    sha256: &'a str,
    size: i64,
    executable: bool,
}

/// The canonical message for an entry stored under `key` naming `files` (in any order; the
/// signature's own file excluded): JSON, whose string escaping makes it unambiguous.
pub(crate) fn canonical(key: &str, files: &[OutputFile]) -> Vec<u8> {
    let mut outputs: Vec<Signed<'_>> = files
        .iter()
        .map(|f| {
            let digest = f.digest.as_ref();
            Signed {
                path: &f.path,
                sha256: digest.map_or("", |d| d.hash.as_str()),
                size: digest.map_or(-1, |d| d.size_bytes),
                executable: f.is_executable,
            }
        })
        .collect();
    outputs.sort_by(|a, b| a.path.cmp(b.path));
    let message = (FORMAT, key, outputs);
    serde_json::to_vec(&message).expect("strings and numbers encode")
}

fn mac(key: &[u8], message: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac
}

/// The signature blob for `message`.
pub(crate) fn signature_blob(key: &[u8], message: &[u8]) -> Vec<u8> {
    let blob = SignatureBlob {
        format: FORMAT.into(),
        hmac: crate::util::hex(&mac(key, message).finalize().into_bytes()),
    };
    serde_json::to_vec(&blob).expect("strings encode")
}

/// Whether `blob` (the signature blob's bytes) signs `message` with `key`.
pub(crate) fn verify(key: &[u8], message: &[u8], blob: &[u8]) -> Result<(), &'static str> {
    let Some(blob) = serde_json::from_slice::<SignatureBlob>(blob)
        .ok()
        .filter(|b| b.format == FORMAT)
    else {
        return Err("its signature blob is not one of ours");
    };
    let claimed = hex::decode(&blob.hmac).unwrap_or_default();
    mac(key, message)
        .verify_slice(&claimed)
        .map_err(|_| "its signature does not match XTASK_GO_CACHE_SIGNING_KEY")
}

#[cfg(test)]
mod tests {
    use super::super::reapi::Digest;
    use super::*;

    fn file(path: &str, sha: char, size: u64, executable: bool) -> OutputFile {
        OutputFile {
            path: path.into(),
            digest: Some(Digest::new(&sha.to_string().repeat(64), size)),
            is_executable: executable,
            contents: Vec::new(),
        }
    }

    #[test]
    fn only_a_matching_signature_over_the_same_meaning_is_accepted() {
        let files = [
            file("app", 'a', 10, true),
            file(".xtask-go/entry.json", 'b', 5, false),
        ];
        let message = canonical("ab", &files);
        let blob = signature_blob(b"secret", &message);
        assert!(verify(b"secret", &message, &blob).is_ok());
        // The order the server lists them in does not matter.
        let reordered = [files[1].clone(), files[0].clone()];
        assert!(verify(b"secret", &canonical("ab", &reordered), &blob).is_ok());
        assert!(verify(b"other", &message, &blob).is_err());
        assert!(
            verify(b"secret", &canonical("cd", &files), &blob).is_err(),
            "replayed"
        );
        let changed = [file("app", 'c', 10, true), files[1].clone()];
        assert!(verify(b"secret", &canonical("ab", &changed), &blob).is_err());
        let not_exec = [file("app", 'a', 10, false), files[1].clone()];
        assert!(verify(b"secret", &canonical("ab", &not_exec), &blob).is_err());
        assert!(verify(b"secret", &message, b"{}").is_err());
    }
}
