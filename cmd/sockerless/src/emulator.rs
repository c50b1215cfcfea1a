//! Emulator mode (`--emulator`): the all-in-one runs the Azure emulator
//! in-process and points the backend at it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use azure_core::credentials::TokenCredential;
use sockerless_azure_sim::{
    EnvironmentSeed, Profile, RunningSim, SimConfig, Simulator, StorageAccountSeed,
};
use sockerless_backend_aca::agent_image::{
    AgentImage, DEFAULT_REPOSITORY, DEFAULT_TAG, PushTarget,
};
use sockerless_backend_aca::config::{DEFAULT_DATA_DIR, SecretString};
use sockerless_backend_aca::{CliArgs, Config, ConfigError};
use url::Url;

use crate::identity::EndpointIdentityCredential;
use crate::pki;

/// Agent endpoint's port in emulator mode (0: a free one).
pub const EMULATOR_AGENT_PORT: u16 = 0;
/// Agent endpoint when the emulator has no replica network (its engine was
/// unreachable at start): loopback, which no replica reaches.
pub const FALLBACK_AGENT_LISTEN: &str = "tcp://127.0.0.1:0";
/// Subdirectory of the data dir holding the emulator's volumes.
pub const SIM_SUBDIR: &str = "azure-sim";
/// Console rows the embedded emulator keeps for Log Analytics queries: they
/// stand for a workspace's storage but live in this process, so a few MiB
/// (the backend reads its containers' output from its own store and queries
/// Log Analytics only as a fallback).
pub const CONSOLE_LOG_MAX_BYTES: usize = 4 << 20;

/// The message for a configuration error outside emulator mode: a missing
/// Azure key also says how to run without Azure, since the emulator is never
/// implied (a typo in a real deployment must not run containers locally).
pub fn explain_config_error(err: &ConfigError) -> String {
    match err {
        ConfigError::Missing(_) => format!(
            "{err}; or pass --emulator (SOCKERLESS_EMULATOR=true) to run on the embedded Azure emulator"
        ),
        other => other.to_string(),
    }
}

/// What emulator mode needs besides the backend flags.
#[derive(Debug, Clone)]
pub struct EmulatorOptions {
    /// Container engine running executions.
    pub engine: String,
    /// Registry standing in for Docker Hub.
    pub docker_io_mirror: String,
    /// The static agent binary (unused when an agent image is configured).
    pub agent_bin: Result<PathBuf, String>,
    /// Timing profile of the emulator.
    pub profile: Profile,
}

/// The running emulator and what to clean up after it.
pub struct Emulator {
    sim: RunningSim,
    temp_dir: Option<PathBuf>,
}

impl Emulator {
    /// Base URL of every emulated Azure endpoint.
    pub fn base_url(&self) -> String {
        self.sim.base_url()
    }

    /// Stops executions, removes the emulator's containers and, when the data
    /// dir was a temporary one, deletes it.
    pub async fn shutdown(self) {
        self.sim.shutdown().await;
        if let Some(dir) = self.temp_dir
            && let Err(e) = std::fs::remove_dir_all(&dir)
        {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot remove the temporary data dir");
        }
    }
}

