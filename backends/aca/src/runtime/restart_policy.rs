//! `HostConfig.RestartPolicy` (`--restart`, Compose's `restart:`): after an
//! exit the backend starts the container again, as dockerd does — in its
//! lingering execution when there is one, otherwise in a new one that gets
//! the recorded changes. `docker stop`/`kill`/`rm` stop the restarts.
//!
//! Delays double from 100 ms up to 1 minute with each restart (dockerd's
//! backoff; not reset after a long run here). The policy (pure) is
//! [`next_start`]; [`schedule`] waits and starts.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::AcaBackend;
use crate::runtime::state::ContainerRuntime;
use crate::store::ContainerRecord;

const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(60);

/// The policy's name and retry bound, from a stored record.
fn policy(record: &ContainerRecord) -> (String, i64) {
    let body = record.config.get("body").unwrap_or(&record.config);
    let p = body.pointer("/HostConfig/RestartPolicy");
    let name = p
        .and_then(|p| p.get("Name"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
        .to_owned();
    let max = p
        .and_then(|p| p.get("MaximumRetryCount"))
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(0);
    (name, max)
}

/// Refuses what dockerd refuses at create: an unknown name, a retry count
/// without `on-failure`, a policy on an AutoRemove container.
pub fn check_create(
    body: &sockerless_api::docker::ContainerCreateBody,
) -> sockerless_api::Result<()> {
    use sockerless_api::ApiError;
    let Some(host) = body.host_config.as_ref() else {
        return Ok(());
    };
    let Some(policy) = host.restart_policy.as_ref() else {
        return Ok(());
    };
    let name = policy.name.map(|n| n.to_string()).unwrap_or_default();
    let max = policy.maximum_retry_count.unwrap_or(0);
    let restarts = !matches!(name.as_str(), "" | "no");
    if max < 0 {
        return Err(ApiError::InvalidParameter(
            "invalid restart policy: maximum retry count cannot be negative".into(),
        ));
    }
    if max > 0 && name != "on-failure" {
        return Err(ApiError::InvalidParameter(format!(
            "invalid restart policy: maximum retry count can only be used with 'on-failure', not {name:?}"
        )));
    }
    if restarts && host.auto_remove.unwrap_or(false) {
        return Err(ApiError::InvalidParameter(
            "can't create 'AutoRemove' container with restart policy".into(),
        ));
    }
    Ok(())
}

/// The delay before the next start, or `None` when the policy does not
/// restart: `restarts` done so far, the exit `code`, and whether the user
/// stopped the container.
pub fn next_start(
    name: &str,
    max: i64,
    restarts: i64,
    code: i64,
    stopped: bool,
) -> Option<Duration> {
    if stopped {
        return None;
    }
    let again = match name {
        "always" | "unless-stopped" => true,
        "on-failure" => code != 0 && (max <= 0 || restarts < max),
        _ => false,
    };
    if !again {
        return None;
    }
    let factor = 1u32
        .checked_shl(restarts.clamp(0, 16) as u32)
        .unwrap_or(u32::MAX);
    Some(FIRST_DELAY.saturating_mul(factor).min(MAX_DELAY))
}

/// After an exit is recorded: starts the container again when its policy
/// says so (and nobody stopped or removed it meanwhile).
pub fn schedule(
    backend: &AcaBackend,
    rt: &Arc<ContainerRuntime>,
    record: &ContainerRecord,
    code: i64,
) {
    let (name, max) = policy(record);
    let restarts = crate::runtime::StoredConfig::of(record)
        .map(|s| s.restart_count)
        .unwrap_or(0);
    let stopped = rt.stop_requested.load(Ordering::SeqCst);
    let Some(delay) = next_start(&name, max, restarts, code, stopped) else {
        return;
    };
    let backend = backend.clone();
    let rt = rt.clone();
    rt.restarting.store(true, Ordering::SeqCst);
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let snapshot = rt.state.borrow().clone();
        if snapshot.running || snapshot.removed || rt.stop_requested.load(Ordering::SeqCst) {
            rt.restarting.store(false, Ordering::SeqCst);
            return;
        }
        tracing::info!(container = %rt.id, policy = %name, "restarting (restart policy)");
        let started = crate::runtime::lifecycle::start(&backend, &rt.id).await;
        rt.restarting.store(false, Ordering::SeqCst);
        if let Err(e) = started {
            tracing::warn!(container = %rt.id, error = %e, "restart by the restart policy failed");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_policies() {
        assert_eq!(next_start("", 0, 0, 1, false), None);
        assert_eq!(next_start("no", 0, 0, 1, false), None);
        assert_eq!(next_start("always", 0, 0, 0, false), Some(FIRST_DELAY));
        assert_eq!(
            next_start("unless-stopped", 0, 3, 0, false),
            Some(FIRST_DELAY * 8)
        );
        assert_eq!(
            next_start("always", 0, 0, 0, true),
            None,
            "stopped by the user"
        );
        assert_eq!(next_start("on-failure", 0, 0, 0, false), None, "exit 0");
        assert_eq!(
            next_start("on-failure", 0, 5, 2, false),
            Some(FIRST_DELAY * 32)
        );
        assert_eq!(
            next_start("on-failure", 2, 1, 2, false),
            Some(FIRST_DELAY * 2)
        );
        assert_eq!(
            next_start("on-failure", 2, 2, 2, false),
            None,
            "retries used up"
        );
        assert_eq!(next_start("always", 0, 40, 0, false), Some(MAX_DELAY));
    }

    #[test]
    fn create_refuses_what_dockerd_refuses() {
        use sockerless_api::docker::{ContainerCreateBody, HostConfig, RestartPolicy};
        let body = |policy: serde_json::Value, auto_remove: bool| -> ContainerCreateBody {
            let policy: RestartPolicy = serde_json::from_value(policy).expect("policy");
            ContainerCreateBody {
                host_config: Some(HostConfig {
                    restart_policy: Some(policy),
                    auto_remove: Some(auto_remove),
                    ..Default::default()
                }),
                ..Default::default()
            }
        };
        use serde_json::json;
        for ok in [
            json!({"Name": "no"}),
            json!({"Name": ""}),
            json!({"Name": "always"}),
            json!({"Name": "unless-stopped"}),
            json!({"Name": "on-failure", "MaximumRetryCount": 3}),
        ] {
            check_create(&body(ok.clone(), false)).unwrap_or_else(|e| panic!("{ok}: {e:?}"));
        }
        check_create(&body(json!({"Name": "no"}), true)).expect("--rm without a policy");
        for (bad, needle) in [
            (
                body(json!({"Name": "always", "MaximumRetryCount": 2}), false),
                "on-failure",
            ),
            (
                body(
                    json!({"Name": "on-failure", "MaximumRetryCount": -1}),
                    false,
                ),
                "negative",
            ),
            (body(json!({"Name": "always"}), true), "AutoRemove"),
        ] {
            let err = check_create(&bad).expect_err(needle);
            assert!(err.message().contains(needle), "{err:?}");
        }
    }
}
