//! Capability reading: unknown while the backend is unreachable (requests go
//! through to the backend), gated once known, kept fresh in the background.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::{Method, StatusCode};
use common::{call, full_caps};
use sockerless_api::{ApiError, Backend, BackendInfo, Result};
use sockerless_frontend_docker::{CapabilityCache, router_with_cache};

/// Fails `capabilities` the first `failures` times; never supports exec.
struct Flaky {
    failures: usize,
    calls: AtomicUsize,
}

#[async_trait::async_trait]
impl Backend for Flaky {
    async fn capabilities(&self) -> Result<BackendInfo> {
        if self.calls.fetch_add(1, Ordering::SeqCst) < self.failures {
            return Err(ApiError::Unavailable("backend starting".into()));
        }
        let mut capabilities = full_caps();
        capabilities.exec = false;
        Ok(BackendInfo {
            backend: "flaky".into(),
            version: "1".into(),
            capabilities,
        })
    }

    async fn exec_inspect(
        &self,
        exec_id: &str,
    ) -> Result<sockerless_api::docker::ExecInspectResponse> {
        Err(ApiError::NotFound(format!(
            "No such exec instance: {exec_id}"
        )))
    }
}

#[tokio::test]
async fn unknown_capabilities_pass_through_then_gate() {
    let backend = Arc::new(Flaky {
        failures: 1,
        calls: AtomicUsize::new(0),
    });
    let caps = Arc::new(CapabilityCache::new(backend.clone()));
    let app = router_with_cache(backend.clone(), caps.clone());
    // First read fails: the request reaches the backend, which answers itself.
    let r = call(&app, Method::GET, "/exec/abc/json", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.message(), "No such exec instance: abc");
    // The background refresher (here: one explicit refresh) learns them.
    caps.refresh().await.expect("refresh");
    let r = call(&app, Method::GET, "/exec/abc/json", None).await;
    assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(r.message(), "This backend (flaky) does not support exec");
    let v = call(&app, Method::GET, "/version", None).await.json();
    assert_eq!(v["Platform"]["Name"], "Sockerless (flaky)");
}

#[tokio::test(start_paused = true)]
async fn keep_fresh_retries_until_the_backend_answers() {
    let backend = Arc::new(Flaky {
        failures: 3,
        calls: AtomicUsize::new(0),
    });
    let caps = Arc::new(CapabilityCache::new(backend.clone()));
    let task = tokio::spawn(caps.clone().keep_fresh(std::time::Duration::from_secs(300)));
    // Paused time auto-advances through the backoff sleeps.
    while caps.cached().is_none() {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(caps.cached().map(|i| i.backend), Some("flaky".to_owned()));
    assert_eq!(backend.calls.load(Ordering::SeqCst), 4);
    task.abort();
}
