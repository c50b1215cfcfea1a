//! One replica from its scheduling to its end. It waits its scheduling
//! delay, then stays pending (the execution `Running`, its containers
//! `Waiting` with the reason) while its volumes cannot be mounted or its
//! images cannot be pulled, retrying with the kubelet's back-off, until
//! `replicaTimeout`; then its init containers run one after another and its
//! containers together. A stop or the timeout terminates it with a grace
//! period.

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use serde_json::Value;
use tokio::sync::watch;

use super::launch::set_status;
use super::replica::{ContainerEnd, Replica, TERMINATION_GRACE};
use super::status::{self, ContainerStatus};
use super::{LaunchSpec, StopKind, pull, schedule, volumes};
use crate::arm::store::ExecStatus;
use crate::state::AppState;
use crate::util;

/// How a replica ended.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplicaEnd {
    /// Every container exited 0.
    Succeeded,
    /// A container failed, could not start, or the replica timed out: why.
    Failed(String),
    /// Stopped before it ended.
    Stopped,
}

enum Outcome {
    Exited(Vec<(String, ContainerEnd)>),
    Error(String),
    TimedOut,
    Stopped(StopKind),
}

/// Runs one replica of `spec`; `timeout` (`replicaTimeout`) counts from the
/// end of scheduling, through pending, to the end of its containers.
pub async fn run(
    docker: &Docker,
    state: &AppState,
    spec: &LaunchSpec,
    mut stop: watch::Receiver<StopKind>,
    timeout: Duration,
) -> ReplicaEnd {
    let name = format!("{}-{}", spec.exec_name, util::random_suffix(5));
    let delay = schedule::delay(&state.timing());
    if !delay.is_zero() {
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.wait_for(|k| *k != StopKind::None) => return ReplicaEnd::Stopped,
        }
    }
    let mut r = Replica::new(docker, state, spec, name);
    let mut pending: Option<String> = None;
    let outcome = {
        let work = body(&mut r, &mut pending);
        tokio::select! {
            res = tokio::time::timeout(timeout, work) => match res {
                Ok(Ok(ends)) => Outcome::Exited(ends),
                Ok(Err(e)) => Outcome::Error(e),
                Err(_) => Outcome::TimedOut,
            },
            k = stop.wait_for(|k| *k != StopKind::None) => {
                Outcome::Stopped(k.map(|k| *k).unwrap_or(StopKind::Kill))
            }
        }
    };
    match &outcome {
        Outcome::Stopped(StopKind::Graceful) | Outcome::TimedOut => {
            r.terminate(TERMINATION_GRACE, &mut stop).await;
        }
        _ => r.kill_all().await,
    }
    let mains = names(&spec.template["containers"]);
    let (end, shown) = match outcome {
        Outcome::Exited(ends) => {
            let shown: Vec<ContainerStatus> = ends
                .iter()
                .map(|(n, e)| ContainerStatus {
                    name: n.clone(),
                    status: if e.succeeded() { "Succeeded" } else { "Failed" },
                    code: Some(e.code),
                    info: e.reason().to_string(),
                })
                .collect();
            let failed: Vec<String> = ends
                .iter()
                .filter(|(_, e)| !e.succeeded())
                .map(|(n, e)| {
                    format!(
                        "container '{n}' exited with code {} ({})",
                        e.code,
                        e.reason()
                    )
                })
                .collect();
            let end = if failed.is_empty() {
                ReplicaEnd::Succeeded
            } else {
                ReplicaEnd::Failed(failed.join("; "))
            };
            (end, shown)
        }
        Outcome::Error(e) => (
            ReplicaEnd::Failed(e.clone()),
            finals(&r, &mains, "Failed", &e).await,
        ),
        Outcome::TimedOut => {
            let why = match &pending {
                Some(p) => format!(
                    "DeadlineExceeded: the replica was still pending after replicaTimeout ({} s): {p}",
                    timeout.as_secs()
                ),
                None => format!(
                    "DeadlineExceeded: the replica ran longer than replicaTimeout ({} s)",
                    timeout.as_secs()
                ),
            };
            (
                ReplicaEnd::Failed(why.clone()),
                finals(&r, &mains, "Failed", &why).await,
            )
        }
        Outcome::Stopped(_) => (
            ReplicaEnd::Stopped,
            finals(&r, &mains, "Stopped", "Stopped").await,
        ),
    };
    status::set_replica(state, &spec.exec_key, &r.name, &shown);
    if let ReplicaEnd::Failed(why) = &end {
        tracing::info!(replica = %r.name, reason = %why, "replica failed");
    }
    r.cleanup().await;
    end
}

