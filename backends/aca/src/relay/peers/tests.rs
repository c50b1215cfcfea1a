//! Tests of the peer tables given to the agents.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use serde_json::json;
use sockerless_agent::peer::Listening;

use super::*;
use crate::config::NetworkMode;
use crate::networks::endpoints::Endpoint;
use crate::store::ContainerRecord;

fn container(id_char: char, name: &str, state: &str, body: serde_json::Value) -> ContainerRecord {
    let id: String = std::iter::repeat_n(id_char, 64).collect();
    ContainerRecord {
        id: id.clone(),
        name: name.into(),
        image: "busybox".into(),
        job_name: format!("job-{id_char}"),
        execution_name: None,
        agent_address: None,
        agent_token_hash: None,
        state: state.into(),
        exit_code: None,
        created_at: id_char as i64,
        started_at: None,
        finished_at: None,
        config: json!({ "body": body }),
    }
}

fn endpoint(net: &str, c: &ContainerRecord, ip: [u8; 4], aliases: &[&str]) -> Endpoint {
    Endpoint {
        network_id: format!("id-{net}"),
        network: net.into(),
        default_bridge: net == "bridge",
        container: c.id.clone(),
        ip: Some(Ipv4Addr::from(ip)),
        prefix_len: 16,
        gateway: String::new(),
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        endpoint_id: String::new(),
    }
}

fn listening(ports: &[u16]) -> Observed {
    Observed {
        listening: Listening {
            ports: ports.to_vec(),
            addresses: vec!["10.1.0.9".into()],
        },
    }
}

#[test]
fn user_network_peers_resolve_by_name_alias_hostname_and_short_id() {
    let client = container('a', "client", "running", json!({}));
    let srv = container('b', "srv", "running", json!({"Hostname": "srvhost"}));
    let endpoints = vec![
        endpoint("n1", &client, [127, 18, 0, 2], &[]),
        endpoint("n1", &srv, [127, 18, 0, 3], &["db"]),
    ];
    let observed = HashMap::from([(srv.id.clone(), listening(&[7000]))]);
    let all = vec![client.clone(), srv.clone()];
    let update = peers_for(&client, &endpoints, &all, &observed, NetworkMode::Relay);
    assert_eq!(update.hosts.len(), 2, "{update:?}");
    assert_eq!(update.hosts[0].ip, "127.18.0.2");
    assert_eq!(update.hosts[0].names, vec!["aaaaaaaaaaaa"]);
    assert!(update.hosts[0].ports.is_empty(), "no relay to itself");
    let peer = &update.hosts[1];
    assert_eq!(peer.ip, "127.18.0.3");
    assert_eq!(peer.names, vec!["srv", "db", "srvhost", "bbbbbbbbbbbb"]);
    assert_eq!(peer.ports, vec![7000]);
}

#[test]
fn stopped_and_foreign_network_peers_are_not_seen() {
    let client = container('a', "client", "running", json!({}));
    let stopped = container('b', "stopped", "exited", json!({}));
    let other = container('c', "other", "running", json!({}));
    let endpoints = vec![
        endpoint("n1", &client, [127, 18, 0, 2], &[]),
        endpoint("n1", &stopped, [127, 18, 0, 3], &[]),
        endpoint("n2", &other, [127, 19, 0, 2], &[]),
    ];
    let all = vec![client.clone(), stopped, other];
    let update = peers_for(
        &client,
        &endpoints,
        &all,
        &HashMap::new(),
        NetworkMode::Relay,
    );
    assert_eq!(update.hosts.len(), 1, "only itself: {update:?}");
}

#[test]
fn default_bridge_resolves_links_only() {
    let client = container(
        'a',
        "client",
        "running",
        json!({"HostConfig": {"Links": ["/srv:/client/database"]}}),
    );
    let srv = container('b', "srv", "running", json!({}));
    let bystander = container('c', "bystander", "running", json!({}));
    let endpoints = vec![
        endpoint("bridge", &client, [127, 17, 0, 2], &[]),
        endpoint("bridge", &srv, [127, 17, 0, 3], &[]),
        endpoint("bridge", &bystander, [127, 17, 0, 4], &[]),
    ];
    let observed = HashMap::from([
        (srv.id.clone(), listening(&[5432])),
        (bystander.id.clone(), listening(&[80])),
    ]);
    let all = vec![client.clone(), srv, bystander];
    let update = peers_for(&client, &endpoints, &all, &observed, NetworkMode::Relay);
    let names: Vec<&str> = update
        .hosts
        .iter()
        .flat_map(|h| h.names.iter().map(String::as_str))
        .collect();
    assert!(
        names.contains(&"database") && names.contains(&"srv"),
        "{names:?}"
    );
    assert!(!names.contains(&"bystander"), "{names:?}");
    let srv_entry = update.hosts.iter().find(|h| h.ip == "127.17.0.3").unwrap();
    assert_eq!(srv_entry.ports, vec![5432]);
    // Reachable by address, as dockerd's bridge allows, but not by name.
    let by_address = update.hosts.iter().find(|h| h.ip == "127.17.0.4").unwrap();
    assert_eq!(
        (by_address.names.len(), &by_address.ports[..]),
        (0, &[80][..])
    );
}

