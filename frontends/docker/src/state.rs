//! Shared state of the handlers: the backend and its cached capabilities.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use sockerless_api::{ApiError, Backend, BackendInfo, Capability};

use crate::errors::DockerError;

/// How long a failed capabilities fetch blocks an inline retry.
const INLINE_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The backend's capabilities, fetched at startup and again while unknown.
pub struct CapabilityCache {
    backend: Arc<dyn Backend>,
    info: RwLock<Option<BackendInfo>>,
    last_failure: Mutex<Option<Instant>>,
}

impl CapabilityCache {
    /// A cache that starts empty (fetched on first use / by [`Self::refresh`]).
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        Self {
            backend,
            info: RwLock::new(None),
            last_failure: Mutex::new(None),
        }
    }

    /// A cache with known capabilities (e.g. an in-process backend).
    pub fn with_info(backend: Arc<dyn Backend>, info: BackendInfo) -> Self {
        let cache = Self::new(backend);
        cache.store(Some(info));
        cache
    }

    fn store(&self, info: Option<BackendInfo>) {
        if let Ok(mut slot) = self.info.write() {
            *slot = info;
        }
    }

    /// The cached capabilities, if known.
    pub fn cached(&self) -> Option<BackendInfo> {
        self.info.read().ok().and_then(|slot| slot.clone())
    }

    /// Asks the backend again and caches the answer.
    pub async fn refresh(&self) -> Result<BackendInfo, ApiError> {
        match self.backend.capabilities().await {
            Ok(info) => {
                self.store(Some(info.clone()));
                Ok(info)
            }
            Err(err) => {
                if let Ok(mut last) = self.last_failure.lock() {
                    *last = Some(Instant::now());
                }
                Err(err)
            }
        }
    }

    /// The capabilities, fetching them when unknown (at most once a second).
    pub async fn current(&self) -> Option<BackendInfo> {
        if let Some(info) = self.cached() {
            return Some(info);
        }
        let recently_failed = self
            .last_failure
            .lock()
            .ok()
            .and_then(|last| *last)
            .is_some_and(|at| at.elapsed() < INLINE_RETRY_AFTER);
        if recently_failed {
            return None;
        }
        match self.refresh().await {
            Ok(info) => Some(info),
            Err(err) => {
                tracing::warn!(error = %err, "cannot read the backend's capabilities");
                None
            }
        }
    }

    /// Keeps the cache fresh: retries with backoff while the backend is
    /// unreachable, then re-reads every `period`. Runs until dropped.
    pub async fn keep_fresh(self: Arc<Self>, period: Duration) {
        let mut backoff = Duration::from_millis(500);
        loop {
            match self.refresh().await {
                Ok(_) => {
                    backoff = Duration::from_millis(500);
                    tokio::time::sleep(period).await;
                }
                Err(err) => {
                    tracing::warn!(error = %err, retry_in = ?backoff, "backend capabilities unavailable");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
    }
}

/// What every handler gets.
#[derive(Clone)]
pub struct AppState {
    /// The backend all operations go to.
    pub backend: Arc<dyn Backend>,
    /// Its capabilities.
    pub caps: Arc<CapabilityCache>,
}

impl AppState {
    /// 501 with the backend's message when it does not support `cap`. When the
    /// capabilities are unknown (backend unreachable) the call goes through and
    /// the backend's own error answers.
    pub async fn require(&self, cap: Capability) -> Result<(), DockerError> {
        match self.caps.current().await {
            Some(info) if !info.capabilities.supports(cap) => Err(DockerError::new(
                axum::http::StatusCode::NOT_IMPLEMENTED,
                info.unsupported_message(cap),
            )),
            _ => Ok(()),
        }
    }

    /// The backend's short name (`aca`), or `unknown` while unreachable.
    pub async fn backend_name(&self) -> (String, String) {
        match self.caps.current().await {
            Some(info) => (info.backend, info.version),
            None => ("unknown".to_owned(), String::new()),
        }
    }
}
