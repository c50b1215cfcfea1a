//! Published ports as Docker shows them: `NetworkSettings.Ports` (what
//! `docker port` reads) and the `Ports` of `docker ps`. While the container
//! runs, every exposed port is listed (`null` when not published); once it
//! stopped, nothing, as dockerd does.

use std::collections::BTreeSet;

use sockerless_api::docker::{PortBinding, PortMap, PortSummary, PortSummaryTypeEnum};

use super::bind::Bound;

fn key(port: u16) -> String {
    format!("{port}/tcp")
}

/// `NetworkSettings.Ports`: `exposed` and `bound` while running, else empty.
pub fn port_map(running: Option<(&BTreeSet<u16>, &[Bound])>) -> PortMap {
    let mut map = PortMap::new();
    let Some((exposed, bound)) = running else {
        return map;
    };
    for &port in exposed {
        map.insert(key(port), None);
    }
    for b in bound {
        map.entry(key(b.container_port))
            .or_insert(None)
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: Some(b.ip.to_string()),
                host_port: Some(b.host_port.to_string()),
            });
    }
    map
}

/// The `Ports` of a `docker ps` row: `exposed` and `bound` while running.
pub fn summaries(running: Option<(&BTreeSet<u16>, &[Bound])>) -> Vec<PortSummary> {
    let Some((exposed, bound)) = running else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for &port in exposed {
        let mut any = false;
        for b in bound.iter().filter(|b| b.container_port == port) {
            any = true;
            out.push(PortSummary {
                ip: Some(b.ip.to_string()),
                private_port: port,
                public_port: Some(b.host_port),
                typ: Some(PortSummaryTypeEnum::TCP),
            });
        }
        if !any {
            out.push(PortSummary {
                ip: None,
                private_port: port,
                public_port: None,
                typ: Some(PortSummaryTypeEnum::TCP),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    fn bound(container_port: u16, ip: &str, host_port: u16) -> Bound {
        Bound {
            container_port,
            ip: ip.parse::<IpAddr>().expect("ip"),
            host_port,
        }
    }

    #[test]
    fn reads_as_dockerd_20_10() {
        // dockerd: -p 127.0.0.1::80 -p 90 --expose 93
        let exposed = BTreeSet::from([80, 90, 93]);
        let bound = [
            bound(80, "127.0.0.1", 32770),
            bound(90, "0.0.0.0", 32769),
            bound(90, "::", 32769),
        ];
        let map = port_map(Some((&exposed, &bound)));
        assert_eq!(
            serde_json::to_value(&map).expect("json"),
            serde_json::json!({
                "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "32770"}],
                "90/tcp": [{"HostIp": "0.0.0.0", "HostPort": "32769"}, {"HostIp": "::", "HostPort": "32769"}],
                "93/tcp": null,
            })
        );
        let ps = summaries(Some((&exposed, &bound)));
        assert_eq!(
            serde_json::to_value(&ps).expect("json"),
            serde_json::json!([
                {"IP": "127.0.0.1", "PrivatePort": 80, "PublicPort": 32770, "Type": "tcp"},
                {"IP": "0.0.0.0", "PrivatePort": 90, "PublicPort": 32769, "Type": "tcp"},
                {"IP": "::", "PrivatePort": 90, "PublicPort": 32769, "Type": "tcp"},
                {"PrivatePort": 93, "Type": "tcp"},
            ])
        );
    }

    #[test]
    fn nothing_once_stopped() {
        assert_eq!(
            serde_json::to_value(port_map(None)).expect("json"),
            serde_json::json!({})
        );
        assert!(summaries(None).is_empty());
    }
}
