//! The Azure Files data plane (REST `x-ms-version` [`FILES_VERSION`], Shared
//! Key authorization): the share, and directories in it, of the volumes.
//!
//! Operations (data-plane `file.json`): `Share_Create` (`PUT
//! /{share}?restype=share`), `Directory_Create` (`PUT
//! /{share}/{dir}?restype=directory`), `Directory_Delete` (`DELETE` of the
//! same), `Directory_ListFilesAndDirectoriesSegment` (`GET
//! …?restype=directory&comp=list`, XML, paged by `marker`) and
//! `File_Delete` (`DELETE /{share}/{dir}/{file}`). The account key signs
//! each request (HMAC-SHA256 of the canonical string) and is never logged.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use sha2::Sha256;
use url::Url;

pub(crate) mod xml;

use crate::{AzureError, Secret};
use xml::{Listing, parse_error_code, parse_listing};

/// Data-plane REST version sent as `x-ms-version`.
pub const FILES_VERSION: &str = "2025-01-05";

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A file (or anything that is not a directory).
    File(String),
    /// A subdirectory.
    Directory(String),
}

/// The data plane of one share of one storage account.
#[derive(Clone)]
pub struct FilesClient {
    http: reqwest::Client,
    endpoint: Url,
    account: String,
    key: Vec<u8>,
    share: String,
}

impl std::fmt::Debug for FilesClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilesClient")
            .field("endpoint", &self.endpoint.as_str())
            .field("account", &self.account)
            .field("share", &self.share)
            .finish_non_exhaustive()
    }
}

/// Signs `string_to_sign` with a base64-decoded account key.
pub fn sign(key: &[u8], string_to_sign: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        // HMAC takes keys of any length; this arm is never taken.
        Err(_) => return String::new(),
    };
    mac.update(string_to_sign.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// The Shared Key string to sign of a request without a body (all standard
/// headers empty), for `account` and the request's (encoded) URL. The path
/// in the canonical resource is the part after `endpoint_path` (the path of
/// the file endpoint: empty in Azure, `/files/{account}` in the emulator).
pub fn string_to_sign(
    method: &str,
    url: &Url,
    endpoint_path: &str,
    account: &str,
    ms_headers: &[(&str, &str)],
) -> String {
    let mut headers: Vec<(String, String)> = ms_headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    headers.sort();
    let mut out = format!("{method}\n\n\n\n\n\n\n\n\n\n\n\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}:{v}\n"));
    }
    let prefix = endpoint_path.trim_end_matches('/');
    let path = url.path().strip_prefix(prefix).unwrap_or(url.path());
    out.push_str(&canonical_resource(account, path, url.query_pairs()));
    out
}

/// `/{account}{path}` then `\nname:value` per query parameter (names
/// lowercased and sorted, values of one name sorted and comma-joined).
pub fn canonical_resource<'a>(
    account: &str,
    path: &str,
    query: impl Iterator<Item = (std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>)>,
) -> String {
    let mut params: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (k, v) in query {
        params
            .entry(k.to_ascii_lowercase())
            .or_default()
            .push(v.into_owned());
    }
    let mut out = format!("/{account}{path}");
    for (k, mut vs) in params {
        vs.sort();
        out.push_str(&format!("\n{k}:{}", vs.join(",")));
    }
    out
}

