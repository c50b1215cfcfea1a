//! An execution's `detailedStatus`: each replica's containers with their
//! status, exit code and the reason (`additionalInformation`), which is where
//! a client reads why an execution is pending or failed.

use serde_json::{Value, json};

use crate::state::AppState;

/// Replicas listed at most (retries and completions add more; the oldest go).
const MAX_REPLICAS: usize = 64;
/// Longest `additionalInformation` kept (an engine error can be long).
const MAX_INFO: usize = 2048;

/// One container of a replica as `detailedStatus` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerStatus {
    /// Container name from the template.
    pub name: String,
    /// `Waiting`, `Running`, `Succeeded`, `Failed` or `Stopped`.
    pub status: &'static str,
    /// Exit code once it ended.
    pub code: Option<i64>,
    /// Why: `ContainerCreating`, `ImagePullBackOff: …`, `Completed`, `Error`,
    /// `OOMKilled`, `DeadlineExceeded: …`.
    pub info: String,
}

impl ContainerStatus {
    /// A container in `status` for `info`, without an exit code.
    pub fn new(name: &str, status: &'static str, info: impl Into<String>) -> Self {
        ContainerStatus {
            name: name.to_string(),
            status,
            code: None,
            info: info.into(),
        }
    }

    fn render(&self) -> Value {
        let mut info = self.info.clone();
        if info.len() > MAX_INFO {
            let mut cut = MAX_INFO;
            while !info.is_char_boundary(cut) {
                cut -= 1;
            }
            info.truncate(cut);
        }
        let mut v =
            json!({"name": self.name, "status": self.status, "additionalInformation": info});
        if let Some(code) = self.code {
            v["code"] = json!(code);
        }
        v
    }
}

/// Replaces (or adds) `replica`'s entry in the execution's `detailedStatus`.
pub fn set_replica(
    state: &AppState,
    exec_key: &str,
    replica: &str,
    containers: &[ContainerStatus],
) {
    let entry = json!({
        "name": replica,
        "containers": containers.iter().map(ContainerStatus::render).collect::<Vec<_>>(),
    });
    let mut arm = state.arm();
    let Some(e) = arm.executions.get_mut(exec_key) else {
        return;
    };
    let detail = e
        .detailed_status
        .get_or_insert_with(|| json!({"replicas": []}));
    let Some(list) = detail["replicas"].as_array_mut() else {
        return;
    };
    match list.iter_mut().find(|r| r["name"] == replica) {
        Some(r) => *r = entry,
        None => {
            if list.len() >= MAX_REPLICAS {
                list.remove(0);
            }
            list.push(entry);
        }
    }
}
