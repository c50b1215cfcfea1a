//! Agent configuration, read from `SOCKERLESS_*` environment variables.

use std::path::PathBuf;
use std::time::Duration;

use crate::health::HealthConfig;
use crate::transport::Liveness;

/// Prefix of every variable the agent reads; all of them are removed from
/// the environment of the processes it starts.
pub const ENV_PREFIX: &str = "SOCKERLESS_";
/// Default per-stream output window (unacknowledged bytes kept).
pub const DEFAULT_BACKLOG: u64 = 4 * 1024 * 1024;
/// Default stdin bytes a peer may have in flight per session.
pub const DEFAULT_STDIN_WINDOW: u64 = 1024 * 1024;
/// Default wait for the peer to acknowledge the exit code.
pub const DEFAULT_EXIT_ACK_WAIT: Duration = Duration::from_secs(30);
/// Default forward-mode listen address.
pub const DEFAULT_LISTEN: &str = ":9111";
/// Default hosts file the agent keeps the peers block in.
pub const DEFAULT_HOSTS_FILE: &str = "/etc/hosts";

/// Errors in the configuration.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Everything the agent needs besides the command. `Debug` redacts the token.
#[derive(Clone)]
pub struct Config {
    /// Shared secret (`SOCKERLESS_AGENT_TOKEN`, required).
    pub token: String,
    /// `SOCKERLESS_CONTAINER_ID`.
    pub container_id: Option<String>,
    /// Reverse mode: `ws://` or `wss://` URL to dial (`SOCKERLESS_CALLBACK_URL`).
    pub callback_url: Option<String>,
    /// Forward mode listen address (`SOCKERLESS_AGENT_LISTEN`; default `:9111` without a callback URL).
    pub listen: Option<String>,
    /// Extra CA bundle for `wss://` (`SOCKERLESS_CA_FILE`).
    pub ca_file: Option<PathBuf>,
    /// Main process on a pty (`SOCKERLESS_TTY`).
    pub tty: bool,
    /// Main process stdin stays open until the peer closes it (`SOCKERLESS_OPEN_STDIN`).
    pub open_stdin: bool,
    /// Docker HealthConfig (`SOCKERLESS_HEALTHCHECK`, JSON).
    pub healthcheck: Option<HealthConfig>,
    /// Working directory of the main process (`SOCKERLESS_WORKDIR`, Docker's `WorkingDir`).
    pub workdir: Option<String>,
    /// User of the main process (`SOCKERLESS_USER`, Docker's `User`: name or uid[:gid]).
    pub user: Option<String>,
    /// Output window per stream in bytes (`SOCKERLESS_BACKLOG_BYTES`).
    pub backlog: u64,
    /// Stdin window per session in bytes (`SOCKERLESS_STDIN_WINDOW_BYTES`).
    pub stdin_window: u64,
    /// Wait for the exit acknowledgement while a peer is connected
    /// (`SOCKERLESS_EXIT_ACK_TIMEOUT`, seconds; each connection gets all of
    /// it, no peer connected means no limit; 0 = exit at once).
    pub exit_ack_wait: Duration,
    /// Log level of the agent's own diagnostics on stderr (`SOCKERLESS_LOG`).
    pub log: String,
    /// Hosts file holding the peers block (`SOCKERLESS_HOSTS_FILE`, default `/etc/hosts`).
    pub hosts_file: PathBuf,
    /// Longest wait for the first PEERS before the main process starts
    /// (`SOCKERLESS_AWAIT_PEERS_SECS`, seconds; 0 = start at once), so its
    /// `/etc/hosts` and relay listeners are in place when it runs.
    pub await_peers: Duration,
    /// How long the agent outlives an acknowledged exit of the main process
    /// (`SOCKERLESS_LINGER_SECS`, seconds; 0 = exit at once), waiting for a
    /// RESTART, so `docker start` of an exited container reuses the execution.
    pub linger: Duration,
    /// Pings to the backend and the longest silence of the link before the
    /// agent drops it and dials again (`SOCKERLESS_PING_SECS`, default 10;
    /// `SOCKERLESS_LIVENESS_TIMEOUT_SECS`, default 30: longer than the ping).
    pub liveness: Liveness,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("token", &"<redacted>")
            .field("container_id", &self.container_id)
            .field("callback_url", &self.callback_url)
            .field("listen", &self.listen)
            .field("ca_file", &self.ca_file)
            .field("tty", &self.tty)
            .field("open_stdin", &self.open_stdin)
            .field("healthcheck", &self.healthcheck.is_some())
            .field("workdir", &self.workdir)
            .field("user", &self.user)
            .field("backlog", &self.backlog)
            .field("stdin_window", &self.stdin_window)
            .field("exit_ack_wait", &self.exit_ack_wait)
            .field("log", &self.log)
            .field("hosts_file", &self.hosts_file)
            .field("await_peers", &self.await_peers)
            .field("linger", &self.linger)
            .field("liveness", &self.liveness)
            .finish()
    }
}

