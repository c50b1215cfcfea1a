//! Tests of the host port listeners and dockerd's allocator and messages.

use std::net::TcpListener as StdListener;

use super::*;

fn lo() -> IpAddr {
    IpAddr::V4(Ipv4Addr::LOCALHOST)
}

/// A port the OS says is free right now.
fn free_port() -> u16 {
    let l = StdListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn req(ip: HostIp, host_port: HostPorts) -> PortRequest {
    PortRequest {
        container_port: 80,
        host_ip: ip,
        host_port,
    }
}

#[test]
fn a_fixed_port_held_by_a_container_is_already_allocated_until_released() {
    let port = free_port();
    let first = bind_requests(&[req(HostIp::Addr(lo()), HostPorts::Fixed(port))]).expect("first");
    assert_eq!(
        first.bound,
        [Bound {
            container_port: 80,
            ip: lo(),
            host_port: port
        }]
    );
    let err = bind_requests(&[req(HostIp::Addr(lo()), HostPorts::Fixed(port))]).expect_err("taken");
    assert_eq!(
        err.to_string(),
        format!("Bind for 127.0.0.1:{port} failed: port is already allocated")
    );
    drop(first);
    let again = bind_requests(&[req(HostIp::Addr(lo()), HostPorts::Fixed(port))]).expect("again");
    assert_eq!(again.sockets.len(), 1);
}

#[test]
fn a_port_held_by_another_process_fails_as_the_userland_proxy_does() {
    let other = StdListener::bind("127.0.0.1:0").expect("bind");
    let port = other.local_addr().expect("addr").port();
    let err = bind_requests(&[req(HostIp::Addr(lo()), HostPorts::Fixed(port))]).expect_err("taken");
    assert_eq!(
        err.to_string(),
        format!(
            "Error starting userland proxy: listen tcp4 127.0.0.1:{port}: bind: address already in use"
        )
    );
}

#[test]
fn a_failed_request_releases_what_was_bound_before_it() {
    let other = StdListener::bind("127.0.0.1:0").expect("bind");
    let taken = other.local_addr().expect("addr").port();
    let free = free_port();
    let reqs = [
        req(HostIp::Addr(lo()), HostPorts::Fixed(free)),
        req(HostIp::Addr(lo()), HostPorts::Fixed(taken)),
    ];
    assert!(bind_requests(&reqs).is_err());
    bind_requests(&reqs[..1]).expect("the first port was released");
}

#[test]
fn dynamic_ports_come_from_the_ephemeral_range_and_move_on() {
    let a = bind_requests(&[req(HostIp::Addr(lo()), HostPorts::Dynamic)]).expect("a");
    let b = bind_requests(&[req(HostIp::Addr(lo()), HostPorts::Dynamic)]).expect("b");
    let (pa, pb) = (a.bound[0].host_port, b.bound[0].host_port);
    for p in [pa, pb] {
        assert!((DYNAMIC_RANGE.0..=DYNAMIC_RANGE.1).contains(&p), "{p}");
    }
    assert_ne!(pa, pb);
    let addr = a.sockets[0].local_addr().expect("addr");
    assert_eq!(addr, SocketAddr::new(lo(), pa));
}

#[test]
fn a_range_skips_ports_in_use() {
    // Two adjacent ports, the first held by another process.
    let (held, port) = loop {
        let held = StdListener::bind("127.0.0.1:0").expect("bind");
        let p = held.local_addr().expect("addr").port();
        if p < u16::MAX && StdListener::bind(("127.0.0.1", p + 1)).is_ok() {
            break (held, p);
        }
    };
    let got =
        bind_requests(&[req(HostIp::Addr(lo()), HostPorts::Range(port, port + 1))]).expect("range");
    assert_eq!(got.bound[0].host_port, port + 1);
    drop(held);
}

#[test]
fn every_interface_means_ipv4_and_ipv6_where_available() {
    let port = free_port();
    let got = bind_requests(&[req(HostIp::Any, HostPorts::Fixed(port))]).expect("any");
    assert_eq!(got.bound[0].ip, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    assert!(got.bound.len() <= 2);
    if let Some(v6) = got.bound.get(1) {
        assert_eq!(v6.ip, IpAddr::V6(Ipv6Addr::UNSPECIFIED));
        assert_eq!(v6.host_port, port);
    }
    let err = bind_requests(&[req(HostIp::Any, HostPorts::Fixed(port))]).expect_err("taken");
    assert_eq!(
        err.to_string(),
        format!("Bind for 0.0.0.0:{port} failed: port is already allocated")
    );
}

#[test]
fn system_errors_read_as_go_prints_them() {
    let e = io::Error::from_raw_os_error(99);
    assert_eq!(go_reason(&e), "cannot assign requested address");
    let e = io::Error::other("Something odd");
    assert_eq!(go_reason(&e), "something odd");
}
