//! Configuration: YAML file, `SOCKERLESS_ACA_*` environment, flags.
//!
//! Priority: flags > environment > file > defaults. The loader takes the
//! environment as an iterator so tests never touch the process environment.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use figment::Figment;
use figment::providers::Serialized;
use serde::Deserialize;
use sockerless_api::listen::{DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_MAX_CONNECTIONS};
use url::Url;

/// Prefix of every environment variable the backend reads.
pub const ENV_PREFIX: &str = "SOCKERLESS_ACA_";
/// Default internal API listener.
pub const DEFAULT_LISTEN: &str = "unix:///var/run/sockerless-backend.sock";
/// Default SQLite directory.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/sockerless/aca";
/// Default Azure Resource Manager endpoint.
pub const DEFAULT_ARM_ENDPOINT: &str = "https://management.azure.com";
/// Default Microsoft Entra ID authority host.
pub const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";
/// Default Log Analytics query endpoint.
pub const DEFAULT_LOG_ANALYTICS_ENDPOINT: &str = "https://api.loganalytics.io";
/// Default agent listener: loopback, because the agent endpoint may only
/// leave loopback with TLS (`agent_tls_cert` / `agent_tls_key`).
pub const DEFAULT_AGENT_LISTEN: &str = "tcp://127.0.0.1:9112";
/// Default token audience of ARM (Azure accepts this one for every cloud endpoint it fronts).
pub const DEFAULT_ARM_AUDIENCE: &str = "https://management.azure.com";
/// Default token audience of the Log Analytics query API.
pub const DEFAULT_LOG_ANALYTICS_AUDIENCE: &str = "https://api.loganalytics.io";
/// Default `replicaTimeout` of a job, seconds (one day).
pub const DEFAULT_REPLICA_TIMEOUT_SECS: u64 = 86_400;
/// Default wait for the agent to dial in after an execution starts, seconds.
pub const DEFAULT_AGENT_CONNECT_TIMEOUT_SECS: u64 = 600;
/// Default bound of captured output kept per container, bytes (16 MiB).
pub const DEFAULT_LOG_MAX_BYTES: u64 = 16 * 1024 * 1024;
/// Default bound of one bind (either way) and of files put before start, bytes (1 GiB).
pub const DEFAULT_BIND_MAX_BYTES: u64 = 1 << 30;
/// Default [`Config::changes_max_bytes`]: 1 GiB.
pub const DEFAULT_CHANGES_MAX_BYTES: u64 = 1 << 30;
/// Default bound of syncing binds back after the exit, seconds.
pub const DEFAULT_BIND_SYNC_TIMEOUT_SECS: u64 = 120;
/// Default share holding the volumes (`storage_share_name`).
pub const DEFAULT_STORAGE_SHARE_NAME: &str = "sockerless-volumes";
/// Default grace period before a disconnected agent is presumed gone, seconds.
pub const DEFAULT_AGENT_GRACE_SECS: u64 = 30;
pub use agent::{DEFAULT_AGENT_LIVENESS_TIMEOUT_SECS, DEFAULT_AGENT_PING_SECS};

/// The four keys without which the backend cannot start.
pub const REQUIRED_KEYS: [&str; 4] = [
    "subscription_id",
    "resource_group",
    "managed_environment_name",
    "location",
];

/// Every configuration key, in documentation order.
pub const ALL_KEYS: [&str; 44] = [
    "subscription_id",
    "resource_group",
    "managed_environment_name",
    "location",
    "log_analytics_workspace_id",
    "storage_account_name",
    "storage_account_key",
    "storage_file_endpoint",
    "storage_share_name",
    "registry_server",
    "registry_username",
    "registry_password",
    "acr_resource_id",
    "listen",
    "data_dir",
    "arm_endpoint",
    "authority_host",
    "log_analytics_endpoint",
    "registry_mirrors",
    "agent_image",
    "agent_callback_url",
    "agent_listen",
    "agent_tls_cert",
    "agent_tls_key",
    "agent_tls_ca",
    "log_level",
    "log_format",
    "arm_audience",
    "log_analytics_audience",
    "replica_timeout_secs",
    "agent_connect_timeout_secs",
    "log_max_bytes",
    "agent_grace_secs",
    "agent_ping_secs",
    "agent_liveness_timeout_secs",
    "network_mode",
    "docker_api_url",
    "bind_max_bytes",
    "bind_sync_timeout_secs",
    "ro_binds",
    "changes_max_bytes",
    "linger_secs",
    "max_connections",
    "header_read_timeout_secs",
];

