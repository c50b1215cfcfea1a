//! ACR Tasks quick builds (`Microsoft.ContainerRegistry` 2019-06-01-preview,
//! `containerregistry_build.json`) on the emulator's one registry:
//! `listBuildSourceUploadUrl` hands out a blob SAS URL for the context
//! (served by [`crate::blob`]), `scheduleRun` queues a `DockerBuildRequest`
//! that [`build`] runs on the emulator's engine and pushes to its registry,
//! and runs are read, listed, canceled and their log blob shared by SAS.

pub mod build;
pub mod logs;
pub mod push;
pub mod request;
pub mod runs;

#[cfg(test)]
mod build_tests;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::json;

use crate::arm::schema::{self, Body};
use crate::arm::{ArmError, ArmResult, parse_body, resource_not_found};
use crate::blob::{blob_key, sas};
use crate::state::AppState;

/// The emulator's registry, as ARM names it (its login server is
/// [`AppState::registry_host`]).
pub const REGISTRY_NAME: &str = "sockerlesssim";
/// The storage account of the registry's task blobs.
pub const STORAGE_ACCOUNT: &str = "sockerlesssimtasks";
/// The container of uploaded sources.
pub const SOURCE_CONTAINER: &str = "uploads";
/// The container of run logs (`{runId}/rawtext.log`).
pub const LOG_CONTAINER: &str = "logs";
/// How long a SAS handed out stays valid.
const SAS_LIFETIME: chrono::TimeDelta = chrono::TimeDelta::hours(1);

const REGISTRY: &str = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/{registryName}";

/// The ACR Tasks routes, behind ARM's authentication, roles and api-version.
pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route(
            &format!("{REGISTRY}/listBuildSourceUploadUrl"),
            post(upload_url),
        )
        .route(&format!("{REGISTRY}/scheduleRun"), post(schedule_run))
        .route(&format!("{REGISTRY}/runs"), get(list_runs))
        .route(&format!("{REGISTRY}/runs/{{runId}}"), get(get_run))
        .route(
            &format!("{REGISTRY}/runs/{{runId}}/listLogSasUrl"),
            post(log_url),
        )
        .route(
            &format!("{REGISTRY}/runs/{{runId}}/cancel"),
            post(cancel_run),
        )
        .route_layer(middleware::from_fn_with_state(state, crate::arm::guard))
}

/// The registry's ARM ID; `Err` unless `name` is the emulator's registry.
fn registry_id(sub: &str, rg: &str, name: &str) -> Result<String, ArmError> {
    if !name.eq_ignore_ascii_case(REGISTRY_NAME) {
        return Err(resource_not_found(
            "Microsoft.ContainerRegistry/registries",
            name,
            rg,
        ));
    }
    Ok(format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerRegistry/registries/{REGISTRY_NAME}"
    ))
}

/// A SAS URL of blob `container/path` with permissions `sp`.
fn sas_url(state: &AppState, container: &str, path: &str, sp: &str) -> String {
    let key = blob_key(STORAGE_ACCOUNT, container, path);
    let query = sas::sign(&state.sas_key, &key, sp, chrono::Utc::now() + SAS_LIFETIME);
    format!("{}/blob/{key}?{query}", state.base_url())
}

/// The log blob of a run: (container, path).
fn log_blob(run_id: &str) -> (&'static str, String) {
    (LOG_CONTAINER, format!("{run_id}/rawtext.log"))
}

type RegistryPath = Path<(String, String, String)>;
type RunPath = Path<(String, String, String, String)>;

/// `POST .../listBuildSourceUploadUrl`.
pub async fn upload_url(
    State(state): State<Arc<AppState>>,
    Path((sub, rg, name)): RegistryPath,
) -> ArmResult {
    registry_id(&sub, &rg, &name)?;
    let relative = format!(
        "source/{}/{}.tar.gz",
        chrono::Utc::now().format("%Y%m%d%H%M"),
        uuid::Uuid::new_v4()
    );
    let url = sas_url(&state, SOURCE_CONTAINER, &relative, "cw");
    Ok(axum::Json(json!({"uploadUrl": url, "relativePath": relative})).into_response())
}

/// The blob key of a `sourceLocation`: a `relativePath` from
/// `listBuildSourceUploadUrl` or an upload URL of this emulator.
fn source_key(state: &AppState, location: &str) -> Option<String> {
    let prefix = format!("{}/blob/", state.base_url());
    let key = match location.strip_prefix(&prefix) {
        Some(rest) => rest.split('?').next().unwrap_or_default().to_string(),
        None if !location.contains("://") => blob_key(
            STORAGE_ACCOUNT,
            SOURCE_CONTAINER,
            location.trim_start_matches('/'),
        ),
        None => return None,
    };
    state.blobs().get(&key).map(|_| key)
}

