//! `docker update`: the restart policy at any time; resources only while the
//! container is not running (an ACA replica's CPU and memory are fixed when
//! it starts), checked by the same rules as create and applied at the next
//! start. A running container's resources are refused by name.

use serde_json::{Map, Value};
use sockerless_api::docker::{ContainerCreateBody, ContainerUpdateBody, ContainerUpdateResponse};
use sockerless_api::{ApiError, Result};

use crate::AcaBackend;
use crate::runtime::{StoredConfig, find_container};

/// What an update body asks for: a new restart policy, and the resource
/// fields given (dockerd treats a zero, empty or null field as unchanged).
#[derive(Debug, Default, PartialEq)]
pub struct Requested {
    /// `RestartPolicy`, when its `Name` is set.
    pub restart_policy: Option<Value>,
    /// `HostConfig` field → value, for every resource field given.
    pub resources: Map<String, Value>,
}

/// Splits an update body (pure).
pub fn requested(update: &Value) -> Requested {
    let mut out = Requested::default();
    let Some(fields) = update.as_object() else {
        return out;
    };
    for (key, value) in fields {
        if key == "RestartPolicy" {
            let named = value
                .get("Name")
                .and_then(Value::as_str)
                .is_some_and(|n| !n.is_empty());
            if named {
                out.restart_policy = Some(value.clone());
            }
        } else if is_given(value) {
            out.resources.insert(key.clone(), value.clone());
        }
    }
    out
}

fn is_given(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// The stored Docker config with the update applied (pure).
pub fn apply(body: &ContainerCreateBody, req: &Requested) -> Result<Value> {
    let mut value = serde_json::to_value(body)
        .map_err(|e| ApiError::Internal(format!("encode container config: {e}")))?;
    let Some(root) = value.as_object_mut() else {
        return Err(ApiError::Internal(
            "container config is not an object".into(),
        ));
    };
    let host = root
        .entry("HostConfig")
        .or_insert_with(|| Value::Object(Map::new()));
    if !host.is_object() {
        *host = Value::Object(Map::new());
    }
    if let Some(host) = host.as_object_mut() {
        for (k, v) in &req.resources {
            host.insert(k.clone(), v.clone());
        }
        if let Some(policy) = &req.restart_policy {
            host.insert("RestartPolicy".into(), policy.clone());
        }
    }
    Ok(value)
}

/// `Backend::container_update`.
pub async fn update(
    backend: &AcaBackend,
    id: &str,
    update: ContainerUpdateBody,
) -> Result<ContainerUpdateResponse> {
    let update = serde_json::to_value(&update)
        .map_err(|e| ApiError::Internal(format!("encode update: {e}")))?;
    let req = requested(&update);
    let found = find_container(backend, id).await?;
    let rt = backend.runtimes().get(&found);
    // Not while a start reads the config it is about to run.
    let _guard = rt.op_lock.lock().await;
    let record = find_container(backend, &found.id).await?;
    let stored = StoredConfig::of(&record)?;
    let running = rt.state.borrow().running;
    if running && !req.resources.is_empty() {
        let names: Vec<&str> = req.resources.keys().map(String::as_str).collect();
        return Err(ApiError::Conflict(format!(
            "Cannot update container {}: {} cannot change while it runs: an Azure Container Apps replica's resources are fixed when it starts (stop the container, update it, then start it)",
            record.id,
            names.join(", ")
        )));
    }
    let auto_remove = stored.auto_remove();
    if req.restart_policy.is_some() && auto_remove {
        return Err(ApiError::InvalidParameter(
            "Restart policy cannot be updated because AutoRemove is enabled for the container"
                .into(),
        ));
    }
    let value = apply(&stored.body, &req)?;
    let body: ContainerCreateBody = serde_json::from_value(value.clone())
        .map_err(|e| ApiError::InvalidParameter(format!("invalid update: {e}")))?;
    // The rules of create: what create refuses, update refuses.
    super::fields::check(&value)?;
    crate::runtime::restart_policy::check_create(&body)?;
    super::ulimits::check_create(&body)?;
    let host = body.host_config.as_ref();
    crate::runtime::template::resources_for(
        host.and_then(|h| h.nano_cpus),
        host.and_then(|h| h.memory),
    )?;
    let cid = record.id.clone();
    backend
        .store()
        .call(move |c| crate::store::records::set_body(c, &cid, &value))
        .await?;
    Ok(ContainerUpdateResponse {
        warnings: Some(Vec::new()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn zero_and_null_fields_are_unchanged_as_in_dockerd() {
        // What the Docker CLI sends for `docker update --restart always c`.
        let body = json!({
            "CpuShares": 0, "Memory": 0, "CgroupParent": "", "BlkioWeightDevice": null,
            "CpusetCpus": "", "MemorySwappiness": null, "OomKillDisable": false,
            "PidsLimit": null, "Ulimits": null, "NanoCpus": 0,
            "RestartPolicy": {"Name": "always", "MaximumRetryCount": 0}
        });
        let req = requested(&body);
        assert_eq!(
            req.restart_policy,
            Some(json!({"Name": "always", "MaximumRetryCount": 0}))
        );
        assert!(req.resources.is_empty(), "{:?}", req.resources);
        let req = requested(&json!({"Memory": 268435456, "RestartPolicy": {"Name": ""}}));
        assert_eq!(req.restart_policy, None);
        assert_eq!(req.resources.keys().collect::<Vec<_>>(), ["Memory"]);
    }

    #[test]
    fn the_update_lands_in_host_config() {
        let body: ContainerCreateBody =
            serde_json::from_value(json!({"Image": "busybox", "HostConfig": {"Memory": 1}}))
                .expect("body");
        let req = requested(
            &json!({"NanoCpus": 500000000, "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 2}}),
        );
        let value = apply(&body, &req).expect("apply");
        assert_eq!(value["HostConfig"]["NanoCpus"], 500000000);
        assert_eq!(value["HostConfig"]["Memory"], 1);
        assert_eq!(value["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 2);
        let bare: ContainerCreateBody =
            serde_json::from_value(json!({"Image": "busybox"})).expect("body");
        let value = apply(&bare, &req).expect("apply");
        assert_eq!(value["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
    }
}
