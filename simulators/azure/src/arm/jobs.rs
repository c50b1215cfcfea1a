//! Container Apps jobs: PUT / GET / PATCH / DELETE / list / listSecrets.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};

use super::environments::storage_names;
use super::lro::accepted;
use super::schema::{self, Body};
use super::store::{ArmStore, JobRecord, OpEffect};
use super::validate::{EnvFacts, validate_job_name, validate_job_properties, validate_tags};
use super::{ArmError, ArmResult, parse_body, resource_not_found};
use crate::state::AppState;

/// ARM ID of a job.
pub fn job_id(sub: &str, rg: &str, name: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.App/jobs/{name}")
}

/// Store key of a job.
pub fn job_key(sub: &str, rg: &str, name: &str) -> String {
    job_id(sub, rg, name).to_ascii_lowercase()
}

/// The job as GET returns it: secret values are never returned.
pub fn render_job(job: &JobRecord) -> Value {
    let mut out = job.resource.clone();
    if let Some(secrets) = out
        .pointer_mut("/properties/configuration/secrets")
        .and_then(Value::as_array_mut)
    {
        for s in secrets {
            if let Some(o) = s.as_object_mut() {
                o.remove("value");
            }
        }
    }
    out
}

/// Finds a job or answers 404 with `code`.
pub fn require_job<'a>(
    arm: &'a ArmStore,
    sub: &str,
    rg: &str,
    name: &str,
    code: &str,
) -> Result<&'a JobRecord, ArmError> {
    arm.jobs.get(&job_key(sub, rg, name)).ok_or_else(|| {
        if code == "ResourceNotFound" {
            resource_not_found("Microsoft.App/jobs", name, rg)
        } else {
            ArmError::not_found(
                code,
                format!("Job '{name}' was not found in resource group '{rg}'."),
            )
        }
    })
}

/// Defaults Azure fills in: container resources and the manual trigger config.
pub(crate) fn apply_defaults(props: &mut Value) {
    for list in ["containers", "initContainers"] {
        if let Some(cs) = props
            .get_mut("template")
            .and_then(|t| t.get_mut(list))
            .and_then(Value::as_array_mut)
        {
            for c in cs.iter_mut().filter_map(Value::as_object_mut) {
                let r = c.entry("resources").or_insert_with(|| json!({}));
                if let Some(r) = r.as_object_mut() {
                    r.entry("cpu").or_insert(json!(0.5));
                    r.entry("memory").or_insert(json!("1Gi"));
                    r.entry("ephemeralStorage").or_insert(json!("2Gi"));
                }
            }
        }
    }
    if let Some(config) = props
        .get_mut("configuration")
        .and_then(Value::as_object_mut)
    {
        config.entry("replicaRetryLimit").or_insert(json!(0));
        if config.get("triggerType").and_then(Value::as_str) == Some("Manual") {
            config
                .entry("manualTriggerConfig")
                .or_insert_with(|| json!({"replicaCompletionCount": 1, "parallelism": 1}));
        }
    }
}

fn render_identity(identity: Option<&Value>, tenant: &str) -> Result<Option<Value>, ArmError> {
    let Some(identity) = identity.filter(|i| !i.is_null()) else {
        return Ok(None);
    };
    let mut identity = identity.clone();
    let kind = identity["type"].as_str().unwrap_or_default().to_string();
    if ![
        "None",
        "SystemAssigned",
        "UserAssigned",
        "SystemAssigned,UserAssigned",
    ]
    .contains(&kind.as_str())
    {
        return Err(ArmError::bad_request(
            "InvalidParameterValue",
            format!(
                "The identity type '{kind}' is not valid. Allowed values: None, SystemAssigned, UserAssigned, SystemAssigned,UserAssigned."
            ),
        ));
    }
    if kind.contains("SystemAssigned") {
        identity["principalId"] = json!(uuid::Uuid::new_v4().to_string());
        identity["tenantId"] = json!(tenant);
    }
    if let Some(uai) = identity
        .get_mut("userAssignedIdentities")
        .and_then(Value::as_object_mut)
    {
        for v in uai.values_mut() {
            *v = json!({
                "principalId": uuid::Uuid::new_v4().to_string(),
                "clientId": uuid::Uuid::new_v4().to_string(),
            });
        }
    }
    Ok(Some(identity))
}

