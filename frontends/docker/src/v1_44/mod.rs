//! Docker Engine API v1.44 as dockerd serializes it, where the Docker data
//! model (`bollard-stubs` 1.53) says otherwise.
//!
//! The backend speaks `bollard-stubs`, which skips every `None` and names
//! some keys as later API versions do; Docker clients index v1.44 bodies
//! directly and fail on a missing key. Each model here mirrors one schema of
//! the vendored swagger (`specs/docker/engine-api-v1.44.yaml`, at
//! [`Model::SWAGGER`]) and carries every property it names, checked by
//! `contract_tests.rs` (which reads a model's keys through its derived
//! `Deserialize`), so the module cannot drift from the spec.
//!
//! A model's `Default` is what dockerd sends for an object nothing was set
//! on: a key dockerd always writes (Go's field without `omitempty`) is a
//! plain field holding dockerd's value, or an `Option` serialized as `null`
//! where dockerd says `null`; a key dockerd leaves out when empty is an
//! `Option` skipped when `None`. [`crate::shape`] merges these defaults into
//! the backend's bodies; the routes answer with the others
//! ([`IdResponse`], [`EventMessage`], [`CreateImageInfo`],
//! [`SystemDataUsage`]) directly. Values describe sockerless where dockerd's
//! describe the host: no cgroup knobs it does not honour (`false`), no
//! runtime but `runc` (the only `HostConfig.Runtime` create accepts), no
//! paths it masks itself (`[]`).

use serde::Serialize;
use serde_json::{Map, Value};

mod containers;
mod exec;
mod host_config;
mod images;
mod info;
mod networks;
mod system;
mod volumes;

#[cfg(test)]
mod contract_tests;

pub use containers::{ContainerInspect, ContainerState, ContainerSummary, GraphDriverData};
pub use exec::{ExecInspect, ProcessConfig};
pub use host_config::{ContainerConfig, HostConfig};
pub use images::{ImageInspect, ImageSummary};
pub use info::{RegistryServiceConfig, SwarmInfo, SystemInfo};
pub use networks::{EndpointSettings, Ipam, Network, NetworkSettings};
pub use system::{CreateImageInfo, EventMessage, IdResponse, SystemDataUsage, SystemVersion};
pub use volumes::{Volume, VolumeListResponse, VolumeUsageData};

/// A v1.44 model: where the swagger defines it.
#[cfg_attr(
    not(test),
    expect(
        dead_code,
        reason = "where a model comes from is read by its contract test"
    )
)]
pub trait Model: Serialize + Default {
    /// JSON pointer into the swagger (as JSON) to the schema this model mirrors.
    const SWAGGER: &'static str;
    /// Keys dockerd sends that the swagger does not name.
    const EXTRA: &'static [&'static str] = &[];
}

/// `model` as a JSON object, its keys as dockerd writes them.
pub fn to_object(model: &impl Serialize) -> Map<String, Value> {
    match serde_json::to_value(model) {
        Ok(Value::Object(map)) => map,
        // Every model is a struct of string-keyed data (`contract_tests` checks
        // each serializes to an object), so this cannot happen.
        other => {
            tracing::error!(?other, "a v1.44 model did not serialize to an object");
            Map::new()
        }
    }
}
