//! One execution as a Kubernetes Job of replicas: `replicaCompletionCount`
//! replicas must succeed, at most `parallelism` run at a time, and more than
//! `replicaRetryLimit` failed replicas fail the execution (the others are
//! then terminated). A stop ends every replica, `Stopped`.

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde_json::Value;
use tokio::sync::watch;

use super::attempt::{self, ReplicaEnd};
use super::{LaunchSpec, StopKind, connect};
use crate::arm::store::ExecStatus;
use crate::state::AppState;

/// Most replicas of one execution running at once (each is a sandbox and
/// its containers on the engine).
const MAX_PARALLELISM: u64 = 10;
/// Most successful replicas an execution asks for.
const MAX_COMPLETIONS: u64 = 100;
/// Most failed replicas retried.
const MAX_RETRIES: u64 = 10;

/// (`parallelism`, `replicaCompletionCount`) of the job's trigger, 1 each
/// by default, bounded by the emulator.
pub fn replica_counts(configuration: &Value) -> (usize, usize) {
    let trigger = match configuration["triggerType"].as_str() {
        Some("Schedule") => "scheduleTriggerConfig",
        Some("Event") => "eventTriggerConfig",
        _ => "manualTriggerConfig",
    };
    let get = |field: &str, max: u64| -> usize {
        let v = configuration[trigger][field]
            .as_u64()
            .unwrap_or(1)
            .clamp(1, max);
        usize::try_from(v).unwrap_or(1)
    };
    (
        get("parallelism", MAX_PARALLELISM),
        get("replicaCompletionCount", MAX_COMPLETIONS),
    )
}

/// Runs one execution to its end; returns the final status and why.
pub async fn run(
    state: &AppState,
    spec: &LaunchSpec,
    mut outer: watch::Receiver<StopKind>,
) -> (ExecStatus, Option<String>) {
    let docker = match connect(state.runner.engine()).await {
        Ok(d) => d,
        Err(e) => return (ExecStatus::Failed, Some(e)),
    };
    let timeout = Duration::from_secs(
        spec.configuration["replicaTimeout"]
            .as_u64()
            .unwrap_or(1800)
            .max(1),
    );
    let retries = spec.configuration["replicaRetryLimit"]
        .as_u64()
        .unwrap_or(0)
        .min(MAX_RETRIES);
    let (parallelism, completions) = replica_counts(&spec.configuration);
    // Replicas listen here: a client's stop is forwarded, and a failed
    // execution terminates its remaining replicas through it too.
    let (local, replicas_rx) = watch::channel(StopKind::None);
    let escalate = |k: StopKind| {
        local.send_if_modified(|cur| {
            let was = *cur;
            *cur = (*cur).max(k);
            was != *cur
        });
    };
    let mut running = FuturesUnordered::new();
    let (mut succeeded, mut failures) = (0usize, 0u64);
    let (mut stopped, mut failed) = (false, None::<String>);
    let mut outer_open = true;
    let initial = *outer.borrow();
    if initial != StopKind::None {
        escalate(initial);
        stopped = true;
    }
    loop {
        while !stopped
            && failed.is_none()
            && running.len() < parallelism
            && succeeded + running.len() < completions
        {
            running.push(attempt::run(
                &docker,
                state,
                spec,
                replicas_rx.clone(),
                timeout,
            ));
        }
        if running.is_empty() {
            break;
        }
        tokio::select! {
            Some(end) = running.next() => match end {
                ReplicaEnd::Succeeded => succeeded += 1,
                ReplicaEnd::Stopped => {}
                ReplicaEnd::Failed(why) => {
                    failures += 1;
                    if failures > retries && failed.is_none() {
                        failed = Some(why);
                        escalate(StopKind::Graceful);
                    }
                }
            },
            changed = outer.changed(), if outer_open => {
                let k = match changed {
                    Ok(()) => *outer.borrow(),
                    Err(_) => {
                        // The runner dropped its handle: nobody can stop
                        // this execution any more but its own end.
                        outer_open = false;
                        StopKind::None
                    }
                };
                if k != StopKind::None {
                    stopped = true;
                    escalate(k);
                }
            }
        }
    }
    if stopped {
        (ExecStatus::Stopped, None)
    } else if let Some(why) = failed {
        (ExecStatus::Failed, Some(why))
    } else if succeeded >= completions {
        (ExecStatus::Succeeded, None)
    } else {
        (ExecStatus::Failed, Some("no replica completed".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_come_from_the_trigger_and_are_bounded() {
        assert_eq!(replica_counts(&json!({})), (1, 1));
        let manual = json!({"triggerType": "Manual", "manualTriggerConfig": {"parallelism": 2, "replicaCompletionCount": 3}});
        assert_eq!(replica_counts(&manual), (2, 3));
        let sched = json!({"triggerType": "Schedule", "scheduleTriggerConfig": {"parallelism": 500, "replicaCompletionCount": 0}});
        assert_eq!(replica_counts(&sched), (10, 1));
    }
}
