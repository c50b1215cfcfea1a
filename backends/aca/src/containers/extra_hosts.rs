//! `HostConfig.ExtraHosts` (`--add-host name:ip`): entries of the
//! container's `/etc/hosts`, written by its agent with the peers (see
//! `relay::peers`). Checked at create as dockerd checks them.
//!
//! `host-gateway` (dockerd's address of the Docker host) is refused: the
//! container runs on Azure Container Apps, where no Docker host exists to
//! reach; a published port or the Docker socket bind is the way back.

use std::net::IpAddr;

use sockerless_api::docker::ContainerCreateBody;
use sockerless_api::{ApiError, Result};

/// dockerd's special address of the Docker host.
pub const HOST_GATEWAY: &str = "host-gateway";
/// Most entries one container may add.
pub const MAX_EXTRA_HOSTS: usize = 256;

/// One `name:ip` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraHost {
    /// The name as given.
    pub name: String,
    /// The address, in canonical form.
    pub ip: IpAddr,
}

/// Parses one entry: `name:ip` (the API's form) or `name=ip` (the CLI's
/// newer spelling); IPv6 may be bracketed.
pub fn parse(entry: &str) -> Result<ExtraHost> {
    let invalid = |why: &str| {
        ApiError::InvalidParameter(format!("invalid ExtraHosts entry {entry:?}: {why}"))
    };
    let (name, ip) = entry
        .split_once('=')
        .or_else(|| entry.split_once(':'))
        .ok_or_else(|| invalid("expected name:ip"))?;
    let name = name.trim();
    let ip = ip.trim();
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '#') {
        return Err(invalid("bad host name"));
    }
    if ip == HOST_GATEWAY {
        return Err(ApiError::InvalidParameter(format!(
            "ExtraHosts {entry:?}: {HOST_GATEWAY} is not supported: containers run on Azure \
             Container Apps and there is no Docker host to reach; publish a port or bind \
             the Docker socket instead"
        )));
    }
    let bare = ip
        .strip_prefix('[')
        .and_then(|i| i.strip_suffix(']'))
        .unwrap_or(ip);
    let ip = bare
        .parse::<IpAddr>()
        .map_err(|_| invalid("bad IP address"))?;
    Ok(ExtraHost {
        name: name.to_owned(),
        ip,
    })
}

/// The entries of a create body, refused as a whole if one is bad.
pub fn of_body(body: &ContainerCreateBody) -> Result<Vec<ExtraHost>> {
    let entries = body
        .host_config
        .as_ref()
        .and_then(|h| h.extra_hosts.as_ref());
    let Some(entries) = entries else {
        return Ok(Vec::new());
    };
    if entries.len() > MAX_EXTRA_HOSTS {
        return Err(ApiError::InvalidParameter(format!(
            "ExtraHosts: {} entries, at most {MAX_EXTRA_HOSTS}",
            entries.len()
        )));
    }
    entries.iter().map(|e| parse(e)).collect()
}

/// The entries of a stored body (JSON); bad ones were refused at create.
pub fn of_json(body: &serde_json::Value) -> Vec<ExtraHost> {
    body.pointer("/HostConfig/ExtraHosts")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(serde_json::Value::as_str)
        .filter_map(|e| parse(e).ok())
        .take(MAX_EXTRA_HOSTS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forms_dockerd_accepts() {
        let e = parse("db:10.1.2.3").expect("v4");
        assert_eq!(
            (e.name.as_str(), e.ip.to_string()),
            ("db", "10.1.2.3".into())
        );
        assert_eq!(parse("db=10.1.2.3").expect("="), e);
        assert_eq!(parse("v6:::1").expect("v6").ip.to_string(), "::1");
        assert_eq!(
            parse("v6=[fe80::1]").expect("[v6]").ip.to_string(),
            "fe80::1"
        );
        assert_eq!(parse("v6:[::1]").expect("[v6]").ip.to_string(), "::1");
    }

    #[test]
    fn bad_entries_and_host_gateway_are_refused_by_name() {
        for bad in [
            "db",
            "db:",
            ":1.2.3.4",
            "db:not-an-ip",
            "d b:1.2.3.4",
            "db:1.2.3.4.5",
        ] {
            let err = parse(bad).expect_err(bad);
            assert_eq!(err.status().as_u16(), 400, "{bad}");
            assert!(err.message().contains("ExtraHosts"), "{bad}: {err:?}");
        }
        let err = parse("host.docker.internal:host-gateway").expect_err("gateway");
        assert!(err.message().contains("host-gateway"), "{err:?}");
    }

    #[test]
    fn stored_bodies_give_their_entries() {
        let body = serde_json::json!({"HostConfig": {"ExtraHosts": ["a:1.1.1.1", "b:::2"]}});
        let got: Vec<String> = of_json(&body)
            .into_iter()
            .map(|e| format!("{} {}", e.name, e.ip))
            .collect();
        assert_eq!(got, ["a 1.1.1.1", "b ::2"]);
        assert!(of_json(&serde_json::json!({})).is_empty());
    }
}
