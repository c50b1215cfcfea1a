//! Network endpoints (gated by the `networks` capability).

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use sockerless_api::Capability;
use sockerless_api::docker::{
    NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest,
};

use super::{PathParam, Query, empty, json, shaped};
use crate::errors::{DockerError, HandlerResult};
use crate::extract::{check_network_ref, read_json};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/networks", get(list))
        .route("/networks/create", post(create))
        .route("/networks/prune", post(prune))
        .route("/networks/{id}", get(inspect).delete(remove))
        .route("/networks/{id}/connect", post(connect))
        .route("/networks/{id}/disconnect", post(disconnect))
}

async fn network_ref(state: &AppState, id: &str) -> Result<(), DockerError> {
    if check_network_ref(id).is_err() {
        return Err(DockerError::new(
            StatusCode::NOT_FOUND,
            format!("network {} not found", id.escape_debug()),
        ));
    }
    state.require(Capability::Networks).await
}

async fn list(State(state): State<AppState>, Query(q): Query) -> HandlerResult {
    let filters = q.filters()?;
    state.require(Capability::Networks).await?;
    let networks = state.backend.network_list(filters).await?;
    Ok(shaped(
        &state,
        StatusCode::OK,
        crate::shape::Kind::Network,
        &networks,
    )
    .await)
}

async fn create(State(state): State<AppState>, headers: HeaderMap, body: Body) -> HandlerResult {
    let req: NetworkCreateRequest = read_json(&headers, body)
        .await?
        .ok_or_else(|| DockerError::bad_request("network create request is required"))?;
    if req.name.trim().is_empty() {
        return Err(DockerError::bad_request("network name is required"));
    }
    check_network_ref(&req.name)?;
    state.require(Capability::Networks).await?;
    let created = state.backend.network_create(req).await?;
    Ok(json(StatusCode::CREATED, &created))
}

async fn inspect(State(state): State<AppState>, PathParam(id): PathParam) -> HandlerResult {
    network_ref(&state, &id).await?;
    let network = state.backend.network_inspect(&id).await?;
    Ok(shaped(
        &state,
        StatusCode::OK,
        crate::shape::Kind::Network,
        &network,
    )
    .await)
}

async fn remove(State(state): State<AppState>, PathParam(id): PathParam) -> HandlerResult {
    network_ref(&state, &id).await?;
    state.backend.network_remove(&id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

async fn connect(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    headers: HeaderMap,
    body: Body,
) -> HandlerResult {
    let req: NetworkConnectRequest =
        endpoint_request(&state, &id, &headers, body, "connect").await?;
    state.backend.network_connect(&id, req).await?;
    Ok(empty(StatusCode::OK))
}

async fn disconnect(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    headers: HeaderMap,
    body: Body,
) -> HandlerResult {
    let req: NetworkDisconnectRequest =
        endpoint_request(&state, &id, &headers, body, "disconnect").await?;
    state.backend.network_disconnect(&id, req).await?;
    Ok(empty(StatusCode::OK))
}

/// The body of a `connect` or `disconnect` (`what`) on network `id`, which
/// is checked first.
async fn endpoint_request<T: DeserializeOwned>(
    state: &AppState,
    id: &str,
    headers: &HeaderMap,
    body: Body,
    what: &str,
) -> Result<T, DockerError> {
    network_ref(state, id).await?;
    read_json(headers, body)
        .await?
        .ok_or_else(|| DockerError::bad_request(format!("network {what} request is required")))
}

async fn prune(State(state): State<AppState>, Query(q): Query) -> HandlerResult {
    let filters = q.filters()?;
    state.require(Capability::Networks).await?;
    let pruned = state.backend.network_prune(filters).await?;
    Ok(json(StatusCode::OK, &pruned))
}
