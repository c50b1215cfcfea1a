//! PEERS: the peers block of the hosts file and the relay listeners. Each
//! connection a relay listener accepts becomes a TCP_ACCEPTED socket session.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::hosts;
use crate::hub::Hub;
use crate::protocol::{AcceptedOn, PeersUpdate};
use crate::socket::{self, Announce, Sockets};

/// Relay ports one PEERS frame may ask for.
pub(crate) const MAX_RELAY_PORTS: usize = 1024;

/// Relay listeners by address, and where the hosts file is.
pub(crate) struct Relay {
    listeners: Mutex<HashMap<SocketAddr, JoinHandle<()>>>,
    /// Addresses relay ports were asked on (another agent of the replica may
    /// hold some of them).
    relay_ips: Mutex<BTreeSet<IpAddr>>,
    hosts_file: PathBuf,
}

impl Drop for Relay {
    fn drop(&mut self) {
        for (_, task) in self.lock().drain() {
            task.abort();
        }
    }
}

impl Relay {
    pub(crate) fn new(hosts_file: PathBuf) -> Arc<Self> {
        Arc::new(Relay {
            listeners: Mutex::new(HashMap::new()),
            relay_ips: Mutex::new(BTreeSet::new()),
            hosts_file,
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<SocketAddr, JoinHandle<()>>> {
        match self.listeners.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Whether a listening socket is a relay's (left out of LISTENING
    /// reports): one of ours, or any listener on a relay address.
    pub(crate) fn is_relay(&self, addr: &SocketAddr) -> bool {
        let ips = match self.relay_ips.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        ips.contains(&addr.ip()) || self.lock().contains_key(addr)
    }

    /// Applies a PEERS update; returns the problems, one message each (the
    /// rest of the update is applied regardless).
    pub(crate) fn apply(
        &self,
        hub: &Arc<Hub>,
        sockets: &Arc<Sockets>,
        update: &PeersUpdate,
    ) -> Vec<String> {
        let mut errors = Vec::new();
        if let Err(e) = hosts::apply(&self.hosts_file, &update.hosts) {
            errors.push(e);
        }
        let mut wanted = BTreeSet::new();
        for h in &update.hosts {
            if h.ports.is_empty() {
                continue;
            }
            let Ok(ip) = h.ip.parse::<IpAddr>() else {
                errors.push(format!("relay: invalid address {:?}", h.ip));
                continue;
            };
            for port in &h.ports {
                wanted.insert(SocketAddr::new(ip, *port));
            }
        }
        if wanted.len() > MAX_RELAY_PORTS {
            errors.push(format!(
                "relay: {} ports requested, only the first {MAX_RELAY_PORTS} are served",
                wanted.len()
            ));
            wanted = wanted.into_iter().take(MAX_RELAY_PORTS).collect();
        }
        match self.relay_ips.lock() {
            Ok(mut g) => *g = wanted.iter().map(SocketAddr::ip).collect(),
            Err(p) => *p.into_inner() = wanted.iter().map(SocketAddr::ip).collect(),
        }
        let mut listeners = self.lock();
        listeners.retain(|addr, task| {
            let keep = wanted.contains(addr) && !task.is_finished();
            if !keep {
                task.abort();
            }
            keep
        });
        for addr in wanted {
            if listeners.contains_key(&addr) {
                continue;
            }
            match bind(addr) {
                Ok(listener) => {
                    let task =
                        tokio::spawn(accept_loop(listener, addr, hub.clone(), sockets.clone()));
                    listeners.insert(addr, task);
                }
                Err(e) => errors.push(format!("relay listen {addr}: {e}")),
            }
        }
        errors
    }
}

fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    // std sets SO_REUSEADDR on Unix, so a port freed a moment ago binds again.
    let l = std::net::TcpListener::bind(addr)?;
    l.set_nonblocking(true)?;
    tokio::net::TcpListener::from_std(l)
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    hub: Arc<Hub>,
    sockets: Arc<Sockets>,
) {
    loop {
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                // E.g. out of file descriptors: back off instead of spinning.
                tracing::warn!(%addr, error = %e, "relay accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        match sockets.reserve(&hub, None) {
            Ok(slot) => {
                let on = AcceptedOn {
                    ip: addr.ip().to_string(),
                    port: addr.port(),
                };
                tokio::spawn(socket::run(hub.clone(), slot, tcp, Announce::Accepted(on)));
            }
            Err(e) => {
                tracing::debug!(%addr, error = %e, "relay connection refused");
                drop(tcp);
            }
        }
    }
}
