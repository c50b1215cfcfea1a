//! Endpoints: which container sits on which network, under which address
//! and names. Addresses are assigned at the container's first start (or at
//! `network connect`), kept for the container's life on that network, and
//! released at `network disconnect` and `docker rm`.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use sockerless_api::docker::EndpointSettings;
use sockerless_api::{ApiError, Result};

use super::addresses::{self, Subnet};
use super::{Network, configured_networks};
use crate::AcaBackend;
use crate::config::NetworkMode;
use crate::store::{ContainerRecord, records};

/// One container on one network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Network ID.
    pub network_id: String,
    /// Network name.
    pub network: String,
    /// Docker's default `bridge` (names resolve only through `--link` there).
    pub default_bridge: bool,
    /// Container ID.
    pub container: String,
    /// The container's address on the network, once assigned.
    pub ip: Option<Ipv4Addr>,
    /// Prefix length of the network's subnet.
    pub prefix_len: u8,
    /// Gateway of the network.
    pub gateway: String,
    /// `--network-alias` (and Compose service names).
    pub aliases: Vec<String>,
    /// Endpoint ID (random, per attachment).
    pub endpoint_id: String,
}

/// The endpoint config a container was given for `network` (at create or connect).
fn endpoint_config(network: &Network, container: &ContainerRecord) -> EndpointSettings {
    if let Some(e) = network.stored.endpoints.get(&container.id) {
        return e.clone();
    }
    let body = container.config.get("body").unwrap_or(&container.config);
    body.pointer("/NetworkingConfig/EndpointsConfig")
        .and_then(serde_json::Value::as_object)
        .and_then(|eps| {
            eps.get(&network.record.name)
                .or_else(|| eps.get(&network.record.id))
        })
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}

fn subnet_of(network: &Network) -> Option<(Subnet, Option<Ipv4Addr>)> {
    let cfg = network.stored.ipam.config.as_ref()?.iter().find_map(|c| {
        let subnet = Subnet::parse(c.subnet.as_deref()?)?;
        Some((subnet, c.gateway.as_deref().and_then(|g| g.parse().ok())))
    })?;
    Some(cfg)
}

/// Whether a network carries addresses (`host` and `none` do not).
fn addressed(network: &Network) -> bool {
    !network.stored.predefined || network.record.name == "bridge"
}

/// The endpoints of `container` on `networks`.
pub(super) fn endpoints_of(networks: &[Network], container: &ContainerRecord) -> Vec<Endpoint> {
    networks
        .iter()
        .filter(|n| addressed(n) && n.attaches(container))
        .map(|n| {
            let cfg = endpoint_config(n, container);
            let subnet = subnet_of(n);
            Endpoint {
                network_id: n.record.id.clone(),
                network: n.record.name.clone(),
                default_bridge: n.stored.predefined,
                container: container.id.clone(),
                ip: n
                    .stored
                    .addresses
                    .get(&container.id)
                    .and_then(|ip| ip.parse().ok()),
                prefix_len: subnet.map_or(0, |(s, _)| s.prefix),
                gateway: subnet
                    .map(|(s, g)| g.unwrap_or_else(|| s.default_gateway()).to_string())
                    .unwrap_or_default(),
                aliases: cfg.aliases.unwrap_or_default(),
                endpoint_id: cfg.endpoint_id.unwrap_or_else(|| {
                    // A stable ID for endpoints configured at create.
                    format!(
                        "{}{}",
                        &n.record.id[..n.record.id.len().min(32)],
                        &container.id[..container.id.len().min(32)]
                    )
                }),
            }
        })
        .collect()
}

/// Gives `container` an address on `network` if it has none: the one it
/// asked for (`--ip`) or the first free one. Returns whether it changed.
pub(super) fn assign(network: &mut Network, container: &ContainerRecord) -> Result<bool> {
    if !addressed(network) || network.stored.addresses.contains_key(&container.id) {
        return Ok(false);
    }
    let Some((subnet, gateway)) = subnet_of(network) else {
        return Ok(false);
    };
    let used: BTreeSet<Ipv4Addr> = network
        .stored
        .addresses
        .values()
        .filter_map(|ip| ip.parse().ok())
        .collect();
    let requested = endpoint_config(network, container)
        .ipam_config
        .and_then(|c| c.ipv4_address)
        .filter(|ip| !ip.is_empty());
    let ip = match requested {
        Some(r) => addresses::check_requested(&subnet, gateway, &used, &r)?,
        None => addresses::allocate(&subnet, gateway, &used).ok_or_else(|| {
            ApiError::Conflict(format!(
                "no available IPv4 addresses on network {}",
                network.record.name
            ))
        })?,
    };
    network
        .stored
        .addresses
        .insert(container.id.clone(), ip.to_string());
    Ok(true)
}

