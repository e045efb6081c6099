//! Where cache entries and blobs are kept: the local store, the HTTP remote, and the tiered pair.

pub mod local;
pub mod remote;
pub mod tiered;