/// `POST .../scheduleRun`: 200 with the queued `Run` (the spec's
/// synchronous answer; the run goes on in the background).
pub async fn schedule_run(
    State(state): State<Arc<AppState>>,
    Path((sub, rg, name)): RegistryPath,
    body: Bytes,
) -> ArmResult {
    let id = registry_id(&sub, &rg, &name)?;
    let body = parse_body(&body)?;
    let kind = body["type"].as_str().unwrap_or_default();
    if kind != "DockerBuildRequest" {
        return Err(ArmError::bad_request(
            "InvalidRunRequest",
            format!(
                "The run request type '{kind}' is not emulated: only DockerBuildRequest (quick builds) is."
            ),
        ));
    }
    schema::check(Body::DockerBuild, &body)?;
    let req =
        request::parse(&body).map_err(|m| ArmError::bad_request("InvalidParameterValue", m))?;
    let Some(source_key) = source_key(&state, &req.source) else {
        return Err(ArmError::bad_request(
            "InvalidSourceLocation",
            format!(
                "The source location '{}' is not a source uploaded to this registry (see listBuildSourceUploadUrl).",
                req.source.split('?').next().unwrap_or_default()
            ),
        ));
    };
    let (run, cancel, dropped) = state
        .tasks
        .create(&id, req.platform.clone(), req.archive, |run_id| {
            let (c, p) = log_blob(run_id);
            blob_key(STORAGE_ACCOUNT, c, &p)
        })
        .map_err(|m| ArmError::new(StatusCode::TOO_MANY_REQUESTS, "TooManyRuns", m))?;
    let gone: Vec<_> = dropped
        .iter()
        .filter_map(|k| state.blobs().remove(k))
        .collect();
    tokio::task::spawn_blocking(move || crate::blob::store::delete_all(gone));
    let (c, p) = log_blob(&run.run_id);
    let log_path = state
        .blobs()
        .blob_path(STORAGE_ACCOUNT, c, &p)
        .map_err(|m| ArmError::bad_request("InvalidRunId", m))?;
    tracing::info!(run = %run.run_id, source = %source_key, "ACR Tasks run queued");
    let job = build::RunJob {
        run_id: run.run_id.clone(),
        request: req,
        source_key,
        log_key: run.log_key.clone(),
        log_path,
        cancel,
    };
    tokio::spawn(build::run(state.clone(), job));
    Ok(axum::Json(run.to_json()).into_response())
}

fn find_run(state: &AppState, run_id: &str) -> Result<runs::Run, ArmError> {
    state.tasks.get(run_id).ok_or_else(|| {
        ArmError::not_found(
            "ResourceNotFound",
            format!("The run '{run_id}' was not found in registry '{REGISTRY_NAME}'."),
        )
    })
}

/// `GET .../runs/{runId}`.
pub async fn get_run(
    State(state): State<Arc<AppState>>,
    Path((sub, rg, name, run_id)): RunPath,
) -> ArmResult {
    registry_id(&sub, &rg, &name)?;
    Ok(axum::Json(find_run(&state, &run_id)?.to_json()).into_response())
}

/// `GET .../runs`: newest first, `$top` honoured (default 100, as the
/// service pages); `$filter` is ignored.
pub async fn list_runs(
    State(state): State<Arc<AppState>>,
    Path((sub, rg, name)): RegistryPath,
    Query(q): Query<HashMap<String, String>>,
) -> ArmResult {
    registry_id(&sub, &rg, &name)?;
    let top = q.get("$top").and_then(|t| t.parse().ok()).unwrap_or(100);
    let value: Vec<_> = state
        .tasks
        .list(top)
        .iter()
        .map(runs::Run::to_json)
        .collect();
    Ok(axum::Json(json!({"value": value})).into_response())
}

/// `POST .../runs/{runId}/listLogSasUrl`: a read SAS of the log blob.
pub async fn log_url(
    State(state): State<Arc<AppState>>,
    Path((sub, rg, name, run_id)): RunPath,
) -> ArmResult {
    registry_id(&sub, &rg, &name)?;
    let run = find_run(&state, &run_id)?;
    let (c, p) = log_blob(&run.run_id);
    Ok(axum::Json(json!({"logLink": sas_url(&state, c, &p, "r")})).into_response())
}

/// `POST .../runs/{runId}/cancel`: 200; the run is `Canceled` at once and
/// its build aborted (a finished run stays as it ended).
pub async fn cancel_run(
    State(state): State<Arc<AppState>>,
    Path((sub, rg, name, run_id)): RunPath,
) -> ArmResult {
    registry_id(&sub, &rg, &name)?;
    let run = find_run(&state, &run_id)?;
    state.tasks.cancel(&run.run_id);
    Ok(StatusCode::OK.into_response())
}
