//! Blobs over gRPC: FindMissingBlobs before an upload, BatchUpdateBlobs/BatchReadBlobs for
//! blobs within the server's batch limit, ByteStream Write/Read (chunked) for larger ones: Go
//! binaries are megabytes. The caller verifies every byte read.

use std::hash::{BuildHasher, Hasher};

use anyhow::{bail, Result};
use bazel_remote_apis::build::bazel::remote::execution::v2 as re;
use bazel_remote_apis::google::bytestream;
use tonic::Code;

use super::{to_re, GrpcTransport, MAX_MESSAGE};
use crate::buildcache::storage::remote::reapi::Digest;
use crate::buildcache::storage::remote::Upload;

/// One ByteStream write message carries at most this much.
const CHUNK: usize = 1 << 20;
/// What a batch spends on a blob besides its bytes (digest, framing).
const PER_BLOB_OVERHEAD: u64 = 256;

/// A name no other upload uses (the `{uuid}` of a ByteStream upload): random, UUID-shaped.
fn upload_id() -> String {
    let random = |salt: u64| {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(salt ^ u64::from(std::process::id()));
        hasher.finish()
    };
    let (a, b) = (random(1), random(2));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

impl GrpcTransport {
    fn cas(
        &self,
    ) -> re::content_addressable_storage_client::ContentAddressableStorageClient<
        tonic::transport::Channel,
    > {
        re::content_addressable_storage_client::ContentAddressableStorageClient::new(
            self.channel.clone(),
        )
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE)
    }

    fn bytestream(
        &self,
    ) -> bytestream::byte_stream_client::ByteStreamClient<tonic::transport::Channel> {
        bytestream::byte_stream_client::ByteStreamClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
    }

    /// `{instance}/` or nothing, the prefix of ByteStream resource names.
    fn prefix(&self) -> String {
        if self.instance.is_empty() {
            String::new()
        } else {
            format!("{}/", self.instance)
        }
    }

    /// Which of `digests` the server lacks.
    fn find_missing(&self, digests: Vec<re::Digest>) -> Result<Vec<re::Digest>> {
        if digests.is_empty() {
            return Ok(Vec::new());
        }
        let mut client = self.cas();
        let request = self.request(
            re::FindMissingBlobsRequest {
                instance_name: self.instance.clone(),
                blob_digests: digests,
                digest_function: re::digest_function::Value::Sha256 as i32,
            },
            self.entry_timeout,
            0,
        );
        let what = "FindMissingBlobs";
        let response = self
            .block(what, self.entry_timeout, client.find_missing_blobs(request))?
            .map_err(|s| self.status_error(what, &s))?;
        Ok(response.into_inner().missing_blob_digests)
    }

    /// Sends the blobs the server lacks: asks about those that may be there in one request,
    /// then batches the small ones and streams the large ones.
    pub(super) fn upload_blobs(&self, blobs: Vec<Upload>) -> Result<()> {
        let asked: Vec<re::Digest> = blobs
            .iter()
            .filter(|b| b.ask_first)
            .map(|b| to_re(&b.digest))
            .collect();
        let missing = self.find_missing(asked)?;
        let needed: Vec<Upload> = blobs
            .into_iter()
            .filter(|b| b.digest.size_bytes > 0)
            .filter(|b| !b.ask_first || missing.iter().any(|m| m.hash == b.digest.hash))
            .collect();
        if needed.is_empty() {
            return Ok(());
        }
        let max_batch = self.caps()?.max_batch;
        let mut batch = Vec::new();
        let mut batch_bytes = 0;
        for blob in needed {
            let size = blob.digest.size().unwrap_or(u64::MAX);
            if size + PER_BLOB_OVERHEAD > max_batch {
                self.write_stream(&blob.digest, &blob.bytes()?)?;
                continue;
            }
            if batch_bytes + size + PER_BLOB_OVERHEAD > max_batch {
                self.batch_update(std::mem::take(&mut batch))?;
                batch_bytes = 0;
            }
            batch_bytes += size + PER_BLOB_OVERHEAD;
            batch.push(re::batch_update_blobs_request::Request {
                digest: Some(to_re(&blob.digest)),
                data: blob.bytes()?,
                compressor: 0,
            });
        }
        self.batch_update(batch)
    }

    fn batch_update(&self, requests: Vec<re::batch_update_blobs_request::Request>) -> Result<()> {
        if requests.is_empty() {
            return Ok(());
        }
        let mut client = self.cas();
        let up = requests.iter().map(|r| r.data.len()).sum();
        let request = self.request(
            re::BatchUpdateBlobsRequest {
                instance_name: self.instance.clone(),
                requests,
                digest_function: re::digest_function::Value::Sha256 as i32,
            },
            self.blob_timeout,
            up,
        );
        let what = "BatchUpdateBlobs";
        let response = self
            .block(what, self.blob_timeout, client.batch_update_blobs(request))?
            .map_err(|s| self.status_error(what, &s))?;
        for blob in response.into_inner().responses {
            let status = blob.status.unwrap_or_default();
            if status.code != Code::Ok as i32 {
                let digest = blob.digest.map(|d| d.hash).unwrap_or_default();
                bail!(
                    "{what} on {} refused the blob {digest}: code {}: {}",
                    self.url,
                    status.code,
                    status.message
                );
            }
        }
        Ok(())
    }

    /// ByteStream Write of one blob, in [`CHUNK`]s.
    fn write_stream(&self, digest: &Digest, bytes: &[u8]) -> Result<()> {
        let name = format!(
            "{}uploads/{}/blobs/{}/{}",
            self.prefix(),
            upload_id(),
            digest.hash,
            digest.size_bytes
        );
        let mut messages = Vec::new();
        let mut offset = 0;
        for chunk in bytes.chunks(CHUNK) {
            messages.push(bytestream::WriteRequest {
                resource_name: if offset == 0 {
                    name.clone()
                } else {
                    String::new()
                },
                write_offset: offset as i64,
                finish_write: offset + chunk.len() == bytes.len(),
                data: chunk.to_vec(),
            });
            offset += chunk.len();
        }
        let mut client = self.bytestream();
        let stream = tonic::codegen::tokio_stream::iter(messages);
        let request = self.request(stream, self.blob_timeout, bytes.len());
        let what = format!("ByteStream Write {digest}");
        let response = self
            .block(&what, self.blob_timeout, client.write(request))?
            .map_err(|s| self.status_error(&what, &s))?;
        let committed = response.into_inner().committed_size;
        // A server that already holds the blob may end the write early and say so.
        if committed != digest.size_bytes && committed != -1 {
            bail!(
                "{what} on {}: the server committed {committed} of {} bytes",
                self.url,
                digest.size_bytes
            );
        }
        Ok(())
    }

    /// The blob's bytes (unverified), or None when the server does not hold it.
    pub(super) fn read_blob_bytes(&self, digest: &Digest) -> Result<Option<Vec<u8>>> {
        let size = digest.size().unwrap_or(u64::MAX);
        if size == 0 {
            return Ok(Some(Vec::new()));
        }
        if size + PER_BLOB_OVERHEAD <= self.caps()?.max_batch {
            self.batch_read(digest)
        } else {
            self.read_stream(digest)
        }
    }

    fn batch_read(&self, digest: &Digest) -> Result<Option<Vec<u8>>> {
        let mut client = self.cas();
        let request = self.request(
            re::BatchReadBlobsRequest {
                instance_name: self.instance.clone(),
                digests: vec![to_re(digest)],
                digest_function: re::digest_function::Value::Sha256 as i32,
                ..Default::default()
            },
            self.blob_timeout,
            0,
        );
        let what = format!("BatchReadBlobs {digest}");
        let response = self
            .block(&what, self.blob_timeout, client.batch_read_blobs(request))?
            .map_err(|s| self.status_error(&what, &s))?;
        let Some(blob) = response.into_inner().responses.into_iter().next() else {
            bail!("{what} on {} answered no blob", self.url);
        };
        let status = blob.status.unwrap_or_default();
        match Code::from_i32(status.code) {
            Code::Ok => {
                self.traffic.down(blob.data.len());
                Ok(Some(blob.data))
            }
            Code::NotFound => Ok(None),
            code => bail!(
                "{what} on {} failed: {code:?}: {}",
                self.url,
                status.message
            ),
        }
    }

    fn read_stream(&self, digest: &Digest) -> Result<Option<Vec<u8>>> {
        let mut client = self.bytestream();
        let name = format!(
            "{}blobs/{}/{}",
            self.prefix(),
            digest.hash,
            digest.size_bytes
        );
        let request = self.request(
            bytestream::ReadRequest {
                resource_name: name,
                read_offset: 0,
                read_limit: 0,
            },
            self.blob_timeout,
            0,
        );
        let what = format!("ByteStream Read {digest}");
        let limit = digest.size().unwrap_or(0);
        let read = async {
            let mut stream = client.read(request).await?.into_inner();
            let mut bytes = Vec::new();
            while let Some(message) = stream.message().await? {
                bytes.extend_from_slice(&message.data);
                if bytes.len() as u64 > limit {
                    break;
                }
            }
            Ok(bytes)
        };
        match self.block(&what, self.blob_timeout, read)? {
            Ok(bytes) => {
                self.traffic.down(bytes.len());
                Ok(Some(bytes))
            }
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(self.status_error(&what, &status)),
        }
    }
}
