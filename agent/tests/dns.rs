//! Name resolution without libc: IP literals and localhost skip DNS; other
//! names go to the resolv.conf nameservers through the pure-Rust resolver.

// unsafe: geteuid to say why the test needs root.
#![allow(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use sockerless_agent::net::{resolve, resolve_using};
use tokio::net::UdpSocket;

#[tokio::test]
async fn literals_and_localhost_skip_dns() {
    let v4 = resolve("10.1.2.3", 80).await.expect("v4");
    assert_eq!(
        v4,
        vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)), 80)]
    );
    let v6 = resolve("::1", 443).await.expect("v6");
    assert_eq!(v6[0].to_string(), "[::1]:443");
    let local = resolve("LocalHost", 9112).await.expect("localhost");
    assert_eq!(local[0].to_string(), "127.0.0.1:9112");
}

/// Answers every A query with 127.0.0.9 and anything else with no records.
async fn tiny_dns_server(sock: UdpSocket) {
    let mut buf = [0u8; 512];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf).await else {
            return;
        };
        let q = &buf[..n];
        if q.len() < 12 {
            continue;
        }
        let mut end = 12;
        while end < q.len() && q[end] != 0 {
            end += q[end] as usize + 1;
        }
        end += 5; // zero label, QTYPE, QCLASS
        if end > q.len() {
            continue;
        }
        let is_a = q[end - 4..end - 2] == [0, 1];
        let mut resp = Vec::new();
        resp.extend_from_slice(&q[..2]); // id
        resp.extend_from_slice(&[0x81, 0x80, 0, 1, 0, u8::from(is_a), 0, 0, 0, 0]);
        resp.extend_from_slice(&q[12..end]);
        if is_a {
            resp.extend_from_slice(&[0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 9]);
        }
        let _ = sock.send_to(&resp, from).await;
    }
}

#[tokio::test]
#[ignore = "needs root for port 53 (cargo xtask test runs as root)"]
async fn names_resolve_through_resolv_conf_nameservers() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(unsafe { libc::geteuid() }, 0, "port 53 needs root");
    let sock = match UdpSocket::bind("127.0.0.53:53").await {
        Ok(s) => s,
        Err(_) => UdpSocket::bind("127.0.0.54:53")
            .await
            .expect("bind a loopback port 53"),
    };
    let ns = sock.local_addr().expect("addr").ip();
    let server = tokio::spawn(tiny_dns_server(sock));
    let conf = format!("nameserver {ns}\noptions timeout:5 attempts:2\n");
    let addrs = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        resolve_using("backend.example.com", 9112, conf.as_bytes()),
    )
    .await
    .expect("hang")
    .expect("resolve");
    assert_eq!(addrs, vec!["127.0.0.9:9112".parse().expect("addr")]);
    server.abort();
}
