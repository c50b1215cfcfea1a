//! The command-line flags of every configuration key.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Parser;

use super::{ConfigError, SecretString, parse_mirror_list};

/// Command-line flags. Every key has a flag; unset flags fall back to the
/// environment, then the file, then defaults.
#[derive(Debug, Clone, Default, Parser)]
#[command(
    name = "sockerless-backend-aca",
    version,
    about = "Sockerless backend: runs Docker containers as Azure Container Apps Job executions",
    after_help = "Every flag can also be set by the environment variable SOCKERLESS_ACA_<KEY> \
(e.g. SOCKERLESS_ACA_SUBSCRIPTION_ID, SOCKERLESS_ACA_REGISTRY_MIRRORS=docker.io=http://127.0.0.1:5000,ghcr.io=https://m.example) \
or by the key <key> in the YAML file (at top level or under `aca:`). Priority: flags > environment > file > defaults.\n\
Azure credentials: AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET, workload identity (AZURE_FEDERATED_TOKEN_FILE), \
managed identity (IDENTITY_ENDPOINT/IDENTITY_HEADER or IMDS), then the Azure CLI / Azure Developer CLI."
)]
pub struct CliArgs {
    /// YAML configuration file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Azure subscription ID (required).
    #[arg(long, value_name = "GUID")]
    pub subscription_id: Option<String>,
    /// Resource group holding the jobs (required).
    #[arg(long, value_name = "NAME")]
    pub resource_group: Option<String>,
    /// Container Apps managed environment, which must exist (required).
    #[arg(long, value_name = "NAME")]
    pub managed_environment_name: Option<String>,
    /// Azure region of the jobs, e.g. eastus (required).
    #[arg(long, value_name = "REGION")]
    pub location: Option<String>,
    /// Log Analytics workspace: customer ID (GUID) or ARM resource ID.
    #[arg(long, value_name = "ID")]
    pub log_analytics_workspace_id: Option<String>,
    /// Storage account for Azure Files volumes.
    #[arg(long, value_name = "NAME")]
    pub storage_account_name: Option<String>,
    /// Refused: a secret on the command line is visible to every user in
    /// /proc/*/cmdline. Use --storage-account-key-file or the environment.
    #[arg(long, value_name = "KEY", hide = true)]
    pub storage_account_key: Option<SecretString>,
    /// File holding the storage account key (or SOCKERLESS_ACA_STORAGE_ACCOUNT_KEY, or the config file).
    #[arg(long, value_name = "PATH")]
    pub storage_account_key_file: Option<PathBuf>,
    /// Azure Files endpoint of the storage account [default: https://<storage_account_name>.file.core.windows.net].
    #[arg(long, value_name = "URL")]
    pub storage_file_endpoint: Option<String>,
    /// File share holding the volumes, one directory each [default: sockerless-volumes].
    #[arg(long, value_name = "NAME")]
    pub storage_share_name: Option<String>,
    /// Default registry server, e.g. myreg.azurecr.io.
    #[arg(long, value_name = "HOST")]
    pub registry_server: Option<String>,
    /// ARM ID of the registry whose ACR Tasks run `docker build` [default: the registry_server registry in resource_group].
    #[arg(long, value_name = "ID")]
    pub acr_resource_id: Option<String>,
    /// Registry user name; without it ACR token exchange with the Azure identity is used.
    #[arg(long, value_name = "USER")]
    pub registry_username: Option<String>,
    /// Refused: a secret on the command line is visible to every user in
    /// /proc/*/cmdline. Use --registry-password-file or the environment.
    #[arg(long, value_name = "PASSWORD", hide = true)]
    pub registry_password: Option<SecretString>,
    /// File holding the registry password (or SOCKERLESS_ACA_REGISTRY_PASSWORD, or the config file).
    #[arg(long, value_name = "PATH")]
    pub registry_password_file: Option<PathBuf>,
    /// Internal API listener: unix:///path or tcp://host:port [default: unix:///var/run/sockerless-backend.sock].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Directory of the SQLite state database [default: /var/lib/sockerless/aca].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Azure Resource Manager endpoint [default: https://management.azure.com].
    #[arg(long, value_name = "URL")]
    pub arm_endpoint: Option<String>,
    /// Microsoft Entra ID authority host [default: https://login.microsoftonline.com].
    #[arg(long, value_name = "URL")]
    pub authority_host: Option<String>,
    /// Log Analytics query endpoint [default: https://api.loganalytics.io].
    #[arg(long, value_name = "URL")]
    pub log_analytics_endpoint: Option<String>,
    /// Registry mirror as HOST=URL, e.g. docker.io=http://127.0.0.1:5000 (repeatable).
    #[arg(long = "registry-mirror", value_name = "HOST=URL")]
    pub registry_mirrors: Vec<String>,
    /// Image holding the sockerless agent, copied into every job by an init container.
    #[arg(long, value_name = "IMAGE")]
    pub agent_image: Option<String>,
    /// URL the agent dials back to (wss:// in production).
    #[arg(long, value_name = "URL")]
    pub agent_callback_url: Option<String>,
    /// Listener for agent connections; without TLS only loopback is allowed [default: tcp://127.0.0.1:9112].
    #[arg(long, value_name = "ADDR")]
    pub agent_listen: Option<String>,
    /// PEM certificate chain of the agent endpoint; with --agent-tls-key agents dial wss://.
    #[arg(long, value_name = "FILE")]
    pub agent_tls_cert: Option<PathBuf>,
    /// PEM private key of the agent endpoint.
    #[arg(long, value_name = "FILE")]
    pub agent_tls_key: Option<PathBuf>,
    /// PEM CA the agents trust besides the public roots (for a private CA); passed to every container.
    #[arg(long, value_name = "FILE")]
    pub agent_tls_ca: Option<PathBuf>,
    /// Log filter, e.g. info or sockerless_backend_aca=debug [default: info].
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,
    /// Log format: text or json [default: text].
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Token audience for ARM [default: https://management.azure.com].
    #[arg(long, value_name = "URL")]
    pub arm_audience: Option<String>,
    /// Token audience for Log Analytics [default: https://api.loganalytics.io].
    #[arg(long, value_name = "URL")]
    pub log_analytics_audience: Option<String>,
    /// Default replicaTimeout of jobs in seconds; label sockerless.aca.replica-timeout overrides it per container [default: 86400].
    #[arg(long, value_name = "SECS")]
    pub replica_timeout_secs: Option<String>,
    /// Longest docker start waits for the agent to dial in [default: 600].
    #[arg(long, value_name = "SECS")]
    pub agent_connect_timeout_secs: Option<String>,
    /// Captured output kept per container; the oldest is dropped first [default: 16777216].
    #[arg(long, value_name = "BYTES")]
    pub log_max_bytes: Option<String>,
    /// Seconds a disconnected agent may stay away before the execution status is polled [default: 30].
    #[arg(long, value_name = "SECS")]
    pub agent_grace_secs: Option<String>,
    /// Seconds between two pings on an agent link, both ways [default: 10].
    #[arg(long, value_name = "SECS")]
    pub agent_ping_secs: Option<String>,
    /// Seconds an agent link may stay silent (no frame, no pong) before it is closed, both ways; longer than --agent-ping-secs [default: 30].
    #[arg(long, value_name = "SECS")]
    pub agent_liveness_timeout_secs: Option<String>,
    /// How containers on a user network reach each other: relay (through the agents and the backend) or direct (replica IPs) [default: relay].
    #[arg(long, value_name = "MODE")]
    pub network_mode: Option<String>,
    /// Docker API that `-v /var/run/docker.sock:…` inside containers reaches: unix:///path or tcp://host:port (the Docker frontend's listener); unset: such binds are refused.
    #[arg(long, value_name = "ADDR")]
    pub docker_api_url: Option<String>,
    /// Most bytes of one bind copied in or synced back, and of files put into a created container [default: 1073741824].
    #[arg(long, value_name = "BYTES")]
    pub bind_max_bytes: Option<String>,
    /// Longest wait for the read-write binds to sync back after the process exits [default: 120].
    #[arg(long, value_name = "SECS")]
    pub bind_sync_timeout_secs: Option<String>,
    /// How `:ro` binds of directories are made: mount (read-only mounts of a copy in the volume share, when a storage account is configured: writes fail as under dockerd) or copy (copied into the container, never synced back: faster for large trees, but the process may change its copy) [default: mount].
    #[arg(long, value_name = "MODE")]
    pub ro_binds: Option<String>,
    /// Most bytes of a container's changes against its image kept at each exit and restored in its next replica; 0 keeps none [default: 1073741824].
    #[arg(long, value_name = "BYTES")]
    pub changes_max_bytes: Option<String>,
    /// Seconds an exited container's execution is kept so `docker start` reruns the process in it (same filesystem, no new execution) [default: 0: the execution ends at the exit].
    #[arg(long, value_name = "SECS")]
    pub linger_secs: Option<String>,
    /// Connections each listener (Docker API, agent endpoint) serves at once; more are closed at accept [default: 1024].
    #[arg(long, value_name = "N")]
    pub max_connections: Option<String>,
    /// Seconds a client may take to send a request's headers, also the idle timeout between keep-alive requests [default: 60].
    #[arg(long, value_name = "SECS")]
    pub header_read_timeout_secs: Option<String>,
}

/// The secret in `path` (trailing newline dropped), when the flag is given.
fn read_secret_file(key: &str, path: &Option<PathBuf>) -> Result<Option<String>, ConfigError> {
    let Some(path) = path else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::Invalid(format!(
            "{}-file {}: {e}",
            super::flag_name(key),
            path.display()
        ))
    })?;
    let value = text.trim_end_matches(['\r', '\n']).to_owned();
    if value.is_empty() {
        return Err(ConfigError::Invalid(format!(
            "{}-file {}: the file is empty",
            super::flag_name(key),
            path.display()
        )));
    }
    Ok(Some(value))
}

