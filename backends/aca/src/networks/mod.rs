//! Networks: records shown as Docker shows them, with a subnet each and an
//! address per attached container ([`endpoints`], [`addresses`]); the relay
//! (`crate::relay`) makes names and addresses reachable between containers.
//!
//! - Docker's predefined networks `bridge`, `host` and `none` are stored on
//!   first use (IDs random like dockerd's) and cannot be removed.
//! - A container is attached to a network when its create config names it
//!   (`HostConfig.NetworkMode` or `NetworkingConfig.EndpointsConfig`) or it was
//!   connected later; `disconnect` records the opposite. Only containers in
//!   the store count, and inspect's `Containers` lists the running ones
//!   (as Docker lists active endpoints).
//! - Subnets: in relay mode `127.N.0.0/16` (loopback addresses every container
//!   can listen on), in direct mode dockerd's default pools.
//! - Docker's 403 answers (predefined network, endpoint exists/absent) map to
//!   400 for operations on predefined networks and 409 for endpoint state.

pub mod addresses;
mod attach;
pub mod endpoints;

pub use attach::{connect, disconnect};

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sockerless_api::docker::{
    EndpointResource, EndpointSettings, Ipam, IpamConfig, NetworkCreateRequest,
    NetworkCreateResponse, NetworkInspect, NetworkPruneResponse,
};
use sockerless_api::{ApiError, Filters, Result};

use crate::AcaBackend;
use crate::clock::{now_nanos, random_id, rfc3339};
use crate::config::NetworkMode;
use crate::images::filters::{check_filter_names, labels_match, parse_bool_filter, parse_until};
use crate::store::{ContainerRecord, NetworkRecord, records};

/// Docker's predefined networks: name, driver.
pub const PREDEFINED: &[(&str, &str)] = &[("bridge", "bridge"), ("host", "host"), ("none", "null")];

const LIST_FILTERS: &[&str] = &["dangling", "driver", "id", "label", "name", "scope", "type"];
const PRUNE_FILTERS: &[&str] = &["label", "until"];

/// The `config` column of a network row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredNetwork {
    /// `bridge` unless given.
    pub driver: String,
    /// Always `local`.
    pub scope: String,
    /// `--internal`.
    pub internal: bool,
    /// `--attachable`.
    pub attachable: bool,
    /// `--ingress`.
    pub ingress: bool,
    /// IPv6 enabled.
    pub enable_ipv6: bool,
    /// IPAM (subnet allocated when not given).
    pub ipam: Ipam,
    /// Driver options.
    pub options: HashMap<String, String>,
    /// Labels.
    pub labels: HashMap<String, String>,
    /// One of Docker's predefined networks.
    pub predefined: bool,
    /// Containers connected with `network connect` (ID → endpoint config).
    pub endpoints: BTreeMap<String, EndpointSettings>,
    /// Containers disconnected although their create config names the network.
    pub detached: BTreeSet<String>,
    /// Container ID → its IPv4 address on this network.
    #[serde(default)]
    pub addresses: BTreeMap<String, String>,
}

struct Network {
    record: NetworkRecord,
    stored: StoredNetwork,
}

impl Network {
    fn from_record(record: NetworkRecord) -> Result<Self> {
        let stored = serde_json::from_value(record.config.clone()).map_err(|e| {
            ApiError::Internal(format!("stored network {} is unreadable: {e}", record.name))
        })?;
        Ok(Self { record, stored })
    }

    fn to_record(&self) -> Result<NetworkRecord> {
        let mut record = self.record.clone();
        record.config = serde_json::to_value(&self.stored)
            .map_err(|e| ApiError::Internal(format!("encode network: {e}")))?;
        Ok(record)
    }

    /// Whether `container` is attached (config or connect, minus disconnect).
    fn attaches(&self, container: &ContainerRecord) -> bool {
        if self.stored.endpoints.contains_key(&container.id) {
            return true;
        }
        !self.stored.detached.contains(&container.id)
            && configured_networks(&container.config)
                .iter()
                .any(|n| n == &self.record.name || n == &self.record.id)
    }

    fn active(&self, containers: &[ContainerRecord]) -> Vec<ContainerRecord> {
        containers
            .iter()
            .filter(|c| matches!(c.state.as_str(), "running" | "paused" | "restarting"))
            .filter(|c| self.attaches(c))
            .cloned()
            .collect()
    }
}

