//! Addresses of containers on networks, through the backend's functions.

use serde_json::json;
use sockerless_api::Backend;
use sockerless_api::docker::{EndpointIpamConfig, EndpointSettings};

use super::tests::{backend_for_tests as backend, put_container};
use super::*;
use sockerless_api::docker::{NetworkConnectRequest, NetworkDisconnectRequest};

fn ip_of(n: &NetworkInspect, id: &str) -> String {
    n.containers
        .as_ref()
        .and_then(|c| c.get(id))
        .and_then(|e| e.ipv4_address.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn start_assigns_stable_loopback_addresses_and_rm_releases_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&dir).await;
    b.network_create(NetworkCreateRequest {
        name: "n1".into(),
        ..Default::default()
    })
    .await
    .expect("create");
    let (x, y) = ("a".repeat(64), "b".repeat(64));
    let on_n1 = json!({"body": {"HostConfig": {"NetworkMode": "n1"}}});
    put_container(&b, &x, "x", "running", on_n1.clone()).await;
    put_container(&b, &y, "y", "running", on_n1).await;
    endpoints::assign_addresses(&b, &x).await.expect("assign x");
    endpoints::assign_addresses(&b, &y).await.expect("assign y");
    endpoints::assign_addresses(&b, &x)
        .await
        .expect("again: stable");
    let n = b.network_inspect("n1").await.expect("inspect");
    assert_eq!(ip_of(&n, &x), "127.18.0.2/16");
    assert_eq!(ip_of(&n, &y), "127.18.0.3/16");

    endpoints::release_container(&b, &x).await.expect("release");
    let stored = all(&b).await.expect("all");
    let n1 = stored.iter().find(|n| n.record.name == "n1").expect("n1");
    assert!(!n1.stored.addresses.contains_key(&x));
    assert!(n1.stored.addresses.contains_key(&y));
}

#[tokio::test]
async fn connect_honours_a_requested_address_and_refuses_a_taken_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&dir).await;
    b.network_create(NetworkCreateRequest {
        name: "n2".into(),
        ..Default::default()
    })
    .await
    .expect("create");
    let (x, y) = ("c".repeat(64), "d".repeat(64));
    put_container(&b, &x, "x", "running", json!({"body": {}})).await;
    put_container(&b, &y, "y", "running", json!({"body": {}})).await;
    let with_ip = |ip: &str| EndpointSettings {
        ipam_config: Some(EndpointIpamConfig {
            ipv4_address: Some(ip.into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    b.network_connect(
        "n2",
        NetworkConnectRequest {
            container: "x".into(),
            endpoint_config: Some(with_ip("127.18.0.42")),
        },
    )
    .await
    .expect("connect with --ip");
    let n = b.network_inspect("n2").await.expect("inspect");
    assert_eq!(ip_of(&n, &x), "127.18.0.42/16");
    let err = b
        .network_connect(
            "n2",
            NetworkConnectRequest {
                container: "y".into(),
                endpoint_config: Some(with_ip("127.18.0.42")),
            },
        )
        .await
        .expect_err("taken");
    assert!(matches!(err, ApiError::Conflict(_)), "{err:?}");
    b.network_disconnect(
        "n2",
        NetworkDisconnectRequest {
            container: "x".into(),
            force: None,
        },
    )
    .await
    .expect("disconnect");
    let stored = all(&b).await.expect("all");
    let n2 = stored.iter().find(|n| n.record.name == "n2").expect("n2");
    assert!(n2.stored.addresses.is_empty(), "{:?}", n2.stored.addresses);
}

#[tokio::test]
async fn relay_mode_refuses_a_non_loopback_subnet_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&dir).await;
    let err = b
        .network_create(NetworkCreateRequest {
            name: "n3".into(),
            ipam: Some(Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some("172.28.0.0/16".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect_err("refused");
    assert!(
        matches!(&err, ApiError::InvalidParameter(m) if m.contains("172.28.0.0/16") && m.contains("127.0.0.0/8")),
        "{err:?}"
    );
}

#[test]
fn unsupported_network_modes_are_refused_at_create() {
    let mode = NetworkMode::Relay;
    let refused = |body: Value, needle: &str| {
        let err = endpoints::check_create(mode, &body).expect_err("refused");
        assert!(err.to_string().contains(needle), "{err}");
    };
    refused(json!({"HostConfig": {"NetworkMode": "host"}}), "\"host\"");
    refused(
        json!({"HostConfig": {"NetworkMode": "container:abc"}}),
        "container:abc",
    );
    refused(
        json!({"HostConfig": {"NetworkMode": "none", "PortBindings": {"80/tcp": [{"HostPort": "8080"}]}}}),
        "port publishing",
    );
    refused(
        json!({"HostConfig": {"NetworkMode": "none", "PublishAllPorts": true}}),
        "port publishing",
    );
    assert!(endpoints::check_create(mode, &json!({"HostConfig": {"NetworkMode": "none"}})).is_ok());
    assert!(endpoints::check_create(mode, &json!({"HostConfig": {"NetworkMode": "n1"}})).is_ok());
}
