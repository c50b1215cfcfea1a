//! Image endpoints. Image names contain `/`, so `/images/{name}/...` is one
//! wildcard route split on its last segment.

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use sockerless_api::{
    Capability, ListImagesOptions, ProgressStream, PullImageOptions, RemoveImageOptions,
};

use super::{PathParam, Query, json, shaped};
use crate::errors::{DockerError, HandlerResult};
use crate::extract::{byte_stream, check_plain_ref, registry_auth};
use crate::framing::{encode_progress, first_error_as_status};
use crate::query::QueryParams;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/images/json", get(list))
        .route("/images/create", post(create))
        .route("/images/load", post(load))
        .route(
            "/images/{*rest}",
            get(get_named).post(post_named).delete(remove),
        )
}

fn image_name(raw: &str) -> Result<&str, DockerError> {
    check_plain_ref("image", raw)?;
    Ok(raw)
}

async fn list(State(state): State<AppState>, Query(q): Query) -> HandlerResult {
    let opts = ListImagesOptions {
        all: q.bool("all"),
        digests: q.bool("digests"),
        filters: q.filters()?,
    };
    let images = state.backend.image_list(opts).await?;
    Ok(shaped(
        &state,
        StatusCode::OK,
        crate::shape::Kind::ImageSummary,
        &images,
    )
    .await)
}

/// `fromImage` pulls; `fromSrc` imports (see `image_transfer`).
async fn create(
    State(state): State<AppState>,
    Query(q): Query,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> HandlerResult {
    if let Some(from_src) = q.string("fromSrc") {
        let progress =
            super::image_transfer::import(&state, raw.as_deref(), &from_src, body).await?;
        return progress_response(progress).await;
    }
    let from_image = q
        .string("fromImage")
        .ok_or_else(|| DockerError::bad_request("fromImage or fromSrc is required"))?;
    image_name(&from_image)?;
    let auth = registry_auth(&headers)?;
    state.require(Capability::ImagePull).await?;
    let opts = PullImageOptions {
        from_image,
        tag: q.string("tag"),
        platform: q.string("platform"),
    };
    let progress = state.backend.image_pull(opts, auth).await?;
    progress_response(progress).await
}

async fn load(State(state): State<AppState>, Query(q): Query, body: Body) -> HandlerResult {
    state.require(Capability::ImageLoad).await?;
    let progress = state
        .backend
        .image_load(byte_stream(body), q.bool("quiet"))
        .await?;
    progress_response(progress).await
}

/// Streams progress as JSON lines. Like Docker, an error before anything was
/// sent is an HTTP error; after that it is an error line in the stream.
async fn progress_response(progress: ProgressStream) -> HandlerResult {
    let rest = first_error_as_status(progress).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(encode_progress(Box::pin(rest))),
    )
        .into_response())
}

async fn get_named(State(state): State<AppState>, PathParam(rest): PathParam) -> HandlerResult {
    if let Some(name) = rest.strip_suffix("/get") {
        return super::image_transfer::save(&state, vec![name.to_owned()]).await;
    }
    if let Some(name) = rest.strip_suffix("/json") {
        let image = state.backend.image_inspect(image_name(name)?).await?;
        return Ok(shaped(
            &state,
            StatusCode::OK,
            crate::shape::Kind::ImageInspect,
            &image,
        )
        .await);
    }
    if rest.ends_with("/history") {
        return Err(DockerError::unsupported("image history"));
    }
    Err(DockerError::page_not_found())
}

async fn post_named(
    State(state): State<AppState>,
    PathParam(rest): PathParam,
    Query(q): Query,
    headers: HeaderMap,
) -> HandlerResult {
    if let Some(name) = rest.strip_suffix("/tag") {
        return tag(&state, image_name(name)?, &q).await;
    }
    if let Some(name) = rest.strip_suffix("/push") {
        return super::image_transfer::push(&state, image_name(name)?, &q, &headers).await;
    }
    Err(DockerError::page_not_found())
}

async fn tag(state: &AppState, name: &str, q: &QueryParams) -> HandlerResult {
    let repo = q.string("repo").ok_or_else(|| {
        DockerError::bad_request("repository name must have at least one component")
    })?;
    check_plain_ref("repository", &repo)?;
    let tag = q.string("tag");
    state.backend.image_tag(name, &repo, tag.as_deref()).await?;
    Ok(StatusCode::CREATED.into_response())
}

async fn remove(
    State(state): State<AppState>,
    PathParam(rest): PathParam,
    Query(q): Query,
) -> HandlerResult {
    let opts = RemoveImageOptions {
        force: q.bool("force"),
        noprune: q.bool("noprune"),
    };
    let deleted = state.backend.image_remove(image_name(&rest)?, opts).await?;
    Ok(json(StatusCode::OK, &deleted))
}
