//! System endpoints: `_ping`, `version`, `info`, `events`, `system/df`, `auth`.

use axum::Extension;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::routing::post;
use futures_util::StreamExt;
use sockerless_api::docker::{
    AuthConfig, ContainerSummaryStateEnum, LocalNodeState, SwarmInfo, SystemInfo, SystemVersion,
    SystemVersionComponents, SystemVersionPlatform,
};
use sockerless_api::listen::ShutdownHandle;
use sockerless_api::{ApiError, Capability, ListContainersOptions, ListImagesOptions};

use super::{Query, json, shaped, shutdown_started};
use crate::errors::{DockerError, HandlerResult};
use crate::extract::read_json;
use crate::framing::sorted_json_line;
use crate::state::AppState;
use crate::v1_44;
use crate::version::{API_VERSION, ENGINE_VERSION, MIN_API_VERSION};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_ping", get(ping).head(ping))
        .route("/version", get(version))
        .route("/info", get(info))
        .route("/events", get(events))
        .route("/system/df", get(disk_usage))
        .route("/auth", post(auth))
}

async fn ping(State(state): State<AppState>, method: Method) -> Response {
    let mut resp = match state.backend.ping().await {
        Ok(()) if method == Method::HEAD => {
            ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "").into_response()
        }
        Ok(()) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "OK").into_response(),
        Err(err) => DockerError::from(err).into_response(),
    };
    let headers = resp.headers_mut();
    headers.insert("api-version", HeaderValue::from_static(API_VERSION));
    headers.insert("docker-experimental", HeaderValue::from_static("false"));
    headers.insert("ostype", HeaderValue::from_static("linux"));
    headers.insert("builder-version", HeaderValue::from_static("1"));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

/// Go's `GOARCH` name for this machine.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        other => other,
    }
}

async fn version(State(state): State<AppState>) -> HandlerResult {
    let (backend, backend_version) = state.backend_name().await;
    let mut version = match state.backend.system_version().await {
        Ok(v) => v,
        Err(ApiError::NotImplemented(_)) => SystemVersion::default(),
        Err(err) => return Err(err.into()),
    };
    // The frontend owns what the Docker API promises; the backend adds its details.
    version.version = Some(ENGINE_VERSION.to_owned());
    version.api_version = Some(API_VERSION.to_owned());
    version.min_api_version = Some(MIN_API_VERSION.to_owned());
    version.os = Some("linux".to_owned());
    version.arch.get_or_insert_with(|| go_arch().to_owned());
    version.platform = Some(SystemVersionPlatform {
        name: format!("Sockerless ({backend})"),
    });
    let mut components = vec![
        SystemVersionComponents {
            name: "Engine".to_owned(),
            version: ENGINE_VERSION.to_owned(),
            details: Some(
                [
                    ("ApiVersion", API_VERSION.to_owned()),
                    ("MinAPIVersion", MIN_API_VERSION.to_owned()),
                    ("Os", "linux".to_owned()),
                    ("Arch", version.arch.clone().unwrap_or_default()),
                    ("GitCommit", version.git_commit.clone().unwrap_or_default()),
                    ("GoVersion", version.go_version.clone().unwrap_or_default()),
                    (
                        "KernelVersion",
                        version.kernel_version.clone().unwrap_or_default(),
                    ),
                    ("BuildTime", version.build_time.clone().unwrap_or_default()),
                    ("Experimental", "false".to_owned()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            ),
        },
        SystemVersionComponents {
            name: format!("sockerless-backend-{backend}"),
            version: backend_version,
            details: None,
        },
    ];
    for extra in version.components.take().unwrap_or_default() {
        if extra.name != "Engine" {
            components.push(extra);
        }
    }
    version.components = Some(components);
    Ok(shaped(
        &state,
        StatusCode::OK,
        crate::shape::Kind::Version,
        &version,
    )
    .await)
}

async fn info(State(state): State<AppState>) -> HandlerResult {
    let (backend, _) = state.backend_name().await;
    let mut info = match state.backend.system_info().await {
        Ok(info) => info,
        Err(ApiError::NotImplemented(_)) => counted_info(&state).await?,
        Err(err) => return Err(err.into()),
    };
    info.name
        .get_or_insert_with(|| format!("sockerless-{backend}"));
    info.server_version = Some(ENGINE_VERSION.to_owned());
    info.driver.get_or_insert_with(|| backend.clone());
    info.os_type = Some("linux".to_owned());
    info.architecture
        .get_or_insert_with(|| std::env::consts::ARCH.to_owned());
    info.operating_system
        .get_or_insert_with(|| format!("Sockerless ({backend})"));
    info.experimental_build.get_or_insert(false);
    info.debug.get_or_insert(false);
    info.labels.get_or_insert_with(Vec::new);
    // Sockerless has no swarm mode; say so the way Docker does.
    info.swarm.get_or_insert_with(|| SwarmInfo {
        local_node_state: Some(LocalNodeState::INACTIVE),
        control_available: Some(false),
        ..Default::default()
    });
    info.warnings.get_or_insert_with(Vec::new);
    Ok(shaped(&state, StatusCode::OK, crate::shape::Kind::Info, &info).await)
}

/// `/info` for a backend without its own: container and image counts, asked of the backend.
async fn counted_info(state: &AppState) -> Result<SystemInfo, DockerError> {
    let containers = state
        .backend
        .container_list(ListContainersOptions {
            all: true,
            ..Default::default()
        })
        .await?;
    let running = containers
        .iter()
        .filter(|c| c.state == Some(ContainerSummaryStateEnum::RUNNING))
        .count() as i64;
    let paused = containers
        .iter()
        .filter(|c| c.state == Some(ContainerSummaryStateEnum::PAUSED))
        .count() as i64;
    let total = containers.len() as i64;
    let images = state
        .backend
        .image_list(ListImagesOptions::default())
        .await
        .map(|list| list.len() as i64)
        .unwrap_or(0);
    Ok(SystemInfo {
        containers: Some(total),
        containers_running: Some(running),
        containers_paused: Some(paused),
        containers_stopped: Some(total - running - paused),
        images: Some(images),
        ..Default::default()
    })
}

/// Ends with a graceful shutdown, so an idle feed does not hold the drain.
async fn events(
    State(state): State<AppState>,
    Query(q): Query,
    shutdown: Option<Extension<ShutdownHandle>>,
) -> HandlerResult {
    let since = event_time(&q, "since")?;
    let until = event_time(&q, "until")?;
    let filters = q.filters()?;
    let stream = state.backend.events(since, until, filters).await?;
    let lines = stream
        .take_until(shutdown_started(shutdown))
        .map(|item| match item {
            Ok(event) => Ok(sorted_json_line(&with_legacy_fields(&event))),
            Err(err) => {
                tracing::warn!(error = %err, "event stream failed");
                Err(std::io::Error::other(err.message().to_owned()))
            }
        });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(lines),
    )
        .into_response())
}

