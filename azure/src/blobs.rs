//! Blob Storage data plane through SAS URLs (the URL carries the
//! authorization; it is never logged): a stream uploaded as a block blob
//! (`Put Blob` when it fits one block, else `Put Block` per block and `Put
//! Block List`: at most one block in memory), a blob's properties (`HEAD`)
//! and a byte range of it (`GET` with `Range`). ACR Tasks hands out such
//! URLs for a build's source and its log.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use reqwest::{Method, StatusCode};
use url::Url;

use crate::AzureError;
use crate::files::xml::parse_error_code;

/// Data-plane REST version sent as `x-ms-version`.
pub const BLOB_VERSION: &str = "2025-01-05";
/// Bytes per block: the memory an upload holds.
pub const BLOCK_SIZE: usize = 4 << 20;
/// Most blocks of one blob (Azure's limit).
const MAX_BLOCKS: usize = 50_000;
/// Attempts of one idempotent request (a block, a read).
const ATTEMPTS: u32 = 3;

/// What `HEAD` says of a blob.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlobProperties {
    /// Its length in bytes.
    pub length: u64,
    /// Its metadata (`x-ms-meta-*`), names lowercased.
    pub metadata: BTreeMap<String, String>,
}

/// Blob calls through SAS URLs.
#[derive(Debug, Clone, Default)]
pub struct BlobClient {
    http: reqwest::Client,
}

/// A SAS URL parsed, with what may be said of it in messages (its path;
/// the query holds the signature).
struct SasUrl {
    url: Url,
    shown: String,
}

fn sas_url(raw: &str) -> Result<SasUrl, AzureError> {
    let url =
        Url::parse(raw).map_err(|e| AzureError::invalid(format!("blob: bad SAS URL: {e}")))?;
    let shown = format!("{}{}", url.host_str().unwrap_or_default(), url.path());
    Ok(SasUrl { url, shown })
}

/// The base64 block ID of block `n` (IDs of one blob have one length).
pub fn block_id(n: usize) -> String {
    STANDARD.encode(format!("block-{n:08}"))
}

/// The body of `Put Block List` naming `count` blocks in order (pure).
pub fn block_list_xml(count: usize) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
    for n in 0..count {
        xml.push_str(&format!("<Latest>{}</Latest>", block_id(n)));
    }
    xml.push_str("</BlockList>");
    xml
}

impl BlobClient {
    /// A client with its own connection pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uploads `input` to the block blob at `sas` as it arrives, holding
    /// at most one block; returns the bytes written. An error of `input`
    /// comes back as an `InvalidInput` error with it as the source.
    pub async fn upload_stream<S, E>(&self, sas: &str, input: S) -> Result<u64, AzureError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::error::Error + Send + Sync + 'static,
    {
        let target = sas_url(sas)?;
        let mut input = std::pin::pin!(input);
        let mut block = BytesMut::with_capacity(BLOCK_SIZE);
        let mut blocks = 0usize;
        let mut total = 0u64;
        loop {
            let next = input.next().await;
            let ended = next.is_none();
            if let Some(chunk) = next {
                let mut chunk = chunk.map_err(|e| {
                    AzureError::invalid(format!("blob {}: reading the upload: {e}", target.shown))
                        .with_source(e)
                })?;
                total += chunk.len() as u64;
                while !chunk.is_empty() {
                    let room = BLOCK_SIZE - block.len();
                    block.extend_from_slice(&chunk.split_to(room.min(chunk.len())));
                    if block.len() == BLOCK_SIZE {
                        self.put_block(&target, blocks, block.split().freeze())
                            .await?;
                        blocks += 1;
                        if blocks >= MAX_BLOCKS {
                            return Err(AzureError::invalid(format!(
                                "blob {}: more than {MAX_BLOCKS} blocks",
                                target.shown
                            )));
                        }
                    }
                }
            }
            if ended {
                break;
            }
        }
        if blocks == 0 {
            let url = target.url.clone();
            self.send(
                &target,
                Method::PUT,
                url,
                block.freeze(),
                &[("x-ms-blob-type", "BlockBlob")],
            )
            .await?;
            return Ok(total);
        }
        if !block.is_empty() {
            self.put_block(&target, blocks, block.freeze()).await?;
            blocks += 1;
        }
        let mut url = target.url.clone();
        url.query_pairs_mut().append_pair("comp", "blocklist");
        self.send(
            &target,
            Method::PUT,
            url,
            Bytes::from(block_list_xml(blocks)),
            &[("content-type", "application/xml")],
        )
        .await?;
        Ok(total)
    }

