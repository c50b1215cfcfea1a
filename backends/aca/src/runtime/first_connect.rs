//! The wait for a new execution's agent to connect, and what to tell the
//! Docker user when it never does. Until the agent connects nothing reports
//! from inside the replica, so the execution is watched (with backoff): it
//! may end first (a failed init container, a replica that ran out of
//! `replicaTimeout`), or stay `Running` with a replica pending on an image it
//! cannot pull or a share it cannot mount, which Azure keeps retrying until
//! `replicaTimeout`. The wait is bounded by that too.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use sockerless_azure::models::JobExecution;

use crate::AcaBackend;

/// First and longest pause between two reads of the execution.
const POLL_FIRST: Duration = Duration::from_secs(2);
const POLL_MAX: Duration = Duration::from_secs(30);

/// One new execution waiting for its agent.
pub struct Waiting<'a> {
    /// The backend.
    pub backend: &'a AcaBackend,
    /// Container ID.
    pub container: &'a str,
    /// Job name.
    pub job: &'a str,
    /// Execution name.
    pub execution: &'a str,
    /// The image the replica runs.
    pub image: &'a str,
    /// The job's `replicaTimeout`, seconds.
    pub replica_timeout_secs: u64,
}

impl Waiting<'_> {
    /// Resolves `Ok` once `connected` does (with `true`), else with the
    /// message for the user: the execution ended first, or the wait (the
    /// connect timeout or `replicaTimeout`, whichever is shorter) ran out.
    pub async fn agent_connected(
        &self,
        connected: impl Future<Output = bool>,
    ) -> Result<(), String> {
        let connect_timeout = self.backend.config().agent_connect_timeout_secs;
        let bounded_by_replica = self.replica_timeout_secs <= connect_timeout;
        let wait = Duration::from_secs(connect_timeout.min(self.replica_timeout_secs));
        let reason = Mutex::new(None::<String>);
        let ended = tokio::select! {
            up = tokio::time::timeout(wait, connected) => {
                if matches!(up, Ok(true)) {
                    return Ok(());
                }
                None
            }
            status = self.ended(&reason) => Some(status),
        };
        if ended.is_none() {
            // The polls back off: the replica may have told why since the last.
            if let Ok(Some(e)) = self
                .backend
                .azure()
                .jobs
                .get_execution(self.job, self.execution)
                .await
                && let Some(r) = pending_reason(&e)
            {
                *reason.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
            }
        }
        let reason = reason
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .map(|r| format!(" (the replica reported: {r})"))
            .unwrap_or_default();
        let (job, execution, image) = (self.job, self.execution, self.image);
        Err(match ended {
            Some(status) => format!(
                "execution {execution} of job {job} ended with status {status} before the sockerless agent \
                 connected{reason}: the image {image} could not be pulled from inside Azure Container Apps, \
                 an init container or the agent failed, or the replicaTimeout passed; \
                 ContainerAppSystemLogs_CL has the replica's events"
            ),
            None if bounded_by_replica => format!(
                "the replica of execution {execution} (job {job}) did not start the sockerless agent within \
                 the job's replicaTimeout of {} s{reason}: its image {image} could not be pulled from inside \
                 Azure Container Apps (registry credentials or network), or its volumes' storage is missing; \
                 ContainerAppSystemLogs_CL has the replica's events",
                self.replica_timeout_secs
            ),
            None => format!(
                "the sockerless agent of container {} did not connect within {} s (execution {execution} of \
                 job {job}){reason}; check that agent_callback_url is reachable from Azure Container Apps",
                self.container,
                wait.as_secs()
            ),
        })
    }

    /// Reads the execution with backoff until it ends; returns its status,
    /// keeping the last reason a pending replica gave in `reason`.
    async fn ended(&self, reason: &Mutex<Option<String>>) -> String {
        let mut pause = POLL_FIRST;
        loop {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(POLL_MAX);
            match self
                .backend
                .azure()
                .jobs
                .get_execution(self.job, self.execution)
                .await
            {
                Ok(Some(e)) => {
                    if let Some(r) = pending_reason(&e) {
                        *reason.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
                    }
                    if let Some(s) = e
                        .status()
                        .filter(|s| matches!(*s, "Failed" | "Stopped" | "Succeeded"))
                    {
                        return s.to_owned();
                    }
                }
                Ok(None) => return "NotFound".to_owned(),
                Err(e) => {
                    tracing::debug!(execution = %self.execution, error = %e, "execution status unavailable")
                }
            }
        }
    }
}

