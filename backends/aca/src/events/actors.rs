//! What each part of the backend records, with dockerd's `Actor.Attributes`:
//! one call at the place where the operation succeeded.
//!
//! Container events carry the container's labels, `image` (as given at
//! create) and `name`; image events `name`; network events `name` and
//! `type`; volume events `driver`.

use std::collections::BTreeMap;

use crate::AcaBackend;
use crate::containers::health::HealthStatus;
use crate::store::ContainerRecord;

type Attrs = BTreeMap<String, String>;

/// dockerd's attributes of a container event: labels, then `image` and
/// `name`, then what the action adds.
pub fn container_attributes(record: &ContainerRecord, extra: &[(&str, String)]) -> Attrs {
    let mut attrs: Attrs = crate::runtime::StoredConfig::of(record)
        .ok()
        .and_then(|s| s.body.labels)
        .unwrap_or_default()
        .into_iter()
        .collect();
    if !record.image.is_empty() {
        attrs.insert("image".into(), record.image.clone());
    }
    attrs.insert("name".into(), record.name.clone());
    for (k, v) in extra {
        attrs.insert((*k).to_owned(), v.clone());
    }
    attrs
}

/// A container event for `record`.
pub fn container(
    backend: &AcaBackend,
    record: &ContainerRecord,
    action: &str,
    extra: &[(&str, String)],
) {
    backend.event_hub().record(
        "container",
        action,
        &record.id,
        container_attributes(record, extra),
    );
}

/// A container event for the container `id` (ID, prefix or name), looked up
/// now; nothing when it is gone.
pub async fn container_id(backend: &AcaBackend, id: &str, action: &str, extra: &[(&str, String)]) {
    match crate::runtime::find_container(backend, id).await {
        Ok(record) => container(backend, &record, action, extra),
        Err(e) => {
            tracing::debug!(container = id, action, error = %e, "event without its container")
        }
    }
}

/// The volumes of a container: (name, destination, read-write).
fn volumes_of(record: &ContainerRecord) -> Vec<(String, String, bool)> {
    let mounts = crate::runtime::StoredConfig::of(record)
        .map(|s| s.mounts)
        .unwrap_or_default();
    mounts
        .into_iter()
        .filter_map(|m| match m {
            crate::containers::mounts::MountSpec::Volume {
                name,
                target,
                read_only,
                ..
            } if !name.is_empty() => Some((name, target, !read_only)),
            _ => None,
        })
        .collect()
}

/// The networks of a container: (ID, name).
async fn networks_of(backend: &AcaBackend, record: &ContainerRecord) -> Vec<(String, String)> {
    match crate::networks::endpoints::Table::load(backend).await {
        Ok(table) => table
            .of(record)
            .into_iter()
            .map(|e| (e.network_id, e.network))
            .collect(),
        Err(e) => {
            tracing::debug!(container = %record.id, error = %e, "no network events");
            Vec::new()
        }
    }
}

/// A run began: as dockerd, `connect` for each network and `mount` for
/// each volume, then `start`.
pub async fn container_started(backend: &AcaBackend, id: &str) {
    let record = match crate::runtime::find_container(backend, id).await {
        Ok(record) => record,
        Err(e) => {
            return tracing::debug!(container = id, error = %e, "start event without its container");
        }
    };
    for (net_id, net_name) in networks_of(backend, &record).await {
        network(backend, "connect", &net_id, &net_name, Some(&record.id));
    }
    for (name, destination, read_write) in volumes_of(&record) {
        volume_mount(backend, &name, &record.id, &destination, read_write);
    }
    container(backend, &record, "start", &[]);
}

/// `die` with `exitCode` and `execDuration` (whole seconds of the run);
/// then, as dockerd, `disconnect` from each network and `unmount` of each
/// volume.
pub async fn die(backend: &AcaBackend, record: &ContainerRecord, code: i64) {
    let ran = match (record.started_at, record.finished_at) {
        (Some(start), Some(end)) => end.saturating_sub(start).max(0) / 1_000_000_000,
        _ => 0,
    };
    container(
        backend,
        record,
        "die",
        &[
            ("exitCode", code.to_string()),
            ("execDuration", ran.to_string()),
        ],
    );
    for (name, _, _) in volumes_of(record) {
        volume_unmount(backend, &name, &record.id);
    }
    for (net_id, net_name) in networks_of(backend, record).await {
        network(backend, "disconnect", &net_id, &net_name, Some(&record.id));
    }
}

/// `kill` with the signal's number.
pub fn kill(backend: &AcaBackend, record: &ContainerRecord, signal: i32) {
    container(backend, record, "kill", &[("signal", signal.to_string())]);
}

/// `rename` with the old name (dockerd's `oldName` keeps its `/`).
pub async fn rename(backend: &AcaBackend, id: &str, old_name: &str) {
    container_id(
        backend,
        id,
        "rename",
        &[("oldName", format!("/{old_name}"))],
    )
    .await;
}

/// `resize` with the new size.
pub async fn resize(backend: &AcaBackend, id: &str, height: u16, width: u16) {
    let extra = [("height", height.to_string()), ("width", width.to_string())];
    container_id(backend, id, "resize", &extra).await;
}

/// `pause` (for the pause slice to call).
pub async fn pause(backend: &AcaBackend, id: &str) {
    container_id(backend, id, "pause", &[]).await;
}

/// `unpause` (for the pause slice to call).
pub async fn unpause(backend: &AcaBackend, id: &str) {
    container_id(backend, id, "unpause", &[]).await;
}

