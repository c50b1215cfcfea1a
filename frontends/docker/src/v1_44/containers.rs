//! Containers: inspect (`State`, `GraphDriver`) and the list's summary.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sockerless_api::docker;

use super::Model;
use super::host_config::{ContainerConfig, HostConfig};
use super::networks::{EndpointSettings, NetworkSettings};

/// `GET /containers/{id}/json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerInspect {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    pub path: String,
    pub args: Vec<String>,
    pub state: ContainerState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    pub resolv_conf_path: String,
    pub hostname_path: String,
    pub hosts_path: String,
    pub log_path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub restart_count: i64,
    pub driver: String,
    pub platform: String,
    pub mount_label: String,
    pub process_label: String,
    pub app_armor_profile: String,
    #[serde(rename = "ExecIDs")]
    pub exec_ids: Option<Vec<String>>,
    pub host_config: HostConfig,
    pub graph_driver: GraphDriverData,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_rw: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_root_fs: Option<i64>,
    pub mounts: Vec<docker::MountPoint>,
    pub config: ContainerConfig,
    pub network_settings: NetworkSettings,
}

impl Default for ContainerInspect {
    fn default() -> Self {
        Self {
            id: None,
            created: None,
            path: String::new(),
            args: Vec::new(),
            state: Default::default(),
            image: None,
            resolv_conf_path: String::new(),
            hostname_path: String::new(),
            hosts_path: String::new(),
            log_path: String::new(),
            name: None,
            restart_count: 0,
            driver: String::new(),
            platform: "linux".to_owned(),
            mount_label: String::new(),
            process_label: String::new(),
            app_armor_profile: String::new(),
            exec_ids: None,
            host_config: Default::default(),
            graph_driver: Default::default(),
            size_rw: None,
            size_root_fs: None,
            mounts: Vec::new(),
            config: Default::default(),
            network_settings: Default::default(),
        }
    }
}

impl Model for ContainerInspect {
    const SWAGGER: &'static str = "/paths/~1containers~1{id}~1json/get/responses/200/schema";
}

/// A container's `State`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerState {
    pub status: String,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub dead: bool,
    pub pid: i64,
    pub exit_code: i64,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<docker::Health>,
}

impl Default for ContainerState {
    fn default() -> Self {
        Self {
            status: "created".to_owned(),
            running: false,
            paused: false,
            restarting: false,
            oom_killed: false,
            dead: false,
            pid: 0,
            exit_code: 0,
            error: String::new(),
            started_at: "0001-01-01T00:00:00Z".to_owned(),
            finished_at: "0001-01-01T00:00:00Z".to_owned(),
            health: None,
        }
    }
}

impl Model for ContainerState {
    const SWAGGER: &'static str = "/definitions/ContainerState";
}

/// `GraphDriver` of containers and images.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GraphDriverData {
    pub name: String,
    pub data: HashMap<String, String>,
}

impl Model for GraphDriverData {
    const SWAGGER: &'static str = "/definitions/GraphDriverData";
}

/// One element of `GET /containers/json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerSummary {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub names: Vec<String>,
    pub image: String,
    #[serde(rename = "ImageID")]
    pub image_id: String,
    pub command: String,
    pub created: i64,
    pub ports: Vec<docker::PortSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_rw: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_root_fs: Option<i64>,
    pub labels: HashMap<String, String>,
    pub state: String,
    pub status: String,
    pub host_config: SummaryHostConfig,
    pub network_settings: SummaryNetworkSettings,
    pub mounts: Vec<docker::MountPoint>,
}

impl Model for ContainerSummary {
    const SWAGGER: &'static str = "/definitions/ContainerSummary";
}

/// `HostConfig` of a `ContainerSummary`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SummaryHostConfig {
    pub network_mode: String,
}

impl Default for SummaryHostConfig {
    fn default() -> Self {
        Self {
            network_mode: "default".to_owned(),
        }
    }
}

impl Model for SummaryHostConfig {
    const SWAGGER: &'static str = "/definitions/ContainerSummary/properties/HostConfig";
}

/// `NetworkSettings` of a `ContainerSummary`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SummaryNetworkSettings {
    pub networks: HashMap<String, EndpointSettings>,
}

impl Model for SummaryNetworkSettings {
    const SWAGGER: &'static str = "/definitions/ContainerSummary/properties/NetworkSettings";
}
