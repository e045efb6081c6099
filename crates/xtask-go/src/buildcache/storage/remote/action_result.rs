//! How an entry travels to a remote: as a REAPI `ActionResult` whose `output_files` are the
//! entry's outputs (name, sha256 + size, executable bit) plus the entry itself, stored as a CAS
//! blob at the reserved path [`ENTRY_PATH`], and, when entries are signed, the signature blob
//! at [`SIGNATURE_PATH`]. The same value goes over HTTP (`/ac/<key>`) and gRPC.
//!
//! Why the entry blob is an output file and not `stdout_digest`: every server's rule "an AC hit
//! only if every blob it names exists" covers output files (BuildGrid checks output files and
//! directories only), so a server never serves an entry whose entry blob it evicted. The
//! reserved paths hold a `/` and outputs are plain file names, so they never collide.
//!
//! The entry blob is `{"format","key","entry"}` with the local store's JSON as `entry`, so
//! every field an entry has (target, triple, modes, go's OutputID, an input set) survives; the
//! reader checks that the ActionResult's outputs and the entry's agree exactly.

use anyhow::Result;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::reapi::{ActionResult, Digest, ExecutedActionMetadata, OutputFile};
use super::sign;
use crate::buildcache::key::CacheKey;
use crate::buildcache::storage::{is_plain_file_name, OutputRecord};

/// The entry blob's path among the outputs.
pub(crate) const ENTRY_PATH: &str = ".xtask-go/entry.json";
/// The signature blob's path among the outputs (only in signed entries).
pub(crate) const SIGNATURE_PATH: &str = ".xtask-go/signature";
/// Who wrote the entry (`execution_metadata.worker`): keeps the value non-empty, as REAPI asks.
const WORKER: &str = "xtask-go";
/// Bump when the entry blob's layout changes.
const FORMAT: &str = "xtask-go-remote-entry-v1";
/// The largest entry blob read into memory: an input set of a huge closure is far smaller.
pub(crate) const MAX_ENTRY_BLOB: u64 = 16 << 20;

#[derive(Serialize, Deserialize)]
struct EntryBlob {
    format: String,
    key: String,
    /// The entry as the local store keeps it (UTF-8 JSON).
    entry: String,
}

/// The outputs an entry names (build and GOCACHEPROG entries; an input set names none).
#[derive(Deserialize)]
struct Named {
    #[serde(default)]
    outputs: Vec<OutputRecord>,
}

/// A small blob to upload from memory.
pub(crate) struct MemBlob {
    pub digest: Digest,
    pub bytes: Vec<u8>,
}

impl MemBlob {
    fn of(bytes: Vec<u8>) -> MemBlob {
        let sha = crate::util::hex(&Sha256::digest(&bytes));
        MemBlob {
            digest: Digest::new(&sha, bytes.len() as u64),
            bytes,
        }
    }
}

/// An entry ready to upload: the AC value and the blobs it names besides the outputs.
pub(crate) struct Encoded {
    pub action_result: Vec<u8>,
    pub blobs: Vec<MemBlob>,
}

fn output_file(record: &OutputRecord) -> OutputFile {
    OutputFile {
        path: record.name.clone(),
        digest: Some(Digest::new(&record.sha256, record.size)),
        is_executable: record.mode & 0o111 != 0,
        contents: Vec::new(),
    }
}

/// The AC value for `entry` (the local store's JSON) under `key`, signed with `signing_key`.
pub(crate) fn encode(key: &CacheKey, entry: &[u8], signing_key: Option<&[u8]>) -> Result<Encoded> {
    let text = std::str::from_utf8(entry)?;
    let named: Named = serde_json::from_str(text)?;
    let blob = MemBlob::of(serde_json::to_vec(&EntryBlob {
        format: FORMAT.into(),
        key: key.to_string(),
        entry: text.to_string(),
    })?);
    let mut output_files: Vec<OutputFile> = named.outputs.iter().map(output_file).collect();
    output_files.push(OutputFile {
        path: ENTRY_PATH.into(),
        digest: Some(blob.digest.clone()),
        is_executable: false,
        contents: Vec::new(),
    });
    let mut blobs = vec![blob];
    if let Some(signing_key) = signing_key {
        let message = sign::canonical(key.as_str(), &output_files);
        let signature = MemBlob::of(sign::signature_blob(signing_key, &message));
        output_files.push(OutputFile {
            path: SIGNATURE_PATH.into(),
            digest: Some(signature.digest.clone()),
            is_executable: false,
            contents: Vec::new(),
        });
        blobs.push(signature);
    }
    let result = ActionResult {
        output_files,
        exit_code: 0,
        execution_metadata: Some(ExecutedActionMetadata {
            worker: WORKER.into(),
        }),
    };
    Ok(Encoded {
        action_result: result.to_bytes(),
        blobs,
    })
}

/// Why a served AC value is not used.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Not an entry of this format (an old JSON entry, another tool's result): a quiet miss.
    NotOurs,
    /// One of ours, but wrong: a miss, said.
    Bad(String),
}

/// An AC value taken apart: the outputs, the entry blob's file and the signature's, if any.
#[derive(Debug)]
pub(crate) struct Decoded {
    /// Every output file but the signature (the outputs and the entry blob): what is signed.
    pub signed: Vec<OutputFile>,
    pub entry: OutputFile,
    pub signature: Option<OutputFile>,
}