/// Forgets `id` on `network` (address, connect config, disconnect mark).
pub(super) fn forget(network: &mut Network, id: &str) -> bool {
    let a = network.stored.addresses.remove(id).is_some();
    let b = network.stored.endpoints.remove(id).is_some();
    let c = network.stored.detached.remove(id);
    a || b || c
}

pub(super) fn load(conn: &rusqlite::Connection) -> rusqlite::Result<Vec<Network>> {
    Ok(records::list_networks(conn)?
        .into_iter()
        .filter_map(|r| Network::from_record(r).ok())
        .collect())
}

pub(super) fn encode(network: &Network) -> rusqlite::Result<crate::store::NetworkRecord> {
    network
        .to_record()
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.to_string().into()))
}

/// Assigns `id` an address on every network it is attached to (at start).
pub async fn assign_addresses(backend: &AcaBackend, id: &str) -> Result<()> {
    super::all(backend).await?; // the predefined networks exist
    let id = id.to_owned();
    backend
        .store()
        .call(move |c| {
            let tx = c.transaction()?;
            let Some(container) = records::get_container(&tx, &id)? else {
                return Ok(Ok(()));
            };
            for mut network in load(&tx)? {
                match assign(&mut network, &container) {
                    Ok(true) => records::put_network(&tx, &encode(&network)?)?,
                    Ok(false) => {}
                    Err(e) => return Ok(Err(e)),
                }
            }
            tx.commit()?;
            Ok(Ok(()))
        })
        .await?
}

/// Releases everything networks hold of `id` (at `docker rm`).
pub async fn release_container(backend: &AcaBackend, id: &str) -> Result<()> {
    let id = id.to_owned();
    backend
        .store()
        .call(move |c| {
            let tx = c.transaction()?;
            for mut network in load(&tx)? {
                if forget(&mut network, &id) {
                    records::put_network(&tx, &encode(&network)?)?;
                }
            }
            tx.commit()
        })
        .await?;
    Ok(())
}

/// Every endpoint of every container (for the relay), and the containers.
pub async fn snapshot(backend: &AcaBackend) -> Result<(Vec<Endpoint>, Vec<ContainerRecord>)> {
    let (networks, containers) = backend
        .store()
        .call(|c| Ok((load(c)?, records::list_containers(c)?)))
        .await?;
    let endpoints = containers
        .iter()
        .flat_map(|c| endpoints_of(&networks, c))
        .collect();
    Ok((endpoints, containers))
}

/// The endpoint ID of the container's first network, else its own ID: what
/// its published ports are relayed under.
pub async fn first_endpoint_id(backend: &AcaBackend, record: &ContainerRecord) -> Result<String> {
    Ok(Table::load(backend)
        .await?
        .of(record)
        .first()
        .map_or_else(|| record.id.clone(), |e| e.endpoint_id.clone()))
}

/// Every network, read once, to list the endpoints of many containers (ps).
pub struct Table(Vec<Network>);

impl Table {
    /// Reads the networks.
    pub async fn load(backend: &AcaBackend) -> Result<Self> {
        Ok(Self(backend.store().call(|c| load(c)).await?))
    }

    /// Reads the networks on the store's connection (within another read).
    pub fn read(conn: &rusqlite::Connection) -> rusqlite::Result<Self> {
        Ok(Self(load(conn)?))
    }

    /// The endpoints of `container`.
    pub fn of(&self, container: &ContainerRecord) -> Vec<Endpoint> {
        endpoints_of(&self.0, container)
    }
}

/// Refuses network settings the backend cannot honour, at create.
pub fn check_create(mode: NetworkMode, body: &serde_json::Value) -> Result<()> {
    let _ = mode;
    let network_mode = body
        .pointer("/HostConfig/NetworkMode")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("");
    if network_mode == "host" {
        return Err(ApiError::InvalidParameter(
            "network mode \"host\" is not supported: containers run on Azure Container Apps \
             replicas, which do not share this host's network; publish ports with -p instead"
                .into(),
        ));
    }
    if network_mode.starts_with("container:") {
        return Err(ApiError::InvalidParameter(format!(
            "network mode \"{network_mode}\" is not supported: each container runs in its own \
             Azure Container Apps replica and cannot join another container's network namespace"
        )));
    }
    let publishes = body
        .pointer("/HostConfig/PortBindings")
        .and_then(serde_json::Value::as_object)
        .is_some_and(|m| !m.is_empty())
        || body
            .pointer("/HostConfig/PublishAllPorts")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
    if network_mode == "none" && publishes {
        return Err(ApiError::InvalidParameter(
            "conflicting options: port publishing and the container type network mode".into(),
        ));
    }
    let networks = configured_networks(body);
    if network_mode == "none" && networks.iter().any(|n| n != "none") {
        return Err(ApiError::InvalidParameter(
            "conflicting options: container type network can't be used with other networks".into(),
        ));
    }
    Ok(())
}
