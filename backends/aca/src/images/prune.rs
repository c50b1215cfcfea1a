//! `docker image prune`: images no container uses, only the dangling ones
//! (no tag) unless `dangling=false` (`-a`), with the `label`, `label!` and
//! `until` filters; each removed as `docker rmi` of its tags would.

use sockerless_api::docker::{ImageDeleteResponseItem, ImagePruneResponse};
use sockerless_api::{Filters, RemoveImageOptions, Result};

use super::filters::{
    check_filter_names, labels_exclude, labels_match, parse_bool_filter, parse_until,
};
use super::{catalog, stored};
use crate::AcaBackend;
use crate::store::records;

const PRUNE_FILTERS: &[&str] = &["dangling", "label", "label!", "until"];

/// `Backend::image_prune`.
pub async fn prune(backend: &AcaBackend, filters: Filters) -> Result<ImagePruneResponse> {
    check_filter_names(&filters, PRUNE_FILTERS)?;
    let dangling_only = match filters.get("dangling") {
        Some(v) => parse_bool_filter("dangling", v)?.unwrap_or(true),
        None => true,
    };
    let until = match filters.get("until").and_then(|v| v.first()) {
        Some(v) => Some(parse_until(v)?),
        None => None,
    };
    let entries = stored::all(backend).await?;
    let containers = backend
        .store()
        .call(|c| records::list_containers(c))
        .await?;
    // Decided on one snapshot, removed afterwards.
    let mut doomed: Vec<(Vec<String>, i64)> = Vec::new();
    for group in catalog::groups(&entries) {
        let tags = group.repo_tags();
        let id = group.entries[0].image.id.clone();
        if dangling_only && !tags.is_empty() {
            continue;
        }
        if containers
            .iter()
            .any(|c| catalog::container_uses(&entries, c, &id))
        {
            continue;
        }
        let labels = group.labels();
        if !labels_match(&labels, filters.get("label"))
            || !labels_exclude(&labels, filters.get("label!"))
            || until.is_some_and(|u| group.created_unix().saturating_mul(1_000_000_000) >= u)
        {
            continue;
        }
        let names = if tags.is_empty() { vec![id] } else { tags };
        doomed.push((names, group.entries[0].image.size));
    }
    let mut deleted: Vec<ImageDeleteResponseItem> = Vec::new();
    let mut reclaimed: i64 = 0;
    for (names, size) in doomed {
        let mut gone = false;
        for name in names {
            match catalog::remove(backend, &name, RemoveImageOptions::default()).await {
                Ok(items) => {
                    gone |= items.iter().any(|i| i.deleted.is_some());
                    deleted.extend(items);
                }
                Err(e) => tracing::debug!(image = %name, error = %e, "not pruned"),
            }
        }
        if gone {
            reclaimed = reclaimed.saturating_add(size);
        }
    }
    Ok(ImagePruneResponse {
        images_deleted: Some(deleted),
        space_reclaimed: Some(reclaimed),
    })
}