fn flag(v: Option<String>) -> bool {
    matches!(
        v.as_deref().map(str::to_ascii_lowercase).as_deref(),
        Some("1" | "true" | "yes")
    )
}

/// The callback URL carries the token and the container's output: `wss://`,
/// or `ws://` only to a loopback host.
fn check_callback_url(url: &str) -> Result<(), ConfigError> {
    if url.starts_with("wss://") {
        return Ok(());
    }
    let Some(rest) = url.strip_prefix("ws://") else {
        return Err(ConfigError(
            "SOCKERLESS_CALLBACK_URL must start with wss:// (or ws:// to loopback)".into(),
        ));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        Ok(())
    } else {
        Err(ConfigError(format!(
            "SOCKERLESS_CALLBACK_URL {url:?} is plain ws:// to a host that is not loopback: use wss://"
        )))
    }
}

impl Config {
    /// Reads the configuration through `get` (e.g. `|k| std::env::var(k).ok()`).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let non_empty = |k: &str| get(k).filter(|v| !v.is_empty());
        let token = non_empty("SOCKERLESS_AGENT_TOKEN")
            .ok_or_else(|| ConfigError("SOCKERLESS_AGENT_TOKEN is required".into()))?;
        let callback_url = non_empty("SOCKERLESS_CALLBACK_URL");
        if let Some(url) = callback_url.as_deref() {
            check_callback_url(url)?;
        }
        let listen = non_empty("SOCKERLESS_AGENT_LISTEN")
            .or_else(|| callback_url.is_none().then(|| DEFAULT_LISTEN.to_string()));
        let healthcheck = match non_empty("SOCKERLESS_HEALTHCHECK") {
            Some(json) => Some(serde_json::from_str(&json).map_err(|e| {
                ConfigError(format!("SOCKERLESS_HEALTHCHECK is not a HealthConfig: {e}"))
            })?),
            None => None,
        };
        let number = |k: &str, default: u64| -> Result<u64, ConfigError> {
            match non_empty(k) {
                Some(v) => v
                    .parse()
                    .map_err(|_| ConfigError(format!("{k} must be a number"))),
                None => Ok(default),
            }
        };
        let backlog = number("SOCKERLESS_BACKLOG_BYTES", DEFAULT_BACKLOG)?.max(4096);
        let stdin_window = number("SOCKERLESS_STDIN_WINDOW_BYTES", DEFAULT_STDIN_WINDOW)?.max(4096);
        let exit_ack_wait = Duration::from_secs(number(
            "SOCKERLESS_EXIT_ACK_TIMEOUT",
            DEFAULT_EXIT_ACK_WAIT.as_secs(),
        )?);
        let await_peers = Duration::from_secs(number("SOCKERLESS_AWAIT_PEERS_SECS", 0)?.min(300));
        // A day at most: ACA's replica timeout bounds the execution anyway.
        let linger = Duration::from_secs(number("SOCKERLESS_LINGER_SECS", 0)?.min(86_400));
        let liveness = Liveness::new(
            Duration::from_secs(number(
                "SOCKERLESS_PING_SECS",
                Liveness::DEFAULT.ping_every().as_secs(),
            )?),
            Duration::from_secs(number(
                "SOCKERLESS_LIVENESS_TIMEOUT_SECS",
                Liveness::DEFAULT.timeout().as_secs(),
            )?),
        )
        .map_err(|e| {
            ConfigError(format!(
                "SOCKERLESS_PING_SECS / SOCKERLESS_LIVENESS_TIMEOUT_SECS: {e}"
            ))
        })?;
        Ok(Config {
            await_peers,
            linger,
            liveness,
            token,
            container_id: non_empty("SOCKERLESS_CONTAINER_ID"),
            callback_url,
            listen,
            ca_file: non_empty("SOCKERLESS_CA_FILE").map(PathBuf::from),
            tty: flag(get("SOCKERLESS_TTY")),
            open_stdin: flag(get("SOCKERLESS_OPEN_STDIN")),
            healthcheck,
            workdir: non_empty("SOCKERLESS_WORKDIR"),
            user: non_empty("SOCKERLESS_USER"),
            backlog,
            stdin_window,
            exit_ack_wait,
            log: non_empty("SOCKERLESS_LOG").unwrap_or_else(|| "warn".into()),
            hosts_file: hosts_file(&get),
        })
    }
}

