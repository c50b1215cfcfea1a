//! Container endpoints served by the agent inside the container: `top`, `stats`, `pause`/`unpause`, `export`.

use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use futures_util::StreamExt;
use sockerless_api::listen::ShutdownHandle;

use super::{PathParam, Query, empty, json};
use crate::errors::{DockerError, HandlerResult};
use crate::extract::check_object_ref;
use crate::framing::json_line;
use crate::state::AppState;

/// This module's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/containers/{id}/top", get(top))
        .route("/containers/{id}/stats", get(stats))
        .route("/containers/{id}/pause", post(pause))
        .route("/containers/{id}/unpause", post(unpause))
        .route("/containers/{id}/export", get(export))
}

fn container_id(raw: String) -> Result<String, DockerError> {
    check_object_ref("container", &raw)?;
    Ok(raw)
}

async fn top(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    Query(q): Query,
) -> HandlerResult {
    let id = container_id(id)?;
    let answer = state
        .backend
        .container_top(&id, q.string("ps_args"))
        .await?;
    Ok(json(StatusCode::OK, &answer))
}

/// One JSON document per line; streamed until the client leaves (or the
/// daemon shuts down) with `stream` (the default).
async fn stats(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    Query(q): Query,
    shutdown: Option<Extension<ShutdownHandle>>,
) -> HandlerResult {
    let id = container_id(id)?;
    let stream = q.bool_or("stream", true);
    let one_shot = q.bool("one-shot");
    let docs = state.backend.container_stats(&id, stream, one_shot).await?;
    let stopping = async move {
        match shutdown {
            Some(Extension(handle)) => handle.stopping().await,
            None => std::future::pending().await,
        }
    };
    let lines = docs.take_until(stopping).map(|item| match item {
        Ok(doc) => Ok(json_line(&doc)),
        Err(err) => Err(std::io::Error::other(err.message().to_owned())),
    });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(lines),
    )
        .into_response())
}

async fn pause(State(state): State<AppState>, PathParam(id): PathParam) -> HandlerResult {
    let id = container_id(id)?;
    state.backend.container_pause(&id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

async fn unpause(State(state): State<AppState>, PathParam(id): PathParam) -> HandlerResult {
    let id = container_id(id)?;
    state.backend.container_unpause(&id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

async fn export(State(state): State<AppState>, PathParam(id): PathParam) -> HandlerResult {
    let id = container_id(id)?;
    let tar = state.backend.container_export(&id).await?;
    let body = Body::from_stream(
        tar.map(|item| item.map_err(|err| std::io::Error::other(err.message().to_owned()))),
    );
    Ok(([(header::CONTENT_TYPE, "application/x-tar")], body).into_response())
}
