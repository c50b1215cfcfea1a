//! The Docker API routes (unversioned paths; see [`crate::version`]).

use axum::Extension;
use axum::Router;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde::Serialize;
use sockerless_api::listen::ShutdownHandle;

use crate::errors::DockerError;
use crate::extract::check_object_ref;
use crate::query::QueryParams;
use crate::shape;
use crate::state::AppState;
use crate::version::{API_VERSION, ApiVersion};

mod agent_ops;
mod build;
mod containers;
mod exec;
mod housekeeping;
mod image_transfer;
mod images;
mod networks;
mod swarm;
mod system;
mod volumes;

/// All routes, with Docker's 404 for anything else.
pub fn api_router(state: AppState) -> Router {
    Router::new()
        .merge(system::routes())
        .merge(containers::routes())
        .merge(exec::routes())
        .merge(images::routes())
        .merge(networks::routes())
        .merge(volumes::routes())
        .merge(swarm::routes())
        .merge(agent_ops::routes())
        .merge(housekeeping::routes())
        .merge(image_transfer::routes())
        .merge(build::routes())
        .merge(unsupported_routes())
        .fallback(page_not_found)
        .method_not_allowed_fallback(page_not_found)
        .with_state(state)
}

async fn page_not_found() -> DockerError {
    DockerError::page_not_found()
}

/// Docker endpoints with no backend operation: an honest 501, never a fake result.
fn unsupported_routes() -> Router<AppState> {
    let table: &[(&str, &'static str)] = &[
        ("/containers/{id}/attach/ws", "attach over websocket"),
        ("/build/prune", "build cache prune"),
        ("/images/search", "image search"),
        ("/session", "build session"),
        ("/plugins", "plugins"),
        ("/plugins/{*rest}", "plugins"),
    ];
    table.iter().fold(Router::new(), |router, (path, op)| {
        let op: &'static str = op;
        router.route(
            path,
            any(move || async move { DockerError::unsupported(op) }),
        )
    })
}

/// The single path parameter of a route, with Docker-format rejection.
pub struct PathParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = DockerError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| PathParam(value))
            .map_err(|err| DockerError::bad_request(format!("invalid path: {err}")))
    }
}

/// The path's container reference, checked as dockerd does (a malformed one
/// is a 404 `No such container`) before anything else of the request.
pub struct ContainerId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ContainerId {
    type Rejection = DockerError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        checked_ref(parts, state, "container")
            .await
            .map(ContainerId)
    }
}

/// The path's exec reference, checked as [`ContainerId`] (`No such exec instance`).
pub struct ExecId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ExecId {
    type Rejection = DockerError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        checked_ref(parts, state, "exec instance").await.map(ExecId)
    }
}

async fn checked_ref<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    kind: &str,
) -> Result<String, DockerError> {
    let PathParam(reference) = PathParam::from_request_parts(parts, state).await?;
    check_object_ref(kind, &reference)?;
    Ok(reference)
}

/// Resolves when a graceful shutdown starts (never when served without a
/// [`ShutdownHandle`]), so an endless feed (`events`, `stats`) does not
/// hold the drain.
pub async fn shutdown_started(shutdown: Option<Extension<ShutdownHandle>>) {
    match shutdown {
        Some(Extension(handle)) => handle.stopping().await,
        None => std::future::pending().await,
    }
}

/// The decoded query string.
pub struct Query(pub QueryParams);

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Query(QueryParams::parse(parts.uri.query())))
    }
}

/// The API version the client asked for.
pub struct Version(pub ApiVersion);

impl<S: Send + Sync> FromRequestParts<S> for Version {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Version(
            parts
                .extensions
                .get::<ApiVersion>()
                .cloned()
                .unwrap_or_else(|| ApiVersion(API_VERSION.to_owned())),
        ))
    }
}

/// A JSON response.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (status, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(err) => DockerError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode response: {err}"),
        )
        .into_response(),
    }
}

/// A JSON response completed to dockerd's shape (see [`crate::shape`]).
pub async fn shaped<T: Serialize>(
    state: &AppState,
    status: StatusCode,
    kind: shape::Kind,
    value: &T,
) -> Response {
    let mut value = match serde_json::to_value(value) {
        Ok(value) => value,
        Err(err) => {
            return DockerError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot encode response: {err}"),
            )
            .into_response();
        }
    };
    let (driver, _) = state.backend_name().await;
    shape::complete(kind, &mut value, &shape::Context { driver });
    json(status, &value)
}

/// An empty response with `status` (204, 200, 201).
pub fn empty(status: StatusCode) -> Response {
    status.into_response()
}
