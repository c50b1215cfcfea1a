//! Container endpoints (exec create lives in `exec.rs`).

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use sockerless_api::docker::{ContainerCreateBody, ContainerWaitExitError, ContainerWaitResponse};
use sockerless_api::{
    ApiError, AttachOptions, Capability, CreateContainerRequest, ListContainersOptions,
    LogsOptions, PathStat, RemoveContainerOptions, StopOptions, WaitCondition,
};

use super::{ContainerId, Query, Version, empty, json, shaped};
use crate::errors::{DockerError, HandlerResult};
use crate::extract::{byte_stream, check_container_name, read_json};
use crate::framing::{byte_body, encode_output, stream_content_type};
use crate::hijack::{Hijack, stdin_channel};
use crate::query::QueryParams;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/containers/json", get(list))
        .route("/containers/create", post(create))
        .route("/containers/{id}/json", get(inspect))
        .route("/containers/{id}/start", post(start))
        .route("/containers/{id}/stop", post(stop))
        .route("/containers/{id}/restart", post(restart))
        .route("/containers/{id}/kill", post(kill))
        .route("/containers/{id}/wait", post(wait))
        .route("/containers/{id}/attach", post(attach))
        .route("/containers/{id}/logs", get(logs))
        .route("/containers/{id}/resize", post(resize))
        .route("/containers/{id}/rename", post(rename))
        .route("/containers/{id}", axum::routing::delete(remove))
        .route(
            "/containers/{id}/archive",
            get(archive_get).head(archive_head).put(archive_put),
        )
}

async fn list(State(state): State<AppState>, Query(q): Query) -> HandlerResult {
    let limit = q
        .int::<i64>("limit")?
        .filter(|n| *n > 0)
        .map(|n| n as usize);
    let opts = ListContainersOptions {
        all: q.bool("all"),
        limit,
        size: q.bool("size"),
        filters: q.filters()?,
    };
    let list = state.backend.container_list(opts).await?;
    Ok(shaped(
        &state,
        StatusCode::OK,
        crate::shape::Kind::ContainerSummary,
        &list,
    )
    .await)
}

async fn create(
    State(state): State<AppState>,
    Query(q): Query,
    headers: HeaderMap,
    body: Body,
) -> HandlerResult {
    // The body is read before the name is judged, as dockerd does: an
    // answer sent before the client has written its body makes the client
    // fail with a broken pipe instead of reading the error.
    let config: Option<ContainerCreateBody> = read_json(&headers, body).await?;
    let name = q
        .string("name")
        .map(|n| check_container_name(&n))
        .transpose()?;
    let config = config.ok_or_else(|| {
        DockerError::bad_request("config cannot be empty in order to create a container")
    })?;
    let wants_healthcheck = config
        .healthcheck
        .as_ref()
        .and_then(|h| h.test.as_ref())
        .is_some_and(|test| !test.is_empty() && test.first().map(String::as_str) != Some("NONE"));
    if wants_healthcheck {
        state.require(Capability::HealthChecks).await?;
    }
    let req = CreateContainerRequest {
        name,
        platform: q.string("platform"),
        config,
    };
    let created = state.backend.container_create(req).await?;
    Ok(json(StatusCode::CREATED, &created))
}

async fn inspect(State(state): State<AppState>, ContainerId(id): ContainerId) -> HandlerResult {
    let container = state.backend.container_inspect(&id).await?;
    Ok(shaped(
        &state,
        StatusCode::OK,
        crate::shape::Kind::ContainerInspect,
        &container,
    )
    .await)
}

