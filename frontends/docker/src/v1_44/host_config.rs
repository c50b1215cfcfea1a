//! A container's `HostConfig` and `Config` (also an image's `Config`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sockerless_api::docker;

use super::Model;

/// A container's `HostConfig` (with `Resources`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostConfig {
    pub cpu_shares: i64,
    pub memory: i64,
    pub cgroup_parent: String,
    pub blkio_weight: i64,
    pub blkio_weight_device: Vec<docker::ResourcesBlkioWeightDevice>,
    pub blkio_device_read_bps: Vec<docker::ThrottleDevice>,
    pub blkio_device_write_bps: Vec<docker::ThrottleDevice>,
    #[serde(rename = "BlkioDeviceReadIOps")]
    pub blkio_device_read_iops: Vec<docker::ThrottleDevice>,
    #[serde(rename = "BlkioDeviceWriteIOps")]
    pub blkio_device_write_iops: Vec<docker::ThrottleDevice>,
    pub cpu_period: i64,
    pub cpu_quota: i64,
    pub cpu_realtime_period: i64,
    pub cpu_realtime_runtime: i64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    pub devices: Vec<docker::DeviceMapping>,
    pub device_cgroup_rules: Option<Vec<String>>,
    pub device_requests: Option<Vec<docker::DeviceRequest>>,
    #[serde(rename = "KernelMemoryTCP", skip_serializing_if = "Option::is_none")]
    pub kernel_memory_tcp: Option<i64>,
    pub memory_reservation: i64,
    pub memory_swap: i64,
    pub memory_swappiness: Option<i64>,
    pub nano_cpus: i64,
    pub oom_kill_disable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
    pub pids_limit: Option<i64>,
    pub ulimits: Vec<docker::ResourcesUlimits>,
    pub cpu_count: i64,
    pub cpu_percent: i64,
    #[serde(rename = "IOMaximumIOps")]
    pub io_maximum_iops: i64,
    #[serde(rename = "IOMaximumBandwidth")]
    pub io_maximum_bandwidth: i64,
    pub binds: Option<Vec<String>>,
    #[serde(rename = "ContainerIDFile")]
    pub container_id_file: String,
    pub log_config: LogConfig,
    pub network_mode: String,
    pub port_bindings: docker::PortMap,
    pub restart_policy: RestartPolicy,
    pub auto_remove: bool,
    pub volume_driver: String,
    pub volumes_from: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mounts: Option<Vec<docker::Mount>>,
    pub console_size: Vec<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<HashMap<String, String>>,
    pub cap_add: Option<Vec<String>>,
    pub cap_drop: Option<Vec<String>>,
    pub cgroupns_mode: String,
    pub dns: Vec<String>,
    pub dns_options: Vec<String>,
    pub dns_search: Vec<String>,
    pub extra_hosts: Option<Vec<String>>,
    pub group_add: Option<Vec<String>>,
    pub ipc_mode: String,
    pub cgroup: String,
    pub links: Option<Vec<String>>,
    pub oom_score_adj: i64,
    pub pid_mode: String,
    pub privileged: bool,
    pub publish_all_ports: bool,
    pub readonly_rootfs: bool,
    pub security_opt: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_opt: Option<HashMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmpfs: Option<HashMap<String, String>>,
    #[serde(rename = "UTSMode")]
    pub uts_mode: String,
    pub userns_mode: String,
    pub shm_size: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sysctls: Option<HashMap<String, String>>,
    pub runtime: String,
    pub isolation: String,
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            cpu_shares: 0,
            memory: 0,
            cgroup_parent: String::new(),
            blkio_weight: 0,
            blkio_weight_device: Vec::new(),
            blkio_device_read_bps: Vec::new(),
            blkio_device_write_bps: Vec::new(),
            blkio_device_read_iops: Vec::new(),
            blkio_device_write_iops: Vec::new(),
            cpu_period: 0,
            cpu_quota: 0,
            cpu_realtime_period: 0,
            cpu_realtime_runtime: 0,
            cpuset_cpus: String::new(),
            cpuset_mems: String::new(),
            devices: Vec::new(),
            device_cgroup_rules: None,
            device_requests: None,
            kernel_memory_tcp: None,
            memory_reservation: 0,
            memory_swap: 0,
            memory_swappiness: None,
            nano_cpus: 0,
            oom_kill_disable: false,
            init: None,
            pids_limit: None,
            ulimits: Vec::new(),
            cpu_count: 0,
            cpu_percent: 0,
            io_maximum_iops: 0,
            io_maximum_bandwidth: 0,
            binds: None,
            container_id_file: String::new(),
            log_config: Default::default(),
            network_mode: "default".to_owned(),
            port_bindings: Default::default(),
            restart_policy: Default::default(),
            auto_remove: false,
            volume_driver: String::new(),
            volumes_from: None,
            mounts: None,
            console_size: vec![0, 0],
            annotations: None,
            cap_add: None,
            cap_drop: None,
            cgroupns_mode: String::new(),
            dns: Vec::new(),
            dns_options: Vec::new(),
            dns_search: Vec::new(),
            extra_hosts: None,
            group_add: None,
            ipc_mode: String::new(),
            cgroup: String::new(),
            links: None,
            oom_score_adj: 0,
            pid_mode: String::new(),
            privileged: false,
            publish_all_ports: false,
            readonly_rootfs: false,
            security_opt: None,
            storage_opt: None,
            tmpfs: None,
            uts_mode: String::new(),
            userns_mode: String::new(),
            shm_size: 0,
            sysctls: None,
            runtime: "runc".to_owned(),
            isolation: String::new(),
            masked_paths: Vec::new(),
            readonly_paths: Vec::new(),
        }
    }
}

impl Model for HostConfig {
    const SWAGGER: &'static str = "/definitions/HostConfig";
}

/// A container's `Config`, and an image's `Config` and `ContainerConfig`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<HashMap<String, HashMap<(), ()>>>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub env: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<docker::HealthConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args_escaped: Option<bool>,
    pub image: String,
    pub volumes: Option<HashMap<String, HashMap<(), ()>>>,
    pub working_dir: String,
    pub entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_disabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
    pub on_build: Option<Vec<String>>,
    pub labels: Option<HashMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
}

impl Model for ContainerConfig {
    const SWAGGER: &'static str = "/definitions/ContainerConfig";
}

/// `HostConfig.LogConfig`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LogConfig {
    #[serde(rename = "Type")]
    pub typ: String,
    pub config: HashMap<String, String>,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            typ: "json-file".to_owned(),
            config: HashMap::new(),
        }
    }
}

impl Model for LogConfig {
    const SWAGGER: &'static str = "/definitions/HostConfig/allOf/1/properties/LogConfig";
}

/// `HostConfig.RestartPolicy`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestartPolicy {
    pub name: String,
    pub maximum_retry_count: i64,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            name: "no".to_owned(),
            maximum_retry_count: 0,
        }
    }
}

impl Model for RestartPolicy {
    const SWAGGER: &'static str = "/definitions/RestartPolicy";
}
