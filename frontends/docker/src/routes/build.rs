//! `POST /build`: the classic builder's API (the Docker CLI without buildx,
//! docker-py, Compose). The query becomes [`BuildImageOptions`] (options no
//! backend can honour are refused by name before the context is read), the
//! body is the context, streamed; the answer is Docker's JSON progress.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde::Serialize;
use sockerless_api::docker::AuthConfig;
use sockerless_api::{BuildImageOptions, BuildProgress, BuildStream};

use super::image_transfer::all_values;
use crate::errors::{DockerError, HandlerResult};
use crate::extract::{byte_stream, check_plain_ref};
use crate::framing::{first_error_as_status, json_line};
use crate::query::QueryParams;
use crate::state::AppState;

/// This module's routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/build", post(build))
}

async fn build(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> HandlerResult {
    let opts = build_options(raw.as_deref(), &headers)?;
    let progress = state.backend.image_build(opts, byte_stream(body)).await?;
    let rest = first_error_as_status(progress).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(encode_build(Box::pin(rest))),
    )
        .into_response())
}

/// A progress message as dockerd writes it: an error repeats its message
/// as the legacy `error` field (older clients read only that).
#[derive(Serialize)]
struct BuildLine<'a> {
    #[serde(flatten)]
    progress: &'a BuildProgress,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

fn build_line(progress: &BuildProgress) -> Bytes {
    let error = progress
        .error_detail
        .as_ref()
        .and_then(|d| d.message.as_deref());
    json_line(&BuildLine { progress, error })
}

/// The progress as JSON lines; a backend error becomes an error line and
/// ends the stream (the status is already sent).
fn encode_build(progress: BuildStream) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send {
    futures_util::stream::unfold((progress, false), |(mut progress, done)| async move {
        if done {
            return None;
        }
        let line = match progress.next().await? {
            Ok(item) => build_line(&item),
            Err(err) => {
                tracing::warn!(error = %err, "build failed");
                build_line(&BuildProgress::failed(err.message(), None))
            }
        };
        let ended = line.starts_with(b"{\"errorDetail\"");
        Some((Ok(line), (progress, ended)))
    })
}

/// Parameters with a value nothing here can honour: `(name, neutral
/// values, why)`. The Docker CLI sends most of them with their neutral
/// value on every build.
const REFUSED: &[(&str, &[&str], &str)] = &[
    (
        "remote",
        &[""],
        "a remote context (git URL or tarball URL): send the context from the client",
    ),
    ("extrahosts", &["", "[]", "null"], "--add-host"),
    ("networkmode", &["", "default"], "--network"),
    ("cachefrom", &["", "[]", "null"], "--cache-from"),
    ("memory", &["", "0"], "--memory"),
    ("memswap", &["", "0"], "--memory-swap"),
    ("cpushares", &["", "0"], "--cpu-shares"),
    ("cpusetcpus", &[""], "--cpuset-cpus"),
    ("cpusetmems", &[""], "--cpuset-mems"),
    ("cpuperiod", &["", "0"], "--cpu-period"),
    ("cpuquota", &["", "0"], "--cpu-quota"),
    ("shmsize", &["", "0"], "--shm-size"),
    ("cgroupparent", &[""], "--cgroup-parent"),
    ("isolation", &["", "default"], "--isolation"),
    ("ulimits", &["", "[]", "null"], "--ulimit"),
    ("outputs", &["", "[]", "null"], "--output (BuildKit)"),
    ("session", &[""], "a BuildKit session"),
];

/// The query and `X-Registry-Config` of a build (pure).
pub fn build_options(
    raw: Option<&str>,
    headers: &HeaderMap,
) -> Result<BuildImageOptions, DockerError> {
    let q = QueryParams::parse(raw);
    if let Some(version) = q.get("version").filter(|v| !v.is_empty() && *v != "1") {
        return Err(DockerError::bad_request(format!(
            "builder version {version:?} (BuildKit) is not supported by sockerless: builds run on \
             ACR Tasks through the classic builder's API (set DOCKER_BUILDKIT=0)"
        )));
    }
    for (name, neutral, what) in REFUSED {
        if let Some(value) = q.get(name).filter(|v| !neutral.contains(v)) {
            return Err(DockerError::bad_request(format!(
                "build option {name}={value:?} is not supported by sockerless (builds run on ACR \
                 Tasks): {what}"
            )));
        }
    }
    if q.bool("squash") {
        return Err(DockerError::bad_request(
            "build option squash is not supported by sockerless (builds run on ACR Tasks): --squash",
        ));
    }
    // `rm`/`forcerm` need no answer: the builder's containers live in ACR
    // Tasks and never show here, kept or not.
    let tags = all_values(raw, "t");
    for tag in &tags {
        check_plain_ref("tag", tag)?;
    }
    let dockerfile = q
        .string("dockerfile")
        .unwrap_or_else(|| "Dockerfile".to_owned());
    if dockerfile.starts_with("http://") || dockerfile.starts_with("https://") {
        return Err(DockerError::bad_request(
            "a Dockerfile at a URL is not supported by sockerless: put it in the context",
        ));
    }
    Ok(BuildImageOptions {
        tags,
        dockerfile,
        build_args: json_map("buildargs", q.get("buildargs"))?,
        target: q.string("target"),
        labels: json_map("labels", q.get("labels"))?,
        no_cache: q.bool("nocache"),
        quiet: q.bool("q"),
        platform: q.string("platform"),
        pull: q.bool("pull"),
        registry_config: registry_config(headers)?,
    })
}

/// A JSON object of strings (`buildargs`, `labels`); a `null` value is an
/// argument without a value, which dockerd leaves to the Dockerfile's default.
fn json_map(key: &str, raw: Option<&str>) -> Result<BTreeMap<String, String>, DockerError> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok(BTreeMap::new());
    };
    let map: BTreeMap<String, Option<String>> = serde_json::from_str(raw)
        .map_err(|e| DockerError::bad_request(format!("invalid {key}: {e}")))?;
    Ok(map
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect())
}

/// `X-Registry-Config`: base64url JSON of logins by registry server.
fn registry_config(headers: &HeaderMap) -> Result<BTreeMap<String, AuthConfig>, DockerError> {
    let Some(value) = headers.get("x-registry-config") else {
        return Ok(BTreeMap::new());
    };
    // Never echo the header: it carries passwords.
    let invalid =
        || DockerError::bad_request("invalid X-Registry-Config header: not base64url-encoded JSON");
    let text = value.to_str().map_err(|_| invalid())?.trim();
    if text.is_empty() {
        return Ok(BTreeMap::new());
    }
    let unpadded = text.trim_end_matches('=');
    let decoded = URL_SAFE_NO_PAD
        .decode(unpadded)
        .or_else(|_| STANDARD_NO_PAD.decode(unpadded))
        .map_err(|_| invalid())?;
    let map: Option<BTreeMap<String, AuthConfig>> =
        serde_json::from_slice(&decoded).map_err(|_| invalid())?;
    Ok(map
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, login)| login.username.is_some() || login.password.is_some())
        .collect())
}

#[cfg(test)]
mod tests;
