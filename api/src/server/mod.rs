//! The internal HTTP API (`/internal/v1/...`) over any [`Backend`].
//!
//! One route per `Backend` method; the table is in the crate README. JSON
//! bodies both ways; errors are the [`ApiError`]'s status with
//! `{"message": ...}` (a 304 has no body: its message is in the
//! [`wire::ERROR_HEADER`] header). Streams are WebSocket upgrades framed as
//! described in [`crate::wire`]; the backend is called before the upgrade
//! wherever the stream's input is not needed first, so open errors are plain
//! HTTP errors. No route has a timeout (`wait` may take hours).

mod handlers;
mod housekeeping;
mod streams;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::request::Parts;
use http::{HeaderValue, StatusCode};
use serde::de::DeserializeOwned;

use crate::wire::{self, pct_decode, pct_encode};
use crate::{ApiError, Backend};

/// Shared state of every handler.
pub(crate) type Shared = axum::extract::State<Arc<dyn Backend>>;

/// The internal API router for `backend`, ready for [`crate::listen::serve`].
pub fn router(backend: Arc<dyn Backend>) -> Router {
    use handlers as h;
    use streams as s;
    let v1 = Router::new()
        .route("/capabilities", get(h::capabilities))
        .route("/ping", get(h::ping))
        .route("/system/info", get(h::system_info))
        .route("/system/version", get(h::system_version))
        .route("/system/auth", post(h::auth))
        .route("/system/events", get(s::events))
        .route("/containers/create", post(h::container_create))
        .route("/containers/list", post(h::container_list))
        .route("/container/{id}/json", get(h::container_inspect))
        .route("/container/{id}/start", post(h::container_start))
        .route("/container/{id}/stop", post(h::container_stop))
        .route("/container/{id}/restart", post(h::container_restart))
        .route("/container/{id}/kill", post(h::container_kill))
        .route("/container/{id}/remove", post(h::container_remove))
        .route("/container/{id}/wait", post(h::container_wait))
        .route("/container/{id}/resize", post(h::container_resize))
        .route("/container/{id}/rename", post(h::container_rename))
        .route("/container/{id}/logs", get(s::container_logs))
        .route("/container/{id}/attach", get(s::container_attach))
        .route(
            "/container/{id}/archive/stat",
            post(h::container_archive_stat),
        )
        .route("/container/{id}/archive/get", get(s::container_archive_get))
        .route("/container/{id}/archive/put", get(s::container_archive_put))
        .route("/container/{id}/exec", post(h::exec_create))
        .route("/exec/{id}/start", get(s::exec_start))
        .route("/exec/{id}/json", get(h::exec_inspect))
        .route("/exec/{id}/resize", post(h::exec_resize))
        .route("/images/pull", get(s::image_pull))
        .route("/images/list", post(h::image_list))
        .route("/images/load", get(s::image_load))
        .route("/image/{name}/json", get(h::image_inspect))
        .route("/image/{name}/tag", post(h::image_tag))
        .route("/image/{name}/remove", post(h::image_remove))
        .route("/networks/create", post(h::network_create))
        .route("/networks/list", post(h::network_list))
        .route("/networks/prune", post(h::network_prune))
        .route("/network/{id}/json", get(h::network_inspect))
        .route("/network/{id}/connect", post(h::network_connect))
        .route("/network/{id}/disconnect", post(h::network_disconnect))
        .route("/network/{id}/remove", post(h::network_remove))
        .route("/volumes/create", post(h::volume_create))
        .route("/volumes/list", post(h::volume_list))
        .route("/volumes/prune", post(h::volume_prune))
        .route("/volume/{name}/json", get(h::volume_inspect))
        .route("/volume/{name}/remove", post(h::volume_remove))
        // ---- issue 16 [agent ops: top, stats, pause, export] (keep additions in this block) ----
        .route("/container/{id}/top", post(h::container_top))
        .route("/container/{id}/stats", get(s::container_stats))
        .route("/container/{id}/pause", post(h::container_pause))
        .route("/container/{id}/unpause", post(h::container_unpause))
        .route("/container/{id}/export", get(s::container_export))

        // ---- issue 16 [lifecycle: restart policies, update, prune, detach keys] (keep additions in this block) ----
        .route("/container/{id}/update", post(housekeeping::container_update))
        .route("/containers/prune", post(housekeeping::container_prune))
        .route("/images/prune", post(housekeeping::image_prune))

        // ---- issue 16 [images: save, push, import, distribution, commit, changes] (keep additions in this block) ----
        .route("/images/save", get(s::image_save))
        .route("/images/push", get(s::image_push))
        .route("/images/import", get(s::image_import))
        .route("/distribution/inspect", post(h::distribution_inspect))
        .route("/container/{id}/changes", get(h::container_changes))
        .route("/containers/commit", post(h::container_commit))

        // ---- issue 16 [events] (keep additions in this block) ----
        ;
    Router::new()
        .nest("/internal/v1", v1)
        .fallback(unknown_route)
        .layer(DefaultBodyLimit::max(wire::MAX_JSON_BODY))
        .with_state(backend)
}

async fn unknown_route(req: Request) -> ApiError {
    ApiError::NotImplemented(format!(
        "the backend's internal API has no route {} {} (frontend and backend versions differ?)",
        req.method(),
        req.uri().path()
    ))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status == StatusCode::NOT_MODIFIED {
            let mut resp = status.into_response();
            if let Ok(v) = HeaderValue::from_str(&pct_encode(self.message())) {
                resp.headers_mut().insert(wire::ERROR_HEADER, v);
            }
            return resp;
        }
        (status, Json(self.body())).into_response()
    }
}

/// A JSON body; a bad one is a 400 with `{"message": ...}`.
pub(crate) struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(JsonBody(v)),
            Err(rejection) => Err(ApiError::InvalidParameter(rejection.body_text())),
        }
    }
}

/// The `{id}` / `{name}` path segment, percent-decoded.
pub(crate) struct Id(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|p| Id(p.0))
            .map_err(|e| ApiError::InvalidParameter(e.body_text()))
    }
}

/// Stream options from the query: `options` (JSON) and `stdin` (`true` when
/// the client will send input).
pub(crate) struct StreamOpts<T> {
    pub options: T,
    pub stdin: bool,
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for StreamOpts<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let mut options = None;
        let mut stdin = false;
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = pct_decode(value).ok_or_else(|| {
                ApiError::InvalidParameter(format!(
                    "query parameter {key:?} is not percent-encoded UTF-8"
                ))
            })?;
            match key {
                "options" => options = Some(value),
                "stdin" => stdin = value == "true",
                _ => {}
            }
        }
        let options = options.ok_or_else(|| {
            ApiError::InvalidParameter("missing query parameter \"options\"".into())
        })?;
        let options = serde_json::from_str(&options)
            .map_err(|e| ApiError::InvalidParameter(format!("invalid stream options: {e}")))?;
        Ok(StreamOpts { options, stdin })
    }
}
