//! Job executions: `start` (with template override), list / get, stop one,
//! stop many.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::jobs::{apply_defaults, env_facts, job_id, job_key, require_job};
use super::lro::accepted;
use super::schema::{self, Body};
use super::store::{ExecStatus, ExecutionRecord, OpEffect};
use super::validate::validate_execution_template;
use super::{ArmError, ArmResult, parse_body};
use crate::runner::LaunchSpec;
use crate::state::AppState;
use crate::util;

/// Fields of a `JobExecutionContainer`.
const EXEC_CONTAINER_FIELDS: &[&str] = &["image", "name", "command", "args", "env", "resources"];

/// The template an execution runs. A start override replaces the job's
/// `containers` and `initContainers` as a whole, as Azure does: no field is
/// merged from the job's containers (so their volume mounts, probes and
/// unlisted init containers are not part of the execution); the job's
/// volumes stay, unmounted. The override's containers get the job's
/// defaults (resources).
pub(crate) fn effective_template(job_template: &Value, over: Option<&Value>) -> Value {
    let mut out = job_template.clone();
    let Some(over) = over else { return out };
    let Some(t) = out.as_object_mut() else {
        return out;
    };
    for list in ["containers", "initContainers"] {
        match over.get(list).filter(|v| v.is_array()) {
            Some(items) => {
                t.insert(list.to_string(), items.clone());
            }
            None => {
                t.remove(list);
            }
        }
    }
    let mut props = json!({ "template": out });
    apply_defaults(&mut props);
    props["template"].take()
}

/// The `JobExecutionTemplate` view of a full template.
fn execution_view(template: &Value) -> Value {
    let mut out = json!({});
    for list in ["containers", "initContainers"] {
        if let Some(items) = template[list].as_array() {
            let v: Vec<Value> = items
                .iter()
                .map(|c| {
                    let mut o = serde_json::Map::new();
                    for f in EXEC_CONTAINER_FIELDS {
                        if let Some(v) = c.get(*f) {
                            o.insert((*f).to_string(), v.clone());
                        }
                    }
                    Value::Object(o)
                })
                .collect();
            out[list] = Value::Array(v);
        }
    }
    out
}

/// `POST .../jobs/{jobName}/start`: 202, `Location`, body `{id, name}`.
pub async fn start(
    State(state): State<Arc<AppState>>,
    Path((sub, rg, name)): Path<(String, String, String)>,
    body: Bytes,
) -> ArmResult {
    let over = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        match parse_body(&body)? {
            Value::Null => None,
            v => Some(schema::accept(Body::JobStart, &v)?),
        }
    };
    let faults = state.faults_snapshot();
    let mut arm = state.arm();
    let job = require_job(&arm, &sub, &rg, &name, "JobNotFound")?;
    let provisioning = job.resource["properties"]["provisioningState"]
        .as_str()
        .unwrap_or_default();
    if provisioning != "Succeeded" {
        return Err(ArmError::conflict(
            "JobNotReady",
            format!(
                "Job '{name}' cannot be started while its provisioning state is '{provisioning}'."
            ),
        ));
    }
    if let Some(o) = &over {
        let env = env_facts(&arm, &job.environment_key);
        validate_execution_template(o, &job.resource["properties"], &env)?;
    }
    let job = job.clone();
    let template = effective_template(&job.resource["properties"]["template"], over.as_ref());
    let exec_name = format!("{name}-{}", util::random_suffix(7));
    let exec_id = format!("{}/executions/{exec_name}", job_id(&sub, &rg, &name));
    let exec_key = exec_id.to_ascii_lowercase();
    let seq = arm.next_seq();
    arm.executions.insert(
        exec_key.clone(),
        ExecutionRecord {
            id: exec_id.clone(),
            name: exec_name.clone(),
            job_key: job_key(&sub, &rg, &name),
            status: ExecStatus::Processing,
            start_time: util::now_rfc3339(),
            end_time: None,
            template: execution_view(&template),
            seq,
            detailed_status: None,
        },
    );
    let workspace_id = arm
        .environment_workspaces
        .get(&job.environment_key)
        .cloned()
        .unwrap_or_default();
    let environment_name = arm
        .environments
        .get(&job.environment_key)
        .and_then(|e| e["name"].as_str().map(str::to_string))
        .unwrap_or_default();
    let storages = arm.storages.clone();
    let location = job.resource["location"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let base = json!({"id": exec_id, "name": exec_name});
    let op = arm.begin_operation(
        &sub,
        &location,
        OpEffect::Nothing,
        Some(base.clone()),
        &faults,
    );
    drop(arm);
    state.runner.launch(
        state.clone(),
        LaunchSpec {
            exec_key,
            exec_name,
            job_name: name,
            job_id: job.resource["id"].as_str().unwrap_or_default().to_string(),
            environment_key: job.environment_key.clone(),
            environment_name,
            workspace_id,
            configuration: job.resource["properties"]["configuration"].clone(),
            template,
            storages,
        },
    );
    Ok(accepted(&state, &op, StatusCode::ACCEPTED, Some(base)))
}

