//! The HTTP pipeline shared by the Azure clients: `azure_core`'s retries
//! (honouring `Retry-After` on 429/503), user agent and client request IDs,
//! plus three policies of our own:
//!
//! - `ArmCallPolicy`: every ARM request waits for a token of the shared rate
//!   limit ([`crate::throttle`]) and is counted for the container it serves.
//! - [`BearerPolicy`]: adds `Authorization: Bearer` (azure_core's policy
//!   refuses plain http; ours allows it for loopback hosts only, for tests and
//!   the local emulator).
//! - [`RequestIdPolicy`]: records Azure's `x-ms-request-id` and
//!   `x-ms-correlation-request-id` into the current request's collector, so the
//!   request log line names the ARM calls it made.

use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_core::http::headers::{AUTHORIZATION, HeaderName};
use azure_core::http::policies::{Policy, PolicyResult};
use azure_core::http::{
    ClientOptions, Context, ExponentialRetryOptions, Pipeline, Request, RetryOptions,
};
use azure_core::time::Duration;
use url::Url;

use crate::throttle::{ARM_BURST, ARM_RATE, TokenBucket};

/// Azure's per-request ID header.
pub const X_MS_REQUEST_ID: HeaderName = HeaderName::from_static("x-ms-request-id");
/// ARM's correlation ID header.
pub const X_MS_CORRELATION_REQUEST_ID: HeaderName =
    HeaderName::from_static("x-ms-correlation-request-id");

/// IDs Azure returned for one HTTP call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureRequestId {
    /// HTTP method and path of the call (no query, no secrets).
    pub call: String,
    /// HTTP status.
    pub status: u16,
    /// `x-ms-request-id`.
    pub request_id: Option<String>,
    /// `x-ms-correlation-request-id`.
    pub correlation_id: Option<String>,
}

tokio::task_local! {
    static COLLECTOR: Arc<Mutex<Vec<AzureRequestId>>>;
    static ARM_COUNTER: Arc<ArmCallCounter>;
}

/// ARM calls made on behalf of one container (every try counts; LRO polls are reads).
#[derive(Debug, Default)]
pub struct ArmCallCounter {
    reads: std::sync::atomic::AtomicU64,
    writes: std::sync::atomic::AtomicU64,
}

/// A snapshot of an [`ArmCallCounter`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArmCallCounts {
    /// GET/HEAD calls.
    pub reads: u64,
    /// PUT/POST/PATCH/DELETE calls.
    pub writes: u64,
}

impl ArmCallCounter {
    /// A counter going on from `counts` (what an earlier process of the
    /// backend counted and stored).
    pub fn starting_at(counts: ArmCallCounts) -> Self {
        Self {
            reads: std::sync::atomic::AtomicU64::new(counts.reads),
            writes: std::sync::atomic::AtomicU64::new(counts.writes),
        }
    }

    /// The counts so far.
    pub fn counts(&self) -> ArmCallCounts {
        use std::sync::atomic::Ordering::Relaxed;
        ArmCallCounts {
            reads: self.reads.load(Relaxed),
            writes: self.writes.load(Relaxed),
        }
    }

    fn count(&self, method: &azure_core::http::Method) {
        use azure_core::http::Method;
        use std::sync::atomic::Ordering::Relaxed;
        match method {
            Method::Get | Method::Head => self.reads.fetch_add(1, Relaxed),
            _ => self.writes.fetch_add(1, Relaxed),
        };
    }
}

/// Runs `fut`, counting the ARM calls it makes (in its task) into `counter`.
pub async fn count_arm_calls<F: Future>(counter: Arc<ArmCallCounter>, fut: F) -> F::Output {
    ARM_COUNTER.scope(counter, fut).await
}

/// Runs `fut`, collecting the IDs of every Azure call it makes (in its task).
pub async fn collect_request_ids<F: Future>(fut: F) -> (F::Output, Vec<AzureRequestId>) {
    let collector = Arc::new(Mutex::new(Vec::new()));
    let output = COLLECTOR.scope(collector.clone(), fut).await;
    let ids = collector
        .lock()
        .map(|mut v| std::mem::take(&mut *v))
        .unwrap_or_default();
    (output, ids)
}

fn record(id: AzureRequestId) {
    let _ = COLLECTOR.try_with(|c| {
        if let Ok(mut v) = c.lock() {
            v.push(id);
        }
    });
}

/// Whether `url` may carry a bearer token: https, or http to a loopback host.
pub fn may_carry_token(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => match url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            None => false,
        },
        _ => false,
    }
}

/// Adds a bearer token for `scope` from `credential`.
#[derive(Debug)]
pub struct BearerPolicy {
    credential: Arc<dyn TokenCredential>,
    scope: String,
}

impl BearerPolicy {
    /// A policy getting tokens for `scope` (e.g. `https://management.azure.com/.default`).
    pub fn new(credential: Arc<dyn TokenCredential>, scope: impl Into<String>) -> Self {
        Self {
            credential,
            scope: scope.into(),
        }
    }
}

