//! Replicas are isolated as on Azure: a container started through the
//! all-in-one (emulator mode, real Docker CLI) cannot open a TCP connection to
//! a loopback port of the host, reaches the host only at the emulator
//! network's gateway address, and its agent dials home over `wss://` there.
//! See `common/mod.rs` for the environment it needs.

use sockerless_testkit as common;

use std::net::{IpAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Sockerless, serial, test_env};

/// Listens on `ip`, closing every accepted connection at once (so `nc` sees
/// EOF and exits); returns the port and the count of accepted connections.
fn listener(ip: IpAddr) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind((ip, 0)).expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            count.fetch_add(1, Ordering::SeqCst);
            drop(conn);
        }
    });
    (port, accepted)
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn replicas_cannot_reach_the_host_loopback_and_agents_dial_wss() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let network = d.sim_network();
    let gateway: IpAddr = network["gateway"]
        .as_str()
        .and_then(|g| g.parse().ok())
        .unwrap_or_else(|| panic!("gateway in {network}"));
    assert!(!gateway.is_loopback(), "{network}");

    let (loopback_port, loopback_hits) = listener(IpAddr::from([127, 0, 0, 1]));
    let (gateway_port, gateway_hits) = listener(gateway);

    let refused = d.docker(&[
        "run",
        "--rm",
        "busybox",
        "nc",
        "-w",
        "2",
        "127.0.0.1",
        &loopback_port.to_string(),
    ]);
    assert_ne!(
        refused.code, 0,
        "the host's loopback was reachable: {refused:?}"
    );
    assert!(
        refused.stderr.contains("Connection refused"),
        "nc inside the replica gets its own loopback: {refused:?}"
    );
    assert_eq!(loopback_hits.load(Ordering::SeqCst), 0);

    // Control: the same kind of listener on the gateway address is reachable.
    d.docker(&[
        "run",
        "--rm",
        "busybox",
        "nc",
        "-w",
        "2",
        &gateway.to_string(),
        &gateway_port.to_string(),
    ])
    .ok();
    assert!(gateway_hits.load(Ordering::SeqCst) >= 1);

    // Both containers ran (output came back through their agents), and every
    // agent was told to dial the endpoint on the gateway over TLS.
    let urls = d.callback_urls();
    assert!(urls.len() >= 2, "{urls:?}");
    let prefix = format!("wss://{gateway}:");
    assert!(urls.iter().all(|u| u.starts_with(&prefix)), "{urls:?}");

    d.assert_nothing_left();
    let (engine, owner_networks) = (d.engine.clone(), d.engine_networks());
    assert_eq!(owner_networks.len(), 1, "one replica network on {engine}");
    let name = network["name"].as_str().unwrap_or_default().to_owned();
    // Stopping removes the network along with the containers.
    let probe = {
        let mut cmd = std::process::Command::new(common::DOCKER);
        cmd.arg("-H")
            .arg(&engine)
            .args(["network", "inspect", &name]);
        cmd
    };
    assert_eq!(d.stop(), Some(0));
    let after = common::run(probe, None);
    assert_ne!(after.code, 0, "network {name} left behind: {after:?}");
}
