//! `sockerless-azure-sim`: runs the Azure emulator until SIGINT/SIGTERM.
//! The first line on stdout is the bound address.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use serde::Deserialize;
use sockerless_azure_sim::roles::RoleTable;
use sockerless_azure_sim::{
    EnvironmentSeed, FaultConfig, Profile, SimConfig, Simulator, StorageAccountSeed,
};

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Azure emulator (Entra ID, ARM Microsoft.App + Microsoft.Storage, Log Analytics, ACR)"
)]
struct Args {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Docker Engine API socket that runs executions.
    #[arg(
        long,
        env = "SOCKERLESS_SIM_ENGINE",
        default_value = "unix:///var/run/docker.sock"
    )]
    engine: String,
    /// Directory for file shares and volumes (default: a new temp dir).
    #[arg(long, env = "SOCKERLESS_SIM_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Persist state in SQLite (not implemented: state is in memory).
    #[arg(long)]
    state: Option<PathBuf>,
    /// Tenant ID of issued tokens.
    #[arg(long, default_value = "00000000-0000-0000-0000-0000000000aa")]
    tenant_id: String,
    /// The only client ID the token endpoint accepts (default: any).
    #[arg(long, env = "SOCKERLESS_SIM_CLIENT_ID")]
    client_id: Option<String>,
    /// Client secret the token endpoint requires.
    #[arg(long, env = "SOCKERLESS_SIM_CLIENT_SECRET")]
    client_secret: Option<String>,
    /// Value required in X-IDENTITY-HEADER by /msi/token.
    #[arg(long, env = "SOCKERLESS_SIM_IDENTITY_HEADER")]
    identity_header: Option<String>,
    /// Registry admin user name.
    #[arg(long, default_value = "sim")]
    registry_username: String,
    /// Registry admin password.
    #[arg(long, env = "SOCKERLESS_SIM_REGISTRY_PASSWORD")]
    registry_password: Option<String>,
    /// Seeded environment: subscription ID.
    #[arg(long, default_value = "00000000-0000-0000-0000-000000000001")]
    subscription: String,
    /// Seeded environment: resource group.
    #[arg(long, default_value = "sockerless")]
    resource_group: String,
    /// Seeded environment: name.
    #[arg(long, default_value = "sockerless-env")]
    environment: String,
    /// Seeded environment: location.
    #[arg(long, default_value = "eastus")]
    location: String,
    /// Seeded environment: Log Analytics workspace customer ID.
    #[arg(long, default_value = "00000000-0000-0000-0000-00000000a001")]
    workspace_id: String,
    /// JSON file `{"environments":[{subscriptionId, resourceGroup, name, location, logAnalyticsWorkspaceId}]}`; replaces the flag-seeded environment.
    #[arg(long)]
    seed_file: Option<PathBuf>,
    /// Timing profile: `fast` (executions at once, LROs 1 s, console rows
    /// after 5 s) or `azure` (scheduling 5–40 s with a rare tail of minutes,
    /// LROs of seconds, console rows 20 s–3 min late and out of order, no
    /// console table until a workspace's first row). Flags below override
    /// single figures; `GET /_sim/config` shows the effective ones.
    #[arg(long, env = "SOCKERLESS_SIM_PROFILE", default_value = "fast")]
    profile: Profile,
    /// Log Analytics ingestion delay in milliseconds [default: the profile's].
    #[arg(long)]
    ingestion_delay_ms: Option<u64>,
    /// Minimum duration of long-running operations in milliseconds
    /// [default: the profile's].
    #[arg(long)]
    lro_delay_ms: Option<u64>,
    /// Minimum number of status polls before a long-running operation completes.
    #[arg(long, default_value_t = 0)]
    lro_polls: u32,
    /// Fraction of ARM / Log Analytics requests answered 429.
    #[arg(long, default_value_t = 0.0)]
    rate_429: f64,
    /// Fraction of ARM / Log Analytics requests answered 500.
    #[arg(long, default_value_t = 0.0)]
    rate_500: f64,
    /// Fraction of ARM / Log Analytics requests answered 503.
    #[arg(long, default_value_t = 0.0)]
    rate_503: f64,
    /// Retry-After seconds on injected 429s and 503s.
    #[arg(long, default_value_t = 1)]
    retry_after_secs: u64,
    /// Extra latency per ARM / Log Analytics request in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Bridge network of the engine replicas run on, created unless it exists
    /// [default: sockerless-azure-sim-<hash of the data dir>].
    #[arg(long, env = "SOCKERLESS_SIM_NETWORK")]
    network: Option<String>,
    /// IPv4 subnet of the network when the emulator creates it, e.g.
    /// 10.213.0.0/24 [default: one the engine picks].
    #[arg(long, env = "SOCKERLESS_SIM_NETWORK_SUBNET")]
    network_subnet: Option<String>,
    /// Storage account of the Azure Files data plane, `NAME=BASE64KEY`
    /// (repeatable) [default: the well-known `sockerlesssim` account].
    #[arg(
        long = "storage-account",
        env = "SOCKERLESS_SIM_STORAGE_ACCOUNT",
        value_delimiter = ' '
    )]
    storage_accounts: Vec<String>,
    /// JSON role table `{"roleAssignments":[{principalId, roleDefinitionName,
    /// scope}]}` (built-in roles: Owner, Contributor, Reader, Log Analytics
    /// Reader/Contributor, AcrPull, AcrPush, AcrDelete) [default: every
    /// identity holds every role].
    #[arg(long)]
    roles_file: Option<PathBuf>,
}