/// The flags that are set, as a figment layer.
pub(super) fn flag_layer(
    args: &CliArgs,
) -> Result<BTreeMap<&'static str, serde_json::Value>, ConfigError> {
    for (key, given) in [
        ("registry_password", args.registry_password.is_some()),
        ("storage_account_key", args.storage_account_key.is_some()),
    ] {
        if given {
            return Err(ConfigError::Invalid(format!(
                "{flag} on the command line is visible to every user of this machine \
                 (/proc/*/cmdline): use {flag}-file PATH or {env} instead",
                flag = super::flag_name(key),
                env = super::env_var_name(key),
            )));
        }
    }
    let (storage_account_key, registry_password) = (
        read_secret_file("storage_account_key", &args.storage_account_key_file)?,
        read_secret_file("registry_password", &args.registry_password_file)?,
    );
    let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.to_string_lossy().into_owned());
    let (tls_cert, tls_key, tls_ca) = (
        path(&args.agent_tls_cert),
        path(&args.agent_tls_key),
        path(&args.agent_tls_ca),
    );
    let pairs: [(&'static str, &Option<String>); 42] = [
        ("subscription_id", &args.subscription_id),
        ("resource_group", &args.resource_group),
        ("managed_environment_name", &args.managed_environment_name),
        ("location", &args.location),
        (
            "log_analytics_workspace_id",
            &args.log_analytics_workspace_id,
        ),
        ("storage_account_name", &args.storage_account_name),
        ("storage_account_key", &storage_account_key),
        ("storage_file_endpoint", &args.storage_file_endpoint),
        ("storage_share_name", &args.storage_share_name),
        ("registry_server", &args.registry_server),
        ("registry_username", &args.registry_username),
        ("registry_password", &registry_password),
        ("acr_resource_id", &args.acr_resource_id),
        ("listen", &args.listen),
        ("arm_endpoint", &args.arm_endpoint),
        ("authority_host", &args.authority_host),
        ("log_analytics_endpoint", &args.log_analytics_endpoint),
        ("agent_image", &args.agent_image),
        ("agent_callback_url", &args.agent_callback_url),
        ("agent_listen", &args.agent_listen),
        ("agent_tls_cert", &tls_cert),
        ("agent_tls_key", &tls_key),
        ("agent_tls_ca", &tls_ca),
        ("log_level", &args.log_level),
        ("log_format", &args.log_format),
        ("arm_audience", &args.arm_audience),
        ("network_mode", &args.network_mode),
        ("docker_api_url", &args.docker_api_url),
        ("log_analytics_audience", &args.log_analytics_audience),
        ("replica_timeout_secs", &args.replica_timeout_secs),
        (
            "agent_connect_timeout_secs",
            &args.agent_connect_timeout_secs,
        ),
        ("log_max_bytes", &args.log_max_bytes),
        ("agent_grace_secs", &args.agent_grace_secs),
        ("agent_ping_secs", &args.agent_ping_secs),
        (
            "agent_liveness_timeout_secs",
            &args.agent_liveness_timeout_secs,
        ),
        ("bind_max_bytes", &args.bind_max_bytes),
        ("bind_sync_timeout_secs", &args.bind_sync_timeout_secs),
        ("ro_binds", &args.ro_binds),
        ("changes_max_bytes", &args.changes_max_bytes),
        ("linger_secs", &args.linger_secs),
        ("max_connections", &args.max_connections),
        ("header_read_timeout_secs", &args.header_read_timeout_secs),
    ];
    let mut layer: BTreeMap<&'static str, serde_json::Value> = pairs
        .into_iter()
        .filter_map(|(k, v)| {
            v.as_ref()
                .map(|v| (k, serde_json::Value::String(v.clone())))
        })
        .collect();
    if let Some(dir) = &args.data_dir {
        layer.insert(
            "data_dir",
            serde_json::Value::String(dir.to_string_lossy().into_owned()),
        );
    }
    if !args.registry_mirrors.is_empty() {
        let map = parse_mirror_list(&args.registry_mirrors.join(","))?;
        layer.insert(
            "registry_mirrors",
            serde_json::to_value(map).map_err(|e| ConfigError::Invalid(e.to_string()))?,
        );
    }
    Ok(layer)
}
