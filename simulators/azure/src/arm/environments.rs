//! Managed environments (seeded, read-only) and their storages.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::schema::{self, Body};
use super::store::ArmStore;
use super::store::environment_id;
use super::{ArmError, ArmResult, parse_body, resource_not_found};
use crate::state::AppState;

fn env_key(sub: &str, rg: &str, name: &str) -> String {
    environment_id(sub, rg, name).to_ascii_lowercase()
}

/// Finds an environment or answers ARM's 404.
pub fn require_environment(
    arm: &ArmStore,
    sub: &str,
    rg: &str,
    name: &str,
) -> Result<Value, ArmError> {
    arm.environments
        .get(&env_key(sub, rg, name))
        .cloned()
        .ok_or_else(|| resource_not_found("Microsoft.App/managedEnvironments", name, rg))
}

/// `GET .../managedEnvironments/{environmentName}`.
pub async fn get_environment(
    State(state): State<Arc<AppState>>,
    Path((sub, rg, name)): Path<(String, String, String)>,
) -> ArmResult {
    let env = require_environment(&state.arm(), &sub, &rg, &name)?;
    Ok(axum::Json(env).into_response())
}

fn list_envs(state: &AppState, prefix: &str) -> Value {
    let arm = state.arm();
    let value: Vec<Value> = arm
        .environments
        .iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(_, v)| v.clone())
        .collect();
    json!({ "value": value })
}

/// `GET .../resourceGroups/{rg}/providers/Microsoft.App/managedEnvironments`.
pub async fn list_by_resource_group(
    State(state): State<Arc<AppState>>,
    Path((sub, rg)): Path<(String, String)>,
) -> ArmResult {
    let prefix = format!("/subscriptions/{sub}/resourcegroups/{rg}/").to_ascii_lowercase();
    Ok(axum::Json(list_envs(&state, &prefix)).into_response())
}

/// `GET /subscriptions/{sub}/providers/Microsoft.App/managedEnvironments`.
pub async fn list_by_subscription(
    State(state): State<Arc<AppState>>,
    Path(sub): Path<String>,
) -> ArmResult {
    let prefix = format!("/subscriptions/{sub}/").to_ascii_lowercase();
    Ok(axum::Json(list_envs(&state, &prefix)).into_response())
}

/// Storage resource as GET returns it: account keys are secrets and never returned.
pub fn render_storage(stored: &Value) -> Value {
    let mut out = stored.clone();
    if let Some(af) = out
        .pointer_mut("/properties/azureFile")
        .and_then(Value::as_object_mut)
    {
        af.remove("accountKey");
    }
    out
}

fn storage_id(sub: &str, rg: &str, env: &str, name: &str) -> String {
    format!("{}/storages/{name}", environment_id(sub, rg, env))
}

fn validate_storage(body: &Value) -> Result<Value, ArmError> {
    let bad = |m: &str| ArmError::bad_request("InvalidParameterValue", m.to_string());
    let props = body
        .get("properties")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("The property 'properties' is required."))?;
    let az = props.get("azureFile").filter(|v| !v.is_null());
    let nfs = props.get("nfsAzureFile").filter(|v| !v.is_null());
    let (kind, v) = match (az, nfs) {
        (Some(v), None) => ("azureFile", v),
        (None, Some(v)) => ("nfsAzureFile", v),
        _ => {
            return Err(bad(
                "Exactly one of 'properties.azureFile' and 'properties.nfsAzureFile' is required.",
            ));
        }
    };
    let o = v
        .as_object()
        .ok_or_else(|| bad("The storage properties must be an object."))?;
    let s = |k: &str| o.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    if kind == "azureFile" {
        for k in ["accountName", "accountKey", "shareName"] {
            if s(k).is_none() {
                return Err(bad(&format!(
                    "The property 'properties.azureFile.{k}' is required."
                )));
            }
        }
    } else {
        for k in ["server", "shareName"] {
            if s(k).is_none() {
                return Err(bad(&format!(
                    "The property 'properties.nfsAzureFile.{k}' is required."
                )));
            }
        }
    }
    match o.get("accessMode") {
        None => {}
        Some(Value::String(m)) if m == "ReadOnly" || m == "ReadWrite" => {}
        Some(m) => {
            return Err(bad(&format!(
                "The value '{m}' of 'accessMode' is not valid. Allowed values: ReadOnly, ReadWrite."
            )));
        }
    }
    // Names last, so a missing or malformed property is reported first.
    if kind == "azureFile" {
        super::storage::validate_account(s("accountName").unwrap_or_default())?;
        super::storage::validate_share_name(s("shareName").unwrap_or_default())?;
    } else {
        validate_nfs(
            s("server").unwrap_or_default(),
            s("shareName").unwrap_or_default(),
        )?;
    }
    Ok(json!({ kind: v }))
}