/// A secret string (storage key, registry password): never printed.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The secret itself; use only to hand it to Azure.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl std::str::FromStr for SecretString {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

mod modes;
use modes::parse_mode;
pub use modes::{LogFormat, NetworkMode, ReadOnlyBinds};

mod agent;
mod sources;
use sources::{Number, env_layer, file_provider, parse_number, parse_url};
pub use sources::{env_var_name, flag_name, parse_mirror_list, process_env};

mod cli;
mod storage;
pub use cli::CliArgs;
use cli::flag_layer;

/// Why configuration could not be loaded. Both kinds make the binary exit 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Required keys are unset; lists every one.
    #[error("missing required configuration: {}", describe_missing(.0))]
    Missing(Vec<&'static str>),
    /// A value is malformed or the file is unreadable.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

fn describe_missing(keys: &[&'static str]) -> String {
    keys.iter()
        .map(|k| format!("{k} ({} or {})", flag_name(k), env_var_name(k)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The backend's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Azure subscription ID.
    pub subscription_id: String,
    /// Resource group of the jobs.
    pub resource_group: String,
    /// Name of the Container Apps managed environment.
    pub managed_environment_name: String,
    /// Azure region.
    pub location: String,
    /// Log Analytics workspace (customer ID or ARM ID).
    pub log_analytics_workspace_id: Option<String>,
    /// Storage account for volumes.
    pub storage_account_name: Option<String>,
    /// Storage account key.
    pub storage_account_key: Option<SecretString>,
    /// Azure Files endpoint of the storage account; `None`:
    /// `https://{storage_account_name}.file.core.windows.net`.
    pub storage_file_endpoint: Option<Url>,
    /// The file share holding every volume (a directory each).
    pub storage_share_name: String,
    /// Default registry server.
    pub registry_server: Option<String>,
    /// Registry user name.
    pub registry_username: Option<String>,
    /// Registry password.
    pub registry_password: Option<SecretString>,
    /// ARM ID of the registry whose ACR Tasks build images; `None`: the
    /// `registry_server` registry (`<name>.azurecr.io`) in `resource_group`.
    pub acr_resource_id: Option<String>,
    /// Internal API listener (`unix:///path` or `tcp://host:port`).
    pub listen: String,
    /// SQLite directory.
    pub data_dir: PathBuf,
    /// ARM endpoint.
    pub arm_endpoint: Url,
    /// Entra ID authority host.
    pub authority_host: Url,
    /// Log Analytics endpoint.
    pub log_analytics_endpoint: Url,
    /// Registry host (e.g. `docker.io`) → mirror base URL.
    pub registry_mirrors: BTreeMap<String, Url>,
    /// Agent image.
    pub agent_image: Option<String>,
    /// URL the agent dials.
    pub agent_callback_url: Option<String>,
    /// Agent listener.
    pub agent_listen: String,
    /// PEM certificate chain of the agent endpoint (TLS when set with the key).
    pub agent_tls_cert: Option<PathBuf>,
    /// PEM private key of the agent endpoint (the file's content is never logged).
    pub agent_tls_key: Option<PathBuf>,
    /// PEM CA the agents should trust, passed to every container.
    pub agent_tls_ca: Option<PathBuf>,
    /// Log filter.
    pub log_level: String,
    /// Log format.
    pub log_format: LogFormat,
    /// Token audience of ARM (scope `<audience>/.default`).
    pub arm_audience: Url,
    /// Token audience of Log Analytics.
    pub log_analytics_audience: Url,
    /// Default `replicaTimeout` in seconds.
    pub replica_timeout_secs: u64,
    /// Longest wait for the agent after an execution starts, seconds.
    pub agent_connect_timeout_secs: u64,
    /// Captured output kept per container, bytes.
    pub log_max_bytes: u64,
    /// Grace period of a disconnected agent, seconds.
    pub agent_grace_secs: u64,
    /// Seconds between two pings on an agent link (both ways).
    pub agent_ping_secs: u64,
    /// Seconds an agent link may stay silent before it is closed (both ways).
    pub agent_liveness_timeout_secs: u64,
    /// How containers on a user network reach each other.
    pub network_mode: NetworkMode,
    /// The Docker API that containers binding the Docker socket reach
    /// (`unix:///path` or `tcp://host:port`); without it such binds are refused.
    pub docker_api_url: Option<sockerless_api::listen::ListenAddr>,
    /// Most bytes of one bind (either way) and of the files put before start.
    pub bind_max_bytes: u64,
    /// Longest sync of the read-write binds after the exit, seconds.
    pub bind_sync_timeout_secs: u64,
    /// How `:ro` binds of directories are made.
    pub ro_binds: ReadOnlyBinds,
    /// Most bytes of a container's recorded changes against its image,
    /// kept at each exit and restored in its next replica; 0: none kept.
    pub changes_max_bytes: u64,
    /// How long an exited container's execution is kept for a `docker start`
    /// that reruns the process in it, seconds (0: the execution ends at the exit).
    pub linger_secs: u64,
    /// Connections each listener (Docker API, agent endpoint) serves at once.
    pub max_connections: u64,
    /// Seconds a client may take to send a request's headers (also the idle
    /// timeout of a keep-alive connection between requests).
    pub header_read_timeout_secs: u64,
}

/// What the layered sources produce before defaults and validation.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    subscription_id: Option<String>,
    resource_group: Option<String>,
    managed_environment_name: Option<String>,
    location: Option<String>,
    log_analytics_workspace_id: Option<String>,
    storage_account_name: Option<String>,
    storage_account_key: Option<String>,
    storage_file_endpoint: Option<String>,
    storage_share_name: Option<String>,
    registry_server: Option<String>,
    registry_username: Option<String>,
    registry_password: Option<String>,
    acr_resource_id: Option<String>,
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    arm_endpoint: Option<String>,
    authority_host: Option<String>,
    log_analytics_endpoint: Option<String>,
    registry_mirrors: Option<BTreeMap<String, String>>,
    agent_image: Option<String>,
    agent_callback_url: Option<String>,
    agent_listen: Option<String>,
    agent_tls_cert: Option<PathBuf>,
    agent_tls_key: Option<PathBuf>,
    agent_tls_ca: Option<PathBuf>,
    log_level: Option<String>,
    log_format: Option<String>,
    arm_audience: Option<String>,
    log_analytics_audience: Option<String>,
    replica_timeout_secs: Option<Number>,
    agent_connect_timeout_secs: Option<Number>,
    log_max_bytes: Option<Number>,
    agent_grace_secs: Option<Number>,
    agent_ping_secs: Option<Number>,
    agent_liveness_timeout_secs: Option<Number>,
    network_mode: Option<String>,
    docker_api_url: Option<String>,
    bind_max_bytes: Option<Number>,
    bind_sync_timeout_secs: Option<Number>,
    ro_binds: Option<String>,
    changes_max_bytes: Option<Number>,
    linger_secs: Option<Number>,
    max_connections: Option<Number>,
    header_read_timeout_secs: Option<Number>,
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

impl Config {
    /// A configuration with the four required keys and defaults for the rest.
    pub fn new(
        subscription_id: impl Into<String>,
        resource_group: impl Into<String>,
        managed_environment_name: impl Into<String>,
        location: impl Into<String>,
    ) -> Self {
        let default_url =
            |s: &str| Url::parse(s).unwrap_or_else(|_| unreachable!("constant URL {s}"));
        Self {
            subscription_id: subscription_id.into(),
            resource_group: resource_group.into(),
            managed_environment_name: managed_environment_name.into(),
            location: location.into(),
            log_analytics_workspace_id: None,
            storage_account_name: None,
            storage_account_key: None,
            storage_file_endpoint: None,
            storage_share_name: DEFAULT_STORAGE_SHARE_NAME.to_owned(),
            registry_server: None,
            registry_username: None,
            registry_password: None,
            acr_resource_id: None,
            listen: DEFAULT_LISTEN.to_owned(),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            arm_endpoint: default_url(DEFAULT_ARM_ENDPOINT),
            authority_host: default_url(DEFAULT_AUTHORITY_HOST),
            log_analytics_endpoint: default_url(DEFAULT_LOG_ANALYTICS_ENDPOINT),
            registry_mirrors: BTreeMap::new(),
            agent_image: None,
            agent_callback_url: None,
            agent_listen: DEFAULT_AGENT_LISTEN.to_owned(),
            agent_tls_cert: None,
            agent_tls_key: None,
            agent_tls_ca: None,
            log_level: "info".to_owned(),
            log_format: LogFormat::Text,
            arm_audience: default_url(DEFAULT_ARM_AUDIENCE),
            log_analytics_audience: default_url(DEFAULT_LOG_ANALYTICS_AUDIENCE),
            replica_timeout_secs: DEFAULT_REPLICA_TIMEOUT_SECS,
            agent_connect_timeout_secs: DEFAULT_AGENT_CONNECT_TIMEOUT_SECS,
            log_max_bytes: DEFAULT_LOG_MAX_BYTES,
            agent_grace_secs: DEFAULT_AGENT_GRACE_SECS,
            agent_ping_secs: DEFAULT_AGENT_PING_SECS,
            agent_liveness_timeout_secs: DEFAULT_AGENT_LIVENESS_TIMEOUT_SECS,
            network_mode: NetworkMode::Relay,
            docker_api_url: None,
            bind_max_bytes: DEFAULT_BIND_MAX_BYTES,
            bind_sync_timeout_secs: DEFAULT_BIND_SYNC_TIMEOUT_SECS,
            ro_binds: ReadOnlyBinds::Mount,
            changes_max_bytes: DEFAULT_CHANGES_MAX_BYTES,
            linger_secs: 0,
            max_connections: DEFAULT_MAX_CONNECTIONS as u64,
            header_read_timeout_secs: DEFAULT_HEADER_READ_TIMEOUT.as_secs(),
        }
    }

    /// Loads from `args.config` (YAML), `env` (`SOCKERLESS_ACA_*` pairs; pass
    /// `std::env::vars()` in production) and `args`.
    pub fn from_sources<I, K, V>(args: &CliArgs, env: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut figment = Figment::new();
        if let Some(path) = &args.config {
            figment = figment.merge(file_provider(path)?);
        }
        figment = figment
            .merge(Serialized::globals(env_layer(env)?))
            .merge(Serialized::globals(flag_layer(args)?));
        let raw: RawConfig = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(e.to_string().replace('\n', "; ")))?;
        Self::from_raw(raw)
    }

    fn from_raw(raw: RawConfig) -> Result<Self, ConfigError> {
        let required = [
            non_empty(raw.subscription_id),
            non_empty(raw.resource_group),
            non_empty(raw.managed_environment_name),
            non_empty(raw.location),
        ];
        let missing: Vec<&'static str> = REQUIRED_KEYS
            .iter()
            .zip(&required)
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| *k)
            .collect();
        if !missing.is_empty() {
            return Err(ConfigError::Missing(missing));
        }
        let [Some(sub), Some(rg), Some(env), Some(loc)] = required else {
            return Err(ConfigError::Missing(REQUIRED_KEYS.to_vec()));
        };
        let mut config = Config::new(sub, rg, env, loc);
        config.log_analytics_workspace_id = non_empty(raw.log_analytics_workspace_id);
        config.storage_account_name = non_empty(raw.storage_account_name);
        storage::apply(
            &mut config,
            raw.storage_account_key,
            raw.storage_file_endpoint,
            raw.storage_share_name,
        )?;
        config.registry_server = non_empty(raw.registry_server);
        config.registry_username = non_empty(raw.registry_username);
        config.registry_password = non_empty(raw.registry_password).map(SecretString);
        config.acr_resource_id = non_empty(raw.acr_resource_id);
        if let Some(v) = non_empty(raw.listen) {
            config.listen = v;
        }
        if let Some(v) = raw.data_dir.filter(|p| !p.as_os_str().is_empty()) {
            config.data_dir = v;
        }
        if let Some(v) = non_empty(raw.arm_endpoint) {
            config.arm_endpoint = parse_url("arm_endpoint", &v)?;
        }
        if let Some(v) = non_empty(raw.authority_host) {
            config.authority_host = parse_url("authority_host", &v)?;
        }
        if let Some(v) = non_empty(raw.log_analytics_endpoint) {
            config.log_analytics_endpoint = parse_url("log_analytics_endpoint", &v)?;
        }
        for (host, url) in raw.registry_mirrors.unwrap_or_default() {
            let url = parse_url(&format!("registry_mirrors[{host}]"), &url)?;
            config.registry_mirrors.insert(host, url);
        }
        config.agent_image = non_empty(raw.agent_image);
        config.agent_callback_url = non_empty(raw.agent_callback_url);
        if let Some(v) = non_empty(raw.agent_listen) {
            config.agent_listen = v;
        }
        let path = |p: Option<PathBuf>| p.filter(|p| !p.as_os_str().is_empty());
        config.agent_tls_cert = path(raw.agent_tls_cert);
        config.agent_tls_key = path(raw.agent_tls_key);
        config.agent_tls_ca = path(raw.agent_tls_ca);
        config.check_agent_listen()?;
        config.check_agent_callback_url()?;
        if let Some(v) = non_empty(raw.log_level) {
            config.log_level = v;
        }
        config.log_format = parse_mode(
            "log_format",
            raw.log_format,
            &[("text", LogFormat::Text), ("json", LogFormat::Json)],
        )?;
        if let Some(v) = non_empty(raw.arm_audience) {
            config.arm_audience = parse_url("arm_audience", &v)?;
        }
        if let Some(v) = non_empty(raw.log_analytics_audience) {
            config.log_analytics_audience = parse_url("log_analytics_audience", &v)?;
        }
        config.replica_timeout_secs = parse_number(
            "replica_timeout_secs",
            raw.replica_timeout_secs,
            DEFAULT_REPLICA_TIMEOUT_SECS,
        )?;
        if config.replica_timeout_secs == 0 {
            return Err(ConfigError::Invalid(
                "replica_timeout_secs: must be at least 1".into(),
            ));
        }
        config.agent_connect_timeout_secs = parse_number(
            "agent_connect_timeout_secs",
            raw.agent_connect_timeout_secs,
            DEFAULT_AGENT_CONNECT_TIMEOUT_SECS,
        )?;
        config.log_max_bytes =
            parse_number("log_max_bytes", raw.log_max_bytes, DEFAULT_LOG_MAX_BYTES)?;
        config.agent_grace_secs = parse_number(
            "agent_grace_secs",
            raw.agent_grace_secs,
            DEFAULT_AGENT_GRACE_SECS,
        )?;
        config.parse_agent_liveness(raw.agent_ping_secs, raw.agent_liveness_timeout_secs)?;
        config.network_mode = parse_mode(
            "network_mode",
            raw.network_mode,
            &[
                ("relay", NetworkMode::Relay),
                ("direct", NetworkMode::Direct),
            ],
        )?;
        config.ro_binds = parse_mode(
            "ro_binds",
            raw.ro_binds,
            &[
                ("mount", ReadOnlyBinds::Mount),
                ("copy", ReadOnlyBinds::Copy),
            ],
        )?;
        config.bind_max_bytes =
            parse_number("bind_max_bytes", raw.bind_max_bytes, DEFAULT_BIND_MAX_BYTES)?;
        config.changes_max_bytes = parse_number(
            "changes_max_bytes",
            raw.changes_max_bytes,
            DEFAULT_CHANGES_MAX_BYTES,
        )?;
        let (key, raw_secs) = ("bind_sync_timeout_secs", raw.bind_sync_timeout_secs);
        config.bind_sync_timeout_secs =
            parse_number(key, raw_secs, DEFAULT_BIND_SYNC_TIMEOUT_SECS)?;
        config.linger_secs = parse_number("linger_secs", raw.linger_secs, 0)?;
        config.parse_listen_limits(raw.max_connections, raw.header_read_timeout_secs)?;
        config.docker_api_url = non_empty(raw.docker_api_url)
            .map(|v| {
                v.parse()
                    .map_err(|e| ConfigError::Invalid(format!("docker_api_url: {e}")))
            })
            .transpose()?;
        Ok(config)
    }

    /// Token scope of ARM: the audience plus `/.default`.
    pub fn arm_scope(&self) -> String {
        audience_scope(&self.arm_audience)
    }

    /// Token scope of Log Analytics.
    pub fn log_analytics_scope(&self) -> String {
        audience_scope(&self.log_analytics_audience)
    }

    /// ARM ID of the managed environment.
    pub fn managed_environment_id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.App/managedEnvironments/{}",
            self.subscription_id, self.resource_group, self.managed_environment_name
        )
    }

    /// Path of the SQLite database.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("state.db")
    }
}

fn audience_scope(audience: &Url) -> String {
    format!("{}/.default", audience.as_str().trim_end_matches('/'))
}

#[cfg(test)]
mod agent_tests;
#[cfg(test)]
mod tests;
