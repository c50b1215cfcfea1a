//! dockerd's response shapes: every key a dockerd response carries, added
//! where the backend left it out.
//!
//! Clients index responses directly (`c["HostConfig"]["LogConfig"]`,
//! `n["IPAMConfig"]`) and raise `KeyError` on a missing key, while the
//! Docker data model (`bollard-stubs`) skips every `None` when it serializes.
//! So the frontend, which owns what the Docker API promises, completes each
//! JSON body here: a missing key gets the value dockerd gives an unset one
//! (`null` where dockerd says `null`, `""`, `0`, `false`, `[]`, `{}`
//! otherwise). Keys the backend did set are never touched.
//!
//! The key lists are dockerd's (checked against a real dockerd by
//! `cmd/sockerless/tests/shape.rs`); keys API v1.44 dropped (`VirtualSize`,
//! `HostConfig.KernelMemory`, `Info.KernelMemory`) are not added.

use serde_json::{Map, Value, json};

mod tables;
#[cfg(test)]
mod tests;

/// Which response a body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `GET /containers/{id}/json`.
    ContainerInspect,
    /// One element of `GET /containers/json`.
    ContainerSummary,
    /// `GET /images/{name}/json`.
    ImageInspect,
    /// One element of `GET /images/json`.
    ImageSummary,
    /// `GET /networks/{id}` and each element of `GET /networks`.
    Network,
    /// `GET /volumes/{name}` and each volume of `GET /volumes`.
    Volume,
    /// `GET /volumes`.
    VolumeList,
    /// `GET /exec/{id}/json`.
    ExecInspect,
    /// `GET /info`.
    Info,
    /// `GET /version`.
    Version,
    /// `GET /system/df`.
    DiskUsage,
}

/// What the shapes need to know of the daemon: the storage driver name
/// (`Driver`, `GraphDriver.Name`), the same one `/info` reports.
#[derive(Debug, Clone)]
pub struct Context {
    /// `Info.Driver`.
    pub driver: String,
}

/// Adds dockerd's missing keys to `value` (a body of `kind`); an array is
/// completed element by element.
pub fn complete(kind: Kind, value: &mut Value, ctx: &Context) {
    if let Value::Array(items) = value {
        for item in items {
            complete(kind, item, ctx);
        }
        return;
    }
    match kind {
        Kind::ContainerInspect => {
            fill(value, &[], &tables::container_inspect(ctx));
            fill(value, &["HostConfig"], &tables::host_config());
            fill(value, &["State"], &tables::container_state());
            fill(value, &["Config"], &tables::container_config());
            fill(value, &["GraphDriver"], &tables::graph_driver(ctx));
            fill(value, &["NetworkSettings"], &[("Networks", json!({}))]);
            fill(
                value,
                &["NetworkSettings", "Networks", "*"],
                &tables::endpoint(),
            );
            legacy_network_settings(value);
        }
        Kind::ContainerSummary => {
            fill(value, &[], &tables::container_summary());
            fill(
                value,
                &["NetworkSettings", "Networks", "*"],
                &tables::endpoint(),
            );
        }
        Kind::ImageInspect => {
            fill(value, &[], &tables::image_inspect());
            fill(value, &["Config"], &tables::container_config());
            fill(value, &["ContainerConfig"], &tables::container_config());
            fill(value, &["GraphDriver"], &tables::graph_driver(ctx));
        }
        Kind::ImageSummary => fill(value, &[], &tables::image_summary()),
        Kind::Network => {
            fill(value, &[], &tables::network());
            fill(value, &["IPAM"], &tables::ipam());
        }
        Kind::Volume => fill(value, &[], &tables::volume()),
        Kind::VolumeList => {
            fill(
                value,
                &[],
                &[("Volumes", json!([])), ("Warnings", Value::Null)],
            );
            if let Some(volumes) = value.get_mut("Volumes") {
                complete(Kind::Volume, volumes, ctx);
            }
        }
        Kind::ExecInspect => {
            fill(value, &[], &tables::exec_inspect());
            fill(value, &["ProcessConfig"], &tables::process_config());
        }
        Kind::Info => {
            fill(value, &[], &tables::info());
            fill(value, &["Swarm"], &tables::swarm());
            fill(value, &["RegistryConfig"], &tables::registry_config());
        }
        Kind::Version => fill(value, &[], &tables::version()),
        Kind::DiskUsage => disk_usage(value, ctx),
    }
}

