//! LISTENING reports: the TCP ports the container's processes listen on
//! (`/proc/net/tcp` and `/proc/net/tcp6`, state LISTEN) and its non-loopback
//! IPv4 addresses, sent after every hello and whenever they change.

// unsafe: getifaddrs(3) walks a C linked list.
#![allow(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::hub::Hub;
use crate::protocol::{Frame, Listening};
use crate::relay::Relay;

/// How often the listening state is sampled.
const POLL: Duration = Duration::from_millis(500);
/// `st` column value of a socket in LISTEN state.
const TCP_LISTEN: &str = "0A";

/// Parses `/proc/net/tcp` or `/proc/net/tcp6` text: the local addresses of
/// sockets in LISTEN state. Lines that do not parse are skipped.
pub(crate) fn parse_proc_net_tcp(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let mut cols = line.split_whitespace();
            let _slot = cols.next()?;
            let local = cols.next()?;
            let _remote = cols.next()?;
            let state = cols.next()?;
            if state != TCP_LISTEN {
                return None;
            }
            parse_hex_addr(local)
        })
        .collect()
}

/// `0100007F:1F90` (IPv4) or 32 hex digits `:port` (IPv6). The kernel prints
/// each 32-bit word of the address in host byte order.
fn parse_hex_addr(s: &str) -> Option<SocketAddr> {
    let (addr, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let hex = addr.get(i * 8..i * 8 + 8)?;
        Some(u32::from_str_radix(hex, 16).ok()?.to_ne_bytes())
    };
    let ip = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// The report for these listening sockets, leaving out the agent's own.
pub(crate) fn report(
    listening: &[SocketAddr],
    own: impl Fn(&SocketAddr) -> bool,
    mut addresses: Vec<String>,
) -> Listening {
    let mut ports: Vec<u16> = listening
        .iter()
        .filter(|a| !own(a))
        .map(SocketAddr::port)
        .collect();
    ports.sort_unstable();
    ports.dedup();
    addresses.sort();
    addresses.dedup();
    Listening { ports, addresses }
}

/// The host's non-loopback IPv4 addresses (`getifaddrs`, no libc name service).
pub(crate) fn ipv4_addresses() -> Vec<String> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list returned by getifaddrs.
        let ifa = unsafe { &*cur };
        if !ifa.ifa_addr.is_null() {
            // SAFETY: ifa_addr points to a sockaddr whose family says its real type.
            let family = unsafe { (*ifa.ifa_addr).sa_family };
            if i32::from(family) == libc::AF_INET {
                // SAFETY: an AF_INET address is a sockaddr_in.
                let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                if !ip.is_loopback() {
                    out.push(ip.to_string());
                }
            }
        }
        cur = ifa.ifa_next;
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    out
}

fn scan(relay: &Relay, extra_own: &[SocketAddr]) -> Listening {
    let mut listening = Vec::new();
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(file) {
            listening.extend(parse_proc_net_tcp(&text));
        }
    }
    let own = |a: &SocketAddr| extra_own.contains(a) || relay.is_relay(a);
    report(&listening, own, ipv4_addresses())
}

/// Samples the listening state every 500 ms; queues a LISTENING frame when
/// it changed or a new connection started (`connections` changes).
pub(crate) async fn run(
    hub: Arc<Hub>,
    relay: Arc<Relay>,
    extra_own: Vec<SocketAddr>,
    mut connections: watch::Receiver<u64>,
) {
    let mut last: Option<Listening> = None;
    loop {
        let new_connection = connections.has_changed().unwrap_or(false);
        if new_connection {
            connections.borrow_and_update();
        }
        let relay2 = relay.clone();
        let extra = extra_own.clone();
        let current = match tokio::task::spawn_blocking(move || scan(&relay2, &extra)).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "listening scan failed");
                return;
            }
        };
        if new_connection || last.as_ref() != Some(&current) {
            hub.push_control(Frame::Listening(current.clone()));
            last = Some(current);
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            changed = connections.changed() => {
                if changed.is_err() {
                    return;
                }
                // Seen at the top of the loop: the report goes out even if unchanged.
                connections.mark_changed();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 12345 1 0000000000000000 100 0 0 10 0
   1: 00000000:1B58 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12346 1 0000000000000000 100 0 0 10 0
   2: 0300127F:1B58 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12347 1 0000000000000000 100 0 0 10 0
   3: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 12348 1 0000000000000000 100 0 0 10 0
   4: garbage
   5: ZZ00007F:1F90 00000000:0000 0A
";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 00000000000000000000000001000000:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0
   2: 0000000000000000FFFF00000500D50A:2328 00000000000000000000000000000000:0000 06 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0
";

    #[cfg(target_endian = "little")]
    #[test]
    fn parses_listening_sockets() {
        let v4 = parse_proc_net_tcp(TCP);
        assert_eq!(
            v4,
            vec![
                "127.0.0.1:8080".parse::<SocketAddr>().expect("addr"),
                "0.0.0.0:7000".parse().expect("addr"),
                "127.18.0.3:7000".parse().expect("addr"),
            ]
        );
        let v6 = parse_proc_net_tcp(TCP6);
        assert_eq!(
            v6,
            vec![
                "[::]:80".parse::<SocketAddr>().expect("addr"),
                "[::1]:8081".parse().expect("addr"),
            ]
        );
        assert!(parse_proc_net_tcp("").is_empty());
        assert!(parse_proc_net_tcp("header\n0: 01:1 0 0A\n0: 0100007F:XYZ 0 0A\n").is_empty());
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn reports_without_the_agents_own_listeners() {
        let mut all = parse_proc_net_tcp(TCP);
        all.extend(parse_proc_net_tcp(TCP6));
        let relay: SocketAddr = "127.18.0.3:7000".parse().expect("addr");
        let r = report(
            &all,
            |a| *a == relay,
            vec!["10.0.0.5".into(), "10.0.0.5".into()],
        );
        // 7000 stays: 0.0.0.0:7000 belongs to a process, only 127.18.0.3:7000 is the relay's.
        assert_eq!(r.ports, vec![80, 7000, 8080, 8081]);
        assert_eq!(r.addresses, vec!["10.0.0.5".to_string()]);
        let own = |a: &SocketAddr| a.port() == 7000;
        assert_eq!(report(&all, own, vec![]).ports, vec![80, 8080, 8081]);
    }

    #[test]
    fn finds_no_loopback_addresses() {
        assert!(
            ipv4_addresses()
                .iter()
                .all(|a| a.parse::<Ipv4Addr>().is_ok_and(|ip| !ip.is_loopback()))
        );
    }
}
