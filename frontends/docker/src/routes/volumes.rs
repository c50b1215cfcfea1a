//! Volume endpoints (gated by the `volumes` capability).

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use sockerless_api::Capability;
use sockerless_api::docker::VolumeCreateRequest;

use super::{PathParam, Query, empty, json, shaped};
use crate::errors::{DockerError, HandlerResult};
use crate::extract::read_json;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/volumes", get(list))
        .route("/volumes/create", post(create))
        .route("/volumes/prune", post(prune))
        .route("/volumes/{name}", get(inspect).delete(remove).put(update))
}

/// Docker's local volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
fn valid_volume_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2
        && b.len() <= 255
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn volume_ref(name: &str) -> Result<(), DockerError> {
    if valid_volume_name(name) {
        Ok(())
    } else {
        Err(DockerError::new(
            StatusCode::NOT_FOUND,
            format!("get {}: no such volume", name.escape_debug()),
        ))
    }
}

async fn list(State(state): State<AppState>, Query(q): Query) -> HandlerResult {
    let filters = q.filters()?;
    state.require(Capability::Volumes).await?;
    let mut volumes = state.backend.volume_list(filters).await?;
    volumes.volumes.get_or_insert_with(Vec::new);
    volumes.warnings.get_or_insert_with(Vec::new);
    Ok(shaped(
        &state,
        StatusCode::OK,
        crate::shape::Kind::VolumeList,
        &volumes,
    )
    .await)
}

async fn create(State(state): State<AppState>, headers: HeaderMap, body: Body) -> HandlerResult {
    // An empty body creates an anonymous volume, as with Docker.
    let req: VolumeCreateRequest = read_json(&headers, body).await?.unwrap_or_default();
    if let Some(name) = req.name.as_deref().filter(|n| !n.is_empty())
        && !valid_volume_name(name)
    {
        return Err(DockerError::bad_request(format!(
            "create {}: \"{}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path",
            name.escape_debug(),
            name.escape_debug()
        )));
    }
    state.require(Capability::Volumes).await?;
    let volume = state.backend.volume_create(req).await?;
    Ok(json(StatusCode::CREATED, &volume))
}

async fn inspect(State(state): State<AppState>, PathParam(name): PathParam) -> HandlerResult {
    volume_ref(&name)?;
    state.require(Capability::Volumes).await?;
    let volume = state.backend.volume_inspect(&name).await?;
    Ok(shaped(&state, StatusCode::OK, crate::shape::Kind::Volume, &volume).await)
}

async fn update() -> DockerError {
    DockerError::unsupported("cluster volume update")
}

async fn remove(
    State(state): State<AppState>,
    PathParam(name): PathParam,
    Query(q): Query,
) -> HandlerResult {
    volume_ref(&name)?;
    state.require(Capability::Volumes).await?;
    state.backend.volume_remove(&name, q.bool("force")).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

async fn prune(State(state): State<AppState>, Query(q): Query) -> HandlerResult {
    let filters = q.filters()?;
    state.require(Capability::Volumes).await?;
    let pruned = state.backend.volume_prune(filters).await?;
    Ok(json(StatusCode::OK, &pruned))
}
