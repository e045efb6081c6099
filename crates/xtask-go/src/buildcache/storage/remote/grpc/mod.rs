//! The gRPC Remote Execution API as a [`Transport`] (feature `grpc`): Capabilities (sha256, the
//! batch limit), ActionCache GetActionResult/UpdateActionResult here; the CAS and ByteStream
//! in `cas.rs`. Generated clients from `bazel-remote-apis`, tonic over rustls.
//!
//! The rest of the code is synchronous: this transport owns a small tokio runtime (2 worker
//! threads) and blocks on it, one call at a time per calling thread, each bounded by the
//! settings' timeouts. No process-global state: the runtime and the channel live and die with
//! the store. The token travels as `authorization: Bearer` or in the named header.

mod cas;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bazel_remote_apis::build::bazel::remote::execution::v2 as re;
use prost::Message;
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Status};

use super::reapi::{ActionResult, Digest};
use super::{action_result, BlobReader, Traffic, Transport, Upload};
use crate::buildcache::key::CacheKey;
use crate::workspace::settings::RemoteSettings;

/// What the server said it can do (asked once, on first need).
#[derive(Debug, Clone, Copy)]
struct Caps {
    /// The most bytes one batch request may carry.
    max_batch: u64,
}

/// The batch limit when the server names none (0, "no limit") or a larger one: tonic's and
/// most servers' message limit.
const BATCH_LIMIT: u64 = 4 << 20;
/// The largest message we accept (a batch read answers up to the batch limit, plus framing).
const MAX_MESSAGE: usize = 64 << 20;
/// The REAPI action digest of an AC key: our keys are sha256s of our own key encoding, not
/// of an `Action` message, and servers want a non-zero size with a non-empty hash.
const KEY_SIZE: i64 = 32;

pub(crate) struct GrpcTransport {
    runtime: tokio::runtime::Runtime,
    channel: Channel,
    url: String,
    instance: String,
    auth: Option<(AsciiMetadataKey, AsciiMetadataValue)>,
    entry_timeout: Duration,
    blob_timeout: Duration,
    caps: Mutex<Option<Caps>>,
    traffic: Arc<Traffic>,
}

fn auth(settings: &RemoteSettings) -> Result<Option<(AsciiMetadataKey, AsciiMetadataValue)>> {
    let Some(token) = &settings.token else {
        return Ok(None);
    };
    let (name, value) = match &settings.token_header {
        Some(header) => (header.clone(), token.clone()),
        None => ("authorization".to_string(), format!("Bearer {token}")),
    };
    let key = name
        .parse::<AsciiMetadataKey>()
        .map_err(|_| anyhow!("`{name}` is not a gRPC header name (XTASK_GO_REMOTE_HEADER)"))?;
    let value = value.parse::<AsciiMetadataValue>().map_err(|_| {
        anyhow!("XTASK_GO_REMOTE_TOKEN holds characters a gRPC header cannot carry")
    })?;
    Ok(Some((key, value)))
}

impl GrpcTransport {
    /// A transport to the server at `settings.url` (connected on first use).
    pub(crate) fn new(
        settings: &RemoteSettings,
        tls: bool,
        traffic: Arc<Traffic>,
    ) -> Result<GrpcTransport> {
        let url = settings.url.to_string();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("xtask-go-grpc")
            .enable_all()
            .build()
            .context("starting the gRPC client's runtime")?;
        let authority = settings.url.authority();
        let scheme = if tls { "https" } else { "http" };
        let mut endpoint = Endpoint::from_shared(format!("{scheme}://{authority}"))
            .with_context(|| format!("{url} is not a gRPC address"))?
            .connect_timeout(settings.connect_timeout)
            .tcp_nodelay(true)
            .http2_adaptive_window(true);
        if tls {
            let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
            let config = ClientTlsConfig::new().with_webpki_roots().domain_name(host);
            endpoint = endpoint
                .tls_config(config)
                .with_context(|| format!("setting up TLS for {url}"))?;
        }
        let channel = {
            let _inside = runtime.enter();
            endpoint.connect_lazy()
        };
        Ok(GrpcTransport {
            runtime,
            channel,
            url,
            instance: settings.instance.clone(),
            auth: auth(settings)?,
            entry_timeout: settings.entry_timeout,
            blob_timeout: settings.blob_timeout,
            caps: Mutex::new(None),
            traffic,
        })
    }