/// Inserts each `(key, default)` missing from the objects at `path`. A path
/// step `*` is every value of a map (containers' networks by name); a step
/// through `null` or a non-object stops there, as there is nothing to fill.
fn fill(value: &mut Value, path: &[&str], defaults: &[(&'static str, Value)]) {
    let Some((step, rest)) = path.split_first() else {
        if let Value::Object(map) = value {
            for (key, default) in defaults {
                if !map.contains_key(*key) {
                    map.insert((*key).to_owned(), default.clone());
                }
            }
        }
        return;
    };
    match (value, *step) {
        (Value::Object(map), "*") => {
            for child in map.values_mut() {
                fill(child, rest, defaults);
            }
        }
        (Value::Object(map), key) => {
            if let Some(child) = map.get_mut(key) {
                fill(child, rest, defaults);
            }
        }
        _ => {}
    }
}

/// The top-level `NetworkSettings` addresses are, as in dockerd, those of
/// the container's endpoint on the default `bridge` network; empty when it
/// has none.
fn legacy_network_settings(value: &mut Value) {
    let Some(Value::Object(settings)) = value.get_mut("NetworkSettings") else {
        return;
    };
    let bridge: Map<String, Value> = match settings.get("Networks").and_then(|n| n.get("bridge")) {
        Some(Value::Object(endpoint)) => endpoint.clone(),
        _ => Map::new(),
    };
    for (key, default) in tables::legacy_network_settings() {
        if settings.contains_key(key) {
            continue;
        }
        let from_bridge = tables::LEGACY_FROM_ENDPOINT
            .contains(&key)
            .then(|| bridge.get(key).cloned())
            .flatten();
        settings.insert(key.to_owned(), from_bridge.unwrap_or(default));
    }
}

/// `system df`: each listed object completed, each volume's `UsageData`
/// counted from the containers listed with it (`-1` when not listed, as
/// dockerd says for "not available").
fn disk_usage(value: &mut Value, ctx: &Context) {
    for (key, kind) in [
        ("Images", Kind::ImageSummary),
        ("Containers", Kind::ContainerSummary),
        ("Volumes", Kind::Volume),
    ] {
        if let Some(list) = value.get_mut(key) {
            complete(kind, list, ctx);
        }
    }
    let containers = value.get("Containers").and_then(Value::as_array).cloned();
    if let Some(Value::Array(volumes)) = value.get_mut("Volumes") {
        for volume in volumes.iter_mut() {
            let name = volume
                .get("Name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let ref_count = containers
                .as_ref()
                .map_or(-1, |list| users_of_volume(list, &name));
            fill(
                volume,
                &[],
                &[("UsageData", json!({"RefCount": ref_count, "Size": -1}))],
            );
        }
    }
    if value.get("BuildCache").is_some() {
        // dockerd still sends the long-deprecated total next to the cache.
        fill(value, &[], &[("BuilderSize", json!(0))]);
    }
}

/// How many of the listed containers mount the volume `name`.
fn users_of_volume(containers: &[Value], name: &str) -> i64 {
    containers
        .iter()
        .filter(|c| {
            c.get("Mounts")
                .and_then(Value::as_array)
                .is_some_and(|mounts| {
                    mounts.iter().any(|m| {
                        m.get("Type").and_then(Value::as_str) == Some("volume")
                            && m.get("Name").and_then(Value::as_str) == Some(name)
                    })
                })
        })
        .count() as i64
}