/// What validation needs to know about an environment.
pub(crate) fn env_facts(arm: &ArmStore, env_key: &str) -> EnvFacts {
    let workload_profiles = arm
        .environments
        .get(env_key)
        .and_then(|e| e["properties"]["workloadProfiles"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let name = p["name"].as_str()?;
            let kind = p["workloadProfileType"].as_str().unwrap_or(name);
            Some((name.to_string(), kind.to_string()))
        })
        .collect();
    EnvFacts {
        storages: storage_names(arm, env_key),
        workload_profiles,
    }
}

/// Resolves the job's environment ID to a store key, checking it exists.
fn environment_key(arm: &ArmStore, env_id: &str) -> Result<String, ArmError> {
    let key = env_id.to_ascii_lowercase();
    if arm.environments.contains_key(&key) {
        Ok(key)
    } else {
        Err(ArmError::not_found(
            "ManagedEnvironmentNotFound",
            format!("The managed environment '{env_id}' was not found."),
        ))
    }
}

/// `PUT .../jobs/{jobName}`: 201 (new) or 200 (update), InProgress, with
/// `Azure-AsyncOperation`.
pub async fn put_job(
    State(state): State<Arc<AppState>>,
    Path((sub, rg, name)): Path<(String, String, String)>,
    body: Bytes,
) -> ArmResult {
    validate_job_name(&name)?;
    let body = parse_body(&body)?;
    let Some(obj) = body.as_object() else {
        return Err(ArmError::bad_request(
            "InvalidRequestContent",
            "The request content must be a JSON object.",
        ));
    };
    let location = match obj.get("location") {
        Some(Value::String(l)) if !l.trim().is_empty() => l.clone(),
        _ => {
            return Err(ArmError::bad_request(
                "LocationRequired",
                "The location property is required for this definition.",
            ));
        }
    };
    validate_tags(obj.get("tags"))?;
    // What Microsoft.App keeps: unknown and read-only properties dropped.
    let body = schema::accept(Body::Job, &body)?;
    let Some(obj) = body.as_object() else {
        return Err(ArmError::bad_request(
            "InvalidRequestContent",
            "The request content must be a JSON object.",
        ));
    };
    let mut props = obj.get("properties").cloned().unwrap_or(Value::Null);
    if !props.is_object() {
        return Err(ArmError::bad_request(
            "InvalidParameterValue",
            "The property 'properties' is required.",
        ));
    }
    apply_defaults(&mut props);
    let identity = render_identity(obj.get("identity"), &state.config.tenant_id)?;
    let faults = state.faults_snapshot();
    let mut arm = state.arm();
    let env_id = props["environmentId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if env_id.is_empty() {
        return Err(ArmError::bad_request(
            "InvalidManagedEnvironmentId",
            "Invalid ManagedEnvironmentId value ''. The property 'properties.environmentId' is required.",
        ));
    }
    let env_key = environment_key(&arm, &env_id)?;
    validate_job_properties(&props, &env_facts(&arm, &env_key))?;
    let key = job_key(&sub, &rg, &name);
    super::lock::check_job(&arm, &key, &name)?;
    let existing = arm.jobs.get(&key);
    if let Some(job) = existing {
        if job.resource["properties"]["provisioningState"] == "Deleting" {
            return Err(ArmError::conflict(
                "ContainerAppJobDeleting",
                format!("Job '{name}' is being deleted."),
            ));
        }
        if job.environment_key != env_key {
            return Err(ArmError::bad_request(
                "InvalidParameterValue",
                "The property 'properties.environmentId' cannot be changed after creation.",
            ));
        }
    }
    let status = if existing.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let op = arm.begin_operation(
        &sub,
        &location,
        OpEffect::JobProvisioned(key.clone()),
        None,
        &faults,
    );
    let mut resource = json!({
        "id": job_id(&sub, &rg, &name),
        "name": name,
        "type": "Microsoft.App/jobs",
        "location": location,
        "tags": obj.get("tags").filter(|t| !t.is_null()).cloned().unwrap_or_else(|| json!({})),
        "properties": props,
    });
    if let Some(identity) = identity {
        resource["identity"] = identity;
    }
    resource["properties"]["provisioningState"] = json!("InProgress");
    resource["properties"]["outboundIpAddresses"] = json!(["127.0.0.1"]);
    resource["properties"]["eventStreamEndpoint"] = json!(format!(
        "{}/subscriptions/{sub}/resourceGroups/{rg}/containerApps/{name}/eventstream",
        state.base_url()
    ));
    let record = JobRecord {
        resource,
        environment_key: env_key,
        pending_op: Some(op.id.clone()),
    };
    let rendered = render_job(&record);
    arm.jobs.insert(key, record);
    drop(arm);
    Ok(accepted(&state, &op, status, Some(rendered)))
}