/// Longest reason quoted from Azure in a message.
const MAX_REASON: usize = 400;

/// Why a replica's container is not running, from `detailedStatus` (API
/// versions after 2025-01-01 send it; 2025-01-01 answers have none): the
/// first container neither running nor done, e.g. `ImagePullBackOff: …`.
pub fn pending_reason(execution: &JobExecution) -> Option<String> {
    let detailed = execution.properties.as_ref()?.detailed_status.as_ref()?;
    let containers = detailed
        .get("replicas")?
        .as_array()?
        .iter()
        .filter_map(|r| r.get("containers").and_then(Value::as_array))
        .flatten();
    for c in containers {
        let status = c.get("status").and_then(Value::as_str).unwrap_or_default();
        if matches!(status, "Running" | "Succeeded") {
            continue;
        }
        if let Some(info) = c
            .get("additionalInformation")
            .and_then(Value::as_str)
            .filter(|i| !i.is_empty())
        {
            return Some(elide_middle(
                &info.split_whitespace().collect::<Vec<_>>().join(" "),
            ));
        }
    }
    None
}

/// `text` within [`MAX_REASON`] bytes: its start and its end (where a pull
/// error's cause is) with `…` between.
fn elide_middle(text: &str) -> String {
    if text.len() <= MAX_REASON {
        return text.to_owned();
    }
    let half = MAX_REASON / 2;
    let mut head = half;
    while !text.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = text.len() - half;
    while !text.is_char_boundary(tail) {
        tail += 1;
    }
    format!("{}…{}", &text[..head], &text[tail..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn execution(detailed: Value) -> JobExecution {
        serde_json::from_value(serde_json::json!({
            "name": "e",
            "properties": {"status": "Running", "detailedStatus": detailed}
        }))
        .expect("execution")
    }

    #[test]
    fn the_reason_is_the_first_container_neither_running_nor_done() {
        let e = execution(serde_json::json!({"replicas": [
            {"name": "r1", "containers": [
                {"name": "agent", "status": "Succeeded", "additionalInformation": "Completed"},
                {"name": "main", "status": "Waiting", "code": 0,
                 "additionalInformation": "ImagePullBackOff: dial tcp\n 10.0.0.1:5000: i/o timeout"}
            ]}
        ]}));
        assert_eq!(
            pending_reason(&e).as_deref(),
            Some("ImagePullBackOff: dial tcp 10.0.0.1:5000: i/o timeout")
        );
    }

    #[test]
    fn no_detailed_status_or_nothing_pending_is_no_reason() {
        let bare: JobExecution =
            serde_json::from_value(serde_json::json!({"properties": {"status": "Running"}}))
                .expect("execution");
        assert_eq!(pending_reason(&bare), None);
        let running = execution(serde_json::json!({"replicas": [
            {"containers": [{"name": "main", "status": "Running"}]}
        ]}));
        assert_eq!(pending_reason(&running), None);
        let long = execution(serde_json::json!({"replicas": [
            {"containers": [{"status": "Waiting", "additionalInformation": "é".repeat(500)}]}
        ]}));
        let r = pending_reason(&long).expect("reason");
        assert!(r.len() <= MAX_REASON + '…'.len_utf8(), "{}", r.len());
        let pull = format!(
            "ImagePullBackOff: {} dial tcp 127.0.0.1:5000: i/o timeout",
            "x".repeat(900)
        );
        let r = elide_middle(&pull);
        assert!(
            r.starts_with("ImagePullBackOff: ") && r.ends_with("i/o timeout"),
            "{r}"
        );
    }
}
