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
//! The keys and their values are the defaults of the v1.44 models
//! ([`crate::v1_44`]; checked against a real dockerd by
//! `cmd/sockerless/tests/shape.rs`); keys API v1.44 dropped (`VirtualSize`,
//! `HostConfig.KernelMemory`, `Info.KernelMemory`) are not added.

use serde_json::{Map, Value};

use crate::v1_44;

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
    let graph_driver = || v1_44::GraphDriverData {
        name: ctx.driver.clone(),
        ..Default::default()
    };
    match kind {
        Kind::ContainerInspect => {
            fill(
                value,
                &[],
                &v1_44::ContainerInspect {
                    driver: ctx.driver.clone(),
                    graph_driver: graph_driver(),
                    ..Default::default()
                },
            );
            fill(value, &["HostConfig"], &v1_44::HostConfig::default());
            fill(value, &["State"], &v1_44::ContainerState::default());
            fill(value, &["Config"], &v1_44::ContainerConfig::default());
            fill(value, &["GraphDriver"], &graph_driver());
            fill(
                value,
                &["NetworkSettings", "Networks", "*"],
                &v1_44::EndpointSettings::default(),
            );
            legacy_network_settings(value);
        }
        Kind::ContainerSummary => {
            fill(value, &[], &v1_44::ContainerSummary::default());
            fill(
                value,
                &["NetworkSettings", "Networks", "*"],
                &v1_44::EndpointSettings::default(),
            );
        }
        Kind::ImageInspect => {
            fill(
                value,
                &[],
                &v1_44::ImageInspect {
                    graph_driver: graph_driver(),
                    ..Default::default()
                },
            );
            fill(value, &["Config"], &v1_44::ContainerConfig::default());
            fill(
                value,
                &["ContainerConfig"],
                &v1_44::ContainerConfig::default(),
            );
            fill(value, &["GraphDriver"], &graph_driver());
        }
        Kind::ImageSummary => fill(value, &[], &v1_44::ImageSummary::default()),
        Kind::Network => {
            fill(value, &[], &v1_44::Network::default());
            fill(value, &["IPAM"], &v1_44::Ipam::default());
        }
        Kind::Volume => fill(value, &[], &v1_44::Volume::default()),
        Kind::VolumeList => {
            fill(value, &[], &v1_44::VolumeListResponse::default());
            if let Some(volumes) = value.get_mut("Volumes") {
                complete(Kind::Volume, volumes, ctx);
            }
        }
        Kind::ExecInspect => {
            fill(value, &[], &v1_44::ExecInspect::default());
            fill(value, &["ProcessConfig"], &v1_44::ProcessConfig::default());
        }
        Kind::Info => {
            fill(value, &[], &v1_44::SystemInfo::default());
            fill(value, &["Swarm"], &v1_44::SwarmInfo::default());
            fill(
                value,
                &["RegistryConfig"],
                &v1_44::RegistryServiceConfig::default(),
            );
        }
        Kind::Version => fill(value, &[], &v1_44::SystemVersion::default()),
        Kind::DiskUsage => disk_usage(value, ctx),
    }
}

/// Inserts each key of `defaults` (a model, serialized) missing from the
/// objects at `path`.
fn fill(value: &mut Value, path: &[&str], defaults: &impl v1_44::Model) {
    fill_from(value, path, &v1_44::to_object(defaults));
}

/// [`fill`] with the defaults as JSON. A path step `*` is every value of a
/// map (containers' networks by name); a step through `null` or a
/// non-object stops there, as there is nothing to fill.
fn fill_from(value: &mut Value, path: &[&str], defaults: &Map<String, Value>) {
    let Some((step, rest)) = path.split_first() else {
        if let Value::Object(map) = value {
            for (key, default) in defaults {
                if !map.contains_key(key) {
                    map.insert(key.clone(), default.clone());
                }
            }
        }
        return;
    };
    match (value, *step) {
        (Value::Object(map), "*") => {
            for child in map.values_mut() {
                fill_from(child, rest, defaults);
            }
        }
        (Value::Object(map), key) => {
            if let Some(child) = map.get_mut(key) {
                fill_from(child, rest, defaults);
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
    for (key, default) in v1_44::to_object(&v1_44::NetworkSettings::default()) {
        if settings.contains_key(&key) {
            continue;
        }
        let from_bridge = v1_44::NetworkSettings::FROM_BRIDGE_ENDPOINT
            .contains(&key.as_str())
            .then(|| bridge.get(&key).cloned())
            .flatten();
        settings.insert(key, from_bridge.unwrap_or(default));
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
            let usage = v1_44::VolumeUsageData {
                ref_count,
                ..Default::default()
            };
            if let (Value::Object(map), Ok(usage)) = (volume, serde_json::to_value(usage)) {
                map.entry("UsageData").or_insert(usage);
            }
        }
    }
    if value.get("BuildCache").is_some() {
        // dockerd still sends the long-deprecated total next to the cache.
        fill(
            value,
            &[],
            &v1_44::SystemDataUsage {
                builder_size: Some(0),
                ..Default::default()
            },
        );
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
