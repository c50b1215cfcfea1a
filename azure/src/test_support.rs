//! Test helpers: a static credential and a scripted local HTTP stub standing in for Azure.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode};
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use url::Url;

use crate::arm::ArmClient;
use crate::pipeline::{AzureOptions, scope_for};

/// Always returns `test-token`.
#[derive(Debug)]
pub struct StaticCredential;

#[async_trait]
impl TokenCredential for StaticCredential {
    async fn get_token(
        &self,
        _: &[&str],
        _: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        Ok(AccessToken::new(
            "test-token",
            azure_core::time::OffsetDateTime::now_utc() + azure_core::time::Duration::hours(1),
        ))
    }
}

/// An ARM client for `stub` (tokens from [`StaticCredential`]).
pub fn stub_arm(stub: &Stub, options: AzureOptions) -> ArmClient {
    ArmClient::with_scope(
        stub.base.clone(),
        &scope_for(&stub.base),
        Arc::new(StaticCredential),
        options,
    )
}

/// A scripted reply.
pub struct StubReply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl StubReply {
    /// A JSON reply (empty body when `body` is empty).
    pub fn json(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: body.to_owned(),
        }
    }
    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

type Script = dyn Fn(&Url, &str, &str, usize) -> StubReply + Send + Sync;

#[derive(Clone)]
struct State {
    base: Url,
    script: Arc<Script>,
    calls: Arc<Mutex<Vec<(String, String, String)>>>,
    counts: Arc<Mutex<HashMap<String, usize>>>,
}

/// A local server on 127.0.0.1:0 answering by script `(base, method, path, n)`,
/// where `n` counts earlier calls with the same method and path.
pub struct Stub {
    /// Base URL, ending in `/`.
    pub base: Url,
    state: State,
}

impl Stub {
    /// Starts the stub.
    pub async fn start<F>(script: F) -> Self
    where
        F: Fn(&Url, &str, &str, usize) -> StubReply + Send + Sync + 'static,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind stub");
        let addr = listener.local_addr().expect("stub addr");
        let base = Url::parse(&format!("http://{addr}/")).expect("stub url");
        let state = State {
            base: base.clone(),
            script: Arc::new(script),
            calls: Arc::default(),
            counts: Arc::default(),
        };
        let handler_state = state.clone();
        let app = axum::Router::new().fallback(move |req: Request<Body>| {
            let state = handler_state.clone();
            async move { handle(state, req) }
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base, state }
    }

    /// `METHOD path` of every call so far.
    pub fn calls(&self) -> Vec<String> {
        self.state
            .calls
            .lock()
            .expect("lock")
            .iter()
            .map(|(m, p, _)| format!("{m} {p}"))
            .collect()
    }

    /// The `Authorization` header of every call so far.
    pub fn auth_headers(&self) -> Vec<String> {
        self.state
            .calls
            .lock()
            .expect("lock")
            .iter()
            .map(|(_, _, a)| a.clone())
            .collect()
    }
}

fn handle(state: State, req: Request<Body>) -> Response<Body> {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let n = {
        let mut counts = state.counts.lock().expect("lock");
        let entry = counts.entry(format!("{method} {path}")).or_insert(0);
        *entry += 1;
        *entry - 1
    };
    state
        .calls
        .lock()
        .expect("lock")
        .push((method.clone(), path.clone(), auth));
    let reply = (state.script)(&state.base, &method, &path, n);
    let mut response = Response::new(Body::from(reply.body));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in reply.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, v);
        }
    }
    response
}
