//! Exec endpoints: create (under `/containers`), start (hijacked), inspect, resize.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use sockerless_api::Capability;
use sockerless_api::docker::{ExecConfig, ExecStartConfig};

use super::containers::tty_size;
use super::{ContainerId, ExecId, Query, Version, empty, json, shaped};
use crate::errors::{DockerError, HandlerResult};
use crate::extract::read_json;
use crate::framing::stream_content_type;
use crate::hijack::{Hijack, stdin_channel};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/containers/{id}/exec", post(create))
        .route("/exec/{id}/start", post(start))
        .route("/exec/{id}/json", get(inspect))
        .route("/exec/{id}/resize", post(resize))
}

async fn create(
    State(state): State<AppState>,
    ContainerId(id): ContainerId,
    req: Request,
) -> HandlerResult {
    let (parts, body) = req.into_parts();
    let config: ExecConfig = read_json(&parts.headers, body)
        .await?
        .ok_or_else(|| DockerError::bad_request("exec config is required"))?;
    if config.cmd.as_ref().is_none_or(Vec::is_empty) {
        return Err(DockerError::bad_request("No exec command specified"));
    }
    let keys = config.detach_keys.as_deref().unwrap_or("");
    if crate::escape::parse_detach_keys(keys).is_err() {
        return Err(DockerError::bad_request(format!(
            "Invalid escape keys ({keys}) provided"
        )));
    }
    state.require(Capability::Exec).await?;
    let created = state.backend.exec_create(&id, config).await?;
    // bollard-stubs' IdResponse serialises its field as `id`; Docker's is `Id`.
    Ok(json(
        StatusCode::CREATED,
        &crate::v1_44::IdResponse { id: created.id },
    ))
}

/// Non-detached: the connection is hijacked and always offers stdin to the
/// backend, which knows from the exec's config whether stdin is attached.
async fn start(
    State(state): State<AppState>,
    ExecId(id): ExecId,
    Version(version): Version,
    req: Request,
) -> HandlerResult {
    let (mut parts, body) = req.into_parts();
    let hijack_headers = parts.headers.clone();
    // The JSON config is read before hijacking: it is the request body.
    let config: ExecStartConfig = read_json(&hijack_headers, body).await?.unwrap_or_default();
    state.require(Capability::Exec).await?;
    if config.detach.unwrap_or(false) {
        state.backend.exec_start(&id, config, None).await?;
        return Ok(empty(StatusCode::OK));
    }
    let hijack = Hijack::new(&mut parts, axum::body::Body::empty());
    let (tx, stdin) = stdin_channel();
    if hijack.upgrades() {
        // As dockerd: a missing exec is a plain 404; anything else about the
        // start comes after the 101, on the stream (Hijack::respond_started).
        let exec = state.backend.exec_inspect(&id).await?;
        let tty = config
            .tty
            .or(exec.process_config.and_then(|p| p.tty))
            .unwrap_or(false);
        // As dockerd: the exec's detach keys end a TTY session's stream.
        let watch = tty
            .then(|| crate::escape::parse_detach_keys(exec.detach_keys.as_deref().unwrap_or("")))
            .and_then(Result::ok)
            .and_then(crate::escape::DetachWatch::new);
        let content_type = stream_content_type(tty, version.at_least("1.42"));
        let backend = state.backend.clone();
        let start = async move { backend.exec_start(&id, config, Some(stdin)).await };
        return Ok(hijack
            .detach_on(watch)
            .respond_started(start, tty, Some(tx), content_type)
            .await?);
    }
    let output = state.backend.exec_start(&id, config, Some(stdin)).await?;
    let content_type = stream_content_type(output.tty, version.at_least("1.42"));
    Ok(hijack.respond(output, Some(tx), content_type))
}

async fn inspect(State(state): State<AppState>, ExecId(id): ExecId) -> HandlerResult {
    state.require(Capability::Exec).await?;
    let exec = state.backend.exec_inspect(&id).await?;
    Ok(shaped(
        &state,
        StatusCode::OK,
        crate::shape::Kind::ExecInspect,
        &exec,
    )
    .await)
}

async fn resize(
    State(state): State<AppState>,
    ExecId(id): ExecId,
    Query(q): Query,
) -> HandlerResult {
    let (height, width) = tty_size(&q)?;
    state.require(Capability::Exec).await?;
    state.backend.exec_resize(&id, height, width).await?;
    Ok(empty(StatusCode::OK))
}