/// The hosts file: `SOCKERLESS_HOSTS_FILE`, or `/etc/hosts`.
pub fn hosts_file(get: &impl Fn(&str) -> Option<String>) -> PathBuf {
    get("SOCKERLESS_HOSTS_FILE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_HOSTS_FILE))
}

/// The environment for user processes: everything but the agent's own variables,
/// with a default `PATH` when the image has none.
pub fn user_environment(vars: impl Iterator<Item = (String, String)>) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vars.filter(|(k, _)| !k.starts_with(ENV_PREFIX)).collect();
    if !env.iter().any(|(k, _)| k == "PATH") {
        env.push((
            "PATH".into(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        ));
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn reads_and_validates() {
        fn get(m: &HashMap<&'static str, &'static str>) -> impl Fn(&str) -> Option<String> + use<> {
            let m = m.clone();
            move |k: &str| m.get(k).map(|v| v.to_string())
        }
        let mut m: HashMap<&'static str, &'static str> = HashMap::new();
        assert!(Config::from_lookup(get(&m)).is_err());
        m.insert("SOCKERLESS_AGENT_TOKEN", "secret-token-xyz");
        let c = Config::from_lookup(get(&m)).expect("config");
        assert_eq!(c.listen.as_deref(), Some(":9111"));
        assert_eq!(c.backlog, DEFAULT_BACKLOG);
        m.insert("SOCKERLESS_CALLBACK_URL", "http://x");
        assert!(Config::from_lookup(get(&m)).is_err());
        for bad in [
            "ws://x:1/agent/v1/connect",
            "ws://10.0.0.5/x",
            "ws://u@10.0.0.5:1",
        ] {
            m.insert("SOCKERLESS_CALLBACK_URL", bad);
            let err = Config::from_lookup(get(&m)).expect_err(bad);
            assert!(err.0.contains("wss://"), "{bad}: {}", err.0);
        }
        for ok in [
            "ws://127.0.0.1:1/a",
            "ws://[::1]:2/a",
            "ws://localhost/a",
            "wss://x:1/a",
        ] {
            m.insert("SOCKERLESS_CALLBACK_URL", ok);
            Config::from_lookup(get(&m)).unwrap_or_else(|e| panic!("{ok}: {}", e.0));
        }
        m.insert(
            "SOCKERLESS_CALLBACK_URL",
            "ws://127.0.0.1:1/agent/v1/connect",
        );
        m.insert("SOCKERLESS_TTY", "true");
        m.insert(
            "SOCKERLESS_HEALTHCHECK",
            r#"{"Test":["CMD","true"],"Retries":2}"#,
        );
        let c = Config::from_lookup(get(&m)).expect("config");
        assert!(c.listen.is_none() && c.tty);
        assert!(
            !format!("{c:?}").contains("secret-token-xyz"),
            "token in Debug"
        );
        assert_eq!(c.healthcheck.map(|h| h.retries), Some(2));
        assert!(c.linger.is_zero());
        m.insert("SOCKERLESS_LINGER_SECS", "60");
        assert_eq!(
            Config::from_lookup(get(&m)).expect("config").linger,
            std::time::Duration::from_secs(60)
        );
        assert_eq!(c.liveness, Liveness::DEFAULT);
        m.insert("SOCKERLESS_PING_SECS", "1");
        m.insert("SOCKERLESS_LIVENESS_TIMEOUT_SECS", "3");
        let l = Config::from_lookup(get(&m)).expect("config").liveness;
        assert_eq!(l.timeout(), std::time::Duration::from_secs(3));
        for (ping, timeout) in [("0", "3"), ("3", "3"), ("5", "3")] {
            m.insert("SOCKERLESS_PING_SECS", ping);
            m.insert("SOCKERLESS_LIVENESS_TIMEOUT_SECS", timeout);
            assert!(Config::from_lookup(get(&m)).is_err(), "{ping} {timeout}");
        }
        m.remove("SOCKERLESS_PING_SECS");
        m.remove("SOCKERLESS_LIVENESS_TIMEOUT_SECS");
        m.insert("SOCKERLESS_BACKLOG_BYTES", "lots");
        assert!(Config::from_lookup(get(&m)).is_err());
    }

    #[test]
    fn strips_agent_variables() {
        let env = user_environment(
            vec![
                ("SOCKERLESS_AGENT_TOKEN".into(), "s".into()),
                ("A".into(), "1".into()),
            ]
            .into_iter(),
        );
        assert!(env.iter().all(|(k, _)| !k.starts_with("SOCKERLESS_")));
        assert!(env.iter().any(|(k, _)| k == "PATH"));
    }
}
