//! Networks, and a container's `NetworkSettings` and endpoints.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sockerless_api::docker;

use super::Model;

/// A container's `NetworkSettings`, with the deprecated top-level fields dockerd still sends.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkSettings {
    pub bridge: String,
    #[serde(rename = "SandboxID")]
    pub sandbox_id: String,
    pub hairpin_mode: bool,
    #[serde(rename = "LinkLocalIPv6Address")]
    pub link_local_ipv6_address: String,
    #[serde(rename = "LinkLocalIPv6PrefixLen")]
    pub link_local_ipv6_prefix_len: i64,
    pub ports: docker::PortMap,
    pub sandbox_key: String,
    #[serde(rename = "SecondaryIPAddresses")]
    pub secondary_ip_addresses: Option<Vec<docker::Address>>,
    #[serde(rename = "SecondaryIPv6Addresses")]
    pub secondary_ipv6_addresses: Option<Vec<docker::Address>>,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub gateway: String,
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: i64,
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: i64,
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    pub mac_address: String,
    pub networks: HashMap<String, EndpointSettings>,
}

impl NetworkSettings {
    /// The deprecated top-level fields dockerd copies from the container's
    /// endpoint on the default `bridge` network.
    pub const FROM_BRIDGE_ENDPOINT: &[&str] = &[
        "EndpointID",
        "Gateway",
        "GlobalIPv6Address",
        "GlobalIPv6PrefixLen",
        "IPAddress",
        "IPPrefixLen",
        "IPv6Gateway",
        "MacAddress",
    ];
}

impl Model for NetworkSettings {
    const SWAGGER: &'static str = "/definitions/NetworkSettings";
}

/// An endpoint in `NetworkSettings.Networks`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointSettings {
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<docker::EndpointIpamConfig>,
    pub links: Option<Vec<String>>,
    pub mac_address: String,
    pub aliases: Option<Vec<String>>,
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub gateway: String,
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: i64,
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: i64,
    pub driver_opts: Option<HashMap<String, String>>,
    #[serde(rename = "DNSNames")]
    pub dns_names: Option<Vec<String>>,
}

impl Model for EndpointSettings {
    const SWAGGER: &'static str = "/definitions/EndpointSettings";
}

/// `GET /networks/{id}` and each element of `GET /networks`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Network {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub created: String,
    pub scope: String,
    pub driver: String,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    pub internal: bool,
    pub attachable: bool,
    pub ingress: bool,
    pub config_from: ConfigReference,
    pub config_only: bool,
    pub containers: HashMap<String, docker::EndpointResource>,
    pub options: HashMap<String, String>,
    pub labels: HashMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peers: Option<Vec<docker::PeerInfo>>,
}

impl Default for Network {
    fn default() -> Self {
        Self {
            name: None,
            id: None,
            created: "0001-01-01T00:00:00Z".to_owned(),
            scope: "local".to_owned(),
            driver: "bridge".to_owned(),
            enable_ipv6: false,
            ipam: Default::default(),
            internal: false,
            attachable: false,
            ingress: false,
            config_from: Default::default(),
            config_only: false,
            containers: HashMap::new(),
            options: HashMap::new(),
            labels: HashMap::new(),
            peers: None,
        }
    }
}

impl Model for Network {
    const SWAGGER: &'static str = "/definitions/Network";
}

/// A network's `IPAM`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ipam {
    pub driver: String,
    pub config: Vec<docker::IpamConfig>,
    pub options: Option<HashMap<String, String>>,
}

impl Default for Ipam {
    fn default() -> Self {
        Self {
            driver: "default".to_owned(),
            config: Vec::new(),
            options: None,
        }
    }
}

impl Model for Ipam {
    const SWAGGER: &'static str = "/definitions/IPAM";
}

/// A network's `ConfigFrom`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfigReference {
    pub network: String,
}

impl Model for ConfigReference {
    const SWAGGER: &'static str = "/definitions/ConfigReference";
}
