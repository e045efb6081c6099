//! The few REAPI messages (`build.bazel.remote.execution.v2`) every remote AC value is made of,
//! derived with prost: `ActionResult`, `OutputFile`, `Digest`, `ExecutedActionMetadata`.
//!
//! Why not `bazel-remote-apis`' generated types here: that crate depends on tonic (hyper,
//! tokio, axum) unconditionally, and the HTTP protocol must not cost an adopting repo the gRPC
//! stack. These structs carry the field numbers of remote_execution.proto; prost skips the
//! fields a server adds that they do not name (worker metadata, timestamps), which we never
//! read. The tests decode what we write with `bazel-remote-apis` and re-encode it as a server
//! does, so a wrong tag cannot go unnoticed.

use prost::Message;

/// A blob's name in a CAS: lowercase hex sha256 and its size.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Message)]
pub(crate) struct Digest {
    #[prost(string, tag = "1")]
    pub hash: String,
    #[prost(int64, tag = "2")]
    pub size_bytes: i64,
}

impl Digest {
    pub(crate) fn new(sha256: &str, size: u64) -> Digest {
        Digest {
            hash: sha256.to_string(),
            size_bytes: i64::try_from(size).unwrap_or(i64::MAX),
        }
    }

    /// The size, when it is one (a negative size is a malformed digest).
    pub(crate) fn size(&self) -> Option<u64> {
        u64::try_from(self.size_bytes).ok()
    }

    /// Whether the hash is 64 lowercase hex digits and the size is not negative.
    pub(crate) fn is_well_formed(&self) -> bool {
        self.hash.len() == 64
            && self
                .hash
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            && self.size_bytes >= 0
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.hash, self.size_bytes)
    }
}

/// `OutputFile`: a file the action produced, by path relative to its working directory.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct OutputFile {
    #[prost(string, tag = "1")]
    pub path: String,
    #[prost(message, optional, tag = "2")]
    pub digest: Option<Digest>,
    #[prost(bool, tag = "4")]
    pub is_executable: bool,
    /// Filled only when a `GetActionResult` asked to inline this file (and the server did).
    #[prost(bytes = "vec", tag = "5")]
    pub contents: Vec<u8>,
}

/// `ExecutedActionMetadata`: only the worker, which we set to say who wrote the entry.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct ExecutedActionMetadata {
    #[prost(string, tag = "1")]
    pub worker: String,
}

/// `ActionResult`: the value of an action-cache entry.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct ActionResult {
    #[prost(message, repeated, tag = "2")]
    pub output_files: Vec<OutputFile>,
    #[prost(int32, tag = "4")]
    pub exit_code: i32,
    #[prost(message, optional, tag = "9")]
    pub execution_metadata: Option<ExecutedActionMetadata>,
}

impl ActionResult {
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        self.encode_to_vec()
    }

    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<ActionResult> {
        ActionResult::decode(bytes).ok()
    }
}