/// Networks a container's create config names (`NetworkMode`, `EndpointsConfig`);
/// `default` is `bridge`. Reads the runtime's `{"body": …}` layout or a bare body.
pub fn configured_networks(config: &Value) -> Vec<String> {
    let body = config.get("body").unwrap_or(config);
    let mut out = Vec::new();
    if let Some(mode) = body
        .pointer("/HostConfig/NetworkMode")
        .and_then(Value::as_str)
    {
        let mode = if mode == "default" || mode.is_empty() {
            "bridge"
        } else {
            mode
        };
        if !mode.starts_with("container:") {
            out.push(mode.to_owned());
        }
    }
    if let Some(eps) = body
        .pointer("/NetworkingConfig/EndpointsConfig")
        .and_then(Value::as_object)
    {
        out.extend(eps.keys().cloned());
    }
    out
}

fn ipam(subnet: Option<(&str, &str)>) -> Ipam {
    Ipam {
        driver: Some("default".to_owned()),
        config: Some(
            subnet
                .map(|(s, g)| IpamConfig {
                    subnet: Some(s.to_owned()),
                    gateway: Some(g.to_owned()),
                    ..Default::default()
                })
                .into_iter()
                .collect(),
        ),
        options: Some(HashMap::new()),
    }
}

/// Every network row, storing the predefined ones first if missing.
async fn all(backend: &AcaBackend) -> Result<Vec<Network>> {
    let mut rows = backend.store().call(|c| records::list_networks(c)).await?;
    let missing: Vec<&(&str, &str)> = PREDEFINED
        .iter()
        .filter(|(name, _)| !rows.iter().any(|r| r.name == *name))
        .collect();
    if !missing.is_empty() {
        let mut new = Vec::new();
        for (name, driver) in missing {
            let stored = StoredNetwork {
                driver: (*driver).to_owned(),
                scope: "local".to_owned(),
                ipam: ipam(
                    (*name == "bridge")
                        .then(|| addresses::bridge_subnet(backend.config().network_mode)),
                ),
                predefined: true,
                ..Default::default()
            };
            new.push(NetworkRecord {
                id: random_id()?,
                name: (*name).to_owned(),
                config: serde_json::to_value(&stored)
                    .map_err(|e| ApiError::Internal(format!("encode network: {e}")))?,
                created_at: now_nanos(),
            });
        }
        backend
            .store()
            .call(move |c| {
                let tx = c.transaction()?;
                for n in &new {
                    // A concurrent first use may have stored it already.
                    if records::get_network(&tx, &n.name)?.is_none() {
                        records::put_network(&tx, n)?;
                    }
                }
                tx.commit()
            })
            .await?;
        rows = backend.store().call(|c| records::list_networks(c)).await?;
    }
    rows.into_iter().map(Network::from_record).collect()
}

/// By full ID, name, or unique ID prefix (Docker's order).
fn find<'a>(networks: &'a [Network], id: &str) -> Result<&'a Network> {
    if let Some(n) = networks
        .iter()
        .find(|n| n.record.id == id)
        .or_else(|| networks.iter().find(|n| n.record.name == id))
    {
        return Ok(n);
    }
    let mut by_prefix = networks
        .iter()
        .filter(|n| !id.is_empty() && n.record.id.starts_with(id));
    match (by_prefix.next(), by_prefix.next()) {
        (Some(n), None) => Ok(n),
        (Some(_), Some(_)) => Err(ApiError::InvalidParameter(format!(
            "network {id} is ambiguous (multiple networks match this ID prefix)"
        ))),
        _ => Err(ApiError::NotFound(format!("network {id} not found"))),
    }
}

async fn containers(backend: &AcaBackend) -> Result<Vec<ContainerRecord>> {
    Ok(backend
        .store()
        .call(|c| records::list_containers(c))
        .await?)
}

/// Network names as dockerd accepts them: anything printable, spaces and
/// `/` included (`docker network create "a b"` works on dockerd). Names only
/// key the store, never a path or an Azure name; control characters are
/// refused as they cannot be shown.
fn valid_name(name: &str) -> bool {
    !name.trim().is_empty() && name.len() <= 512 && !name.chars().any(char::is_control)
}