    async fn put_block(&self, target: &SasUrl, n: usize, data: Bytes) -> Result<(), AzureError> {
        let mut url = target.url.clone();
        url.query_pairs_mut()
            .append_pair("comp", "block")
            .append_pair("blockid", &block_id(n));
        self.send(target, Method::PUT, url, data, &[]).await?;
        Ok(())
    }

    /// The blob's length and metadata; `None` when it does not exist (yet).
    pub async fn properties(&self, sas: &str) -> Result<Option<BlobProperties>, AzureError> {
        let target = sas_url(sas)?;
        let response = match self
            .send(&target, Method::HEAD, target.url.clone(), Bytes::new(), &[])
            .await
        {
            Ok(r) => r,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let headers = response.headers();
        let length = headers
            .get(reqwest::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let metadata = headers
            .iter()
            .filter_map(|(name, value)| {
                let key = name.as_str().strip_prefix("x-ms-meta-")?;
                Some((key.to_ascii_lowercase(), value.to_str().ok()?.to_owned()))
            })
            .collect();
        Ok(Some(BlobProperties { length, metadata }))
    }

    /// At most `max` bytes of the blob from `offset` (empty past its end).
    pub async fn read_range(&self, sas: &str, offset: u64, max: u64) -> Result<Bytes, AzureError> {
        let target = sas_url(sas)?;
        if max == 0 {
            return Ok(Bytes::new());
        }
        let range = format!("bytes={offset}-{}", offset + max - 1);
        match self
            .send(
                &target,
                Method::GET,
                target.url.clone(),
                Bytes::new(),
                &[("range", &range)],
            )
            .await
        {
            Ok(response) => response.bytes().await.map_err(|e| {
                AzureError::unavailable(format!("blob {}: reading: {e}", target.shown))
                    .with_source(e)
            }),
            Err(e) if e.status() == Some(416) => Ok(Bytes::new()),
            Err(e) => Err(e),
        }
    }

    /// Sends one request (idempotent: retried on 5xx and lost connections)
    /// and answers the successful response.
    async fn send(
        &self,
        target: &SasUrl,
        method: Method,
        url: Url,
        body: Bytes,
        headers: &[(&str, &str)],
    ) -> Result<reqwest::Response, AzureError> {
        let what = format!("{method} blob {}", target.shown);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .header("x-ms-version", BLOB_VERSION);
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            if method == Method::PUT {
                request = request.body(body.clone());
            }
            match request.send().await {
                Ok(r) if r.status().is_success() => return Ok(r),
                Ok(r) if r.status().is_server_error() && attempt < ATTEMPTS => {
                    tracing::debug!(call = %what, status = %r.status(), "blob: retrying");
                }
                Ok(r) => {
                    let status = r.status();
                    let header_code = r
                        .headers()
                        .get("x-ms-error-code")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    let text = r.text().await.unwrap_or_default();
                    let code = header_code
                        .or_else(|| parse_error_code(&text))
                        .unwrap_or_default();
                    return Err(failure(&what, status, &code));
                }
                Err(e) if attempt < ATTEMPTS => {
                    tracing::debug!(call = %what, error = %e.without_url(), "blob: retrying");
                }
                Err(e) => {
                    return Err(AzureError::unavailable(format!(
                        "{what}: {}",
                        e.without_url()
                    )));
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(200 * u64::from(attempt))).await;
        }
    }
}

fn failure(what: &str, status: StatusCode, code: &str) -> AzureError {
    let message = format!("{what}: {status} {code}");
    let error = match status {
        StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => AzureError::new(
            crate::ErrorKind::Denied,
            format!("{message} (the SAS URL was refused)"),
        ),
        StatusCode::NOT_FOUND => AzureError::not_found(message),
        StatusCode::CONFLICT => AzureError::conflict(message),
        s if s.is_server_error() => AzureError::unavailable(message),
        _ => AzureError::invalid(message),
    };
    error.with_status(status.as_u16())
}

#[cfg(test)]
mod tests;