async fn start(State(state): State<AppState>, ContainerId(id): ContainerId) -> HandlerResult {
    state.backend.container_start(&id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

fn stop_options(q: &QueryParams) -> Result<StopOptions, DockerError> {
    Ok(StopOptions {
        signal: q.string("signal"),
        timeout_secs: q.int::<i64>("t")?,
    })
}

async fn stop(
    State(state): State<AppState>,
    ContainerId(id): ContainerId,
    Query(q): Query,
) -> HandlerResult {
    state.backend.container_stop(&id, stop_options(&q)?).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

async fn restart(
    State(state): State<AppState>,
    ContainerId(id): ContainerId,
    Query(q): Query,
) -> HandlerResult {
    state
        .backend
        .container_restart(&id, stop_options(&q)?)
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

async fn kill(
    State(state): State<AppState>,
    ContainerId(id): ContainerId,
    Query(q): Query,
) -> HandlerResult {
    state
        .backend
        .container_kill(&id, q.string("signal"))
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

fn wait_condition(q: &QueryParams) -> Result<WaitCondition, DockerError> {
    match q.get("condition").unwrap_or("") {
        "" | "not-running" => Ok(WaitCondition::NotRunning),
        "next-exit" => Ok(WaitCondition::NextExit),
        "removed" => Ok(WaitCondition::Removed),
        other => Err(DockerError::bad_request(format!(
            "invalid condition: {other:?}"
        ))),
    }
}

/// Headers go out at once (the CLI waits for them before starting the
/// container); the body is the result, written when the container exits.
async fn wait(
    State(state): State<AppState>,
    ContainerId(id): ContainerId,
    Query(q): Query,
) -> HandlerResult {
    let condition = wait_condition(&q)?;
    // Like Docker, an unknown container is a 404 before the headers.
    state.backend.container_inspect(&id).await?;
    let backend = state.backend.clone();
    let result = futures_util::stream::once(async move {
        let resp = match backend.container_wait(&id, condition).await {
            Ok(resp) => resp,
            Err(err) => ContainerWaitResponse {
                status_code: -1,
                error: Some(ContainerWaitExitError {
                    message: Some(err.message().to_owned()),
                }),
            },
        };
        Ok::<_, std::io::Error>(bytes::Bytes::from(
            serde_json::to_vec(&resp).unwrap_or_default(),
        ))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(result),
    )
        .into_response())
}

async fn attach(
    State(state): State<AppState>,
    ContainerId(id): ContainerId,
    Query(q): Query,
    Version(version): Version,
    req: Request,
) -> HandlerResult {
    state.require(Capability::Attach).await?;
    let opts = AttachOptions {
        stream: q.bool("stream"),
        logs: q.bool("logs"),
        stdin: q.bool("stdin"),
        stdout: q.bool("stdout"),
        stderr: q.bool("stderr"),
        detach_keys: q.string("detachKeys"),
    };
    let (mut parts, body) = req.into_parts();
    let hijack = Hijack::new(&mut parts, body);
    let (stdin_tx, stdin) = if opts.stdin {
        let (tx, stream) = stdin_channel();
        (Some(tx), Some(stream))
    } else {
        (None, None)
    };
    let detach_keys = crate::escape::parse_detach_keys(opts.detach_keys.as_deref().unwrap_or(""))
        .map_err(DockerError::bad_request)?;
    let watch_stdin = opts.stdin;
    let output = state.backend.container_attach(&id, opts, stdin).await?;
    let content_type = stream_content_type(output.tty, version.at_least("1.42"));
    // As dockerd: detach keys apply to a TTY's stdin only.
    let watch = (watch_stdin && output.tty)
        .then(|| crate::escape::DetachWatch::new(detach_keys))
        .flatten();
    Ok(hijack
        .detach_on(watch)
        .respond(output, stdin_tx, content_type))
}

fn logs_options(q: &QueryParams) -> Result<LogsOptions, DockerError> {
    let tail = match q.get("tail").map(str::trim).unwrap_or("") {
        "" | "all" => None,
        t => match t.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n as u64),
            Ok(_) => None,
            Err(_) => {
                return Err(DockerError::bad_request(format!(
                    "invalid value for \"tail\": {t:?}"
                )));
            }
        },
    };
    let opts = LogsOptions {
        follow: q.bool("follow"),
        stdout: q.bool("stdout"),
        stderr: q.bool("stderr"),
        since_nanos: q.timestamp_nanos("since")?,
        until_nanos: q.timestamp_nanos("until")?,
        timestamps: q.bool("timestamps"),
        tail,
    };
    if !opts.stdout && !opts.stderr {
        return Err(DockerError::bad_request(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    Ok(opts)
}

async fn logs(
    State(state): State<AppState>,
    ContainerId(id): ContainerId,
    Query(q): Query,
    Version(version): Version,
) -> HandlerResult {
    let opts = logs_options(&q)?;
    state.require(Capability::Logs).await?;
    if opts.follow {
        state.require(Capability::LogsFollow).await?;
    }
    let output = state.backend.container_logs(&id, opts).await?;
    let content_type = stream_content_type(output.tty, version.at_least("1.42"));
    Ok((
        [(header::CONTENT_TYPE, content_type)],
        Body::from_stream(encode_output(output)),
    )
        .into_response())
}

/// `h` and `w` of a resize, as Docker requires them.
pub fn tty_size(q: &QueryParams) -> Result<(u16, u16), DockerError> {
    let dim = |key: &str| -> Result<u16, DockerError> {
        q.int::<u16>(key)?.ok_or_else(|| {
            DockerError::bad_request(format!(
                "invalid value for \"{key}\": a TTY size is required"
            ))
        })
    };
    Ok((dim("h")?, dim("w")?))
}

async fn resize(
    State(state): State<AppState>,
    ContainerId(id): ContainerId,
    Query(q): Query,
) -> HandlerResult {
    let (height, width) = tty_size(&q)?;
    state.backend.container_resize(&id, height, width).await?;
    Ok(empty(StatusCode::OK))
}

async fn rename(
    State(state): State<AppState>,
    ContainerId(id): ContainerId,
    Query(q): Query,
) -> HandlerResult {
    let name = q
        .string("name")
        .ok_or_else(|| DockerError::bad_request("Neither old nor new names may be empty"))?;
    let name = check_container_name(&name)?;
    state.backend.container_rename(&id, &name).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

async fn remove(
    State(state): State<AppState>,
    ContainerId(id): ContainerId,
    Query(q): Query,
) -> HandlerResult {
    let opts = RemoveContainerOptions {
        force: q.bool("force"),
        volumes: q.bool("v"),
        link: q.bool("link"),
    };
    state.backend.container_remove(&id, opts).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

fn archive_path(q: &QueryParams) -> Result<String, DockerError> {
    q.string("path")
        .ok_or_else(|| DockerError::bad_request("path is required"))
}

/// Docker's `X-Docker-Container-Path-Stat`: base64 of the stat JSON.
fn path_stat_header(stat: &PathStat) -> Result<HeaderValue, DockerError> {
    let json = serde_json::to_vec(stat).map_err(|err| {
        DockerError::from(ApiError::Internal(format!(
            "cannot encode path stat: {err}"
        )))
    })?;
    HeaderValue::from_str(&base64::engine::general_purpose::STANDARD.encode(json))
        .map_err(|err| DockerError::from(ApiError::Internal(format!("path stat header: {err}"))))
}

async fn archive_head(
    State(state): State<AppState>,
    ContainerId(id): ContainerId,
    Query(q): Query,
) -> HandlerResult {
    let path = archive_path(&q)?;
    let stat = state.backend.container_archive_stat(&id, &path).await?;
    let mut resp = empty(StatusCode::OK);
    resp.headers_mut()
        .insert("x-docker-container-path-stat", path_stat_header(&stat)?);
    Ok(resp)
}

async fn archive_get(
    State(state): State<AppState>,
    ContainerId(id): ContainerId,
    Query(q): Query,
) -> HandlerResult {
    let path = archive_path(&q)?;
    let (stat, tar) = state.backend.container_archive_get(&id, &path).await?;
    let mut resp: Response = (
        [(header::CONTENT_TYPE, "application/x-tar")],
        byte_body(tar),
    )
        .into_response();
    resp.headers_mut()
        .insert("x-docker-container-path-stat", path_stat_header(&stat)?);
    Ok(resp)
}

async fn archive_put(
    State(state): State<AppState>,
    ContainerId(id): ContainerId,
    Query(q): Query,
    body: Body,
) -> HandlerResult {
    let path = archive_path(&q)?;
    state
        .backend
        .container_archive_put(&id, &path, byte_stream(body))
        .await?;
    Ok(empty(StatusCode::OK))
}
