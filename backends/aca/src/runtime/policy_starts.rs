//! The restart policy's starts (the policy itself is
//! [`super::restart_policy`]): after an exit, the delayed start the policy
//! asks for ([`schedule`]); when the daemon starts, the containers dockerd
//! would start ([`start_with_the_daemon`]). Both start as `docker start`
//! does ([`super::lifecycle::start`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::restart_policy::{after_exit, starts_with_the_daemon_of};
use super::state::{ContainerRuntime, lock};
use crate::AcaBackend;
use crate::store::ContainerRecord;

/// After an exit is recorded: starts the container again when its policy
/// says so (and nobody stopped or removed it meanwhile).
pub fn schedule(
    backend: &AcaBackend,
    rt: &Arc<ContainerRuntime>,
    record: &ContainerRecord,
    code: i64,
) {
    let stopped = rt.stop_requested.load(Ordering::SeqCst);
    if let Some((delay, name)) = after_exit(&rt.restart_backoff, record, code, stopped) {
        start_later(backend, rt, delay, name);
    }
}

/// Starts the container after `delay` as its policy, unless it runs, is
/// gone or was stopped by then.
fn start_later(backend: &AcaBackend, rt: &Arc<ContainerRuntime>, delay: Duration, name: String) {
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
        lock(&rt.restart_backoff).set_by_policy(true);
        let started = crate::runtime::lifecycle::start(&backend, &rt.id).await;
        rt.restarting.store(false, Ordering::SeqCst);
        match started {
            Ok(()) => {}
            Err(sockerless_api::ApiError::NotModified(why)) => {
                lock(&rt.restart_backoff).set_by_policy(false);
                tracing::info!(container = %rt.id, why, "restart policy's start not needed");
            }
            Err(e) => {
                lock(&rt.restart_backoff).set_by_policy(false);
                tracing::warn!(container = %rt.id, error = %e, "restart by the restart policy failed");
            }
        }
    });
}

/// At daemon start (after the first reconciliation): the containers their
/// policy starts with the daemon, as a user's start would (dockerd's
/// restore), each once.
pub async fn start_with_the_daemon(backend: &AcaBackend) {
    let records = match backend
        .store()
        .call(|c| crate::store::records::list_containers(c))
        .await
    {
        Ok(records) => records,
        Err(e) => {
            tracing::warn!(error = %e, "restart policies: cannot list containers");
            return;
        }
    };
    for record in records {
        let Some(name) = starts_with_the_daemon_of(&record) else {
            continue;
        };
        let rt = backend.runtimes().get(&record);
        if rt.state.borrow().running || rt.restarting.load(Ordering::SeqCst) {
            continue;
        }
        let backend = backend.clone();
        tokio::spawn(async move {
            tracing::info!(container = %record.id, policy = %name, "starting with the daemon (restart policy)");
            match crate::runtime::lifecycle::start(&backend, &record.id).await {
                Ok(()) | Err(sockerless_api::ApiError::NotModified(_)) => {}
                Err(e) => {
                    tracing::warn!(container = %record.id, error = %e, "start with the daemon failed")
                }
            }
        });
    }
}