fn rfc1123_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[now.weekday().number_days_from_monday() as usize],
        now.day(),
        MONTHS[(u8::from(now.month()) - 1) as usize],
        now.year(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

impl FilesClient {
    /// The share `share` of `account` at `endpoint` (its file service URL,
    /// e.g. `https://acct.file.core.windows.net`), signing with `key`.
    pub fn new(
        endpoint: Url,
        account: &str,
        key: &Secret,
        share: &str,
    ) -> Result<Self, AzureError> {
        let key = STANDARD.decode(key.secret().trim()).map_err(|_| {
            AzureError::invalid(
                "storage_account_key is not valid base64 (an Azure storage account key is)",
            )
        })?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| AzureError::other(format!("cannot build the Azure Files client: {e}")))?;
        Ok(Self {
            http,
            endpoint,
            account: account.to_owned(),
            key,
            share: share.to_owned(),
        })
    }

    /// The share name.
    pub fn share(&self) -> &str {
        &self.share
    }

    /// The storage account name.
    pub fn account(&self) -> &str {
        &self.account
    }

    fn url(&self, path: &[&str], query: &[(&str, &str)]) -> Result<Url, AzureError> {
        let mut url = self.endpoint.clone();
        {
            let mut segs = url.path_segments_mut().map_err(|_| {
                AzureError::other(format!("file endpoint {} cannot be a base", self.endpoint))
            })?;
            segs.pop_if_empty();
            segs.push(&self.share);
            for p in path
                .iter()
                .flat_map(|p| p.split('/'))
                .filter(|p| !p.is_empty())
            {
                segs.push(p);
            }
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// Sends one signed request; retries 5xx and connection errors twice.
    async fn send(
        &self,
        method: Method,
        url: &Url,
        extra: &[(&str, &str)],
    ) -> Result<(StatusCode, String), AzureError> {
        let what = format!("{method} {}", url.path());
        let mut attempt = 0u32;
        loop {
            let date = rfc1123_now();
            let mut ms: Vec<(&str, &str)> =
                vec![("x-ms-date", &date), ("x-ms-version", FILES_VERSION)];
            ms.extend_from_slice(extra);
            let sts = string_to_sign(
                method.as_str(),
                url,
                self.endpoint.path(),
                &self.account,
                &ms,
            );
            let auth = format!("SharedKey {}:{}", self.account, sign(&self.key, &sts));
            let mut req = self.http.request(method.clone(), url.clone());
            for (k, v) in &ms {
                req = req.header(*k, *v);
            }
            if matches!(method, Method::PUT) {
                req = req.header(reqwest::header::CONTENT_LENGTH, "0");
            }
            let result = req
                .header(reqwest::header::AUTHORIZATION, auth)
                .send()
                .await;
            attempt += 1;
            match result {
                Ok(resp) if resp.status().is_server_error() && attempt < 3 => {
                    tracing::debug!(call = %what, status = %resp.status(), "azure files: retrying");
                }
                Ok(resp) => {
                    let status = resp.status();
                    let body = resp.text().await.unwrap_or_default();
                    tracing::debug!(call = %what, status = %status, "azure files call");
                    return Ok((status, body));
                }
                Err(e) if attempt < 3 => {
                    tracing::debug!(call = %what, error = %e, "azure files: retrying");
                }
                Err(e) => {
                    return Err(AzureError::unavailable(format!(
                        "aca: Azure Files {what} at {}: {e}",
                        self.endpoint
                    ))
                    .with_source(e));
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(200 * u64::from(attempt))).await;
        }
    }

    fn failure(&self, what: &str, status: StatusCode, body: &str) -> AzureError {
        let code = parse_error_code(body).unwrap_or_default();
        let msg = format!(
            "aca: Azure Files {what} in share {} of storage account {}: {status} {code}",
            self.share, self.account
        );
        match status {
            StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => {
                AzureError::unavailable(format!("{msg} (check storage_account_key)"))
            }
            StatusCode::NOT_FOUND => AzureError::not_found(msg),
            StatusCode::CONFLICT => AzureError::conflict(msg),
            s if s.is_server_error() => AzureError::unavailable(msg),
            _ => AzureError::other(msg),
        }
    }

    /// Creates the share; `false` if it existed.
    pub async fn create_share(&self) -> Result<bool, AzureError> {
        let url = self.url(&[], &[("restype", "share")])?;
        let (status, body) = self.send(Method::PUT, &url, &[]).await?;
        match status {
            StatusCode::CREATED => Ok(true),
            StatusCode::CONFLICT
                if parse_error_code(&body).as_deref() == Some("ShareAlreadyExists") =>
            {
                Ok(false)
            }
            s => Err(self.failure("create share", s, &body)),
        }
    }

    /// Creates directory `path` (relative to the share); `false` if it existed.
    pub async fn create_directory(&self, path: &str) -> Result<bool, AzureError> {
        let url = self.url(&[path], &[("restype", "directory")])?;
        let headers = [
            ("x-ms-file-attributes", "Directory"),
            ("x-ms-file-creation-time", "now"),
            ("x-ms-file-last-write-time", "now"),
            ("x-ms-file-permission", "inherit"),
        ];
        let (status, body) = self.send(Method::PUT, &url, &headers).await?;
        match status {
            StatusCode::CREATED => Ok(true),
            StatusCode::CONFLICT
                if parse_error_code(&body).as_deref() == Some("ResourceAlreadyExists") =>
            {
                Ok(false)
            }
            s => Err(self.failure(&format!("create directory {path}"), s, &body)),
        }
    }

    /// One level of directory `path` (every page).
    pub async fn list(&self, path: &str) -> Result<Vec<Entry>, AzureError> {
        let mut out = Vec::new();
        let mut marker = String::new();
        loop {
            let mut query = vec![("restype", "directory"), ("comp", "list")];
            if !marker.is_empty() {
                query.push(("marker", marker.as_str()));
            }
            let url = self.url(&[path], &query)?;
            let (status, body) = self.send(Method::GET, &url, &[]).await?;
            if status != StatusCode::OK {
                return Err(self.failure(&format!("list directory {path}"), status, &body));
            }
            let Listing {
                entries,
                next_marker,
            } = parse_listing(&body).map_err(|e| {
                AzureError::other(format!(
                    "aca: Azure Files listing of {path} is unreadable: {e}"
                ))
            })?;
            out.extend(entries);
            match next_marker {
                Some(m) if !m.is_empty() => marker = m,
                _ => return Ok(out),
            }
        }
    }

    /// Deletes directory `path` and everything in it; `false` if it did not exist.
    pub async fn delete_tree(&self, path: &str) -> Result<bool, AzureError> {
        let entries = match self.list(path).await {
            Ok(e) => e,
            Err(e) if e.is_not_found() => return Ok(false),
            Err(e) => return Err(e),
        };
        for entry in entries {
            match entry {
                Entry::File(name) => self.delete_file(&format!("{path}/{name}")).await?,
                Entry::Directory(name) => {
                    Box::pin(self.delete_tree(&format!("{path}/{name}"))).await?;
                }
            }
        }
        let url = self.url(&[path], &[("restype", "directory")])?;
        let (status, body) = self.send(Method::DELETE, &url, &[]).await?;
        match status {
            StatusCode::ACCEPTED | StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            s => Err(self.failure(&format!("delete directory {path}"), s, &body)),
        }
    }

    /// Deletes file `path`; a missing file is not an error.
    pub async fn delete_file(&self, path: &str) -> Result<(), AzureError> {
        let url = self.url(&[path], &[])?;
        let (status, body) = self.send(Method::DELETE, &url, &[]).await?;
        match status {
            StatusCode::ACCEPTED | StatusCode::OK | StatusCode::NOT_FOUND => Ok(()),
            s => Err(self.failure(&format!("delete file {path}"), s, &body)),
        }
    }
}

#[cfg(test)]
mod tests;
