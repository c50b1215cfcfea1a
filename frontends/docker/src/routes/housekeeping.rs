//! `container update`, `container prune` and `image prune`.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use sockerless_api::docker::ContainerUpdateBody;

use super::{ContainerId, Query, json};
use crate::errors::{DockerError, HandlerResult};
use crate::extract::read_json;
use crate::state::AppState;

/// This module's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/containers/{id}/update", post(update))
        .route("/containers/prune", post(container_prune))
        .route("/images/prune", post(image_prune))
}

async fn update(
    State(state): State<AppState>,
    ContainerId(id): ContainerId,
    headers: HeaderMap,
    body: Body,
) -> HandlerResult {
    let update: ContainerUpdateBody = read_json(&headers, body)
        .await?
        .ok_or_else(|| DockerError::bad_request("update config is required"))?;
    let answer = state.backend.container_update(&id, update).await?;
    Ok(json(StatusCode::OK, &answer))
}

async fn container_prune(State(state): State<AppState>, Query(q): Query) -> HandlerResult {
    let filters = q.filters()?;
    let pruned = state.backend.container_prune(filters).await?;
    Ok(json(StatusCode::OK, &pruned))
}

async fn image_prune(State(state): State<AppState>, Query(q): Query) -> HandlerResult {
    let filters = q.filters()?;
    let pruned = state.backend.image_prune(filters).await?;
    Ok(json(StatusCode::OK, &pruned))
}