/// The next free subnet of the default pools, with its gateway.
fn allocate_subnet(networks: &[Network], mode: NetworkMode) -> Result<(String, String)> {
    let used: BTreeSet<String> = networks
        .iter()
        .flat_map(|n| n.stored.ipam.config.iter().flatten())
        .filter_map(|c| c.subnet.clone())
        .collect();
    let candidates = addresses::pool(mode);
    candidates
        .into_iter()
        .find(|(subnet, _)| !used.contains(subnet))
        .ok_or_else(|| {
            ApiError::Conflict(
                "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network".to_owned(),
            )
        })
}

/// `Backend::network_create`.
pub async fn create(
    backend: &AcaBackend,
    req: NetworkCreateRequest,
) -> Result<NetworkCreateResponse> {
    if !valid_name(&req.name) {
        return Err(ApiError::InvalidParameter(format!(
            "invalid network name {:?}: it must be printable text of at most 512 bytes",
            req.name
        )));
    }
    let networks = all(backend).await?;
    if networks.iter().any(|n| n.record.name == req.name) {
        return Err(ApiError::Conflict(format!(
            "network with name {} already exists",
            req.name
        )));
    }
    let given = req.ipam.clone().unwrap_or_default();
    let has_subnet = given.config.iter().flatten().any(|c| c.subnet.is_some());
    for subnet in given
        .config
        .iter()
        .flatten()
        .filter_map(|c| c.subnet.as_deref())
    {
        addresses::check_user_subnet(backend.config().network_mode, subnet)?;
    }
    let ipam = if has_subnet {
        Ipam {
            driver: given.driver.or(Some("default".to_owned())),
            options: given.options.or(Some(HashMap::new())),
            ..given
        }
    } else {
        let (subnet, gateway) = allocate_subnet(&networks, backend.config().network_mode)?;
        let mut ipam = ipam(Some((&subnet, &gateway)));
        if let Some(driver) = given.driver {
            ipam.driver = Some(driver);
        }
        ipam
    };
    let stored = StoredNetwork {
        driver: req
            .driver
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "bridge".to_owned()),
        scope: "local".to_owned(),
        internal: req.internal.unwrap_or(false),
        attachable: req.attachable.unwrap_or(false),
        ingress: req.ingress.unwrap_or(false),
        enable_ipv6: req.enable_ipv6.unwrap_or(false),
        ipam,
        options: req.options.unwrap_or_default(),
        labels: req.labels.unwrap_or_default(),
        ..Default::default()
    };
    let id = random_id()?;
    let network = Network {
        record: NetworkRecord {
            id: id.clone(),
            name: req.name.clone(),
            config: Value::Null,
            created_at: now_nanos(),
        },
        stored,
    };
    let record = network.to_record()?;
    let name = req.name;
    backend
        .store()
        .call(move |c| records::put_network(c, &record))
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Conflict(_) => {
                ApiError::Conflict(format!("network with name {name} already exists"))
            }
            other => other.into(),
        })?;
    crate::events::actors::network(backend, "create", &id, &name, None);
    Ok(NetworkCreateResponse {
        id,
        warning: String::new(),
    })
}

fn prefix_len(network: &Network) -> u8 {
    network
        .stored
        .ipam
        .config
        .iter()
        .flatten()
        .find_map(|c| addresses::Subnet::parse(c.subnet.as_deref()?))
        .map_or(0, |s| s.prefix)
}

fn inspect_of(network: &Network, containers: &[ContainerRecord]) -> NetworkInspect {
    let s = &network.stored;
    let attached = network
        .active(containers)
        .into_iter()
        .map(|c| {
            let endpoint_id = s
                .endpoints
                .get(&c.id)
                .and_then(|e| e.endpoint_id.clone())
                .unwrap_or_default();
            let resource = EndpointResource {
                name: Some(c.name.clone()),
                endpoint_id: Some(endpoint_id),
                mac_address: Some(String::new()),
                ipv4_address: Some(
                    s.addresses
                        .get(&c.id)
                        .map(|ip| format!("{ip}/{}", prefix_len(network)))
                        .unwrap_or_default(),
                ),
                ipv6_address: Some(String::new()),
            };
            (c.id, resource)
        })
        .collect();
    NetworkInspect {
        name: Some(network.record.name.clone()),
        id: Some(network.record.id.clone()),
        created: Some(rfc3339(network.record.created_at)),
        scope: Some(s.scope.clone()),
        driver: Some(s.driver.clone()),
        enable_ipv4: Some(true),
        enable_ipv6: Some(s.enable_ipv6),
        ipam: Some(s.ipam.clone()),
        internal: Some(s.internal),
        attachable: Some(s.attachable),
        ingress: Some(s.ingress),
        config_only: Some(false),
        options: Some(s.options.clone()),
        labels: Some(s.labels.clone()),
        containers: Some(attached),
        ..Default::default()
    }
}