    /// `message` (carrying `up` bytes of values and blobs) as a request, with the token and the
    /// server-side deadline; counted.
    fn request<T>(&self, message: T, timeout: Duration, up: usize) -> tonic::Request<T> {
        self.traffic.request(up);
        let mut request = tonic::Request::new(message);
        request.set_timeout(timeout);
        if let Some((key, value)) = &self.auth {
            request.metadata_mut().insert(key.clone(), value.clone());
        }
        request
    }

    /// Runs `call` to its end or `timeout`, whichever is first.
    fn block<T>(
        &self,
        what: &str,
        timeout: Duration,
        call: impl Future<Output = Result<T, Status>>,
    ) -> Result<Result<T, Status>> {
        let timed_out = || anyhow!("{what} on {} timed out after {:?}", self.url, timeout);
        match self
            .runtime
            .block_on(async { tokio::time::timeout(timeout, call).await })
        {
            Err(_) => Err(timed_out()),
            // tonic's own deadline (the request's grpc-timeout) may fire first.
            Ok(Err(status)) if is_deadline(&status) => Err(timed_out()),
            Ok(answer) => Ok(answer),
        }
    }

    /// The error for a failed call, with the fix when it is one of ours to make.
    fn status_error(&self, what: &str, status: &Status) -> anyhow::Error {
        let fix = match status.code() {
            Code::Unauthenticated | Code::PermissionDenied => {
                "; check XTASK_GO_REMOTE_TOKEN (and XTASK_GO_REMOTE_HEADER for a header other \
                 than authorization: Bearer)"
            }
            Code::InvalidArgument if !self.instance.is_empty() => {
                "; check the instance name (XTASK_GO_REMOTE_INSTANCE)"
            }
            _ => "",
        };
        anyhow!(
            "{what} on {} failed: {:?}: {}{fix}",
            self.url,
            status.code(),
            status.message()
        )
    }

    fn capabilities(&self) -> Result<re::ServerCapabilities> {
        let mut client = re::capabilities_client::CapabilitiesClient::new(self.channel.clone());
        let request = self.request(
            re::GetCapabilitiesRequest {
                instance_name: self.instance.clone(),
            },
            self.entry_timeout,
            0,
        );
        let what = "GetCapabilities";
        self.block(what, self.entry_timeout, client.get_capabilities(request))?
            .map(tonic::Response::into_inner)
            .map_err(|s| self.status_error(what, &s))
    }

    /// The server's limits, asked once.
    fn caps(&self) -> Result<Caps> {
        if let Some(caps) = *self.caps.lock().unwrap() {
            return Ok(caps);
        }
        let caps = self.caps_of(&self.capabilities()?)?;
        *self.caps.lock().unwrap() = Some(caps);
        Ok(caps)
    }

    /// The limits in `server`'s answer; an error when it does not offer sha256.
    fn caps_of(&self, server: &re::ServerCapabilities) -> Result<Caps> {
        let cache = server.cache_capabilities.clone().unwrap_or_default();
        let sha256 = re::digest_function::Value::Sha256 as i32;
        if !cache.digest_functions.is_empty() && !cache.digest_functions.contains(&sha256) {
            bail!(
                "the REAPI server {} does not offer the sha256 digest function (it offers {:?}); \
                 xtask-go stores sha256 digests: configure the server for sha256",
                self.url,
                cache.digest_functions
            );
        }
        let limit = u64::try_from(cache.max_batch_total_size_bytes).unwrap_or(0);
        Ok(Caps {
            max_batch: if limit == 0 {
                BATCH_LIMIT
            } else {
                limit.min(BATCH_LIMIT)
            },
        })
    }

    fn action_digest(key: &CacheKey) -> re::Digest {
        re::Digest {
            hash: key.to_string(),
            size_bytes: KEY_SIZE,
        }
    }
}

/// Whether `status` says the call's deadline passed (the server's, or tonic's own).
fn is_deadline(status: &Status) -> bool {
    status.code() == Code::DeadlineExceeded
        || (status.code() == Code::Cancelled && status.message().contains("Timeout expired"))
}

