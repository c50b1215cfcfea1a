//! Container endpoints served by the agent inside the container: `top`, `stats`, `pause`/`unpause`, `export`.

use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use futures_util::StreamExt;
use sockerless_api::listen::ShutdownHandle;

use super::{ContainerId, Query, empty, json, shutdown_started};
use crate::errors::HandlerResult;
use crate::framing::{byte_body, json_line};
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

async fn top(
    State(state): State<AppState>,
    ContainerId(id): ContainerId,
    Query(q): Query,
) -> HandlerResult {
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
    ContainerId(id): ContainerId,
    Query(q): Query,
    shutdown: Option<Extension<ShutdownHandle>>,
) -> HandlerResult {
    let stream = q.bool_or("stream", true);
    let one_shot = q.bool("one-shot");
    let docs = state.backend.container_stats(&id, stream, one_shot).await?;
    let lines = docs
        .take_until(shutdown_started(shutdown))
        .map(|item| match item {
            Ok(doc) => Ok(json_line(&doc)),
            Err(err) => Err(std::io::Error::other(err.message().to_owned())),
        });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(lines),
    )
        .into_response())
}

async fn pause(State(state): State<AppState>, ContainerId(id): ContainerId) -> HandlerResult {
    state.backend.container_pause(&id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

async fn unpause(State(state): State<AppState>, ContainerId(id): ContainerId) -> HandlerResult {
    state.backend.container_unpause(&id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

async fn export(State(state): State<AppState>, ContainerId(id): ContainerId) -> HandlerResult {
    let tar = state.backend.container_export(&id).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/x-tar")],
        byte_body(tar),
    )
        .into_response())
}