fn filter_status(q: &HashMap<String, String>) -> Result<Option<String>, ArmError> {
    let Some(f) = q.get("$filter") else {
        return Ok(None);
    };
    let parts: Vec<&str> = f.split_whitespace().collect();
    match parts.as_slice() {
        [field, op, value]
            if field.eq_ignore_ascii_case("properties/status") && op.eq_ignore_ascii_case("eq") =>
        {
            let v = value.trim_matches('\'');
            Ok(Some(v.to_string()))
        }
        _ => Err(ArmError::bad_request(
            "InvalidFilter",
            format!("The $filter '{f}' is not supported; use \"properties/status eq '<status>'\"."),
        )),
    }
}

/// `GET .../jobs/{jobName}/executions`, newest first.
pub async fn list(
    State(state): State<Arc<AppState>>,
    Path((sub, rg, name)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> ArmResult {
    let status = filter_status(&q)?;
    let arm = state.arm();
    require_job(&arm, &sub, &rg, &name, "JobNotFound")?;
    let key = job_key(&sub, &rg, &name);
    let mut execs: Vec<&ExecutionRecord> = arm
        .executions
        .values()
        .filter(|e| e.job_key == key)
        .filter(|e| {
            status
                .as_deref()
                .is_none_or(|s| e.status.as_str().eq_ignore_ascii_case(s))
        })
        .collect();
    execs.sort_by_key(|e| std::cmp::Reverse(e.seq));
    let value: Vec<Value> = execs.iter().map(|e| e.render()).collect();
    Ok(axum::Json(json!({ "value": value })).into_response())
}

fn require_execution(
    state: &AppState,
    sub: &str,
    rg: &str,
    name: &str,
    exec: &str,
) -> Result<ExecutionRecord, ArmError> {
    let arm = state.arm();
    require_job(&arm, sub, rg, name, "JobNotFound")?;
    let key = format!("{}/executions/{exec}", job_id(sub, rg, name)).to_ascii_lowercase();
    arm.executions.get(&key).cloned().ok_or_else(|| {
        ArmError::not_found(
            "JobExecutionNotFound",
            format!("Job execution '{exec}' of job '{name}' was not found."),
        )
    })
}

/// `GET .../jobs/{jobName}/executions/{jobExecutionName}`.
pub async fn get_one(
    State(state): State<Arc<AppState>>,
    Path((sub, rg, name, exec)): Path<(String, String, String, String)>,
) -> ArmResult {
    let e = require_execution(&state, &sub, &rg, &name, &exec)?;
    Ok(axum::Json(e.render()).into_response())
}

/// `POST .../executions/{jobExecutionName}/stop`: 202 + `Location`.
pub async fn stop_one(
    State(state): State<Arc<AppState>>,
    Path((sub, rg, name, exec)): Path<(String, String, String, String)>,
) -> ArmResult {
    let e = require_execution(&state, &sub, &rg, &name, &exec)?;
    if !e.status.is_terminal() {
        state.runner.stop(&e.id.to_ascii_lowercase());
    }
    let faults = state.faults_snapshot();
    let mut arm = state.arm();
    let location = arm
        .jobs
        .get(&e.job_key)
        .and_then(|j| j.resource["location"].as_str().map(str::to_string))
        .unwrap_or_default();
    let op = arm.begin_operation(&sub, &location, OpEffect::Nothing, None, &faults);
    drop(arm);
    Ok(accepted(&state, &op, StatusCode::ACCEPTED, None))
}

/// `POST .../jobs/{jobName}/stop`: stops every running execution; the
/// operation's result lists them.
pub async fn stop_many(
    State(state): State<Arc<AppState>>,
    Path((sub, rg, name)): Path<(String, String, String)>,
) -> ArmResult {
    let faults = state.faults_snapshot();
    let mut arm = state.arm();
    let job = require_job(&arm, &sub, &rg, &name, "JobNotFound")?;
    let location = job.resource["location"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let key = job_key(&sub, &rg, &name);
    let running: Vec<ExecutionRecord> = arm
        .executions
        .values()
        .filter(|e| e.job_key == key && !e.status.is_terminal())
        .cloned()
        .collect();
    let value: Vec<Value> = running
        .iter()
        .map(|e| json!({"id": e.id, "name": e.name, "type": "Microsoft.App/jobs/executions"}))
        .collect();
    let op = arm.begin_operation(
        &sub,
        &location,
        OpEffect::Nothing,
        Some(json!({ "value": value })),
        &faults,
    );
    drop(arm);
    for e in &running {
        state.runner.stop(&e.id.to_ascii_lowercase());
    }
    Ok(accepted(&state, &op, StatusCode::ACCEPTED, None))
}
