//! What each container should see of its peers (pure): the `/etc/hosts`
//! names and, in relay mode, the ports its agent relays on each peer address.
//!
//! Docker's rules: on a user-defined network every container resolves the
//! others by name, `--network-alias`, `--hostname` and short ID; on the
//! default `bridge` only `--link` names resolve. A container sees itself
//! under its hostname.

use std::collections::{BTreeSet, HashMap};

use sockerless_agent::peer::{Listening, PeerHost, PeersUpdate};

use crate::config::NetworkMode;
use crate::networks::endpoints::Endpoint;
use crate::store::ContainerRecord;

/// Most ports relayed for one peer address.
pub const MAX_PORTS_PER_PEER: usize = 64;
/// Most peer entries sent to one agent.
pub const MAX_HOSTS: usize = 512;

/// What the relay knows of a container besides its record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// What its agent last reported.
    pub listening: Listening,
}

fn body(record: &ContainerRecord) -> &serde_json::Value {
    record.config.get("body").unwrap_or(&record.config)
}

fn short_id(record: &ContainerRecord) -> String {
    record.id.chars().take(12).collect()
}

fn hostname(record: &ContainerRecord) -> Option<String> {
    body(record)
        .get("Hostname")
        .and_then(serde_json::Value::as_str)
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
}

/// `--link` entries of a container: (target name, alias). Accepts Docker's
/// `name:alias`, `name` and the inspect form `/name:/me/alias`.
pub fn links(record: &ContainerRecord) -> Vec<(String, String)> {
    body(record)
        .pointer("/HostConfig/Links")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(serde_json::Value::as_str)
        .filter_map(|l| {
            let (name, alias) = l.split_once(':').unwrap_or((l, l));
            let name = name.trim_start_matches('/');
            let alias = alias.rsplit('/').next().unwrap_or(alias);
            (!name.is_empty() && !alias.is_empty()).then(|| (name.to_owned(), alias.to_owned()))
        })
        .collect()
}

struct Builder<'a> {
    hosts: Vec<PeerHost>,
    names: BTreeSet<String>,
    mode: NetworkMode,
    observed: &'a HashMap<String, Observed>,
}

impl Builder<'_> {
    /// Adds `names` for `peer` at `ip` (relay) or at its reported address (direct).
    fn add(
        &mut self,
        peer: &ContainerRecord,
        ip: Option<std::net::Ipv4Addr>,
        names: Vec<String>,
        relay: bool,
    ) {
        if self.hosts.len() >= MAX_HOSTS {
            return;
        }
        let seen = self.observed.get(&peer.id);
        let ip = match self.mode {
            NetworkMode::Relay => ip.map(|i| i.to_string()),
            NetworkMode::Direct => seen.and_then(|o| o.listening.addresses.first().cloned()),
        };
        let Some(ip) = ip else { return };
        let names: Vec<String> = names
            .into_iter()
            .filter(|n| !n.is_empty() && self.names.insert(n.clone()))
            .collect();
        let ports: Vec<u16> = if relay && self.mode == NetworkMode::Relay {
            seen.map(|o| {
                o.listening
                    .ports
                    .iter()
                    .copied()
                    .take(MAX_PORTS_PER_PEER)
                    .collect()
            })
            .unwrap_or_default()
        } else {
            Vec::new()
        };
        if let Some(existing) = self.hosts.iter_mut().find(|h| h.ip == ip) {
            existing.names.extend(names);
            if relay {
                existing.ports = ports;
            }
            return;
        }
        if names.is_empty() && ports.is_empty() {
            return;
        }
        self.hosts.push(PeerHost { ip, names, ports });
    }
}

