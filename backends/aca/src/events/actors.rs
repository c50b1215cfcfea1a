//! What each part of the backend records, with dockerd's `Actor.Attributes`:
//! one call at the place where the operation succeeded.
//!
//! Container events carry the container's labels, `image` (as given at
//! create) and `name`; image events `name`; network events `name` and
//! `type`; volume events `driver`.

use std::collections::BTreeMap;

use crate::AcaBackend;
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
pub fn container(backend: &AcaBackend, record: &ContainerRecord, action: &str, extra: &[(&str, String)]) {
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
        Err(e) => tracing::debug!(container = id, action, error = %e, "event without its container"),
    }
}

/// `die` with `exitCode` and `execDuration` (whole seconds of the run).
pub fn die(backend: &AcaBackend, record: &ContainerRecord, code: i64) {
    let ran = match (record.started_at, record.finished_at) {
        (Some(start), Some(end)) => end.saturating_sub(start).max(0) / 1_000_000_000,
        _ => 0,
    };
    container(
        backend,
        record,
        "die",
        &[("exitCode", code.to_string()), ("execDuration", ran.to_string())],
    );
}

/// `kill` with the signal's number.
pub fn kill(backend: &AcaBackend, record: &ContainerRecord, signal: i32) {
    container(backend, record, "kill", &[("signal", signal.to_string())]);
}

/// `rename` with the old name (dockerd's `oldName` keeps its `/`).
pub async fn rename(backend: &AcaBackend, id: &str, old_name: &str) {
    container_id(backend, id, "rename", &[("oldName", format!("/{old_name}"))]).await;
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
pub async fn exec(backend: &AcaBackend, container: &str, action: &str, exec_id: &str, cmd: &[String]) {
    let action = format!("{action}: {}", cmd.join(" "));
    container_id(backend, container, &action, &[("execID", exec_id.to_owned())]).await;
}

/// `exec_die` with `execID` and `exitCode`.
pub async fn exec_die(backend: &AcaBackend, container: &str, exec_id: &str, code: i64) {
    let extra = [("execID", exec_id.to_owned()), ("exitCode", code.to_string())];
    container_id(backend, container, "exec_die", &extra).await;
}

/// `health_status: healthy` etc. (dockerd's action carries the status).
pub async fn health(backend: &AcaBackend, id: &str, status: &str) {
    container_id(backend, id, &format!("health_status: {status}"), &[]).await;
}

/// `archive-path` (`docker cp` out) or `extract-to-dir` (`docker cp` in).
pub async fn archive(backend: &AcaBackend, id: &str, action: &str, path: &str) {
    container_id(backend, id, action, &[("path", path.to_owned())]).await;
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
pub fn volume_mount(backend: &AcaBackend, name: &str, container: &str, destination: &str, read_write: bool) {
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
