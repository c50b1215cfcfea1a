//! Azure Resource Manager calls and long-running operation (LRO) polling.
//!
//! `azure_core`'s poller is generic, so ARM's LRO protocol is written here:
//! `Azure-AsyncOperation` (poll the operation until `Succeeded`, `Failed` or
//! `Canceled`, then GET the resource), `Location` (poll until it stops
//! answering 202), or `provisioningState` on the resource itself. Polls run
//! every `poll_interval` (1 s by default), or after `Retry-After` when Azure
//! sends one.

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use azure_core::http::headers::{HeaderName, Headers, RETRY_AFTER};
use azure_core::http::{Context, Method, Pipeline, RawResponse, Request};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use crate::pipeline::{AzureOptions, new_pipeline};
use crate::{AzureError, CallContext};

mod failures;

use failures::{
    LOCK_RETRY_FIRST, LOCK_RETRY_MAX, PUT_ATTEMPTS, WaitError, is_lock_conflict, lro_failure,
};

/// `Azure-AsyncOperation` response header.
pub const AZURE_ASYNC_OPERATION: HeaderName = HeaderName::from_static("azure-asyncoperation");
/// `Location` response header.
pub const LOCATION: HeaderName = HeaderName::from_static("location");

/// Longest wait between polls, whatever `Retry-After` says.
const MAX_POLL_WAIT: Duration = Duration::from_secs(60);
/// How often a non-idempotent call Azure did not execute (429, or never
/// sent) is sent again.
const MAX_UNSENT_RETRIES: u32 = 5;

/// A response body and its status.
#[derive(Debug, Clone)]
pub struct ArmResponse {
    /// HTTP status.
    pub status: u16,
    /// Parsed JSON body (`Null` when empty).
    pub body: Value,
}

impl ArmResponse {
    /// Deserializes the body.
    pub fn json<T: DeserializeOwned>(&self, ctx: &CallContext) -> Result<T, AzureError> {
        serde_json::from_value(self.body.clone()).map_err(|e| {
            AzureError::other(format!(
                "{}: unexpected response from Azure: {e}",
                ctx.operation
            ))
        })
    }
}

/// A client for ARM at one endpoint, with a retrying pipeline for idempotent
/// calls and a non-retrying one for calls that must not be repeated blindly.
#[derive(Debug, Clone)]
pub struct ArmClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    endpoint: Url,
    retrying: Pipeline,
    once: Pipeline,
    options: AzureOptions,
}

