//! `unix:///path` and `tcp://host:port` addresses.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;

use super::ListenError;

/// An address to listen on or connect to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ListenAddr {
    /// A Unix socket at an absolute path (`unix:///run/sockerless.sock`).
    Unix(PathBuf),
    /// A TCP host (name, IPv4 or IPv6 without brackets) and port
    /// (`tcp://127.0.0.1:2375`, `tcp://[::1]:2375`, `tcp://localhost:2375`).
    Tcp {
        /// Host name or IP literal.
        host: String,
        /// Port; 0 lets the system choose when binding.
        port: u16,
    },
}

impl ListenAddr {
    /// Whether this is a TCP address on the loopback interface (`localhost`,
    /// `127.0.0.0/8`, `::1`). Unix sockets are not TCP: `false`.
    pub fn is_loopback(&self) -> bool {
        match self {
            ListenAddr::Unix(_) => false,
            ListenAddr::Tcp { host, .. } => {
                host.eq_ignore_ascii_case("localhost")
                    || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
            }
        }
    }

    /// `host:port` as the `Host` header and socket APIs want it.
    pub(crate) fn host_port(&self) -> String {
        match self {
            ListenAddr::Unix(_) => "localhost".to_owned(),
            ListenAddr::Tcp { host, port } if host.contains(':') => format!("[{host}]:{port}"),
            ListenAddr::Tcp { host, port } => format!("{host}:{port}"),
        }
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Unix(path) => write!(f, "unix://{}", path.display()),
            ListenAddr::Tcp { .. } => write!(f, "tcp://{}", self.host_port()),
        }
    }
}

impl FromStr for ListenAddr {
    type Err = ListenError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| ListenError::InvalidAddr {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        if let Some(path) = input.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(invalid("the socket path must be absolute"));
            }
            if path.len() < 2 || path.ends_with('/') {
                return Err(invalid("the socket path must name a file"));
            }
            if path.contains('\0') {
                return Err(invalid("the socket path contains a NUL byte"));
            }
            return Ok(ListenAddr::Unix(PathBuf::from(path)));
        }
        let Some(rest) = input.strip_prefix("tcp://") else {
            return Err(invalid("unknown scheme"));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '@', '?', '#']) {
            return Err(invalid("only host:port may follow tcp://"));
        }
        let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| invalid("unclosed '[' in IPv6 host"))?;
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(invalid("the bracketed host is not an IPv6 address"));
            }
            let port = after
                .strip_prefix(':')
                .ok_or_else(|| invalid("a port is required"))?;
            (host, port)
        } else {
            let (host, port) = rest
                .rsplit_once(':')
                .ok_or_else(|| invalid("a port is required"))?;
            if host.contains(':') {
                return Err(invalid(
                    "IPv6 hosts must be in brackets, e.g. tcp://[::1]:2375",
                ));
            }
            (host, port)
        };
        if host.is_empty() {
            return Err(invalid("the host is empty"));
        }
        let host_ok = host.contains(':')
            || host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_');
        if !host_ok {
            return Err(invalid(
                "the host has characters not allowed in a host name",
            ));
        }
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("the port must be a number"));
        }
        let port: u16 = port
            .parse()
            .map_err(|_| invalid("the port must be between 0 and 65535"))?;
        Ok(ListenAddr::Tcp {
            host: host.to_owned(),
            port,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays_both_forms() {
        for s in [
            "unix:///run/sockerless.sock",
            "tcp://127.0.0.1:2375",
            "tcp://[::1]:0",
            "tcp://localhost:65535",
        ] {
            let addr: ListenAddr = s.parse().expect(s);
            assert_eq!(addr.to_string(), s);
        }
    }

    #[test]
    fn loopback() {
        let lb = |s: &str| s.parse::<ListenAddr>().expect(s).is_loopback();
        assert!(lb("tcp://127.0.0.1:1"));
        assert!(lb("tcp://127.8.0.1:1"));
        assert!(lb("tcp://[::1]:1"));
        assert!(lb("tcp://LOCALHOST:1"));
        assert!(!lb("tcp://0.0.0.0:1"));
        assert!(!lb("tcp://example.com:1"));
        assert!(!lb("unix:///x"));
    }

    #[test]
    fn rejects_other_forms_naming_the_accepted_ones() {
        for s in [
            "http://127.0.0.1:2375",
            "127.0.0.1:2375",
            "unix://relative.sock",
            "unix:///",
            "unix:///dir/",
            "tcp://127.0.0.1",
            "tcp://127.0.0.1:",
            "tcp://127.0.0.1:65536",
            "tcp://127.0.0.1:-1",
            "tcp://:2375",
            "tcp://::1:2375",
            "tcp://[::1]",
            "tcp://[nope]:1",
            "tcp://h:1/path",
            "tcp://u@h:1",
            "",
        ] {
            let err = s.parse::<ListenAddr>().expect_err(s).to_string();
            assert!(
                err.contains("unix:///absolute/path, tcp://host:port"),
                "{s}: {err}"
            );
        }
    }
}