/// `Backend::network_list`.
pub async fn list(backend: &AcaBackend, filters: Filters) -> Result<Vec<NetworkInspect>> {
    check_filter_names(&filters, LIST_FILTERS)?;
    let dangling = parse_bool_filter("dangling", filters.get("dangling").map_or(&[][..], |v| v))?;
    if let Some(kinds) = filters.get("type")
        && let Some(bad) = kinds.iter().find(|k| *k != "custom" && *k != "builtin")
    {
        return Err(ApiError::InvalidParameter(format!(
            "invalid filter: 'type'='{bad}'"
        )));
    }
    let networks = all(backend).await?;
    let containers = containers(backend).await?;
    let any = |key: &str, f: &dyn Fn(&str) -> bool| {
        filters.get(key).is_none_or(|v| v.iter().any(|x| f(x)))
    };
    Ok(networks
        .iter()
        .filter(|n| any("name", &|x| n.record.name.contains(x)))
        .filter(|n| any("id", &|x| n.record.id.starts_with(x)))
        .filter(|n| any("driver", &|x| n.stored.driver == x))
        .filter(|n| any("scope", &|x| n.stored.scope == x))
        .filter(|n| any("type", &|x| (x == "builtin") == n.stored.predefined))
        .filter(|n| labels_match(&n.stored.labels, filters.get("label")))
        .filter(|n| {
            dangling.is_none_or(|d| d == (!n.stored.predefined && n.active(&containers).is_empty()))
        })
        .map(|n| inspect_of(n, &containers))
        .collect())
}

/// `Backend::network_inspect`.
pub async fn inspect(backend: &AcaBackend, id: &str) -> Result<NetworkInspect> {
    let networks = all(backend).await?;
    let network = find(&networks, id)?;
    Ok(inspect_of(network, &containers(backend).await?))
}

/// `Backend::network_remove`.
pub async fn remove(backend: &AcaBackend, id: &str) -> Result<()> {
    let networks = all(backend).await?;
    let network = find(&networks, id)?;
    if network.stored.predefined {
        return Err(ApiError::InvalidParameter(format!(
            "{} is a pre-defined network and cannot be removed",
            network.record.name
        )));
    }
    let active = network.active(&containers(backend).await?);
    if !active.is_empty() {
        return Err(ApiError::Conflict(format!(
            "error while removing network: network {} id {} has active endpoints",
            network.record.name, network.record.id
        )));
    }
    let net_id = network.record.id.clone();
    backend
        .store()
        .call(move |c| records::delete_network(c, &net_id))
        .await?;
    crate::events::actors::network(
        backend,
        "destroy",
        &network.record.id,
        &network.record.name,
        None,
    );
    Ok(())
}

/// `Backend::network_prune`: removes custom networks without active endpoints.
pub async fn prune(backend: &AcaBackend, filters: Filters) -> Result<NetworkPruneResponse> {
    check_filter_names(&filters, PRUNE_FILTERS)?;
    let until = match filters.get("until").and_then(|v| v.first()) {
        Some(v) => Some(parse_until(v)?),
        None => None,
    };
    let networks = all(backend).await?;
    let containers = containers(backend).await?;
    let mut deleted = Vec::new();
    for n in &networks {
        let prunable = !n.stored.predefined
            && n.active(&containers).is_empty()
            && labels_match(&n.stored.labels, filters.get("label"))
            && until.is_none_or(|u| n.record.created_at < u);
        if prunable {
            let id = n.record.id.clone();
            if backend
                .store()
                .call(move |c| records::delete_network(c, &id))
                .await?
            {
                crate::events::actors::network(
                    backend,
                    "destroy",
                    &n.record.id,
                    &n.record.name,
                    None,
                );
                deleted.push(n.record.name.clone());
            }
        }
    }
    Ok(NetworkPruneResponse {
        networks_deleted: Some(deleted),
    })
}

#[cfg(test)]
pub(crate) mod tests;

#[cfg(test)]
mod address_tests;