#[test]
fn extra_hosts_come_first_and_win_a_name_clash() {
    let client = container(
        'a',
        "client",
        "running",
        json!({"HostConfig": {"ExtraHosts": ["db:10.1.2.3", "svc:127.17.0.3", "v6:::1"]}}),
    );
    let db = container('b', "db", "running", json!({}));
    let svc = container('c', "svc-1", "running", json!({}));
    let endpoints = vec![
        endpoint("n1", &client, [127, 18, 0, 2], &[]),
        endpoint("n1", &db, [127, 18, 0, 3], &[]),
        endpoint("bridge", &client, [127, 17, 0, 2], &[]),
        endpoint("bridge", &svc, [127, 17, 0, 3], &[]),
    ];
    let observed = HashMap::from([
        (db.id.clone(), listening(&[5432])),
        (svc.id.clone(), listening(&[6379])),
    ]);
    let all = vec![client.clone(), db, svc];
    let update = peers_for(&client, &endpoints, &all, &observed, NetworkMode::Relay);
    assert_eq!(update.hosts[0].ip, "10.1.2.3");
    assert_eq!(update.hosts[0].names, ["db"]);
    // The peer named db is still relayed, under its other names only.
    let db_entry = update.hosts.iter().find(|h| h.ip == "127.18.0.3").unwrap();
    assert!(!db_entry.names.iter().any(|n| n == "db"), "{db_entry:?}");
    assert_eq!(db_entry.ports, [5432]);
    // An added name on a peer's address gets the peer's relayed ports.
    let svc_entry = update.hosts.iter().find(|h| h.ip == "127.17.0.3").unwrap();
    assert_eq!(
        (&svc_entry.names[..], &svc_entry.ports[..]),
        (&["svc".to_string()][..], &[6379][..])
    );
    assert!(
        update
            .hosts
            .iter()
            .any(|h| h.ip == "::1" && h.names == ["v6"])
    );
}

#[test]
fn a_name_is_given_once_first_network_wins() {
    let client = container('a', "client", "running", json!({}));
    let x = container('b', "x", "running", json!({}));
    let y = container('c', "y", "running", json!({}));
    let endpoints = vec![
        endpoint("n1", &client, [127, 18, 0, 2], &[]),
        endpoint("n1", &x, [127, 18, 0, 3], &["db"]),
        endpoint("n1", &y, [127, 18, 0, 4], &["db"]),
    ];
    let all = vec![client.clone(), x, y];
    let update = peers_for(
        &client,
        &endpoints,
        &all,
        &HashMap::new(),
        NetworkMode::Relay,
    );
    let with_db: Vec<_> = update
        .hosts
        .iter()
        .filter(|h| h.names.iter().any(|n| n == "db"))
        .collect();
    assert_eq!(with_db.len(), 1);
    assert_eq!(with_db[0].ip, "127.18.0.3");
}

#[test]
fn direct_mode_points_at_reported_addresses_without_ports() {
    let client = container('a', "client", "running", json!({}));
    let srv = container('b', "srv", "running", json!({}));
    let endpoints = vec![
        endpoint("n1", &client, [172, 18, 0, 2], &[]),
        endpoint("n1", &srv, [172, 18, 0, 3], &[]),
    ];
    let observed = HashMap::from([(srv.id.clone(), listening(&[7000]))]);
    let all = vec![client.clone(), srv];
    let update = peers_for(&client, &endpoints, &all, &observed, NetworkMode::Direct);
    let srv_entry = update
        .hosts
        .iter()
        .find(|h| h.names.iter().any(|n| n == "srv"))
        .unwrap();
    assert_eq!(srv_entry.ip, "10.1.0.9");
    assert!(srv_entry.ports.is_empty());
}

#[test]
fn links_parse_every_form() {
    let c = container(
        'a',
        "c",
        "running",
        json!({"HostConfig": {"Links": ["db:database", "cache", "/web:/c/site"]}}),
    );
    assert_eq!(
        links(&c),
        vec![
            ("db".to_string(), "database".to_string()),
            ("cache".to_string(), "cache".to_string()),
            ("web".to_string(), "site".to_string()),
        ]
    );
}
