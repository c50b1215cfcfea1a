//! What a container asks to publish: `HostConfig.PortBindings`,
//! `HostConfig.PublishAllPorts` and `Config.ExposedPorts` (the image's
//! `EXPOSE` merged in at create), parsed and checked as dockerd does.
//! Pure: no socket is touched here.

use std::collections::BTreeSet;
use std::net::IpAddr;

use sockerless_api::ApiError;
use sockerless_api::docker::ContainerCreateBody;

/// The host address a port is published on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HostIp {
    /// `HostIp` empty: every interface, `0.0.0.0` and (where the host has
    /// IPv6) `[::]`, as dockerd binds both.
    Any,
    /// One address.
    Addr(IpAddr),
}

/// Which host port(s) a binding may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HostPorts {
    /// `HostPort` empty or `0`: a free port, chosen at start.
    Dynamic,
    /// Exactly this port.
    Fixed(u16),
    /// A free port in this inclusive range (`8000-8010`), chosen at start.
    Range(u16, u16),
}

/// One requested publication of a container port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRequest {
    /// The TCP port inside the container.
    pub container_port: u16,
    /// Where to listen on the host.
    pub host_ip: HostIp,
    /// Which host port.
    pub host_port: HostPorts,
}

/// Everything a container publishes and exposes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortPlan {
    /// Every exposed TCP port (exposed ports and port-binding keys), sorted:
    /// the keys of `NetworkSettings.Ports` while the container runs.
    pub exposed: BTreeSet<u16>,
    /// The bindings to make at start, in dockerd's order (by container
    /// port, then as listed).
    pub bindings: Vec<PortRequest>,
}

fn invalid_spec(value: &str) -> ApiError {
    ApiError::InvalidParameter(format!("invalid port specification: {value:?}"))
}

fn not_tcp(key: &str, proto: &str) -> ApiError {
    ApiError::InvalidParameter(format!(
        "cannot publish or expose port {key}: sockerless relays TCP only, {} is not supported \
         (publish the port as {}/tcp, or leave it out)",
        proto.to_ascii_uppercase(),
        key.split('/').next().unwrap_or(key)
    ))
}

/// A port number as dockerd reads one: decimal, 0..=65535.
fn port_number(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A container port key, `8080/tcp` or `8080` (TCP). UDP and SCTP are refused.
pub fn parse_key(key: &str) -> Result<u16, ApiError> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let proto = proto.to_ascii_lowercase();
    match proto.as_str() {
        "tcp" | "" => {}
        "udp" | "sctp" => return Err(not_tcp(key, &proto)),
        _ => {
            return Err(ApiError::InvalidParameter(format!(
                "invalid port {key:?}: unknown protocol {proto:?}"
            )));
        }
    }
    match port_number(port) {
        Some(p) if p > 0 => Ok(p),
        _ => Err(invalid_spec(port)),
    }
}

/// A `HostPort`: empty or `0` (dynamic), a number, or a range `lo-hi`.
pub fn parse_host_port(s: &str) -> Result<HostPorts, ApiError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(HostPorts::Dynamic);
    }
    if let Some((lo, hi)) = s.split_once('-') {
        return match (port_number(lo), port_number(hi)) {
            (Some(lo), Some(hi)) if lo <= hi && lo > 0 => Ok(if lo == hi {
                HostPorts::Fixed(lo)
            } else {
                HostPorts::Range(lo, hi)
            }),
            _ => Err(invalid_spec(s)),
        };
    }
    match port_number(s) {
        Some(0) => Ok(HostPorts::Dynamic),
        Some(p) => Ok(HostPorts::Fixed(p)),
        None => Err(invalid_spec(s)),
    }
}

/// A `HostIp`: empty means every interface; IPv6 may be bracketed.
pub fn parse_host_ip(s: &str) -> Result<HostIp, ApiError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(HostIp::Any);
    }
    let bare = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    bare.parse::<IpAddr>()
        .map(HostIp::Addr)
        .map_err(|_| ApiError::InvalidParameter(format!("invalid host IP address: {s:?}")))
}

/// Reads the plan of a container config (after the image's config was
/// merged in). Fails with Docker's 400 on anything that cannot be published.
pub fn plan(body: &ContainerCreateBody) -> Result<PortPlan, ApiError> {
    let host = body.host_config.as_ref();
    let publish_all = host.and_then(|h| h.publish_all_ports).unwrap_or(false);
    let mut out = PortPlan::default();
    let mut listed: Vec<(u16, Vec<(String, String)>)> = Vec::new();
    for (key, bindings) in host
        .and_then(|h| h.port_bindings.as_ref())
        .into_iter()
        .flatten()
    {
        let port = parse_key(key)?;
        out.exposed.insert(port);
        let pairs = bindings
            .iter()
            .flatten()
            .map(|b| {
                (
                    b.host_ip.clone().unwrap_or_default(),
                    b.host_port.clone().unwrap_or_default(),
                )
            })
            .collect();
        listed.push((port, pairs));
    }
    for key in body.exposed_ports.iter().flatten() {
        match parse_key(key) {
            Ok(port) => {
                out.exposed.insert(port);
            }
            // An exposed UDP port is only refused when -P would publish it.
            Err(e) if publish_all => return Err(e),
            Err(_) => {}
        }
    }
    listed.sort_by_key(|(port, _)| *port);
    for &port in &out.exposed {
        let mut pairs: Vec<&(String, String)> = listed
            .iter()
            .filter(|(p, _)| *p == port)
            .flat_map(|(_, pairs)| pairs)
            .collect();
        if pairs.is_empty() {
            if publish_all {
                out.bindings.push(PortRequest {
                    container_port: port,
                    host_ip: HostIp::Any,
                    host_port: HostPorts::Dynamic,
                });
            }
            continue;
        }
        pairs.dedup();
        for (ip, host_port) in pairs {
            out.bindings.push(PortRequest {
                container_port: port,
                host_ip: parse_host_ip(ip)?,
                host_port: parse_host_port(host_port)?,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
