//! Tests of reading PortBindings, -P and ExposedPorts.

use std::collections::HashMap;

use sockerless_api::docker::{HostConfig, PortBinding};

use super::*;

fn binding(ip: &str, port: &str) -> PortBinding {
    PortBinding {
        host_ip: Some(ip.into()),
        host_port: Some(port.into()),
    }
}

fn body(
    bindings: &[(&str, Option<Vec<PortBinding>>)],
    exposed: &[&str],
    all: bool,
) -> ContainerCreateBody {
    ContainerCreateBody {
        exposed_ports: (!exposed.is_empty())
            .then(|| exposed.iter().map(|s| (*s).to_owned()).collect()),
        host_config: Some(HostConfig {
            port_bindings: Some(
                bindings
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect::<HashMap<_, _>>(),
            ),
            publish_all_ports: Some(all),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn req(container_port: u16, host_ip: HostIp, host_port: HostPorts) -> PortRequest {
    PortRequest {
        container_port,
        host_ip,
        host_port,
    }
}

#[test]
fn host_ports_as_dockerd_reads_them() {
    assert_eq!(parse_host_port(""), Ok(HostPorts::Dynamic));
    assert_eq!(parse_host_port("0"), Ok(HostPorts::Dynamic));
    assert_eq!(parse_host_port("8080"), Ok(HostPorts::Fixed(8080)));
    assert_eq!(
        parse_host_port("8000-8010"),
        Ok(HostPorts::Range(8000, 8010))
    );
    assert_eq!(parse_host_port("8000-8000"), Ok(HostPorts::Fixed(8000)));
    for bad in [
        "99999",
        "abc",
        "9000-8000",
        "-5",
        "1-",
        "0-10",
        "+80",
        "65536",
    ] {
        let err = parse_host_port(bad).expect_err(bad);
        assert_eq!(
            err,
            ApiError::InvalidParameter(format!("invalid port specification: {bad:?}"))
        );
    }
}

#[test]
fn host_ips() {
    assert_eq!(parse_host_ip(""), Ok(HostIp::Any));
    assert_eq!(
        parse_host_ip("127.0.0.1"),
        Ok(HostIp::Addr("127.0.0.1".parse().expect("ip")))
    );
    assert_eq!(
        parse_host_ip("[::1]"),
        Ok(HostIp::Addr("::1".parse().expect("ip")))
    );
    assert!(matches!(
        parse_host_ip("300.1.1.1"),
        Err(ApiError::InvalidParameter(m)) if m.contains("300.1.1.1")
    ));
}

#[test]
fn keys_accept_tcp_and_refuse_udp_and_sctp_by_name() {
    assert_eq!(parse_key("8080/tcp"), Ok(8080));
    assert_eq!(parse_key("8080"), Ok(8080));
    for key in ["53/udp", "9/sctp", "53/UDP"] {
        let Err(ApiError::InvalidParameter(m)) = parse_key(key) else {
            panic!("{key} accepted");
        };
        assert!(m.contains(key), "{m}");
        assert!(m.contains("TCP only"), "{m}");
    }
    assert!(parse_key("99999/tcp").is_err());
    assert!(parse_key("0/tcp").is_err());
    assert!(parse_key("80/xyz").is_err());
}

#[test]
fn bindings_in_port_order_with_unpublished_exposed_ports() {
    let b = body(
        &[
            ("8080/tcp", Some(vec![binding("127.0.0.1", "")])),
            (
                "80/tcp",
                Some(vec![binding("", "8000-8010"), binding("::1", "81")]),
            ),
            ("90/tcp", None),
        ],
        &["8080/tcp", "92/tcp", "53/udp"],
        false,
    );
    let p = plan(&b).expect("plan");
    assert_eq!(
        p.exposed.iter().copied().collect::<Vec<_>>(),
        [80, 90, 92, 8080]
    );
    let lo: IpAddr = "127.0.0.1".parse().expect("ip");
    let v6: IpAddr = "::1".parse().expect("ip");
    assert_eq!(
        p.bindings,
        [
            req(80, HostIp::Any, HostPorts::Range(8000, 8010)),
            req(80, HostIp::Addr(v6), HostPorts::Fixed(81)),
            req(8080, HostIp::Addr(lo), HostPorts::Dynamic),
        ]
    );
}

#[test]
fn publish_all_takes_every_exposed_port_without_a_binding() {
    let b = body(
        &[("80/tcp", Some(vec![binding("", "8080")]))],
        &["80/tcp", "443/tcp", "9000"],
        true,
    );
    let p = plan(&b).expect("plan");
    assert_eq!(
        p.bindings,
        [
            req(80, HostIp::Any, HostPorts::Fixed(8080)),
            req(443, HostIp::Any, HostPorts::Dynamic),
            req(9000, HostIp::Any, HostPorts::Dynamic),
        ]
    );
    // An exposed UDP port is refused only when -P would publish it.
    let udp = body(&[], &["53/udp"], true);
    assert!(matches!(plan(&udp), Err(ApiError::InvalidParameter(m)) if m.contains("53/udp")));
    assert_eq!(
        plan(&body(&[], &["53/udp"], false)),
        Ok(PortPlan::default())
    );
}

#[test]
fn refused_at_create_udp_binding_and_bad_host_port() {
    let udp = body(&[("53/udp", Some(vec![binding("", "53")]))], &[], false);
    assert!(matches!(plan(&udp), Err(ApiError::InvalidParameter(m)) if m.contains("53/udp")));
    let bad = body(&[("80/tcp", Some(vec![binding("", "99999")]))], &[], false);
    assert_eq!(
        plan(&bad),
        Err(ApiError::InvalidParameter(
            "invalid port specification: \"99999\"".into()
        ))
    );
    assert_eq!(
        plan(&ContainerCreateBody::default()),
        Ok(PortPlan::default())
    );
}
