//! The running state of a container: recorded when its agent connects
//! ([`mark_running`]), waited out by stop, kill and removal.

use std::time::Duration;

use sockerless_api::Result;

use super::state::ContainerRuntime;
use super::{StoredConfig, find_container};
use crate::AcaBackend;
use crate::clock::now_nanos;

/// Records that the agent of `id` is connected: state running.
pub async fn mark_running(backend: &AcaBackend, id: &str) -> Result<()> {
    let record = find_container(backend, id).await?;
    let rt = backend.runtimes().get(&record);
    // An agent reconnecting after a daemon restart: the published ports
    // open again (nothing happens when they are open).
    if let Err(e) = StoredConfig::of(&record)
        .and_then(|s| crate::ports::open(&rt, &record.name, &record.id, &s.body))
    {
        tracing::warn!(container = %record.id, error = %e, "published ports not reopened");
    }
    let (running, now) = (record.id.clone(), now_nanos());
    let started = backend
        .store()
        .call(move |c| crate::store::records::mark_running(c, &running, now))
        .await?;
    if started {
        // Here, not when `docker start` returns: the process may exit first.
        crate::events::actors::container_started(backend, &record.id).await;
    }
    rt.state.send_if_modified(|s| {
        let changed = !s.running;
        s.running = true;
        changed
    });
    crate::relay::changed(backend);
    Ok(())
}

/// Waits up to `within` for the main process to be no longer running;
/// whether it stopped.
pub async fn wait_not_running(rt: &ContainerRuntime, within: Duration) -> bool {
    let mut rx = rt.state.subscribe();
    matches!(
        tokio::time::timeout(within, rx.wait_for(|s| !s.running)).await,
        Ok(Ok(_))
    )
}

/// The process exited and its binds are being synced back: waits for the
/// sync (bounded by `bind_sync_timeout_secs`) rather than killing the replica.
pub async fn wait_synced(backend: &AcaBackend, rt: &ContainerRuntime) -> bool {
    if !*rt.syncing.borrow() {
        return false;
    }
    let bound = Duration::from_secs(backend.config().bind_sync_timeout_secs + 5);
    wait_not_running(rt, bound).await
}