#[async_trait]
impl Policy for BearerPolicy {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        if !may_carry_token(request.url()) {
            return Err(azure_core::Error::with_message(
                ErrorKind::Other,
                format!(
                    "refusing to send an Azure token over plain http to {}: use https (http is allowed for loopback hosts only)",
                    request.url().host_str().unwrap_or("?")
                ),
            ));
        }
        let token = self.credential.get_token(&[&self.scope], None).await?;
        request.insert_header(AUTHORIZATION, format!("Bearer {}", token.token.secret()));
        next[0].send(ctx, request, &next[1..]).await
    }
}

/// Records Azure request IDs of every try (see [`collect_request_ids`]).
#[derive(Debug, Default)]
pub struct RequestIdPolicy;

#[async_trait]
impl Policy for RequestIdPolicy {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        let call = format!("{} {}", request.method(), request.url().path());
        let response = next[0].send(ctx, request, &next[1..]).await?;
        let headers = response.headers();
        let id = AzureRequestId {
            call,
            status: u16::from(response.status()),
            request_id: headers.get_optional_string(&X_MS_REQUEST_ID),
            correlation_id: headers.get_optional_string(&X_MS_CORRELATION_REQUEST_ID),
        };
        tracing::debug!(
            call = %id.call,
            status = id.status,
            x_ms_request_id = id.request_id.as_deref().unwrap_or(""),
            x_ms_correlation_request_id = id.correlation_id.as_deref().unwrap_or(""),
            "azure call"
        );
        record(id);
        Ok(response)
    }
}

/// For every ARM request (each try): waits for a token of the shared rate
/// limit, then counts the call (see [`count_arm_calls`]).
#[derive(Debug)]
struct ArmCallPolicy(Arc<TokenBucket>);

#[async_trait]
impl Policy for ArmCallPolicy {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        if request.url().path().starts_with("/subscriptions/") {
            self.0.acquire().await;
            let _ = ARM_COUNTER.try_with(|c| c.count(&request.method()));
        }
        next[0].send(ctx, request, &next[1..]).await
    }
}

/// Retry and polling settings of the Azure clients.
#[derive(Debug, Clone)]
pub struct AzureOptions {
    /// Retries of idempotent calls (429/5xx, honouring `Retry-After`).
    pub retry: ExponentialRetryOptions,
    /// Interval between long-running operation polls when Azure sends no `Retry-After`.
    pub poll_interval: std::time::Duration,
    /// Longest a long-running operation is polled before giving up.
    pub lro_timeout: std::time::Duration,
    /// The ARM rate limit every client made with these options shares.
    pub arm_limiter: Arc<TokenBucket>,
}

impl Default for AzureOptions {
    fn default() -> Self {
        Self {
            retry: ExponentialRetryOptions {
                initial_delay: Duration::milliseconds(800),
                max_retries: 5,
                max_total_elapsed: Duration::seconds(90),
                max_delay: Duration::seconds(30),
            },
            poll_interval: std::time::Duration::from_secs(1),
            lro_timeout: std::time::Duration::from_secs(600),
            arm_limiter: Arc::new(TokenBucket::new(ARM_RATE, ARM_BURST)),
        }
    }
}

/// A pipeline with bearer auth for `scope`; `retry` false gives a pipeline
/// that never retries (for non-idempotent calls such as `jobs/start`).
pub fn new_pipeline(
    credential: Arc<dyn TokenCredential>,
    scope: &str,
    options: &AzureOptions,
    retry: bool,
) -> Pipeline {
    let client_options = ClientOptions {
        retry: if retry {
            RetryOptions::exponential(options.retry.clone())
        } else {
            RetryOptions::none()
        },
        ..Default::default()
    };
    let per_try: Vec<Arc<dyn Policy>> = vec![
        Arc::new(ArmCallPolicy(options.arm_limiter.clone())),
        Arc::new(RequestIdPolicy),
        Arc::new(BearerPolicy::new(credential, scope)),
    ];
    // `None` keeps azure_core's default pipeline options, which include the
    // Retry-After header names (gotcha 3).
    Pipeline::new(
        Some(env!("CARGO_PKG_NAME")),
        Some(env!("CARGO_PKG_VERSION")),
        client_options,
        Vec::new(),
        per_try,
        None,
    )
}

/// The token scope of an Azure endpoint: its origin plus `/.default`.
pub fn scope_for(endpoint: &Url) -> String {
    format!("{}/.default", endpoint.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_only_over_https_or_loopback_http() {
        for ok in [
            "https://management.azure.com/x",
            "http://127.0.0.1:8080/",
            "http://localhost/",
            "http://[::1]:1/",
        ] {
            assert!(may_carry_token(&Url::parse(ok).expect("url")), "{ok}");
        }
        for bad in [
            "http://management.azure.com/",
            "http://10.0.0.1/",
            "ftp://127.0.0.1/",
        ] {
            assert!(!may_carry_token(&Url::parse(bad).expect("url")), "{bad}");
        }
    }

    #[test]
    fn scope_is_origin_plus_default() {
        let url = Url::parse("https://management.azure.com/").expect("url");
        assert_eq!(scope_for(&url), "https://management.azure.com/.default");
        let url = Url::parse("http://127.0.0.1:8443/base").expect("url");
        assert_eq!(scope_for(&url), "http://127.0.0.1:8443/.default");
    }
}
