//! When the agent is gone (disconnected without reporting an exit for longer
//! than `agent_grace_secs`), the exit comes from the execution status: one
//! poller per container, with backoff, never while the agent is connected.
//! `Succeeded` → 0, `Failed` → 1, `Stopped` → 137 (as if killed); a missing
//! execution → 137.

use std::sync::Arc;
use std::time::Duration;

use sockerless_azure::pipeline::count_arm_calls;

use crate::AcaBackend;
use crate::runtime::exit::{EXIT_STOPPED, record_exit};
use crate::runtime::find_container;
use crate::runtime::state::ContainerRuntime;

/// Longest wait between two polls.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The exit code of a finished execution status; `None` while it runs.
pub fn exit_code_for_status(status: &str) -> Option<i64> {
    match status {
        "Succeeded" => Some(0),
        "Failed" => Some(1),
        "Stopped" => Some(EXIT_STOPPED),
        _ => None,
    }
}

/// Starts the grace timer (and then the poller) for a disconnected agent;
/// a reconnection cancels it.
pub fn watch_disconnected(backend: AcaBackend, rt: Arc<ContainerRuntime>) {
    let grace = Duration::from_secs(backend.config().agent_grace_secs);
    let task_rt = rt.clone();
    let task = tokio::spawn(count_arm_calls(rt.arm.clone(), async move {
        tokio::time::sleep(grace).await;
        poll_until_exit(&backend, &task_rt).await;
    }));
    rt.set_watchdog(task);
}

async fn poll_until_exit(backend: &AcaBackend, rt: &Arc<ContainerRuntime>) {
    let mut backoff = Duration::from_secs(2);
    loop {
        if !rt.state.borrow().running || rt.agent().is_some() {
            return;
        }
        let record = match find_container(backend, &rt.id).await {
            Ok(r) => r,
            Err(_) => return,
        };
        let Some(execution) = record.execution_name.clone() else {
            record_exit(backend, rt, EXIT_STOPPED).await;
            return;
        };
        match backend
            .azure()
            .jobs
            .get_execution(&record.job_name, &execution)
            .await
        {
            Ok(Some(exec)) => {
                if let Some(code) = exec.status().and_then(exit_code_for_status) {
                    tracing::info!(container = %rt.id, %execution, status = exec.status().unwrap_or(""), code, "exit taken from the execution status");
                    record_exit(backend, rt, code).await;
                    return;
                }
            }
            Ok(None) => {
                record_exit(backend, rt, EXIT_STOPPED).await;
                return;
            }
            Err(e) => {
                tracing::info!(container = %rt.id, error = %e, "execution status unavailable")
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::store::{ContainerRecord, records};
    use sockerless_api::{Backend, WaitCondition};
    use sockerless_azure::pipeline::AzureOptions;
    use sockerless_azure::test_support::{StaticCredential, Stub, StubReply};

    const ID: &str = "abcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcd";

    /// A container recorded as running whose agent never comes back: after
    /// the grace period the execution status gives the exit code.
    #[tokio::test]
    async fn startup_reconciliation_takes_the_exit_from_the_execution() {
        let stub = Stub::start(|_, method, path, n| match (method, path) {
            ("GET", p)
                if p.ends_with("/jobs/sl-abcdefabcdefabcdefabcdefabcde/executions/exec-1") =>
            {
                let status = if n == 0 { "Running" } else { "Succeeded" };
                StubReply::json(
                    200,
                    &format!(r#"{{"name":"exec-1","properties":{{"status":"{status}"}}}}"#),
                )
            }
            _ => StubReply::json(
                404,
                r#"{"error":{"code":"ResourceNotFound","message":"no"}}"#,
            ),
        })
        .await;
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config::new("sub", "rg", "env", "eastus");
        config.data_dir = dir.path().to_owned();
        config.arm_endpoint = stub.base.clone();
        config.agent_listen = "tcp://127.0.0.1:0".into();
        config.agent_grace_secs = 0;
        let backend = AcaBackend::with_credential(
            config,
            Arc::new(StaticCredential),
            AzureOptions::default(),
        )
        .await
        .expect("backend");
        let record = ContainerRecord {
            id: ID.into(),
            name: "gone".into(),
            image: "busybox".into(),
            job_name: crate::names::job_name(ID).expect("job"),
            execution_name: Some("exec-1".into()),
            agent_address: None,
            agent_token_hash: Some(crate::store::hash_token("t")),
            state: "running".into(),
            exit_code: None,
            created_at: 1,
            started_at: Some(2),
            finished_at: None,
            config: crate::runtime::StoredConfig::default()
                .to_value()
                .expect("json"),
        };
        backend
            .store()
            .call(move |c| records::put_container(c, &record))
            .await
            .expect("put");
        backend.start_agent_endpoint().await.expect("endpoint");
        let status = backend
            .container_wait(ID, WaitCondition::NotRunning)
            .await
            .expect("wait");
        assert_eq!(status.status_code, 0);
        let state = backend
            .container_inspect(ID)
            .await
            .expect("inspect")
            .state
            .expect("state");
        assert_eq!((state.running, state.exit_code), (Some(false), Some(0)));
        assert_eq!(
            stub.calls()
                .iter()
                .filter(|c| c.contains("executions/exec-1"))
                .count(),
            2,
            "one poller, two reads"
        );
        assert_eq!(backend.arm_calls(ID).reads, 2);
    }

    #[test]
    fn statuses_map_to_exit_codes() {
        assert_eq!(exit_code_for_status("Succeeded"), Some(0));
        assert_eq!(exit_code_for_status("Failed"), Some(1));
        assert_eq!(exit_code_for_status("Stopped"), Some(137));
        assert_eq!(exit_code_for_status("Running"), None);
        assert_eq!(exit_code_for_status("Processing"), None);
    }
}