/// Starts the emulator and returns it with the backend configuration and
/// credential pointing at it. On error nothing is left running.
pub async fn start(
    args: &CliArgs,
    env: Vec<(String, String)>,
    options: &EmulatorOptions,
) -> Result<(Emulator, Config, Arc<dyn TokenCredential>)> {
    let mut config = probe_config(args, env)?;
    let temp_dir = (config.data_dir == Path::new(DEFAULT_DATA_DIR)).then(fresh_temp_dir);
    if let Some(dir) = &temp_dir {
        config.data_dir = dir.clone();
    }
    let seed = EnvironmentSeed {
        subscription_id: config.subscription_id.clone(),
        resource_group: config.resource_group.clone(),
        name: config.managed_environment_name.clone(),
        location: config.location.clone(),
        ..EnvironmentSeed::default()
    };
    let storage = storage_account(&config)?;
    let mut sim_config = SimConfig {
        engine: options.engine.clone(),
        data_dir: Some(config.data_dir.join(SIM_SUBDIR)),
        environments: vec![seed.clone()],
        storage_accounts: vec![storage.clone()],
        console_log_max_bytes: CONSOLE_LOG_MAX_BYTES,
        ..SimConfig::default()
    };
    options.profile.apply(&mut sim_config);
    let (user, password) = (
        sim_config.registry_username.clone(),
        sim_config.registry_password.clone(),
    );
    let identity_header = sim_config.identity_header.clone();
    let sim = Simulator::start(sim_config)
        .await
        .context("starting the embedded Azure emulator")?;
    let emulator = Emulator { sim, temp_dir };
    configure_storage(&mut config, &emulator, &storage)?;
    match configure(&mut config, &emulator, &seed, options, (user, password)).await {
        Ok(()) => {}
        Err(err) => {
            emulator.shutdown().await;
            return Err(err);
        }
    }
    let msi = Url::parse(&format!("{}/msi/token", emulator.base_url()))
        .context("emulator identity endpoint")?;
    let credential: Arc<dyn TokenCredential> =
        Arc::new(EndpointIdentityCredential::new(msi, identity_header));
    tracing::info!(
        azure = %emulator.base_url(),
        engine = %options.engine,
        data_dir = %config.data_dir.display(),
        agent_image = config.agent_image.as_deref().unwrap_or(""),
        replica_network = %emulator.sim.network().map(|n| format!("{} {} gateway {}", n.name, n.subnet, n.gateway)).unwrap_or_default(),
        "emulator mode (--emulator): using the embedded Azure emulator"
    );
    Ok((emulator, config, credential))
}

/// The configuration from flags, environment and file, with the required
/// keys the user left unset filled from the emulator's seeded environment.
pub fn probe_config(args: &CliArgs, env: Vec<(String, String)>) -> Result<Config> {
    let seed = EnvironmentSeed::default();
    let mut args = args.clone();
    let missing = match Config::from_sources(&args, env.clone()) {
        Ok(_) => Vec::new(),
        Err(ConfigError::Missing(keys)) => keys,
        Err(other) => return Err(other.into()),
    };
    for key in missing {
        let value = match key {
            "subscription_id" => &seed.subscription_id,
            "resource_group" => &seed.resource_group,
            "managed_environment_name" => &seed.name,
            _ => &seed.location,
        };
        let slot = match key {
            "subscription_id" => &mut args.subscription_id,
            "resource_group" => &mut args.resource_group,
            "managed_environment_name" => &mut args.managed_environment_name,
            _ => &mut args.location,
        };
        *slot = Some(value.clone());
    }
    Ok(Config::from_sources(&args, env)?)
}

/// Name of the emulator's storage account when none is configured.
pub const EMULATOR_STORAGE_ACCOUNT: &str = "sockerlesssim";

/// The storage account the emulator serves: the configured one (name and
/// key), or [`EMULATOR_STORAGE_ACCOUNT`] with a key made now.
fn storage_account(config: &Config) -> Result<StorageAccountSeed> {
    use base64::Engine;
    if let (Some(name), Some(key)) = (&config.storage_account_name, &config.storage_account_key) {
        return Ok(StorageAccountSeed {
            name: name.clone(),
            key: key.expose().to_owned(),
        });
    }
    let mut key = [0u8; 64];
    getrandom::fill(&mut key)
        .map_err(|e| anyhow::anyhow!("no randomness for the storage key: {e}"))?;
    Ok(StorageAccountSeed {
        name: EMULATOR_STORAGE_ACCOUNT.to_owned(),
        key: base64::engine::general_purpose::STANDARD.encode(key),
    })
}

/// Volumes work with no setup: the backend uses the emulator's storage
/// account and its Azure Files endpoint (the key stays in memory).
fn configure_storage(
    config: &mut Config,
    emulator: &Emulator,
    account: &StorageAccountSeed,
) -> Result<()> {
    config.storage_account_name = Some(account.name.clone());
    config.storage_account_key = Some(SecretString::new(account.key.clone()));
    let endpoint = emulator.sim.file_endpoint(&account.name);
    config.storage_file_endpoint =
        Some(Url::parse(&endpoint).with_context(|| format!("emulator file endpoint {endpoint}"))?);
    Ok(())
}

