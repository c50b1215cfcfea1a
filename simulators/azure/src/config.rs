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
    /// Extra duration of a long-running operation, drawn uniformly from
    /// `0..=lro_jitter_ms` per operation, in ms.
    pub lro_jitter_ms: u64,
    /// Fraction (0..=1) of long-running operations that end `Failed`
    /// (the resource's `provisioningState` too).
    pub lro_fail_rate: f64,
    /// Fraction (0..=1) of long-running operations that end `Canceled`.
    pub lro_cancel_rate: f64,
    /// Fraction (0..=1) of ARM / Log Analytics requests whose connection is
    /// dropped before any response.
    pub drop_rate: f64,
    /// Fraction (0..=1) of ARM writes that take effect and then answer 500
    /// (the response lost after the side effect happened).
    pub lost_response_rate: f64,
    /// Fraction (0..=1) of token requests (Entra ID, managed identity)
    /// answered 429 with `Retry-After`.
    pub token_rate_429: f64,
    /// Fraction (0..=1) of ACR requests (token exchange and `/v2/`)
    /// answered 429 with `Retry-After`.
    pub acr_rate_429: f64,
    /// Registry hosts (e.g. `127.0.0.1:5000`) replicas cannot reach: a pull
    /// from them fails in the replica as a firewalled registry would, while
    /// clients outside the environment still reach it.
    pub pull_blocked_registries: Vec<String>,
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
            lro_jitter_ms: 0,
            lro_fail_rate: 0.0,
            lro_cancel_rate: 0.0,
            drop_rate: 0.0,
            lost_response_rate: 0.0,
            token_rate_429: 0.0,
            acr_rate_429: 0.0,
            pull_blocked_registries: Vec::new(),
        }
    }
}

/// A named set of timings (`--profile`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub enum Profile {
    /// Quick: executions start at once, operations take about a second,
    /// console rows are queryable after a fixed delay (most tests).
    #[default]
    Fast,
    /// As slow as Azure: scheduling takes seconds to minutes, operations
    /// seconds, console rows arrive 20 s to 3 min late and out of order, and
    /// a workspace has no console table until its first row.
    Azure,
}

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "fast" => Ok(Profile::Fast),
            "azure" => Ok(Profile::Azure),
            other => Err(format!("unknown profile '{other}' (fast, azure)")),
        }
    }
}

/// How long Azure takes to do things, beyond LRO pacing (in [`FaultConfig`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Timing {
    /// Scheduling delay of a replica (before its images are pulled; the
    /// execution is `Processing` meanwhile), drawn uniformly from
    /// `scheduling_min_ms..=scheduling_max_ms`...
    pub scheduling_min_ms: u64,
    /// ... (upper bound of the common case) ...
    pub scheduling_max_ms: u64,
    /// ... except for this fraction (0..=1) of replicas, whose delay is drawn
    /// from `scheduling_max_ms..=scheduling_tail_max_ms` (the rare
    /// multi-minute wait).
    pub scheduling_tail_rate: f64,
    /// Upper bound of the tail.
    pub scheduling_tail_max_ms: u64,
    /// Extra ingestion delay per console row, drawn uniformly from
    /// `0..=ingestion_jitter_ms` on top of `SimConfig::ingestion_delay`: rows
    /// become queryable out of order.
    pub ingestion_jitter_ms: u64,
    /// A workspace answers `SemanticError` for `ContainerAppConsoleLogs_CL`
    /// until its first row is ingested (the table does not exist yet).
    pub table_absent_until_first_row: bool,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            scheduling_min_ms: 0,
            scheduling_max_ms: 0,
            scheduling_tail_rate: 0.0,
            scheduling_tail_max_ms: 0,
            ingestion_jitter_ms: 0,
            table_absent_until_first_row: false,
        }
    }
}

impl Profile {
    /// Sets every figure this profile names in `config` (the caller's
    /// explicit settings are applied afterwards).
    pub fn apply(self, config: &mut SimConfig) {
        match self {
            Profile::Fast => {
                config.timing = Timing::default();
                config.ingestion_delay = Duration::from_secs(5);
                config.faults.lro_delay_ms = 1000;
                config.faults.lro_jitter_ms = 0;
            }
            Profile::Azure => {
                config.timing = Timing {
                    scheduling_min_ms: 5_000,
                    scheduling_max_ms: 40_000,
                    scheduling_tail_rate: 0.02,
                    scheduling_tail_max_ms: 180_000,
                    ingestion_jitter_ms: 160_000,
                    table_absent_until_first_row: true,
                };
                config.ingestion_delay = Duration::from_secs(20);
                config.faults.lro_delay_ms = 2_000;
                config.faults.lro_jitter_ms = 6_000;
            }
        }
        config.profile = self;
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
    /// Timing profile these figures started from (shown by `/_sim/config`).
    pub profile: Profile,
    /// Delay between a line being printed and it being queryable in Log
    /// Analytics (the minimum: see [`Timing::ingestion_jitter_ms`]).
    pub ingestion_delay: Duration,
    /// Scheduling and ingestion timing.
    pub timing: Timing,
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
    /// Role assignments ARM, Log Analytics and the registry check. `None`:
    /// every identity holds every role.
    pub roles: Option<crate::roles::RoleTable>,
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
            profile: Profile::Fast,
            ingestion_delay: Duration::from_secs(5),
            timing: Timing::default(),
            faults: FaultConfig::default(),
            network: None,
            network_subnet: None,
            storage_accounts: vec![StorageAccountSeed::default()],
            console_log_max_bytes: crate::loganalytics::DEFAULT_MAX_BYTES,
            roles: None,
        }
    }
}
