//! `GET /info` and its parts.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sockerless_api::docker;

use super::Model;

/// `GET /info`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SystemInfo {
    #[serde(rename = "ID", skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub containers: i64,
    pub containers_running: i64,
    pub containers_paused: i64,
    pub containers_stopped: i64,
    pub images: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    pub driver_status: Vec<Vec<String>>,
    pub docker_root_dir: String,
    pub plugins: PluginsInfo,
    pub memory_limit: bool,
    pub swap_limit: bool,
    #[serde(rename = "KernelMemoryTCP", skip_serializing_if = "Option::is_none")]
    pub kernel_memory_tcp: Option<bool>,
    pub cpu_cfs_period: bool,
    pub cpu_cfs_quota: bool,
    #[serde(rename = "CPUShares")]
    pub cpu_shares: bool,
    #[serde(rename = "CPUSet")]
    pub cpu_set: bool,
    pub pids_limit: bool,
    pub oom_kill_disable: bool,
    #[serde(rename = "IPv4Forwarding")]
    pub ipv4_forwarding: bool,
    pub bridge_nf_iptables: bool,
    pub bridge_nf_ip6tables: bool,
    pub debug: bool,
    pub n_fd: i64,
    pub n_goroutines: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_time: Option<String>,
    pub logging_driver: String,
    pub cgroup_driver: String,
    pub cgroup_version: String,
    pub n_events_listener: i64,
    pub kernel_version: String,
    pub operating_system: String,
    #[serde(rename = "OSVersion")]
    pub os_version: String,
    #[serde(rename = "OSType")]
    pub os_type: String,
    pub architecture: String,
    #[serde(rename = "NCPU")]
    pub ncpu: i64,
    pub mem_total: i64,
    pub index_server_address: String,
    pub registry_config: RegistryServiceConfig,
    pub generic_resources: Option<docker::GenericResources>,
    pub http_proxy: String,
    pub https_proxy: String,
    pub no_proxy: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub labels: Vec<String>,
    pub experimental_build: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    pub runtimes: HashMap<String, Runtime>,
    pub default_runtime: String,
    pub swarm: SwarmInfo,
    pub live_restore_enabled: bool,
    pub isolation: String,
    pub init_binary: String,
    pub containerd_commit: Commit,
    pub runc_commit: Commit,
    pub init_commit: Commit,
    pub security_options: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_license: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_address_pools: Option<Vec<docker::SystemInfoDefaultAddressPools>>,
    pub warnings: Option<Vec<String>>,
    #[serde(rename = "CDISpecDirs", skip_serializing_if = "Option::is_none")]
    pub cdi_spec_dirs: Option<Vec<String>>,
}

impl Default for SystemInfo {
    fn default() -> Self {
        Self {
            id: None,
            containers: 0,
            containers_running: 0,
            containers_paused: 0,
            containers_stopped: 0,
            images: 0,
            driver: None,
            driver_status: Vec::new(),
            docker_root_dir: String::new(),
            plugins: Default::default(),
            // `-m` sizes the replica; no other cgroup knob is honoured.
            memory_limit: true,
            swap_limit: false,
            kernel_memory_tcp: None,
            cpu_cfs_period: false,
            cpu_cfs_quota: false,
            cpu_shares: false,
            cpu_set: false,
            pids_limit: false,
            oom_kill_disable: false,
            // Containers reach each other and the outside.
            ipv4_forwarding: true,
            bridge_nf_iptables: false,
            bridge_nf_ip6tables: false,
            debug: false,
            n_fd: 0,
            n_goroutines: 0,
            system_time: None,
            logging_driver: "json-file".to_owned(),
            cgroup_driver: "none".to_owned(),
            cgroup_version: String::new(),
            n_events_listener: 0,
            kernel_version: String::new(),
            operating_system: String::new(),
            os_version: String::new(),
            os_type: "linux".to_owned(),
            architecture: String::new(),
            ncpu: 0,
            mem_total: 0,
            index_server_address: "https://index.docker.io/v1/".to_owned(),
            registry_config: Default::default(),
            generic_resources: None,
            http_proxy: String::new(),
            https_proxy: String::new(),
            no_proxy: String::new(),
            name: None,
            labels: Vec::new(),
            experimental_build: false,
            server_version: None,
            // dockerd lists `runc` under both its names.
            runtimes: ["runc", "io.containerd.runc.v2"]
                .into_iter()
                .map(|name| (name.to_owned(), Runtime::default()))
                .collect(),
            default_runtime: "runc".to_owned(),
            swarm: Default::default(),
            live_restore_enabled: false,
            isolation: String::new(),
            init_binary: String::new(),
            containerd_commit: Default::default(),
            runc_commit: Default::default(),
            init_commit: Default::default(),
            security_options: Vec::new(),
            product_license: None,
            default_address_pools: None,
            warnings: None,
            cdi_spec_dirs: None,
        }
    }
}

impl Model for SystemInfo {
    const SWAGGER: &'static str = "/definitions/SystemInfo";
}

/// `Info.Swarm` of a node outside any swarm.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SwarmInfo {
    #[serde(rename = "NodeID")]
    pub node_id: String,
    pub node_addr: String,
    pub local_node_state: String,
    pub control_available: bool,
    pub error: String,
    pub remote_managers: Option<Vec<docker::PeerNode>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managers: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<docker::ClusterInfo>,
}

impl Default for SwarmInfo {
    fn default() -> Self {
        Self {
            node_id: String::new(),
            node_addr: String::new(),
            local_node_state: "inactive".to_owned(),
            control_available: false,
            error: String::new(),
            remote_managers: None,
            nodes: None,
            managers: None,
            cluster: None,
        }
    }
}

impl Model for SwarmInfo {
    const SWAGGER: &'static str = "/definitions/SwarmInfo";
}

/// `Info.RegistryConfig`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RegistryServiceConfig {
    #[serde(rename = "AllowNondistributableArtifactsCIDRs")]
    pub allow_nondistributable_artifacts_cid_rs: Vec<String>,
    pub allow_nondistributable_artifacts_hostnames: Vec<String>,
    #[serde(rename = "InsecureRegistryCIDRs")]
    pub insecure_registry_cid_rs: Vec<String>,
    pub index_configs: HashMap<String, docker::IndexInfo>,
    pub mirrors: Vec<String>,
}

impl Model for RegistryServiceConfig {
    const SWAGGER: &'static str = "/definitions/RegistryServiceConfig";
}

/// `Info.Plugins`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PluginsInfo {
    pub volume: Vec<String>,
    pub network: Vec<String>,
    pub authorization: Option<Vec<String>>,
    pub log: Vec<String>,
}

impl Default for PluginsInfo {
    fn default() -> Self {
        Self {
            volume: vec!["local".to_owned()],
            network: vec!["bridge".to_owned()],
            authorization: None,
            log: vec!["json-file".to_owned(), "local".to_owned()],
        }
    }
}

impl Model for PluginsInfo {
    const SWAGGER: &'static str = "/definitions/PluginsInfo";
}

/// A runtime of `Info.Runtimes`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Runtime {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_args: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<HashMap<String, String>>,
}

impl Default for Runtime {
    fn default() -> Self {
        Self {
            path: "runc".to_owned(),
            runtime_args: None,
            status: None,
        }
    }
}

impl Model for Runtime {
    const SWAGGER: &'static str = "/definitions/Runtime";
}

/// `Info.ContainerdCommit`, `RuncCommit`, `InitCommit`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Commit {
    #[serde(rename = "ID")]
    pub id: String,
    pub expected: String,
}

impl Model for Commit {
    const SWAGGER: &'static str = "/definitions/Commit";
}