/// `exec_create: <cmd>` / `exec_start: <cmd>` with `execID`: dockerd puts
/// the command line in the action.
pub async fn exec(
    backend: &AcaBackend,
    container: &str,
    action: &str,
    exec_id: &str,
    cmd: &[String],
) {
    let action = format!("{action}: {}", cmd.join(" "));
    container_id(
        backend,
        container,
        &action,
        &[("execID", exec_id.to_owned())],
    )
    .await;
}

/// `exec_die` with `execID` and `exitCode`.
pub async fn exec_die(backend: &AcaBackend, container: &str, exec_id: &str, code: i64) {
    let extra = [
        ("execID", exec_id.to_owned()),
        ("exitCode", code.to_string()),
    ];
    container_id(backend, container, "exec_die", &extra).await;
}

/// `health_status: healthy` etc. when a report changed the status (dockerd's
/// action carries the status).
pub async fn health_changed(
    hub: &super::EventHub,
    id: &str,
    before: Option<HealthStatus>,
    after: Option<HealthStatus>,
) {
    let Some(status) = after.filter(|a| Some(*a) != before) else {
        return;
    };
    let key = id.to_owned();
    match hub
        .store
        .read(move |c| crate::store::records::get_container(c, &key))
        .await
    {
        Ok(Some(record)) => hub.record(
            "container",
            &format!("health_status: {}", status.as_str()),
            &record.id,
            container_attributes(&record, &[]),
        ),
        Ok(None) => {}
        Err(e) => tracing::debug!(container = id, error = %e, "health event without its container"),
    }
}

/// `archive-path` (`docker cp` out) or `extract-to-dir` (`docker cp` in).
pub async fn archive(backend: &AcaBackend, id: &str, action: &str) {
    container_id(backend, id, action, &[]).await;
}

/// An image event: `actor` is the image ID (or the reference for `pull`
/// and `push`), `name` the reference the action was about.
pub fn image(backend: &AcaBackend, action: &str, actor: &str, name: &str) {
    let attrs = Attrs::from([("name".to_owned(), name.to_owned())]);
    backend.event_hub().record("image", action, actor, attrs);
}

/// `pull` of `reference` (dockerd's actor is the reference itself).
pub fn image_pull(backend: &AcaBackend, reference: &str) {
    image(backend, "pull", reference, reference);
}

/// The pull's progress, recording `pull` once it ended without an error.
pub fn on_pulled(
    backend: &AcaBackend,
    reference: Option<String>,
    progress: sockerless_api::ProgressStream,
) -> sockerless_api::ProgressStream {
    use futures_util::StreamExt;
    let failed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = failed.clone();
    let watched = progress.inspect(move |item| {
        if item.as_ref().map_or(true, |i| i.error_detail.is_some()) {
            seen.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
    let backend = backend.clone();
    let done = futures_util::stream::once(async move {
        if let Some(reference) = reference
            && !failed.load(std::sync::atomic::Ordering::Relaxed)
        {
            image_pull(&backend, &reference);
        }
    })
    .filter_map(|()| async { None });
    watched.chain(done).boxed()
}

/// `untag` for each name removed and `delete` for each image deleted
/// (dockerd names both by the image ID).
pub fn image_removed(
    backend: &AcaBackend,
    id: Option<&str>,
    items: &[sockerless_api::docker::ImageDeleteResponseItem],
) {
    for item in items {
        if let (Some(_), Some(id)) = (&item.untagged, id) {
            image(backend, "untag", id, id);
        }
        if let Some(deleted) = &item.deleted {
            image(backend, "delete", deleted, deleted);
        }
    }
}

/// `push` of `reference` (for the push slice to call).
pub fn image_push(backend: &AcaBackend, reference: &str) {
    image(backend, "push", reference, reference);
}

/// `save` of the image `id` (for the save slice to call).
pub fn image_save(backend: &AcaBackend, id: &str, name: &str) {
    image(backend, "save", id, name);
}

/// `import` of the image `id` (for the import slice to call).
pub fn image_import(backend: &AcaBackend, id: &str, name: &str) {
    image(backend, "import", id, name);
}

/// A network event: `create`, `destroy`, or with `container` for
/// `connect` / `disconnect`.
pub fn network(backend: &AcaBackend, action: &str, id: &str, name: &str, container: Option<&str>) {
    let mut attrs = Attrs::from([
        ("name".to_owned(), name.to_owned()),
        ("type".to_owned(), "bridge".to_owned()),
    ]);
    if let Some(container) = container {
        attrs.insert("container".into(), container.to_owned());
    }
    backend.event_hub().record("network", action, id, attrs);
}

/// A volume event (`create`, `destroy`) with its driver.
pub fn volume(backend: &AcaBackend, action: &str, name: &str, driver: &str) {
    let attrs = Attrs::from([("driver".to_owned(), driver.to_owned())]);
    backend.event_hub().record("volume", action, name, attrs);
}

/// `mount` of volume `name` into `container` at `destination`.
pub fn volume_mount(
    backend: &AcaBackend,
    name: &str,
    container: &str,
    destination: &str,
    read_write: bool,
) {
    let attrs = Attrs::from([
        ("container".to_owned(), container.to_owned()),
        ("destination".to_owned(), destination.to_owned()),
        ("driver".to_owned(), "local".to_owned()),
        ("propagation".to_owned(), String::new()),
        ("read/write".to_owned(), read_write.to_string()),
    ]);
    backend.event_hub().record("volume", "mount", name, attrs);
}

/// `unmount` of volume `name` from `container`.
pub fn volume_unmount(backend: &AcaBackend, name: &str, container: &str) {
    let attrs = Attrs::from([
        ("container".to_owned(), container.to_owned()),
        ("driver".to_owned(), "local".to_owned()),
    ]);
    backend.event_hub().record("volume", "unmount", name, attrs);
}