/// `since`/`until` of `/events`: seconds[.nanoseconds] since the epoch, as
/// dockerd's `timetypes.ParseTimestamps`; `0` is the epoch (replay all),
/// unlike `logs`, where it means unset.
fn event_time(q: &crate::query::QueryParams, key: &str) -> Result<Option<i64>, DockerError> {
    match q.get(key).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => crate::query::parse_timestamp_nanos(v).map(Some).ok_or_else(|| {
            DockerError::bad_request(format!(
                "invalid value for \"{key}\": {v:?} (expected seconds[.nanoseconds] since the epoch)"
            ))
        }),
    }
}

/// dockerd's deprecated `status`, `id` and `from` of container events
/// (`status` and `id` of image events), still sent in API v1.44.
fn with_legacy_fields(event: &sockerless_api::docker::EventMessage) -> v1_44::EventMessage {
    use sockerless_api::docker::EventMessageTypeEnum as T;
    let actor = event.actor.as_ref();
    let mut legacy = v1_44::EventMessage {
        typ: event.typ,
        action: event.action.clone(),
        actor: event.actor.clone(),
        scope: event.scope,
        time: event.time,
        time_nano: event.time_nano,
        ..Default::default()
    };
    if let Some(T::CONTAINER | T::IMAGE) = event.typ {
        legacy.status = Some(event.action.clone().unwrap_or_default());
        legacy.id = Some(actor.and_then(|a| a.id.clone()).unwrap_or_default());
        if event.typ == Some(T::CONTAINER) {
            legacy.from = Some(
                actor
                    .and_then(|a| a.attributes.as_ref())
                    .and_then(|a| a.get("image").cloned())
                    .unwrap_or_default(),
            );
        }
    }
    legacy
}

/// `system df` in API 1.44's shape, from the backend's own lists.
async fn disk_usage(State(state): State<AppState>, Query(q): Query) -> HandlerResult {
    // API 1.42+ lets the client pick object types; all by default.
    let types: Vec<String> = q
        .get("type")
        .map(|t| vec![t.to_owned()])
        .unwrap_or_else(|| {
            vec![
                "container".into(),
                "image".into(),
                "volume".into(),
                "build-cache".into(),
            ]
        });
    let wants = |t: &str| types.iter().any(|x| x == t);
    let mut body = v1_44::SystemDataUsage::default();
    if wants("image") {
        let images = state
            .backend
            .image_list(ListImagesOptions::default())
            .await?;
        body.layers_size = Some(images.iter().map(|i| i.size.max(0)).sum());
        body.images = Some(images);
    }
    if wants("container") {
        let containers = state
            .backend
            .container_list(ListContainersOptions {
                all: true,
                size: true,
                ..Default::default()
            })
            .await?;
        body.containers = Some(containers);
    }
    if wants("volume") {
        let supported = state.require(Capability::Volumes).await.is_ok();
        let listed = if supported {
            state.backend.volume_list(Default::default()).await
        } else {
            Err(ApiError::NotImplemented(String::new()))
        };
        let volumes = match listed {
            Ok(list) => list.volumes.unwrap_or_default(),
            Err(ApiError::NotImplemented(_)) => Vec::new(),
            Err(err) => return Err(err.into()),
        };
        body.volumes = Some(volumes);
    }
    if wants("build-cache") {
        // Sockerless has no builder, so there is no build cache.
        body.build_cache = Some(Vec::new());
    }
    Ok(shaped(&state, StatusCode::OK, crate::shape::Kind::DiskUsage, &body).await)
}

async fn auth(State(state): State<AppState>, headers: HeaderMap, body: Body) -> HandlerResult {
    let config: AuthConfig = read_json(&headers, body)
        .await?
        .ok_or_else(|| DockerError::bad_request("auth config is required"))?;
    let resp = state.backend.auth(config).await?;
    Ok(json(StatusCode::OK, &resp))
}