/// An NFS server is a host name (`account.file.core.windows.net`) and its
/// share `/account/share`; the emulator keeps the share's files under a
/// directory named after both, so neither may carry path syntax.
fn validate_nfs(server: &str, share: &str) -> Result<(), ArmError> {
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if server.len() > 253 || !server.split('.').all(label_ok) {
        return Err(ArmError::bad_request(
            "InvalidParameterValue",
            format!("The NFS server '{server}' is not a valid host name."),
        ));
    }
    let parts: Vec<&str> = share.trim_start_matches('/').split('/').collect();
    let part_ok = |p: &&str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    if parts.len() > 2 || !parts.iter().all(part_ok) {
        return Err(ArmError::bad_request(
            "InvalidParameterValue",
            format!(
                "The NFS share name '{share}' is not valid: expected '/<account>/<share>' of lowercase letters, digits and '-'."
            ),
        ));
    }
    Ok(())
}

/// `PUT .../managedEnvironments/{env}/storages/{storageName}`.
pub async fn put_storage(
    State(state): State<Arc<AppState>>,
    Path((sub, rg, env, name)): Path<(String, String, String, String)>,
    body: Bytes,
) -> ArmResult {
    let body = schema::accept(Body::Storage, &parse_body(&body)?)?;
    let props = validate_storage(&body)?;
    let mut arm = state.arm();
    require_environment(&arm, &sub, &rg, &env)?;
    let id = storage_id(&sub, &rg, &env, &name);
    let resource = json!({
        "id": id,
        "name": name,
        "type": "Microsoft.App/managedEnvironments/storages",
        "properties": props,
    });
    arm.storages
        .insert(id.to_ascii_lowercase(), resource.clone());
    Ok(axum::Json(render_storage(&resource)).into_response())
}

/// `GET .../storages/{storageName}`.
pub async fn get_storage(
    State(state): State<Arc<AppState>>,
    Path((sub, rg, env, name)): Path<(String, String, String, String)>,
) -> ArmResult {
    let arm = state.arm();
    require_environment(&arm, &sub, &rg, &env)?;
    arm.storages
        .get(&storage_id(&sub, &rg, &env, &name).to_ascii_lowercase())
        .map(|s| axum::Json(render_storage(s)).into_response())
        .ok_or_else(|| {
            resource_not_found(
                "Microsoft.App/managedEnvironments/storages",
                &format!("{env}/{name}"),
                &rg,
            )
        })
}

/// `DELETE .../storages/{storageName}`: 200, or 204 when it did not exist.
pub async fn delete_storage(
    State(state): State<Arc<AppState>>,
    Path((sub, rg, env, name)): Path<(String, String, String, String)>,
) -> ArmResult {
    let mut arm = state.arm();
    require_environment(&arm, &sub, &rg, &env)?;
    let removed = arm
        .storages
        .remove(&storage_id(&sub, &rg, &env, &name).to_ascii_lowercase());
    Ok(if removed.is_some() {
        StatusCode::OK
    } else {
        StatusCode::NO_CONTENT
    }
    .into_response())
}

/// `GET .../managedEnvironments/{env}/storages`.
pub async fn list_storages(
    State(state): State<Arc<AppState>>,
    Path((sub, rg, env)): Path<(String, String, String)>,
) -> ArmResult {
    let arm = state.arm();
    require_environment(&arm, &sub, &rg, &env)?;
    let prefix = format!("{}/storages/", environment_id(&sub, &rg, &env)).to_ascii_lowercase();
    let value: Vec<Value> = arm
        .storages
        .iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .map(|(_, v)| render_storage(v))
        .collect();
    Ok(axum::Json(json!({ "value": value })).into_response())
}

/// Names of the storages of an environment (by environment key).
pub fn storage_names(arm: &ArmStore, env_key: &str) -> std::collections::HashSet<String> {
    let prefix = format!("{env_key}/storages/");
    arm.storages
        .iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .filter_map(|(_, v)| v["name"].as_str().map(str::to_string))
        .collect()
}