/// Points `config` at the running emulator and pushes the agent image.
async fn configure(
    config: &mut Config,
    emulator: &Emulator,
    seed: &EnvironmentSeed,
    options: &EmulatorOptions,
    (user, password): (String, String),
) -> Result<()> {
    let base = Url::parse(&emulator.base_url()).context("emulator base URL")?;
    config.arm_endpoint = base.clone();
    config.authority_host = base.clone();
    config.log_analytics_endpoint = base;
    config
        .log_analytics_workspace_id
        .get_or_insert_with(|| seed.log_analytics_workspace_id.clone());
    if !config.registry_mirrors.contains_key("docker.io") {
        let mirror = Url::parse(&options.docker_io_mirror)
            .with_context(|| format!("--docker-io-mirror {:?}", options.docker_io_mirror))?;
        config
            .registry_mirrors
            .insert("docker.io".to_owned(), mirror);
    }
    configure_agent_endpoint(config, emulator)?;
    let registry = emulator.sim.registry_host();
    if config.registry_server.is_none() {
        // The agent image lives in the emulator's registry, whose admin login
        // the jobs need to pull it.
        config.registry_server = Some(registry.clone());
        config.registry_username = Some(user.clone());
        config.registry_password = Some(SecretString::new(password.clone()));
    }
    if config.acr_resource_id.is_none() && config.registry_server.as_deref() == Some(&registry) {
        // `docker build` runs on the emulator's ACR Tasks, which push here.
        config.acr_resource_id = Some(format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ContainerRegistry/registries/{}",
            config.subscription_id,
            config.resource_group,
            emulator.sim.registry_name()
        ));
    }
    if config.agent_image.is_none() {
        let agent_bin = options.agent_bin.clone().map_err(anyhow::Error::msg)?;
        let image = AgentImage::from_file(&agent_bin)?;
        let mut target = PushTarget::new(registry, DEFAULT_REPOSITORY, DEFAULT_TAG);
        target.credentials = Some((user, SecretString::new(password)));
        let pushed = image.push(&target).await?;
        tracing::info!(
            agent_bin = %agent_bin.display(),
            image = %pushed.reference,
            "agent image pushed to the emulator's registry"
        );
        config.agent_image = Some(pushed.reference);
    }
    Ok(())
}

/// Replicas live in their own network namespaces on the emulator's bridge
/// network and reach the host at its gateway address only: the agent endpoint
/// listens there, with TLS from a CA generated now (handed to every container
/// as in production), so agents dial `wss://<gateway>:<port>`.
fn configure_agent_endpoint(config: &mut Config, emulator: &Emulator) -> Result<()> {
    let Some(gateway) = emulator.sim.gateway() else {
        tracing::warn!(
            "the emulator has no replica network (is its engine, --engine, running?): \
             containers cannot start until sockerless restarts"
        );
        config.agent_listen = FALLBACK_AGENT_LISTEN.to_owned();
        return Ok(());
    };
    let files = pki::generate(&config.data_dir.join(pki::TLS_SUBDIR), gateway)
        .context("generating the agent endpoint's TLS certificate")?;
    config.agent_listen = format!(
        "tcp://{}",
        std::net::SocketAddr::new(gateway, EMULATOR_AGENT_PORT)
    );
    config.agent_callback_url = None;
    config.agent_tls_cert = Some(files.cert);
    config.agent_tls_key = Some(files.key);
    config.agent_tls_ca = Some(files.ca);
    config.check_agent_listen()?;
    Ok(())
}

