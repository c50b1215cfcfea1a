//! Host listeners for published ports, bound as dockerd's port allocator
//! and userland proxy do: fixed ports exactly, dynamic ones from the
//! ephemeral range with a moving cursor (so a restarted container gets a new
//! one), `HostIp` empty on `0.0.0.0` and `[::]`. Failures read as dockerd's.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::sync::{LazyLock, Mutex, MutexGuard};

use socket2::{Domain, Protocol, Socket, Type};

use super::spec::{HostIp, HostPorts, PortRequest};

/// Dynamic ports come from here, as dockerd's allocator takes them
/// (the kernel's default ephemeral range).
pub const DYNAMIC_RANGE: (u16, u16) = (32768, 60999);
const BACKLOG: i32 = 1024;

/// One host address and port listening for a container port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Bound {
    /// The container's TCP port.
    pub container_port: u16,
    /// The host address (`0.0.0.0`, `::` or the one requested).
    pub ip: IpAddr,
    /// The host port.
    pub host_port: u16,
}

/// Why a binding failed: the detail after dockerd's
/// `driver failed programming external connectivity on endpoint …:`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindError {
    /// Another container of this daemon holds the address and port.
    #[error("Bind for {0} failed: port is already allocated")]
    Allocated(String),
    /// The operating system refused the bind (another process holds it, …).
    #[error("Error starting userland proxy: listen {net} {addr}: bind: {reason}")]
    Listen {
        /// `tcp4` or `tcp6`.
        net: &'static str,
        /// `0.0.0.0:8080`, `[::]:8080`.
        addr: String,
        /// The system error, worded as Go's.
        reason: String,
    },
    /// No free port is left in the range.
    #[error("Bind for {0} failed: all ports are allocated")]
    Exhausted(String),
}

/// Host ports held by this process's containers, and where the dynamic
/// allocation resumes per address and range.
#[derive(Default)]
struct Registry {
    taken: HashSet<(IpAddr, u16)>,
    cursor: HashMap<(IpAddr, u16, u16), u16>,
}

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(Mutex::default);

fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|p| p.into_inner())
}

/// Listeners and the registry entries they hold; dropping releases both.
#[derive(Debug, Default)]
pub struct Listeners {
    /// What is bound, in request order (IPv4 before IPv6 for one request).
    pub bound: Vec<Bound>,
    /// The sockets, non-blocking, one per entry of `bound`.
    pub sockets: Vec<TcpListener>,
}

impl Drop for Listeners {
    fn drop(&mut self) {
        let mut r = registry();
        for b in &self.bound {
            r.taken.remove(&(b.ip, b.host_port));
        }
    }
}

fn go_reason(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(98) => "address already in use".to_owned(),
        Some(99) => "cannot assign requested address".to_owned(),
        Some(13) => "permission denied".to_owned(),
        Some(97) => "address family not supported by protocol".to_owned(),
        _ => {
            let s = e.to_string();
            let s = s.split(" (os error").next().unwrap_or(&s).to_owned();
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_lowercase().chain(c).collect())
                .unwrap_or(s)
        }
    }
}

fn listen_error(addr: SocketAddr, e: &io::Error) -> BindError {
    BindError::Listen {
        net: if addr.is_ipv4() { "tcp4" } else { "tcp6" },
        addr: addr.to_string(),
        reason: go_reason(e),
    }
}

fn in_use(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::AddrInUse
}

/// The host has no IPv6 (so `[::]` is skipped for `HostIp` empty).
fn no_ipv6(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(97 | 99))
}

/// A listening socket on `addr`, as Go's `net.Listen` makes one
/// (SO_REUSEADDR, IPv6-only for IPv6 addresses), non-blocking.
pub fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

fn addresses(ip: HostIp) -> Vec<IpAddr> {
    match ip {
        HostIp::Any => vec![
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        ],
        HostIp::Addr(a) => vec![a],
    }
}

fn display(ip: IpAddr, port: u16) -> String {
    SocketAddr::new(ip, port).to_string()
}

/// Binds `port` on every address of `ips`; on any failure nothing stays bound.
/// `[::]` of `HostIp` empty is left out when the host has no IPv6.
fn bind_all(
    ips: &[IpAddr],
    any: bool,
    port: u16,
) -> Result<Vec<(IpAddr, TcpListener)>, (io::Error, SocketAddr)> {
    let mut out = Vec::new();
    for &ip in ips {
        let addr = SocketAddr::new(ip, port);
        match listen(addr) {
            Ok(l) => out.push((ip, l)),
            Err(e) if any && ip.is_ipv6() && no_ipv6(&e) => {
                tracing::debug!(%addr, error = %e, "no IPv6 on this host; [::] not bound");
            }
            Err(e) => return Err((e, addr)),
        }
    }
    Ok(out)
}

impl Listeners {
    fn claim(
        &mut self,
        r: &mut Registry,
        container_port: u16,
        port: u16,
        sockets: Vec<(IpAddr, TcpListener)>,
    ) {
        for (ip, socket) in sockets {
            r.taken.insert((ip, port));
            self.bound.push(Bound {
                container_port,
                ip,
                host_port: port,
            });
            self.sockets.push(socket);
        }
    }

    /// Binds one request; fixed ports exactly, others from their range.
    /// The registry stays locked meanwhile, so concurrent starts asking
    /// for one port see it allocated rather than racing for the socket.
    pub fn bind(&mut self, req: &PortRequest) -> Result<(), BindError> {
        let ips = addresses(req.host_ip);
        let any = req.host_ip == HostIp::Any;
        let mut r = registry();
        let (lo, hi) = match req.host_port {
            HostPorts::Fixed(port) => {
                if let Some(&ip) = ips.iter().find(|&&ip| r.taken.contains(&(ip, port))) {
                    return Err(BindError::Allocated(display(ip, port)));
                }
                let sockets = bind_all(&ips, any, port).map_err(|(e, a)| listen_error(a, &e))?;
                self.claim(&mut r, req.container_port, port, sockets);
                return Ok(());
            }
            HostPorts::Dynamic => DYNAMIC_RANGE,
            HostPorts::Range(lo, hi) => (lo, hi),
        };
        let key = (ips[0], lo, hi);
        let start = r.cursor.get(&key).copied().unwrap_or(hi);
        let span = u32::from(hi - lo) + 1;
        for step in 1..=span {
            let offset = (u32::from(start.saturating_sub(lo)) + step) % span;
            let port = lo + u16::try_from(offset).unwrap_or(0);
            if ips.iter().any(|&ip| r.taken.contains(&(ip, port))) {
                continue;
            }
            match bind_all(&ips, any, port) {
                Ok(sockets) => {
                    r.cursor.insert(key, port);
                    self.claim(&mut r, req.container_port, port, sockets);
                    return Ok(());
                }
                Err((e, _)) if in_use(&e) => continue,
                Err((e, addr)) => return Err(listen_error(addr, &e)),
            }
        }
        Err(BindError::Exhausted(display(ips[0], 0)))
    }
}

/// Binds every request, in order; on failure nothing stays bound.
pub fn bind_requests(reqs: &[PortRequest]) -> Result<Listeners, BindError> {
    let mut listeners = Listeners::default();
    for req in reqs {
        listeners.bind(req)?;
    }
    Ok(listeners)
}

#[cfg(test)]
mod tests;