/// Parses a served AC value; every path must be a plain file name or a reserved one.
pub(crate) fn decode(bytes: &[u8]) -> Result<Decoded, Refused> {
    let result = ActionResult::from_bytes(bytes).ok_or(Refused::NotOurs)?;
    let mut entry = None;
    let mut signature = None;
    let mut signed = Vec::new();
    for file in result.output_files {
        if !file.digest.as_ref().is_some_and(Digest::is_well_formed) {
            return Err(Refused::Bad(format!(
                "the output `{}` has a malformed digest",
                file.path
            )));
        }
        match file.path.as_str() {
            ENTRY_PATH if entry.is_none() => entry = Some(file.clone()),
            SIGNATURE_PATH if signature.is_none() => {
                signature = Some(file);
                continue;
            }
            ENTRY_PATH | SIGNATURE_PATH => {
                return Err(Refused::Bad(format!("it names `{}` twice", file.path)))
            }
            path if !is_plain_file_name(path) => {
                return Err(Refused::Bad(format!(
                    "it names the output `{path}`, outside the output directory"
                )))
            }
            _ => {}
        }
        signed.push(file);
    }
    let entry = entry.ok_or(Refused::NotOurs)?;
    Ok(Decoded {
        signed,
        entry,
        signature,
    })
}

/// The entry inside `blob` (the entry blob's bytes, already verified against its digest), if
/// it is for `key` and names exactly the outputs the ActionResult lists.
pub(crate) fn open(decoded: &Decoded, blob: &[u8], key: &CacheKey) -> Result<Vec<u8>, Refused> {
    let parsed: EntryBlob = serde_json::from_slice(blob).map_err(|_| Refused::NotOurs)?;
    if parsed.format != FORMAT {
        return Err(Refused::NotOurs);
    }
    if parsed.key != key.as_str() {
        return Err(Refused::Bad(format!(
            "its entry blob is for the key {}",
            parsed.key
        )));
    }
    let named: Named = serde_json::from_str(&parsed.entry)
        .map_err(|e| Refused::Bad(format!("its entry does not parse ({e})")))?;
    let mut claimed: Vec<OutputFile> = named.outputs.iter().map(output_file).collect();
    let mut listed: Vec<OutputFile> = decoded
        .signed
        .iter()
        .filter(|f| f.path != ENTRY_PATH)
        .map(|f| OutputFile {
            contents: Vec::new(),
            ..f.clone()
        })
        .collect();
    claimed.sort_by(|a, b| a.path.cmp(&b.path));
    listed.sort_by(|a, b| a.path.cmp(&b.path));
    if claimed != listed {
        return Err(Refused::Bad(
            "its ActionResult's output files and its entry blob disagree".into(),
        ));
    }
    Ok(parsed.entry.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CacheKey {
        CacheKey::from_hex("ab".repeat(32)).unwrap()
    }

    fn entry(name: &str, mode: u32) -> Vec<u8> {
        format!(
            r#"{{"key":"{}","target":"t","triple":"x","outputs":[{{"name":"{name}","sha256":"{}","size":7,"mode":{mode}}}]}}"#,
            key(),
            "c".repeat(64)
        )
        .into_bytes()
    }

    fn entry_blob(encoded: &Encoded) -> &[u8] {
        &encoded.blobs[0].bytes
    }

    #[test]
    fn an_entry_round_trips_with_its_outputs_as_output_files() {
        let encoded = encode(&key(), &entry("app", 0o755), None).unwrap();
        let decoded = decode(&encoded.action_result).unwrap();
        assert_eq!(decoded.signed.len(), 2);
        assert!(decoded.signed[0].is_executable);
        assert_eq!(decoded.signed[0].digest.as_ref().unwrap().size_bytes, 7);
        assert_eq!(
            decoded.entry.digest.as_ref(),
            Some(&encoded.blobs[0].digest)
        );
        assert!(decoded.signature.is_none());
        let opened = open(&decoded, entry_blob(&encoded), &key()).unwrap();
        assert_eq!(opened, entry("app", 0o755));
        // An input set names no output: only the entry blob.
        let set = br#"{"files":{}}"#;
        let encoded = encode(&key(), set, Some(b"k")).unwrap();
        let decoded = decode(&encoded.action_result).unwrap();
        assert_eq!(decoded.signed.len(), 1);
        assert!(decoded.signature.is_some());
        assert_eq!(open(&decoded, entry_blob(&encoded), &key()).unwrap(), set);
    }

    #[test]
    fn old_json_entries_and_disagreements_are_refused() {
        assert_eq!(decode(&entry("app", 0o755)).unwrap_err(), Refused::NotOurs);
        let encoded = encode(&key(), &entry("app", 0o755), None).unwrap();
        let decoded = decode(&encoded.action_result).unwrap();
        let other = encode(&key(), &entry("app", 0o644), None).unwrap();
        assert!(matches!(
            open(&decoded, entry_blob(&other), &key()),
            Err(Refused::Bad(_))
        ));
        let elsewhere = CacheKey::from_hex("cd".repeat(32)).unwrap();
        assert!(matches!(
            open(&decoded, entry_blob(&encoded), &elsewhere),
            Err(Refused::Bad(_))
        ));
        let mut result = ActionResult::from_bytes(&encoded.action_result).unwrap();
        result.output_files[0].path = "../escaped".into();
        let refused = decode(&result.to_bytes()).unwrap_err();
        assert!(matches!(refused, Refused::Bad(why) if why.contains("outside the output")));
    }
}