fn fresh_temp_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    std::env::temp_dir().join(format!("sockerless-{}-{nanos:09}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env() -> Vec<(String, String)> {
        Vec::new()
    }

    #[test]
    fn a_missing_key_names_it_and_the_emulator_flag() {
        let args = CliArgs {
            subscription_id: Some("sub".into()),
            ..CliArgs::default()
        };
        let err = Config::from_sources(&args, no_env()).expect_err("still missing rg");
        let message = explain_config_error(&err);
        assert!(message.contains("resource_group"), "{message}");
        assert!(!message.contains("subscription_id"), "{message}");
        assert!(message.contains("--emulator"), "{message}");
    }

    #[test]
    fn probe_fills_only_what_is_missing() {
        let args = CliArgs {
            location: Some("westeurope".into()),
            ..CliArgs::default()
        };
        let config = probe_config(&args, no_env()).expect("probe");
        let seed = EnvironmentSeed::default();
        assert_eq!(config.subscription_id, seed.subscription_id);
        assert_eq!(config.resource_group, seed.resource_group);
        assert_eq!(config.managed_environment_name, seed.name);
        assert_eq!(config.location, "westeurope");
        assert_eq!(config.data_dir, Path::new(DEFAULT_DATA_DIR));
    }

    #[test]
    fn bad_values_are_reported_not_replaced() {
        let args = CliArgs {
            arm_endpoint: Some("not a url".into()),
            ..CliArgs::default()
        };
        assert!(probe_config(&args, no_env()).is_err());
    }

    fn options(agent_bin: Result<PathBuf, String>) -> EmulatorOptions {
        EmulatorOptions {
            // No engine is needed until a job runs.
            engine: "unix:///nonexistent/docker.sock".into(),
            docker_io_mirror: "http://127.0.0.1:5000".into(),
            agent_bin,
            profile: Profile::Fast,
        }
    }

    #[tokio::test]
    async fn start_points_the_backend_at_the_emulator_and_pushes_the_agent_image() {
        let dir = tempfile::tempdir().expect("tempdir");
        let agent = dir.path().join("sockerless-agent");
        std::fs::write(&agent, b"not really a static agent").expect("write agent");
        let args = CliArgs {
            data_dir: Some(dir.path().join("data")),
            ..CliArgs::default()
        };
        let (emulator, config, credential) = start(&args, no_env(), &options(Ok(agent.clone())))
            .await
            .expect("emulator mode starts");
        let base = emulator.base_url();
        let registry = emulator.sim.registry_host();
        let seed = EnvironmentSeed::default();

        assert_eq!(config.arm_endpoint.as_str().trim_end_matches('/'), base);
        assert_eq!(config.authority_host.as_str().trim_end_matches('/'), base);
        assert_eq!(
            config.log_analytics_endpoint.as_str().trim_end_matches('/'),
            base
        );
        assert_eq!(config.subscription_id, seed.subscription_id);
        assert_eq!(config.managed_environment_name, seed.name);
        assert_eq!(
            config.log_analytics_workspace_id.as_deref(),
            Some(seed.log_analytics_workspace_id.as_str())
        );
        assert_eq!(config.data_dir, dir.path().join("data"));
        // No engine, so no replica network: loopback, no TLS.
        assert_eq!(config.agent_listen, FALLBACK_AGENT_LISTEN);
        assert!(!config.agent_tls());
        assert_eq!(
            config.registry_mirrors.get("docker.io").map(Url::as_str),
            Some("http://127.0.0.1:5000/")
        );
        assert_eq!(config.registry_server.as_deref(), Some(registry.as_str()));
        let image = AgentImage::from_file(&agent).expect("image");
        assert_eq!(
            config.agent_image,
            Some(format!(
                "{registry}/{DEFAULT_REPOSITORY}@{}",
                image.manifest_digest()
            ))
        );

        let token = credential
            .get_token(&["https://management.azure.com/.default"], None)
            .await
            .expect("the emulator's managed identity gives an ARM token");
        assert!(!token.token.secret().is_empty());
        let again = credential
            .get_token(&["https://management.azure.com/.default"], None)
            .await
            .expect("token again");
        assert_eq!(again.token.secret(), token.token.secret(), "cached");

        emulator.shutdown().await;
        assert!(dir.path().join("data").exists(), "a given data dir is kept");
    }

    #[tokio::test]
    #[ignore = "needs the emulator's engine (SOCKERLESS_SIM_ENGINE): cargo xtask test"]
    async fn with_an_engine_agents_dial_the_gateway_over_tls() {
        let engine = std::env::var("SOCKERLESS_SIM_ENGINE")
            .ok()
            .filter(|e| !e.is_empty())
            .expect("this test needs SOCKERLESS_SIM_ENGINE (cargo xtask test)");
        let dir = tempfile::tempdir().expect("tempdir");
        let agent = dir.path().join("sockerless-agent");
        std::fs::write(&agent, b"agent bytes").expect("write agent");
        let args = CliArgs {
            data_dir: Some(dir.path().join("data")),
            ..CliArgs::default()
        };
        let options = EmulatorOptions {
            engine,
            ..options(Ok(agent))
        };
        let (emulator, config, _) = start(&args, no_env(), &options)
            .await
            .expect("emulator mode starts");
        let gateway = emulator.sim.gateway().expect("replica network");
        assert!(!gateway.is_loopback());
        assert_eq!(config.agent_listen, format!("tcp://{gateway}:0"));
        assert!(config.agent_tls());
        let tls = dir.path().join("data").join(pki::TLS_SUBDIR);
        assert_eq!(config.agent_tls_ca, Some(tls.join("ca.pem")));
        assert_eq!(config.agent_tls_key, Some(tls.join("key.pem")));
        emulator.shutdown().await;
    }

    #[tokio::test]
    async fn without_a_data_dir_state_is_temporary() {
        let dir = tempfile::tempdir().expect("tempdir");
        let agent = dir.path().join("sockerless-agent");
        std::fs::write(&agent, b"agent bytes").expect("write agent");
        let (emulator, config, _) = start(&CliArgs::default(), no_env(), &options(Ok(agent)))
            .await
            .expect("emulator mode starts");
        assert!(config.data_dir.starts_with(std::env::temp_dir()));
        assert!(config.data_dir.join(SIM_SUBDIR).is_dir());
        emulator.shutdown().await;
        assert!(!config.data_dir.exists(), "removed at shutdown");
    }

    #[tokio::test]
    async fn two_starts_have_different_credentials_kept_in_a_private_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let agent = dir.path().join("sockerless-agent");
        std::fs::write(&agent, b"agent bytes").expect("write agent");
        let mut seen = Vec::new();
        for run in ["a", "b"] {
            let args = CliArgs {
                data_dir: Some(dir.path().join(run)),
                ..CliArgs::default()
            };
            let (emulator, config, _) = start(&args, no_env(), &options(Ok(agent.clone())))
                .await
                .expect("emulator mode starts");
            let file = config
                .data_dir
                .join(SIM_SUBDIR)
                .join(sockerless_azure_sim::CREDENTIALS_FILE);
            let mode = std::os::unix::fs::PermissionsExt::mode(
                &std::fs::metadata(&file).expect("credentials").permissions(),
            );
            assert_eq!(mode & 0o777, 0o600);
            let creds: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("json");
            seen.push(creds);
            emulator.shutdown().await;
        }
        for key in ["identity_header", "client_secret", "registry_password"] {
            assert_ne!(seen[0][key], seen[1][key], "{key}");
            assert!(
                seen[0][key].as_str().is_some_and(|v| v.len() >= 32),
                "{key}"
            );
        }
    }

    #[tokio::test]
    async fn a_missing_agent_binary_stops_the_emulator_and_says_why() {
        let dir = tempfile::tempdir().expect("tempdir");
        let args = CliArgs {
            data_dir: Some(dir.path().join("data")),
            ..CliArgs::default()
        };
        let Err(err) = start(
            &args,
            no_env(),
            &options(Err("no agent binary: ...".into())),
        )
        .await
        else {
            panic!("start without an agent binary must fail");
        };
        assert!(err.to_string().contains("no agent binary"), "{err:#}");
    }

    #[tokio::test]
    async fn a_wrong_identity_header_is_refused() {
        let sim = Simulator::start(SimConfig {
            engine: "unix:///nonexistent/docker.sock".into(),
            ..SimConfig::default()
        })
        .await
        .expect("emulator");
        let msi = Url::parse(&format!("{}/msi/token", sim.base_url())).expect("url");
        let credential = EndpointIdentityCredential::new(msi, "wrong");
        let err = credential
            .get_token(&["https://management.azure.com/.default"], None)
            .await
            .expect_err("wrong header");
        assert!(err.to_string().contains("401"), "{err}");
        sim.shutdown().await;
    }
}
