//! Internal routes of `container update`, `container prune` and `image prune`.

use axum::Json;
use axum::extract::State;

use super::{Id, JsonBody, Shared};
use crate::ApiError;
use crate::docker::{
    ContainerPruneResponse, ContainerUpdateBody, ContainerUpdateResponse, ImagePruneResponse,
};
use crate::wire::FiltersBody;

type JsonResult<T> = Result<Json<T>, ApiError>;

pub(super) async fn container_update(
    State(b): Shared,
    Id(id): Id,
    JsonBody(update): JsonBody<ContainerUpdateBody>,
) -> JsonResult<ContainerUpdateResponse> {
    b.container_update(&id, update).await.map(Json)
}

pub(super) async fn container_prune(
    State(b): Shared,
    JsonBody(f): JsonBody<FiltersBody>,
) -> JsonResult<ContainerPruneResponse> {
    b.container_prune(f.filters).await.map(Json)
}

pub(super) async fn image_prune(
    State(b): Shared,
    JsonBody(f): JsonBody<FiltersBody>,
) -> JsonResult<ImagePruneResponse> {
    b.image_prune(f.filters).await.map(Json)
}
