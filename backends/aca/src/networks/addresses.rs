//! Subnets and addresses (pure).
//!
//! In relay mode every address is a loopback address: the whole
//! `127.0.0.0/8` is routed on `lo` inside every container, so an agent can
//! listen on a peer's address without any privilege, and a client that dials
//! it reaches the agent's relay. Networks get `127.N.0.0/16` (the default
//! `bridge` `127.17.0.0/16`, user networks from `127.18.0.0/16` up, like
//! dockerd's `172.17`/`172.18`…), containers get addresses from `.0.2` up.
//! In direct mode the pools are dockerd's (`172.18.0.0/16` …) and a peer is
//! reached at the replica address its agent reports.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use sockerless_api::ApiError;

use crate::config::NetworkMode;

/// An IPv4 subnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    /// First address.
    pub base: Ipv4Addr,
    /// Prefix length.
    pub prefix: u8,
}

impl Subnet {
    /// Parses `a.b.c.d/n` (the base is masked).
    pub fn parse(text: &str) -> Option<Self> {
        let (ip, prefix) = text.trim().split_once('/')?;
        let ip: Ipv4Addr = ip.parse().ok()?;
        let prefix: u8 = prefix.parse().ok()?;
        if prefix > 32 {
            return None;
        }
        let base = Ipv4Addr::from(u32::from(ip) & Self::mask(prefix));
        Some(Self { base, prefix })
    }

    fn mask(prefix: u8) -> u32 {
        if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(prefix))
        }
    }

    /// Whether `ip` is inside.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & Self::mask(self.prefix) == u32::from(self.base)
    }

    /// Whether the whole subnet lies inside `other`.
    pub fn within(&self, other: &Subnet) -> bool {
        self.prefix >= other.prefix && other.contains(self.base)
    }

    /// The gateway dockerd picks: the first host address.
    pub fn default_gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.base).saturating_add(1))
    }

    fn last_host(&self) -> u32 {
        let size = if self.prefix == 0 {
            u32::MAX
        } else {
            (1u32 << (32 - u32::from(self.prefix))) - 1
        };
        u32::from(self.base).saturating_add(size).saturating_sub(1)
    }
}

/// Subnet and gateway of the default `bridge` network.
pub fn bridge_subnet(mode: NetworkMode) -> (&'static str, &'static str) {
    match mode {
        NetworkMode::Relay => ("127.17.0.0/16", "127.17.0.1"),
        NetworkMode::Direct => ("172.17.0.0/16", "172.17.0.1"),
    }
}

/// The candidate subnets (with gateways) of user networks, in order.
pub fn pool(mode: NetworkMode) -> Vec<(String, String)> {
    match mode {
        NetworkMode::Relay => (18..=254)
            .map(|b| (format!("127.{b}.0.0/16"), format!("127.{b}.0.1")))
            .collect(),
        NetworkMode::Direct => (18..=31)
            .map(|b| (format!("172.{b}.0.0/16"), format!("172.{b}.0.1")))
            .chain((0..16).map(|i| {
                (
                    format!("192.168.{}.0/20", i * 16),
                    format!("192.168.{}.1", i * 16),
                )
            }))
            .collect(),
    }
}

/// Refuses a user-given subnet that the mode cannot serve.
pub fn check_user_subnet(mode: NetworkMode, subnet: &str) -> Result<Subnet, ApiError> {
    let parsed = Subnet::parse(subnet).ok_or_else(|| {
        ApiError::InvalidParameter(format!("invalid subnet {subnet:?}: expected a.b.c.d/n"))
    })?;
    let loopback = Subnet {
        base: Ipv4Addr::new(127, 0, 0, 0),
        prefix: 8,
    };
    if mode == NetworkMode::Relay && !parsed.within(&loopback) {
        return Err(ApiError::InvalidParameter(format!(
            "subnet {subnet} is not supported in relay network mode: containers reach each other \
             through loopback addresses, so a network's subnet must lie inside 127.0.0.0/8 \
             (e.g. 127.42.0.0/16), or leave it out to get one"
        )));
    }
    if parsed.prefix > 30 {
        return Err(ApiError::InvalidParameter(format!(
            "subnet {subnet} is too small: at least a /30 is needed"
        )));
    }
    Ok(parsed)
}

