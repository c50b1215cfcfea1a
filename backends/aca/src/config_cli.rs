//! The command-line flags of every configuration key.

use std::path::PathBuf;

use clap::Parser;

use super::SecretString;

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
    /// Storage account key (secret; prefer the environment or the file).
    #[arg(long, value_name = "KEY")]
    pub storage_account_key: Option<SecretString>,
    /// Default registry server, e.g. myreg.azurecr.io.
    #[arg(long, value_name = "HOST")]
    pub registry_server: Option<String>,
    /// Registry user name; without it ACR token exchange with the Azure identity is used.
    #[arg(long, value_name = "USER")]
    pub registry_username: Option<String>,
    /// Registry password (secret; prefer the environment or the file).
    #[arg(long, value_name = "PASSWORD")]
    pub registry_password: Option<SecretString>,
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
    /// Listener for agent connections [default: tcp://0.0.0.0:9112].
    #[arg(long, value_name = "ADDR")]
    pub agent_listen: Option<String>,
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
}
