//! `docker container prune`: removes every container that is not running
//! (nor restarting by its policy), as dockerd does, with its `label`,
//! `label!` and `until` filters.

use sockerless_api::docker::ContainerPruneResponse;
use sockerless_api::{Filters, RemoveContainerOptions, Result};

use crate::AcaBackend;
use crate::images::filters::{check_filter_names, labels_exclude, labels_match, parse_until};
use crate::runtime::StoredConfig;
use crate::store::records;

const PRUNE_FILTERS: &[&str] = &["label", "label!", "until"];

/// `Backend::container_prune`.
pub async fn prune(backend: &AcaBackend, filters: Filters) -> Result<ContainerPruneResponse> {
    check_filter_names(&filters, PRUNE_FILTERS)?;
    let until = match filters.get("until").and_then(|v| v.first()) {
        Some(v) => Some(parse_until(v)?),
        None => None,
    };
    let rows = backend
        .store()
        .call(|c| records::list_containers(c))
        .await?;
    let mut deleted = Vec::new();
    let mut reclaimed: i64 = 0;
    for record in rows {
        let rt = backend.runtimes().get(&record);
        let busy = record.state == "running"
            || rt.state.borrow().running
            || rt.restarting.load(std::sync::atomic::Ordering::SeqCst);
        if busy || until.is_some_and(|u| record.created_at >= u) {
            continue;
        }
        let labels = StoredConfig::of(&record)
            .ok()
            .and_then(|s| s.body.labels)
            .unwrap_or_default();
        if !labels_match(&labels, filters.get("label"))
            || !labels_exclude(&labels, filters.get("label!"))
        {
            continue;
        }
        // The kept changes are the container's writable layer here.
        let size = std::fs::metadata(crate::changes::record_path(backend, &record.id))
            .map_or(0, |m| i64::try_from(m.len()).unwrap_or(i64::MAX));
        match crate::runtime::lifecycle::remove(
            backend,
            &record.id,
            RemoveContainerOptions::default(),
        )
        .await
        {
            Ok(()) => {
                reclaimed = reclaimed.saturating_add(size);
                deleted.push(record.id);
            }
            // Started meanwhile, or already removed: not pruned, as dockerd.
            Err(e) => tracing::debug!(container = %record.id, error = %e, "not pruned"),
        }
    }
    Ok(ContainerPruneResponse {
        containers_deleted: Some(deleted),
        space_reclaimed: Some(reclaimed),
    })
}