/// What each container shows once the replica ended early: the started
/// ones with their exit codes, the others with `why`.
async fn finals(
    r: &Replica<'_>,
    mains: &[String],
    status: &'static str,
    why: &str,
) -> Vec<ContainerStatus> {
    let mut out = Vec::new();
    for (name, id) in &r.started {
        let code = r.end_of(id).await.ok();
        let info = match code {
            Some(e) if e.oom => "OOMKilled".to_string(),
            _ => why.to_string(),
        };
        out.push(ContainerStatus {
            name: name.clone(),
            status,
            code: code.map(|e| e.code),
            info,
        });
    }
    for name in mains {
        if !r.started.iter().any(|(n, _)| n == name) {
            out.push(ContainerStatus::new(name, status, why));
        }
    }
    out
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect()
}

/// Shows the replica pending for `reason` and waits out the back-off.
async fn wait_pending(
    r: &Replica<'_>,
    pending: &mut Option<String>,
    reason: String,
    failures: u32,
) {
    if pending.as_deref() != Some(reason.as_str()) {
        tracing::info!(replica = %r.name, %reason, "replica pending");
    }
    set_status(r.state, &r.spec.exec_key, ExecStatus::Running);
    let shown: Vec<ContainerStatus> = names(&r.spec.template["containers"])
        .iter()
        .map(|n| ContainerStatus::new(n, "Waiting", reason.clone()))
        .collect();
    status::set_replica(r.state, &r.spec.exec_key, &r.name, &shown);
    *pending = Some(reason);
    tokio::time::sleep(pull::backoff(failures)).await;
}

async fn body(
    r: &mut Replica<'_>,
    pending: &mut Option<String>,
) -> Result<Vec<(String, ContainerEnd)>, String> {
    let (state, spec) = (r.state, r.spec);
    let secrets = volumes::secret_values(&spec.configuration);
    let mut failures = 0;
    let vols = loop {
        let mounted = volumes::check_account_keys(
            &spec.template,
            &spec.environment_key,
            &spec.storages,
            &state.config.storage_accounts,
        )
        .and_then(|()| {
            volumes::prepare(
                &spec.template,
                &state.data_dir,
                &r.name,
                &spec.environment_key,
                &spec.storages,
                &secrets,
            )
        });
        match mounted {
            Ok(v) => break v,
            Err(e) => {
                failures += 1;
                let reason = format!("ContainerCreating: MountVolume.SetUp failed: {e}");
                wait_pending(r, pending, reason, failures).await;
            }
        }
    };
    let inits: Vec<Value> = spec.template["initContainers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mains: Vec<Value> = spec.template["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut images: Vec<&str> = inits
        .iter()
        .chain(mains.iter())
        .filter_map(|c| c["image"].as_str())
        .collect();
    images.sort_unstable();
    images.dedup();
    let mut failures = 0;
    for image in images {
        loop {
            let creds = pull::credentials_for(state, spec, image, &secrets);
            match pull::pull(state, r.docker, image, creds).await {
                Ok(()) => break,
                Err(e) => {
                    failures += 1;
                    wait_pending(r, pending, format!("ImagePullBackOff: {e}"), failures).await;
                }
            }
        }
    }
    *pending = None;
    run_containers(r, &inits, &mains, &vols, &secrets).await
}

async fn run_containers(
    r: &mut Replica<'_>,
    inits: &[Value],
    mains: &[Value],
    vols: &HashMap<String, volumes::HostVolume>,
    secrets: &HashMap<String, String>,
) -> Result<Vec<(String, ContainerEnd)>, String> {
    let net = r
        .state
        .runner
        .prepare_network()
        .await
        .map_err(|e| format!("the emulator's replica network is not available: {e}"))?;
    let (sandbox, files) = r.sandbox(&net).await?;
    let joined = format!("container:{sandbox}");
    set_status(r.state, &r.spec.exec_key, ExecStatus::Running);
    for c in inits {
        let id = r.create(c, &joined, &files, vols, secrets).await?;
        r.start(&id, c).await?;
        let end = r.wait_end(&id).await?;
        if !end.succeeded() {
            let name = c["name"].as_str().unwrap_or_default().to_string();
            return Ok(vec![(name, end)]);
        }
    }
    let mut ids = Vec::new();
    for c in mains {
        ids.push(r.create(c, &joined, &files, vols, secrets).await?);
    }
    for (id, c) in ids.iter().zip(mains) {
        r.start(id, c).await?;
    }
    let running: Vec<ContainerStatus> = mains
        .iter()
        .filter_map(|c| c["name"].as_str())
        .map(|n| ContainerStatus::new(n, "Running", "Started"))
        .collect();
    status::set_replica(r.state, &r.spec.exec_key, &r.name, &running);
    let mut ends = Vec::new();
    for (id, c) in ids.iter().zip(mains) {
        let name = c["name"].as_str().unwrap_or_default().to_string();
        ends.push((name, r.wait_end(id).await?));
    }
    Ok(ends)
}