/// Our digest as the generated type.
fn to_re(digest: &Digest) -> re::Digest {
    re::Digest {
        hash: digest.hash.clone(),
        size_bytes: digest.size_bytes,
    }
}

impl Transport for GrpcTransport {
    /// Asks the server to inline the entry and signature blobs: one round trip for a hit,
    /// where the server does (the entry is still verified against its digest).
    fn get_action_result(&self, key: &CacheKey) -> Result<Option<Vec<u8>>> {
        let mut client = re::action_cache_client::ActionCacheClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE);
        let request = self.request(
            re::GetActionResultRequest {
                instance_name: self.instance.clone(),
                action_digest: Some(Self::action_digest(key)),
                inline_output_files: vec![
                    action_result::ENTRY_PATH.into(),
                    action_result::SIGNATURE_PATH.into(),
                ],
                digest_function: re::digest_function::Value::Sha256 as i32,
                ..Default::default()
            },
            self.entry_timeout,
            0,
        );
        let what = format!("GetActionResult {key}");
        match self.block(&what, self.entry_timeout, client.get_action_result(request))? {
            Ok(response) => {
                let value = response.into_inner().encode_to_vec();
                self.traffic.down(value.len());
                Ok(Some(value))
            }
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(self.status_error(&what, &status)),
        }
    }

    fn update_action_result(&self, key: &CacheKey, value: &[u8]) -> Result<()> {
        let result = re::ActionResult::decode(value)
            .context("an ActionResult of ours does not decode as REAPI's")?;
        debug_assert!(ActionResult::from_bytes(value).is_some());
        let mut client = re::action_cache_client::ActionCacheClient::new(self.channel.clone());
        let request = self.request(
            re::UpdateActionResultRequest {
                instance_name: self.instance.clone(),
                action_digest: Some(Self::action_digest(key)),
                action_result: Some(result),
                digest_function: re::digest_function::Value::Sha256 as i32,
                ..Default::default()
            },
            self.entry_timeout,
            value.len(),
        );
        let what = format!("UpdateActionResult {key}");
        self.block(
            &what,
            self.entry_timeout,
            client.update_action_result(request),
        )?
        .map(|_| ())
        .map_err(|s| self.status_error(&what, &s))
    }

    fn upload(&self, blobs: Vec<Upload>) -> Result<()> {
        self.upload_blobs(blobs)
    }

    fn read_blob(&self, digest: &Digest) -> Result<Option<BlobReader<'_>>> {
        let bytes = self.read_blob_bytes(digest)?;
        Ok(bytes.map(|b| Box::new(std::io::Cursor::new(b)) as BlobReader<'_>))
    }

    fn probe(&self) -> Result<String> {
        let server = self.capabilities()?;
        let caps = self.caps_of(&server)?;
        *self.caps.lock().unwrap() = Some(caps);
        let version = |v: Option<bazel_remote_apis::build::bazel::semver::SemVer>| {
            v.map_or("?".to_string(), |v| format!("{}.{}", v.major, v.minor))
        };
        let updates = server
            .cache_capabilities
            .and_then(|c| c.action_cache_update_capabilities)
            .is_some_and(|u| u.update_enabled);
        Ok(format!(
            "REAPI {}..{}, sha256, batches up to {} bytes, action-cache updates {}",
            version(server.low_api_version),
            version(server.high_api_version),
            caps.max_batch,
            if updates { "allowed" } else { "not advertised" }
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::settings::RemoteSettings;

    #[test]
    fn the_token_is_a_bearer_or_the_named_header() {
        let mut settings = RemoteSettings::for_url("grpc://c:1", "test").unwrap();
        assert!(auth(&settings).unwrap().is_none());
        settings.token = Some("s3cret".into());
        let (key, value) = auth(&settings).unwrap().unwrap();
        assert_eq!(
            (key.as_str(), value.to_str().unwrap()),
            ("authorization", "Bearer s3cret")
        );
        settings.token_header = Some("x-buildbuddy-api-key".into());
        let (key, value) = auth(&settings).unwrap().unwrap();
        assert_eq!(
            (key.as_str(), value.to_str().unwrap()),
            ("x-buildbuddy-api-key", "s3cret")
        );
        settings.token = Some("bad\nvalue".into());
        assert!(auth(&settings).is_err());
    }
}