/// The first free host address of `subnet`, skipping the gateway and `used`.
pub fn allocate(
    subnet: &Subnet,
    gateway: Option<Ipv4Addr>,
    used: &BTreeSet<Ipv4Addr>,
) -> Option<Ipv4Addr> {
    let gateway = gateway.unwrap_or_else(|| subnet.default_gateway());
    (u32::from(subnet.base).saturating_add(1)..=subnet.last_host())
        .map(Ipv4Addr::from)
        .find(|ip| *ip != gateway && !used.contains(ip))
}

/// Checks a requested address (`--ip`) against the subnet and the used ones.
pub fn check_requested(
    subnet: &Subnet,
    gateway: Option<Ipv4Addr>,
    used: &BTreeSet<Ipv4Addr>,
    requested: &str,
) -> Result<Ipv4Addr, ApiError> {
    let ip: Ipv4Addr = requested
        .parse()
        .map_err(|_| ApiError::InvalidParameter(format!("invalid IPv4 address: {requested}")))?;
    if !subnet.contains(ip)
        || u32::from(ip) == u32::from(subnet.base)
        || u32::from(ip) > subnet.last_host()
    {
        return Err(ApiError::InvalidParameter(format!(
            "no configured subnet or ip-range contain the IP address {requested}"
        )));
    }
    if used.contains(&ip) || gateway == Some(ip) {
        return Err(ApiError::Conflict(format!(
            "Address already in use: {requested}"
        )));
    }
    Ok(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_masks() {
        let s = Subnet::parse("127.18.3.4/16").unwrap();
        assert_eq!(s.base, Ipv4Addr::new(127, 18, 0, 0));
        assert!(s.contains(Ipv4Addr::new(127, 18, 255, 1)));
        assert!(!s.contains(Ipv4Addr::new(127, 19, 0, 1)));
        assert_eq!(s.default_gateway(), Ipv4Addr::new(127, 18, 0, 1));
        for bad in ["", "1.2.3.4", "1.2.3.4/33", "x/8", "1.2.3/8"] {
            assert!(Subnet::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn allocates_first_free_host_skipping_gateway() {
        let s = Subnet::parse("127.18.0.0/30").unwrap();
        let mut used = BTreeSet::new();
        let a = allocate(&s, None, &used).unwrap();
        assert_eq!(a, Ipv4Addr::new(127, 18, 0, 2));
        used.insert(a);
        // /30: .1 gateway, .2 used, .3 broadcast → full.
        assert_eq!(allocate(&s, None, &used), None);
    }

    #[test]
    fn relay_mode_refuses_non_loopback_subnets() {
        assert!(check_user_subnet(NetworkMode::Relay, "127.42.0.0/16").is_ok());
        let err = check_user_subnet(NetworkMode::Relay, "172.28.0.0/16").unwrap_err();
        assert!(err.to_string().contains("127.0.0.0/8"), "{err}");
        assert!(check_user_subnet(NetworkMode::Direct, "172.28.0.0/16").is_ok());
        assert!(check_user_subnet(NetworkMode::Direct, "10.0.0.0/31").is_err());
    }

    #[test]
    fn requested_addresses_are_checked() {
        let s = Subnet::parse("127.18.0.0/16").unwrap();
        let used = BTreeSet::from([Ipv4Addr::new(127, 18, 0, 2)]);
        let gw = Some(Ipv4Addr::new(127, 18, 0, 1));
        assert!(check_requested(&s, gw, &used, "127.18.0.9").is_ok());
        assert!(check_requested(&s, gw, &used, "127.18.0.2").is_err());
        assert!(check_requested(&s, gw, &used, "127.18.0.1").is_err());
        assert!(check_requested(&s, gw, &used, "127.19.0.9").is_err());
        assert!(check_requested(&s, gw, &used, "nope").is_err());
    }

    #[test]
    fn pools_do_not_overlap_bridge() {
        for mode in [NetworkMode::Relay, NetworkMode::Direct] {
            let (bridge, _) = bridge_subnet(mode);
            assert!(pool(mode).iter().all(|(s, _)| s != bridge));
        }
    }
}
