//! Configuration of an emulator instance.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A managed environment that exists from the start (Azure creates them long
/// before jobs; the emulator only serves `GET` on environments).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentSeed {
    /// Subscription ID (a GUID).
    pub subscription_id: String,
    /// Resource group name.
    pub resource_group: String,
    /// Environment name.
    pub name: String,
    /// Azure location, e.g. `eastus`.
    pub location: String,
    /// Log Analytics workspace customer ID (GUID) that receives the console
    /// logs of jobs in this environment.
    pub log_analytics_workspace_id: String,
}

impl Default for EnvironmentSeed {
    fn default() -> Self {
        EnvironmentSeed {
            subscription_id: "00000000-0000-0000-0000-000000000001".into(),
            resource_group: "sockerless".into(),
            name: "sockerless-env".into(),
            location: "eastus".into(),
            log_analytics_workspace_id: "00000000-0000-0000-0000-00000000a001".into(),
        }
    }
}

/// A storage account of the Azure Files data plane (`{base}/files/{name}`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StorageAccountSeed {
    /// Account name (3–24 lowercase letters and digits).
    pub name: String,
    /// Account key (base64) that Shared Key requests are signed with.
    pub key: String,
}

impl Default for StorageAccountSeed {
    fn default() -> Self {
        StorageAccountSeed {
            name: "sockerlesssim".into(),
            // base64("sockerless-sim-storage-key-not-a-secret"): a well-known
            // emulator key, like Azurite's.
            key: "c29ja2VybGVzcy1zaW0tc3RvcmFnZS1rZXktbm90LWEtc2VjcmV0".into(),
        }
    }
}

/// Fault injection and long-running-operation pacing. Changeable at run time
/// through `PUT /_sim/faults`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct FaultConfig {
    /// Fraction (0..=1) of ARM / Log Analytics requests answered with 429 and
    /// `Retry-After`. Injection is deterministic: with rate r, every request
    /// that makes the running sum of r cross an integer is hit.
    pub rate_429: f64,
    /// Fraction (0..=1) of ARM / Log Analytics requests answered with 500.
    pub rate_500: f64,
    /// Fraction (0..=1) of ARM / Log Analytics requests answered with 503
    /// (`ServiceUnavailable`, with `Retry-After`).
    pub rate_503: f64,
    /// `Retry-After` seconds sent with injected 429s.
    pub retry_after_secs: u64,
    /// Extra latency added to every ARM / Log Analytics request, in ms.
    pub latency_ms: u64,
    /// Minimum time before a long-running operation completes, in ms.
    pub lro_delay_ms: u64,
    /// Minimum number of status polls a long-running operation needs before
    /// it completes (0: time alone decides).
    pub lro_polls: u32,
    /// HTTP methods (e.g. `["DELETE"]`) every ARM / Log Analytics request of
    /// which is answered 500 while set: a cloud that keeps failing one kind
    /// of call, to show what retries and collection do.
    pub fail_methods: Vec<String>,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            rate_429: 0.0,
            rate_500: 0.0,
            rate_503: 0.0,
            retry_after_secs: 1,
            latency_ms: 0,
            lro_delay_ms: 1000,
            lro_polls: 0,
            fail_methods: Vec::new(),
        }
    }
}

/// Everything an emulator instance needs. `SimConfig::default()` gives a
/// working in-memory emulator on an ephemeral loopback port.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Address to listen on (port 0 picks a free port). Default `127.0.0.1:0`.
    pub listen: SocketAddr,
    /// Docker Engine API endpoint that runs executions, e.g.
    /// `unix:///var/run/docker.sock` (only `unix://` and bare paths are supported).
    pub engine: String,
    /// Directory for file shares, EmptyDir and secret volumes. `None`: a fresh
    /// directory under the system temp dir.
    pub data_dir: Option<PathBuf>,
    /// Tenant ID put into issued tokens.
    pub tenant_id: String,
    /// Client ID accepted by the token endpoint; `None` accepts any client ID.
    pub client_id: Option<String>,
    /// Client secret the token endpoint requires.
    pub client_secret: String,
    /// Value the managed identity endpoint requires in `X-IDENTITY-HEADER`.
    pub identity_header: String,
    /// Admin user name of the registry (basic auth).
    pub registry_username: String,
    /// Admin password of the registry (basic auth).
    pub registry_password: String,
    /// Environments that exist from the start.
    pub environments: Vec<EnvironmentSeed>,
    /// Delay between a line being printed and it being queryable in Log Analytics.
    pub ingestion_delay: Duration,
    /// Fault injection and LRO pacing at start.
    pub faults: FaultConfig,
    /// Bridge network of the engine that replicas run on. `None`: a network
    /// named `sockerless-azure-sim-<hash of the data dir>`. Created at start
    /// unless it exists (then reused); a network this emulator created is
    /// removed at shutdown.
    pub network: Option<String>,
    /// IPv4 subnet (CIDR) of the network when the emulator creates it. `None`:
    /// the engine picks a free one from its address pools.
    pub network_subnet: Option<String>,
    /// Storage accounts whose Azure Files data plane is served (Shared Key).
    pub storage_accounts: Vec<StorageAccountSeed>,
    /// Console rows kept for Log Analytics queries, in bytes; the oldest go
    /// first, as a workspace's retention drops them. Default
    /// [`crate::loganalytics::DEFAULT_MAX_BYTES`].
    pub console_log_max_bytes: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            engine: "unix:///var/run/docker.sock".into(),
            data_dir: None,
            tenant_id: "00000000-0000-0000-0000-0000000000aa".into(),
            client_id: None,
            // Random per start: a fixed secret in the source would let anything
            // that reaches a running emulator mint tokens.
            client_secret: crate::util::random_secret(),
            identity_header: crate::util::random_secret(),
            registry_username: "sim".into(),
            registry_password: crate::util::random_secret(),
            environments: vec![EnvironmentSeed::default()],
            ingestion_delay: Duration::from_secs(5),
            faults: FaultConfig::default(),
            network: None,
            network_subnet: None,
            storage_accounts: vec![StorageAccountSeed::default()],
            console_log_max_bytes: crate::loganalytics::DEFAULT_MAX_BYTES,
        }
    }
}
