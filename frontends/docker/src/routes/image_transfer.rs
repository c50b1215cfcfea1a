//! Images to and from registries and containers: `save` (`/images/get`;
//! `/images/{name}/get`, `/push` and `create?fromSrc=` come through
//! `images.rs`), `commit`, `changes` (`docker diff`), `/distribution`.

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use futures_util::StreamExt;
use sockerless_api::docker::ContainerConfig;
use sockerless_api::{ByteStream, CommitOptions, ImportImageOptions, PushStream};

use super::{PathParam, json};
use crate::errors::{DockerError, HandlerResult};
use crate::extract::{byte_stream, check_plain_ref, read_json, registry_auth};
use crate::framing::{byte_body, json_line, progress_error_line};
use crate::query::QueryParams;
use crate::state::AppState;

/// This module's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/images/get", get(save_many))
        .route("/containers/{id}/changes", get(changes))
        .route("/commit", post(commit))
        .route("/distribution/{*rest}", get(distribution))
}

/// Every value of `key` in a raw query (`names=a&names=b`).
pub fn all_values(raw: Option<&str>, key: &str) -> Vec<String> {
    raw.map(|q| {
        form_urlencoded::parse(q.as_bytes())
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
            .collect()
    })
    .unwrap_or_default()
}

async fn save_many(State(state): State<AppState>, RawQuery(raw): RawQuery) -> HandlerResult {
    let names = all_values(raw.as_deref(), "names");
    save(&state, names).await
}

/// `docker save`: the tarball streamed as the backend builds it.
pub async fn save(state: &AppState, names: Vec<String>) -> HandlerResult {
    for name in &names {
        check_plain_ref("image", name)?;
    }
    let tar: ByteStream = state.backend.image_save(names).await?;
    let body = byte_body(tar);
    Ok(([(header::CONTENT_TYPE, "application/x-tar")], body).into_response())
}

async fn changes(State(state): State<AppState>, PathParam(id): PathParam) -> HandlerResult {
    let list = state.backend.container_changes(&id).await?;
    Ok(json(StatusCode::OK, &list))
}

async fn commit(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> HandlerResult {
    let q = QueryParams::parse(raw.as_deref());
    let container = q
        .string("container")
        .ok_or_else(|| DockerError::bad_request("container is required"))?;
    let config: Option<ContainerConfig> = read_json(&headers, body).await?;
    let repo = q.string("repo");
    if let Some(repo) = &repo {
        check_plain_ref("repository", repo)?;
    }
    let opts = CommitOptions {
        container,
        repo,
        tag: q.string("tag"),
        comment: q.string("comment"),
        author: q.string("author"),
        pause: q.bool_or("pause", true),
        changes: all_values(raw.as_deref(), "changes"),
        config,
    };
    let id = state.backend.container_commit(opts).await?;
    Ok(json(StatusCode::CREATED, &id))
}

async fn distribution(
    State(state): State<AppState>,
    PathParam(rest): PathParam,
    headers: HeaderMap,
) -> HandlerResult {
    let name = rest
        .strip_suffix("/json")
        .ok_or_else(DockerError::page_not_found)?;
    check_plain_ref("image", name)?;
    let auth = registry_auth(&headers)?;
    let inspect = state.backend.distribution_inspect(name, auth).await?;
    Ok(json(StatusCode::OK, &inspect))
}

/// `docker push`: progress as JSON lines (an error before the first line
/// is an HTTP error, after it an error line).
pub async fn push(
    state: &AppState,
    name: &str,
    q: &QueryParams,
    headers: &HeaderMap,
) -> HandlerResult {
    check_plain_ref("image", name)?;
    let auth = registry_auth(headers)?;
    let tag = q.string("tag");
    let mut progress: PushStream = state.backend.image_push(name, tag.as_deref(), auth).await?;
    let first = match progress.next().await {
        Some(Err(err)) => return Err(err.into()),
        other => other,
    };
    let lines = futures_util::stream::iter(first)
        .chain(progress)
        .scan(false, |done, item| {
            let line = if *done {
                None
            } else {
                Some(match item {
                    Ok(p) => Ok::<_, std::io::Error>(json_line(&p)),
                    Err(err) => {
                        *done = true;
                        Ok(progress_error_line(&err))
                    }
                })
            };
            async move { line }
        });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(lines),
    )
        .into_response())
}

/// `docker import`: `fromSrc=-` reads the body; a URL is refused (the
/// daemon does not fetch from the network on a client's behalf).
pub async fn import(
    state: &AppState,
    raw: Option<&str>,
    from_src: &str,
    body: Body,
) -> Result<sockerless_api::ProgressStream, DockerError> {
    if from_src != "-" {
        return Err(DockerError::new(
            StatusCode::NOT_IMPLEMENTED,
            format!(
                "image import from a URL (fromSrc={from_src}) is not supported by sockerless: \
                 download the file and import it from standard input (docker import - or a file)"
            ),
        ));
    }
    let q = QueryParams::parse(raw);
    let repo = q.string("repo");
    if let Some(repo) = &repo {
        check_plain_ref("repository", repo)?;
    }
    let opts = ImportImageOptions {
        repo,
        tag: q.string("tag"),
        changes: all_values(raw, "changes"),
        message: q.string("message"),
        platform: q.string("platform"),
    };
    Ok(state.backend.image_import(opts, byte_stream(body)).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_of_a_repeated_key() {
        let raw = Some("names=busybox&names=alpine%3A3&quiet=1");
        assert_eq!(all_values(raw, "names"), vec!["busybox", "alpine:3"]);
        assert!(all_values(None, "names").is_empty());
        assert_eq!(
            all_values(
                Some("changes=CMD+%5B%22sh%22%5D&changes=ENV+A%3D1"),
                "changes"
            ),
            vec!["CMD [\"sh\"]", "ENV A=1"]
        );
    }
}