/// `GET .../jobs/{jobName}`.
pub async fn get_job(
    State(state): State<Arc<AppState>>,
    Path((sub, rg, name)): Path<(String, String, String)>,
) -> ArmResult {
    let arm = state.arm();
    let job = require_job(&arm, &sub, &rg, &name, "ResourceNotFound")?;
    Ok(axum::Json(render_job(job)).into_response())
}

/// JSON merge patch (RFC 7396).
fn merge_patch(target: &mut Value, patch: &Value) {
    let Some(p) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Some(t) = target.as_object_mut() {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

/// `PATCH .../jobs/{jobName}`: merge, validate, 202 with the operation.
pub async fn patch_job(
    State(state): State<Arc<AppState>>,
    Path((sub, rg, name)): Path<(String, String, String)>,
    body: Bytes,
) -> ArmResult {
    let patch = parse_body(&body)?;
    let Some(obj) = patch.as_object() else {
        return Err(ArmError::bad_request(
            "InvalidRequestContent",
            "The request content must be a JSON object.",
        ));
    };
    validate_tags(obj.get("tags"))?;
    let mut patch = schema::accept(Body::JobPatch, &patch)?;
    // Read-only in `Job`, though `JobPatchProperties` does not mark them.
    if let Some(p) = patch.get_mut("properties").and_then(Value::as_object_mut) {
        p.remove("outboundIpAddresses");
        p.remove("eventStreamEndpoint");
    }
    let Some(obj) = patch.as_object() else {
        return Err(ArmError::bad_request(
            "InvalidRequestContent",
            "The request content must be a JSON object.",
        ));
    };
    let faults = state.faults_snapshot();
    let mut arm = state.arm();
    let job = require_job(&arm, &sub, &rg, &name, "ResourceNotFound")?;
    if job.resource["properties"]["provisioningState"] == "Deleting" {
        return Err(ArmError::conflict(
            "ContainerAppJobDeleting",
            format!("Job '{name}' is being deleted."),
        ));
    }
    let mut resource = job.resource.clone();
    let env_key = job.environment_key.clone();
    if let Some(p) = obj.get("properties").filter(|p| !p.is_null()) {
        if p.get("environmentId")
            .and_then(Value::as_str)
            .is_some_and(|e| !e.eq_ignore_ascii_case(&env_key))
        {
            return Err(ArmError::bad_request(
                "InvalidParameterValue",
                "The property 'properties.environmentId' cannot be changed after creation.",
            ));
        }
        merge_patch(&mut resource["properties"], p);
    }
    if let Some(t) = obj.get("tags") {
        resource["tags"] = if t.is_null() { json!({}) } else { t.clone() };
    }
    if let Some(i) = obj.get("identity") {
        match render_identity(Some(i), &state.config.tenant_id)? {
            Some(identity) => resource["identity"] = identity,
            None => {
                if let Some(o) = resource.as_object_mut() {
                    o.remove("identity");
                }
            }
        }
    }
    apply_defaults(&mut resource["properties"]);
    // A patch can null out what `Job` requires: the merged job is a `Job`.
    schema::check(Body::Job, &resource)?;
    validate_job_properties(&resource["properties"], &env_facts(&arm, &env_key))?;
    let key = job_key(&sub, &rg, &name);
    super::lock::check_job(&arm, &key, &name)?;
    let location = resource["location"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let op = arm.begin_operation(
        &sub,
        &location,
        OpEffect::JobProvisioned(key.clone()),
        None,
        &faults,
    );
    resource["properties"]["provisioningState"] = json!("InProgress");
    arm.jobs.insert(
        key,
        JobRecord {
            resource,
            environment_key: env_key,
            pending_op: Some(op.id.clone()),
        },
    );
    drop(arm);
    Ok(accepted(&state, &op, StatusCode::ACCEPTED, None))
}

/// `DELETE .../jobs/{jobName}`: 202 + `Location`; 204 when there is no such job.
pub async fn delete_job(
    State(state): State<Arc<AppState>>,
    Path((sub, rg, name)): Path<(String, String, String)>,
) -> ArmResult {
    let faults = state.faults_snapshot();
    let key = job_key(&sub, &rg, &name);
    let mut arm = state.arm();
    super::lock::check_job(&arm, &key, &name)?;
    let Some(job) = arm.jobs.get_mut(&key) else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    job.resource["properties"]["provisioningState"] = json!("Deleting");
    job.pending_op = None;
    let location = job.resource["location"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let running: Vec<String> = arm
        .executions
        .iter()
        .filter(|(_, e)| e.job_key == key && !e.status.is_terminal())
        .map(|(k, _)| k.clone())
        .collect();
    let op = arm.begin_operation(&sub, &location, OpEffect::JobDeleted(key), None, &faults);
    drop(arm);
    for exec in running {
        state.runner.stop(&exec);
    }
    Ok(accepted(&state, &op, StatusCode::ACCEPTED, None))
}

/// Jobs per page of a list, fewer than Azure returns so that clients'
/// `nextLink` paging is exercised.
pub const JOBS_PAGE_SIZE: usize = 20;

/// The query of a list request: `$skipToken` is the key of the last job of
/// the previous page (the store is ordered by key).
#[derive(Debug, Default, serde::Deserialize)]
pub struct ListQuery {
    #[serde(rename = "$skipToken")]
    skip_token: Option<String>,
}

fn list_jobs(state: &AppState, prefix: &str, path: &str, query: &ListQuery) -> Value {
    let arm = state.arm();
    let after = query.skip_token.as_deref().unwrap_or("");
    let mut page = arm
        .jobs
        .range::<str, _>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))
        .filter(|(k, _)| k.starts_with(prefix));
    let mut value = Vec::new();
    let mut last = None;
    for (key, job) in page.by_ref().take(JOBS_PAGE_SIZE) {
        value.push(render_job(job));
        last = Some(key.clone());
    }
    // Absent on the last page: the spec's `nextLink` is a string, never null.
    let next_link = match (last, page.next()) {
        (Some(last), Some(_)) => Value::String(format!(
            "{}{path}?api-version={}&$skipToken={}",
            state.base_url(),
            super::APP_API_VERSION,
            query_escape(&last)
        )),
        _ => Value::Null,
    };
    let mut body = json!({ "value": value });
    if !next_link.is_null() {
        body["nextLink"] = next_link;
    }
    body
}

/// `value` percent-encoded for a query string (unreserved characters and
/// `/` kept).
fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `GET .../resourceGroups/{rg}/providers/Microsoft.App/jobs`.
pub async fn list_by_resource_group(
    State(state): State<Arc<AppState>>,
    Path((sub, rg)): Path<(String, String)>,
    axum::extract::Query(query): axum::extract::Query<ListQuery>,
) -> ArmResult {
    let prefix = format!("/subscriptions/{sub}/resourcegroups/{rg}/").to_ascii_lowercase();
    let path = format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.App/jobs");
    Ok(axum::Json(list_jobs(&state, &prefix, &path, &query)).into_response())
}

/// `GET /subscriptions/{sub}/providers/Microsoft.App/jobs`.
pub async fn list_by_subscription(
    State(state): State<Arc<AppState>>,
    Path(sub): Path<String>,
    axum::extract::Query(query): axum::extract::Query<ListQuery>,
) -> ArmResult {
    let prefix = format!("/subscriptions/{sub}/").to_ascii_lowercase();
    let path = format!("/subscriptions/{sub}/providers/Microsoft.App/jobs");
    Ok(axum::Json(list_jobs(&state, &prefix, &path, &query)).into_response())
}

/// `POST .../jobs/{jobName}/listSecrets`.
pub async fn list_secrets(
    State(state): State<Arc<AppState>>,
    Path((sub, rg, name)): Path<(String, String, String)>,
) -> ArmResult {
    let arm = state.arm();
    let job = require_job(&arm, &sub, &rg, &name, "ResourceNotFound")?;
    let value = job.resource["properties"]["configuration"]["secrets"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    Ok(axum::Json(json!({ "value": value })).into_response())
}
