//! The internal HTTP API (`/internal/v1/...`) over any [`Backend`].
//!
//! One route per `Backend` method, mounted from the table in [`crate::routes`]. JSON
//! bodies both ways; errors are the [`ApiError`]'s status with
//! `{"message": ...}` (a 304 has no body: its message is in the
//! [`wire::ERROR_HEADER`] header). Streams are WebSocket upgrades framed as
//! described in [`crate::wire`]; the backend is called before the upgrade
//! wherever the stream's input is not needed first, so open errors are plain
//! HTTP errors. No route has a timeout (`wait` may take hours).

mod handlers;
mod streams;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::handler::Handler;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use axum::{Json, Router};
use http::request::Parts;
use http::{HeaderValue, StatusCode};
use serde::de::DeserializeOwned;

use crate::routes::{Route, Verb};
use crate::wire::{self, pct_decode, pct_encode};
use crate::{ApiError, Backend};

/// Shared state of every handler.
pub(crate) type Shared = axum::extract::State<Arc<dyn Backend>>;

/// The internal API router for `backend`, ready for [`crate::listen::serve`].
pub fn router(backend: Arc<dyn Backend>) -> Router {
    use crate::routes as r;
    use handlers as h;
    use streams as s;
    let v1 = Router::new()
        // system
        .serve(&r::CAPABILITIES, h::capabilities)
        .serve(&r::PING, h::ping)
        .serve(&r::SYSTEM_INFO, h::system_info)
        .serve(&r::SYSTEM_VERSION, h::system_version)
        .serve(&r::AUTH, h::auth)
        .serve(&r::EVENTS, s::events)
        // containers
        .serve(&r::CONTAINER_CREATE, h::container_create)
        .serve(&r::CONTAINER_LIST, h::container_list)
        .serve(&r::CONTAINER_PRUNE, h::container_prune)
        .serve(&r::CONTAINER_COMMIT, h::container_commit)
        .serve(&r::CONTAINER_INSPECT, h::container_inspect)
        .serve(&r::CONTAINER_START, h::container_start)
        .serve(&r::CONTAINER_STOP, h::container_stop)
        .serve(&r::CONTAINER_RESTART, h::container_restart)
        .serve(&r::CONTAINER_KILL, h::container_kill)
        .serve(&r::CONTAINER_REMOVE, h::container_remove)
        .serve(&r::CONTAINER_WAIT, h::container_wait)
        .serve(&r::CONTAINER_RESIZE, h::container_resize)
        .serve(&r::CONTAINER_RENAME, h::container_rename)
        .serve(&r::CONTAINER_UPDATE, h::container_update)
        .serve(&r::CONTAINER_PAUSE, h::container_pause)
        .serve(&r::CONTAINER_UNPAUSE, h::container_unpause)
        .serve(&r::CONTAINER_TOP, h::container_top)
        .serve(&r::CONTAINER_CHANGES, h::container_changes)
        .serve(&r::CONTAINER_LOGS, s::container_logs)
        .serve(&r::CONTAINER_ATTACH, s::container_attach)
        .serve(&r::CONTAINER_STATS, s::container_stats)
        .serve(&r::CONTAINER_EXPORT, s::container_export)
        .serve(&r::CONTAINER_ARCHIVE_STAT, h::container_archive_stat)
        .serve(&r::CONTAINER_ARCHIVE_GET, s::container_archive_get)
        .serve(&r::CONTAINER_ARCHIVE_PUT, s::container_archive_put)
        // exec
        .serve(&r::EXEC_CREATE, h::exec_create)
        .serve(&r::EXEC_START, s::exec_start)
        .serve(&r::EXEC_INSPECT, h::exec_inspect)
        .serve(&r::EXEC_RESIZE, h::exec_resize)
        // images
        .serve(&r::IMAGE_PULL, s::image_pull)
        .serve(&r::IMAGE_LIST, h::image_list)
        .serve(&r::IMAGE_PRUNE, h::image_prune)
        .serve(&r::IMAGE_LOAD, s::image_load)
        .serve(&r::IMAGE_SAVE, s::image_save)
        .serve(&r::IMAGE_PUSH, s::image_push)
        .serve(&r::IMAGE_IMPORT, s::image_import)
        .serve(&r::IMAGE_BUILD, s::image_build)
        .serve(&r::DISTRIBUTION_INSPECT, h::distribution_inspect)
        .serve(&r::IMAGE_INSPECT, h::image_inspect)
        .serve(&r::IMAGE_TAG, h::image_tag)
        .serve(&r::IMAGE_REMOVE, h::image_remove)
        // networks
        .serve(&r::NETWORK_CREATE, h::network_create)
        .serve(&r::NETWORK_LIST, h::network_list)
        .serve(&r::NETWORK_PRUNE, h::network_prune)
        .serve(&r::NETWORK_INSPECT, h::network_inspect)
        .serve(&r::NETWORK_CONNECT, h::network_connect)
        .serve(&r::NETWORK_DISCONNECT, h::network_disconnect)
        .serve(&r::NETWORK_REMOVE, h::network_remove)
        // volumes
        .serve(&r::VOLUME_CREATE, h::volume_create)
        .serve(&r::VOLUME_LIST, h::volume_list)
        .serve(&r::VOLUME_PRUNE, h::volume_prune)
        .serve(&r::VOLUME_INSPECT, h::volume_inspect)
        .serve(&r::VOLUME_REMOVE, h::volume_remove);
    Router::new()
        .nest("/internal/v1", v1)
        .fallback(unknown_route)
        .layer(DefaultBodyLimit::max(wire::MAX_JSON_BODY))
        .with_state(backend)
}

/// Mounting a handler at a [`Route`], with the route's method.
trait ServeRoute {
    fn serve<H, T>(self, route: &Route, handler: H) -> Self
    where
        H: Handler<T, Arc<dyn Backend>>,
        T: 'static;
}

impl ServeRoute for Router<Arc<dyn Backend>> {
    fn serve<H, T>(self, route: &Route, handler: H) -> Self
    where
        H: Handler<T, Arc<dyn Backend>>,
        T: 'static,
    {
        let filter = match route.verb {
            Verb::Get | Verb::Stream => MethodFilter::GET,
            Verb::Post => MethodFilter::POST,
        };
        self.route(route.path, on(filter, handler))
    }
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
        self.log_cause();
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