impl ArmClient {
    /// A client for `endpoint` getting tokens for `scope` (e.g.
    /// `https://management.azure.com/.default`, also when `endpoint` is an
    /// emulator or a sovereign-cloud host that accepts that audience).
    pub fn with_scope(
        endpoint: Url,
        scope: &str,
        credential: Arc<dyn TokenCredential>,
        options: AzureOptions,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                retrying: new_pipeline(credential.clone(), scope, &options, true),
                once: new_pipeline(credential, scope, &options, false),
                endpoint,
                options,
            }),
        }
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Url {
        &self.inner.endpoint
    }

    /// The URL of `path` (an ARM resource path) with `api-version`.
    pub fn url(&self, path: &str, api_version: &str) -> Result<Url, AzureError> {
        let mut url = self
            .inner
            .endpoint
            .join(path.trim_start_matches('/'))
            .map_err(|e| AzureError::other(format!("invalid ARM path {path:?}: {e}")))?;
        url.query_pairs_mut()
            .append_pair("api-version", api_version);
        Ok(url)
    }

    async fn send(
        &self,
        ctx: &CallContext,
        pipeline: &Pipeline,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<RawResponse, AzureError> {
        // A write overlapping another on the same resource (ours, when a lost
        // response made the pipeline send it again) is refused with
        // ContainerAppLockConflict until that one ends: wait for it, within
        // the bound of an operation. POSTs are not repeated here.
        let deadline = tokio::time::Instant::now() + self.inner.options.lro_timeout;
        let mut pause = LOCK_RETRY_FIRST;
        loop {
            match self
                .send_raw(ctx, pipeline, method, url.clone(), body)
                .await
            {
                Err(e)
                    if method != Method::Post
                        && is_lock_conflict(&e)
                        && tokio::time::Instant::now() + pause < deadline =>
                {
                    tracing::debug!(operation = %ctx.operation, "resource locked by another operation; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(LOCK_RETRY_MAX);
                }
                other => return other.map_err(|e| AzureError::from_core(ctx, e)),
            }
        }
    }

    /// [`Self::send`] with azure_core's error, whose kind says whether the
    /// request was executed.
    async fn send_raw(
        &self,
        ctx: &CallContext,
        pipeline: &Pipeline,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<RawResponse, azure_core::Error> {
        let mut request = Request::new(url, method);
        request.insert_header("accept", "application/json");
        if let Some(body) = body {
            request.insert_header("content-type", "application/json");
            let bytes = serde_json::to_vec(body).map_err(|e| {
                azure_core::Error::with_message(
                    azure_core::error::ErrorKind::DataConversion,
                    format!("{}: cannot encode request: {e}", ctx.operation),
                )
            })?;
            request.set_body(bytes);
        }
        pipeline.send(&Context::new(), &mut request, None).await
    }

    /// GET a resource.
    pub async fn get<T: DeserializeOwned>(
        &self,
        ctx: &CallContext,
        path: &str,
        api_version: &str,
    ) -> Result<T, AzureError> {
        let url = self.url(path, api_version)?;
        self.read(ctx, &url).await?.0.json(ctx)
    }

    /// GET a page of a list: `next_link` as ARM returned it (absolute, with
    /// its own query). Refused unless it points at this client's endpoint:
    /// the bearer token must never follow a link elsewhere.
    pub async fn get_next_link<T: DeserializeOwned>(
        &self,
        ctx: &CallContext,
        next_link: &str,
    ) -> Result<T, AzureError> {
        let url = Url::parse(next_link).map_err(|e| {
            AzureError::other(format!(
                "{}: invalid nextLink {next_link:?}: {e}",
                ctx.operation
            ))
        })?;
        if url.origin() != self.inner.endpoint.origin() {
            return Err(AzureError::other(format!(
                "{}: nextLink {} points outside the ARM endpoint {}",
                ctx.operation,
                url.origin().ascii_serialization(),
                self.inner.endpoint.origin().ascii_serialization()
            )));
        }
        self.read(ctx, &url).await?.0.json(ctx)
    }

    /// GET `url` (retried): the response, and the wait before polling it
    /// again.
    async fn read(
        &self,
        ctx: &CallContext,
        url: &Url,
    ) -> Result<(ArmResponse, Duration), AzureError> {
        let raw = self
            .send(ctx, &self.inner.retrying, Method::Get, url.clone(), None)
            .await?;
        let wait_for = self.poll_delay(raw.headers());
        Ok((to_arm_response(ctx, raw)?, wait_for))
    }

    /// GET a resource; `None` when it does not exist.
    pub async fn get_optional<T: DeserializeOwned>(
        &self,
        ctx: &CallContext,
        path: &str,
        api_version: &str,
    ) -> Result<Option<T>, AzureError> {
        match self.get(ctx, path, api_version).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// PUT a resource and wait for its provisioning to finish; returns the resource.
    pub async fn put<B: Serialize, T: DeserializeOwned>(
        &self,
        ctx: &CallContext,
        path: &str,
        api_version: &str,
        body: &B,
    ) -> Result<T, AzureError> {
        let url = self.url(path, api_version)?;
        let body = serde_json::to_value(body).map_err(|e| {
            AzureError::other(format!("{}: cannot encode request: {e}", ctx.operation))
        })?;
        // A PUT is idempotent: an operation that ended Failed or Canceled
        // (Azure's transient provisioning failures) is tried again.
        let mut attempt = 1;
        loop {
            let response = self
                .send(
                    ctx,
                    &self.inner.retrying,
                    Method::Put,
                    url.clone(),
                    Some(&body),
                )
                .await?;
            match self.wait_telling(ctx, response, Some(&url)).await {
                Ok(done) => return done.json(ctx),
                Err(WaitError::Ended(e)) if attempt < PUT_ATTEMPTS => {
                    tracing::info!(operation = %ctx.operation, attempt, error = %e, "operation ended without success; sending the PUT again");
                    attempt += 1;
                }
                Err(e) => return Err(e.into_error()),
            }
        }
    }

    /// DELETE a resource and wait until it is gone. `Ok(false)` when it did not exist.
    pub async fn delete(
        &self,
        ctx: &CallContext,
        path: &str,
        api_version: &str,
    ) -> Result<bool, AzureError> {
        let url = self.url(path, api_version)?;
        let response = match self
            .send(ctx, &self.inner.retrying, Method::Delete, url, None)
            .await
        {
            Ok(r) => r,
            Err(e) if e.is_not_found() => return Ok(false),
            Err(e) => return Err(e),
        };
        if u16::from(response.status()) == 204 {
            return Ok(false);
        }
        self.wait(ctx, response, None).await?;
        Ok(true)
    }

    /// POST an action exactly once (no retries: the action may not be
    /// idempotent), then follow its long-running operation, if any, to the end.
    pub async fn post_once(
        &self,
        ctx: &CallContext,
        path: &str,
        api_version: &str,
        body: Option<&Value>,
    ) -> Result<ArmResponse, AzureError> {
        self.post_once_telling(ctx, path, api_version, body)
            .await
            .map_err(|f| f.error)
    }

    /// [`Self::post_once`], saying on failure whether Azure may have carried
    /// the action out anyway (a 5xx or a connection lost after sending: the
    /// caller finds out by looking, never by sending it again blindly).
    pub async fn post_once_telling(
        &self,
        ctx: &CallContext,
        path: &str,
        api_version: &str,
        body: Option<&Value>,
    ) -> Result<ArmResponse, PostFailure> {
        let definite = |error| PostFailure {
            error,
            maybe_executed: false,
        };
        let url = self.url(path, api_version).map_err(definite)?;
        let mut throttled = 0;
        let response = loop {
            let result = self
                .send_raw(ctx, &self.inner.once, Method::Post, url.clone(), body)
                .await;
            match result {
                Ok(response) => break response,
                // Throttled, or never sent: the action did not happen, so
                // sending it again cannot do it twice.
                Err(e) if throttled < MAX_UNSENT_RETRIES && not_executed(&e) => {
                    throttled += 1;
                    let wait = unsent_retry_wait(&e, throttled);
                    tracing::info!(operation = %ctx.operation, attempt = throttled, wait_ms = wait.as_millis() as u64, "not executed by Azure (throttled or not sent); sending it again");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => {
                    return Err(PostFailure {
                        maybe_executed: maybe_executed(&e),
                        error: AzureError::from_core(ctx, e),
                    });
                }
            }
        };
        self.wait(ctx, response, None).await.map_err(definite)
    }

    /// POST an idempotent action (retried like a GET) and follow its LRO.
    pub async fn post(
        &self,
        ctx: &CallContext,
        path: &str,
        api_version: &str,
        body: Option<&Value>,
    ) -> Result<ArmResponse, AzureError> {
        let url = self.url(path, api_version)?;
        let response = self
            .send(ctx, &self.inner.retrying, Method::Post, url, body)
            .await?;
        self.wait(ctx, response, None).await
    }

    /// Follows the LRO started by `first`. `resource` is the resource URL for
    /// PUT/PATCH (its final GET gives the result).
    async fn wait(
        &self,
        ctx: &CallContext,
        first: RawResponse,
        resource: Option<&Url>,
    ) -> Result<ArmResponse, AzureError> {
        self.wait_telling(ctx, first, resource)
            .await
            .map_err(WaitError::into_error)
    }

    /// [`Self::wait`], telling an operation that ended `Failed` or
    /// `Canceled` from a call that failed.
    async fn wait_telling(
        &self,
        ctx: &CallContext,
        first: RawResponse,
        resource: Option<&Url>,
    ) -> Result<ArmResponse, WaitError> {
        let deadline = tokio::time::Instant::now() + self.inner.options.lro_timeout;
        let headers = first.headers().clone();
        let first = to_arm_response(ctx, first)?;
        let async_op = header_url(&headers, &AZURE_ASYNC_OPERATION);
        let location = header_url(&headers, &LOCATION);

        if let Some(op_url) = async_op {
            let mut wait_for = self.poll_delay(&headers);
            loop {
                self.sleep_until_next(ctx, wait_for, deadline).await?;
                let (status, next) = self.read(ctx, &op_url).await?;
                wait_for = next;
                match status.body.get("status").and_then(Value::as_str) {
                    Some(s) if s.eq_ignore_ascii_case("Succeeded") => break,
                    Some(s)
                        if s.eq_ignore_ascii_case("Failed")
                            || s.eq_ignore_ascii_case("Canceled") =>
                    {
                        return Err(WaitError::Ended(lro_failure(ctx, s, &status.body)));
                    }
                    _ => continue,
                }
            }
            return match resource.cloned().or(location) {
                Some(url) => Ok(self.read(ctx, &url).await?.0),
                None => Ok(first),
            };
        }

        if let (Some(loc), 202) = (location, first.status) {
            let mut wait_for = self.poll_delay(&headers);
            loop {
                self.sleep_until_next(ctx, wait_for, deadline).await?;
                let (response, next) = self.read(ctx, &loc).await?;
                wait_for = next;
                if response.status != 202 {
                    return Ok(response);
                }
            }
        }

        if let Some(url) = resource {
            let mut current = first;
            let mut wait_for = self.poll_delay(&headers);
            loop {
                match provisioning_state(&current.body) {
                    None => return Ok(current),
                    Some(s) if s.eq_ignore_ascii_case("Succeeded") => return Ok(current),
                    Some(s)
                        if s.eq_ignore_ascii_case("Failed")
                            || s.eq_ignore_ascii_case("Canceled") =>
                    {
                        return Err(WaitError::Ended(lro_failure(ctx, s, &current.body)));
                    }
                    Some(_) => {}
                }
                self.sleep_until_next(ctx, wait_for, deadline).await?;
                (current, wait_for) = self.read(ctx, url).await?;
            }
        }
        Ok(first)
    }

    fn poll_delay(&self, headers: &Headers) -> Duration {
        poll_delay(headers, self.inner.options.poll_interval)
    }

    async fn sleep_until_next(
        &self,
        ctx: &CallContext,
        wait_for: Duration,
        deadline: tokio::time::Instant,
    ) -> Result<(), AzureError> {
        let wake = tokio::time::Instant::now() + wait_for;
        if wake > deadline {
            return Err(AzureError::unavailable(format!(
                "{}: Azure did not finish the operation within {} s",
                ctx.operation,
                self.inner.options.lro_timeout.as_secs()
            )));
        }
        tokio::time::sleep_until(wake).await;
        Ok(())
    }
}

/// The wait before the next poll of a long-running operation: Azure's
/// `Retry-After`, but never under `floor` (a `Retry-After: 0` must not turn
/// polling into a tight loop against ARM's throttles) nor over a minute.
fn poll_delay(headers: &Headers, floor: Duration) -> Duration {
    headers
        .get_optional_str(&RETRY_AFTER)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(floor)
        .max(floor)
        .min(MAX_POLL_WAIT)
}

/// Whether Azure did not execute the request: throttled (429) or never sent.
/// A server error or an answer lost on the way back: the action may have
/// happened.
fn maybe_executed(e: &azure_core::Error) -> bool {
    use azure_core::error::ErrorKind;
    match e.kind() {
        ErrorKind::HttpResponse { status, .. } => u16::from(*status) >= 500,
        ErrorKind::Io => true,
        _ => false,
    }
}

/// Why a [`ArmClient::post_once_telling`] failed.
#[derive(Debug)]
pub struct PostFailure {
    /// The error.
    pub error: AzureError,
    /// Azure may have carried the action out (5xx, answer lost).
    pub maybe_executed: bool,
}

fn not_executed(e: &azure_core::Error) -> bool {
    use azure_core::error::ErrorKind;
    match e.kind() {
        ErrorKind::HttpResponse { status, .. } => u16::from(*status) == 429,
        ErrorKind::Connection => true,
        _ => false,
    }
}

/// The wait before sending a non-executed request again: its `Retry-After`
/// when it has one, else 1, 2, 4, … seconds; at most a minute.
fn unsent_retry_wait(e: &azure_core::Error, attempt: u32) -> Duration {
    use azure_core::error::ErrorKind;
    let retry_after = match e.kind() {
        ErrorKind::HttpResponse {
            raw_response: Some(raw),
            ..
        } => raw
            .headers()
            .get_optional_str(&RETRY_AFTER)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs),
        _ => None,
    };
    retry_after
        .unwrap_or_else(|| Duration::from_secs(1 << attempt.saturating_sub(1).min(5)))
        .min(MAX_POLL_WAIT)
}

fn header_url(headers: &Headers, name: &HeaderName) -> Option<Url> {
    headers
        .get_optional_str(name)
        .and_then(|v| Url::parse(v).ok())
}

fn provisioning_state(body: &Value) -> Option<&str> {
    body.get("properties")?.get("provisioningState")?.as_str()
}

fn to_arm_response(ctx: &CallContext, raw: RawResponse) -> Result<ArmResponse, AzureError> {
    let status = u16::from(raw.status());
    let body = raw.into_body();
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            AzureError::other(format!(
                "{}: Azure answered {status} with invalid JSON: {e}",
                ctx.operation
            ))
        })?
    };
    Ok(ArmResponse { status, body })
}

#[cfg(test)]
mod tests;