/// The peers of `me`. `endpoints` and `containers` are everything the store
/// holds; only running peers with an address count.
pub fn peers_for(
    me: &ContainerRecord,
    endpoints: &[Endpoint],
    containers: &[ContainerRecord],
    observed: &HashMap<String, Observed>,
    mode: NetworkMode,
) -> PeersUpdate {
    let by_id: HashMap<&str, &ContainerRecord> =
        containers.iter().map(|c| (c.id.as_str(), c)).collect();
    let mine: Vec<&Endpoint> = endpoints
        .iter()
        .filter(|e| e.container == me.id && e.ip.is_some())
        .collect();
    let mut b = Builder {
        hosts: Vec::new(),
        names: BTreeSet::new(),
        mode,
        observed,
    };
    // `--add-host` first: on a name clash the first line is the one resolved.
    for extra in crate::containers::extra_hosts::of_json(body(me)) {
        if b.hosts.len() >= MAX_HOSTS || !b.names.insert(extra.name.clone()) {
            continue;
        }
        let ip = extra.ip.to_string();
        match b.hosts.iter_mut().find(|h| h.ip == ip) {
            Some(h) => h.names.push(extra.name),
            None => b.hosts.push(PeerHost {
                ip,
                names: vec![extra.name],
                ports: Vec::new(),
            }),
        }
    }
    // Itself, under its hostname (as dockerd writes it), on its first address.
    if let Some(own) = mine.iter().find(|e| !e.default_bridge).or(mine.first()) {
        let own_name = hostname(me).unwrap_or_else(|| short_id(me));
        let mut names = Vec::new();
        if let Some(domain) = body(me)
            .get("Domainname")
            .and_then(serde_json::Value::as_str)
            .filter(|d| !d.is_empty())
        {
            names.push(format!("{own_name}.{domain}"));
        }
        names.push(own_name);
        b.add(me, own.ip, names, false);
    }
    // `--link`: names the linking container alone sees, on any network shared with it.
    for (target, alias) in links(me) {
        let Some(peer) = containers
            .iter()
            .find(|c| c.name == target || c.id == target)
        else {
            continue;
        };
        if peer.state != "running" || peer.id == me.id {
            continue;
        }
        let shared = endpoints.iter().find(|e| {
            e.container == peer.id
                && e.ip.is_some()
                && mine.iter().any(|m| m.network_id == e.network_id)
        });
        if let Some(ep) = shared {
            b.add(peer, ep.ip, vec![alias, peer.name.clone()], true);
        }
    }
    // The default bridge lets its containers reach each other by address
    // (dockerd's inter-container communication): relayed, not named.
    if mine.iter().any(|m| m.default_bridge) {
        let mut bridged: Vec<(&Endpoint, &ContainerRecord)> = endpoints
            .iter()
            .filter(|e| e.default_bridge && e.container != me.id && e.ip.is_some())
            .filter_map(|e| Some((e, *by_id.get(e.container.as_str())?)))
            .filter(|(_, c)| c.state == "running")
            .collect();
        bridged.sort_by_key(|(e, _)| e.ip);
        for (ep, peer) in bridged {
            b.add(peer, ep.ip, Vec::new(), true);
        }
    }
    // Everyone else on the user networks `me` is on.
    let mut others: Vec<(&Endpoint, &ContainerRecord)> = endpoints
        .iter()
        .filter(|e| e.container != me.id && e.ip.is_some() && !e.default_bridge)
        .filter(|e| mine.iter().any(|m| m.network_id == e.network_id))
        .filter_map(|e| Some((e, *by_id.get(e.container.as_str())?)))
        .filter(|(_, c)| c.state == "running")
        .collect();
    others.sort_by(|a, b| {
        (&a.0.network, a.1.created_at, &a.1.id).cmp(&(&b.0.network, b.1.created_at, &b.1.id))
    });
    for (ep, peer) in others {
        let mut names = vec![peer.name.clone()];
        names.extend(ep.aliases.iter().cloned());
        names.extend(hostname(peer));
        names.push(short_id(peer));
        b.add(peer, ep.ip, names, true);
    }
    PeersUpdate { hosts: b.hosts }
}

#[cfg(test)]
mod tests;