/// Largest role table file read (a table is bounded in assignments anyway).
const MAX_ROLES_FILE: u64 = 4 << 20;

fn roles(path: &std::path::Path) -> anyhow::Result<RoleTable> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    if len > MAX_ROLES_FILE {
        bail!("{} is larger than {MAX_ROLES_FILE} bytes", path.display());
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    RoleTable::from_json(&text).with_context(|| format!("parsing {}", path.display()))
}

#[derive(Deserialize)]
struct SeedFile {
    environments: Vec<EnvironmentSeed>,
}

fn config(args: Args) -> anyhow::Result<SimConfig> {
    if args.state.is_some() {
        bail!("--state (SQLite persistence) is not implemented; state is kept in memory");
    }
    for (name, rate) in [
        ("--rate-429", args.rate_429),
        ("--rate-500", args.rate_500),
        ("--rate-503", args.rate_503),
    ] {
        if !(0.0..=1.0).contains(&rate) {
            bail!("{name} must be between 0 and 1");
        }
    }
    let environments = match &args.seed_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_str::<SeedFile>(&text)
                .with_context(|| format!("parsing {}", path.display()))?
                .environments
        }
        None => vec![EnvironmentSeed {
            subscription_id: args.subscription,
            resource_group: args.resource_group,
            name: args.environment,
            location: args.location,
            log_analytics_workspace_id: args.workspace_id,
        }],
    };
    let mut storage_accounts = Vec::new();
    for a in &args.storage_accounts {
        let Some((name, key)) = a.split_once('=') else {
            bail!("--storage-account {a:?}: expected NAME=BASE64KEY");
        };
        storage_accounts.push(StorageAccountSeed {
            name: name.to_owned(),
            key: key.to_owned(),
        });
    }
    if storage_accounts.is_empty() {
        storage_accounts.push(StorageAccountSeed::default());
    }
    // Unset credentials are random per start; `credentials.json` in the data
    // dir (0600) tells them to whoever may read it.
    let roles = args.roles_file.as_deref().map(roles).transpose()?;
    let mut defaults = SimConfig::default();
    args.profile.apply(&mut defaults);
    Ok(SimConfig {
        listen: args.listen,
        engine: args.engine,
        data_dir: args.data_dir,
        tenant_id: args.tenant_id,
        client_id: args.client_id,
        client_secret: args.client_secret.unwrap_or(defaults.client_secret),
        identity_header: args.identity_header.unwrap_or(defaults.identity_header),
        registry_username: args.registry_username,
        registry_password: args.registry_password.unwrap_or(defaults.registry_password),
        environments,
        profile: defaults.profile,
        ingestion_delay: args
            .ingestion_delay_ms
            .map(Duration::from_millis)
            .unwrap_or(defaults.ingestion_delay),
        timing: defaults.timing.clone(),
        faults: FaultConfig {
            rate_429: args.rate_429,
            rate_500: args.rate_500,
            rate_503: args.rate_503,
            retry_after_secs: args.retry_after_secs,
            latency_ms: args.latency_ms,
            lro_delay_ms: args.lro_delay_ms.unwrap_or(defaults.faults.lro_delay_ms),
            lro_polls: args.lro_polls,
            ..defaults.faults.clone()
        },
        network: args.network,
        network_subnet: args.network_subnet,
        storage_accounts,
        console_log_max_bytes: defaults.console_log_max_bytes,
        roles,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let config = config(Args::parse())?;
    let sim = Simulator::start(config).await?;
    println!("{}", sim.addr());
    match sim.network() {
        Some(net) => eprintln!(
            "replica network {} ({}), host reachable from replicas at {}",
            net.name, net.subnet, net.gateway
        ),
        None => eprintln!("no replica network (engine unavailable): executions will fail"),
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    sim.shutdown().await;
    Ok(())
}
