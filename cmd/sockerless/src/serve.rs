//! Serving: the Docker frontend over an in-process ACA backend (and, in
//! emulator mode, the embedded Azure emulator), until SIGTERM or SIGINT.

use std::io::Write;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::{Context, Result};
use sockerless_api::listen::{Drain, ListenAddr, bind};
use sockerless_azure::pipeline::AzureOptions;
use sockerless_backend_aca::config::process_env;
use sockerless_backend_aca::{AcaBackend, Config};
use sockerless_frontend_docker::{FrontendConfig, check_listen_addr, serve_on};
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::cli::{DEFAULT_DOCKER_IO_MIRROR, RunArgs, resolve_agent_bin};
use crate::emulator::{self, EmulatorOptions};

/// Longest a shutdown waits for open requests and attach/exec streams.
pub const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A configuration problem: exit code 2, one line on stderr.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Runs until SIGTERM/SIGINT; prints `export DOCKER_HOST=...` once ready
/// (then, in emulator mode, `export SOCKERLESS_AZURE_ENDPOINT=http://127.0.0.1:PORT`).
pub async fn run(args: RunArgs) -> Result<()> {
    // Installed first, so a signal during startup is not lost.
    let signals = Signals::install()?;
    let host = ListenAddr::from_str(&args.host)
        .map_err(|e| UsageError(format!("--host {}: {e}", args.host)))?;
    check_listen_addr(&host).map_err(|e| UsageError(e.to_string()))?;

    let env = process_env();
    // Logging first, from whatever configuration there is (the emulator logs too).
    // An invalid value is a usage error in either mode.
    let log_config = emulator::probe_config(&args.backend, env.clone())
        .map_err(|e| UsageError(format!("{e:#}")))?;
    sockerless_backend_aca::daemon::init_logging(&log_config);
    if let Err(err) = sockerless_backend_aca::daemon::raise_open_file_limit() {
        tracing::warn!(error = %err, "cannot raise the open-file limit");
    }

    let (emulator, mut config, credential) = if args.emulator {
        let options = EmulatorOptions {
            engine: args.engine.clone(),
            docker_io_mirror: args
                .docker_io_mirror
                .clone()
                .unwrap_or_else(|| DEFAULT_DOCKER_IO_MIRROR.to_owned()),
            agent_bin: resolve_agent_bin(args.agent_bin.clone()),
            profile: args.emulator_profile,
        };
        let (emulator, config, credential) = emulator::start(&args.backend, env, &options).await?;
        (Some(emulator), config, Some(credential))
    } else {
        let mut config = Config::from_sources(&args.backend, env.clone())
            .map_err(|err| UsageError(emulator::explain_config_error(&err)))?;
        if let Some(mirror) = &args.docker_io_mirror {
            let url = url::Url::parse(mirror)
                .map_err(|e| UsageError(format!("--docker-io-mirror {mirror:?}: {e}")))?;
            config.registry_mirrors.insert("docker.io".to_owned(), url);
        }
        if config.agent_image.is_none() {
            tracing::warn!(
                "no agent image configured (--agent-image): containers cannot start; \
                 push one with `sockerless push-agent-image`"
            );
        }
        (None, config, None)
    };

    // A container binding the Docker socket reaches this process's own Docker API.
    if config.docker_api_url.is_none() {
        config.docker_api_url = Some(host.clone());
    }

    let extra_lines: Vec<String> = emulator
        .iter()
        .map(|e| format!("export SOCKERLESS_AZURE_ENDPOINT={}", e.base_url()))
        .collect();
    let result = serve(host, config, credential, extra_lines, signals).await;
    if let Some(emulator) = emulator {
        tracing::info!("shutting the emulator down (removing its containers)");
        emulator.shutdown().await;
    }
    tracing::info!("stopped");
    result
}

async fn serve(
    host: ListenAddr,
    config: Config,
    credential: Option<Arc<dyn azure_core::credentials::TokenCredential>>,
    extra_lines: Vec<String>,
    signals: Signals,
) -> Result<()> {
    let backend = match credential {
        Some(credential) => {
            AcaBackend::with_credential(config, credential, AzureOptions::default()).await
        }
        None => AcaBackend::new(config).await,
    }
    .context("starting the ACA backend")?;

    let agent_endpoint = match backend.start_agent_endpoint().await {
        Ok(endpoint) => endpoint,
        Err(err) => {
            let _ = backend.close().await;
            return Err(anyhow::anyhow!(
                "starting the agent endpoint: {}",
                err.message()
            ));
        }
    };
    tracing::info!(
        listen = %agent_endpoint.local_addr,
        callback_url = %agent_endpoint.callback_url,
        "agent endpoint ready"
    );

    let check = backend.clone();
    let startup_check = tokio::spawn(async move {
        let _ = tokio::time::timeout(
            sockerless_backend_aca::daemon::STARTUP_CHECK_TIMEOUT,
            check.check_environment(),
        )
        .await;
    });

    let listener = bind(&host)
        .await
        .with_context(|| format!("binding the Docker API on {host}"))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "export DOCKER_HOST={host}")
        .and_then(|()| {
            for line in &extra_lines {
                writeln!(stdout, "{line}")?;
            }
            stdout.flush()
        })
        .context("writing the DOCKER_HOST line")?;
    drop(stdout);
    tracing::info!(docker_host = %host, "sockerless ready");

    let mut frontend = FrontendConfig::new(host);
    frontend.drain_timeout = DRAIN_TIMEOUT;
    frontend.limits = backend.config().serve_limits();
    let drain = serve_on(
        listener,
        &frontend,
        Arc::new(backend.clone()),
        signals.wait(),
    )
    .await;
    startup_check.abort();
    match drain {
        Drain::Complete => tracing::info!("Docker API drained"),
        Drain::TimedOut { remaining } => {
            tracing::warn!(remaining, "drain timed out; cut off open connections")
        }
    }
    if let Err(e) = backend.close().await {
        tracing::warn!(error = %e, "closing the state store failed");
    }
    Ok(())
}

/// SIGTERM and SIGINT, installed up front.
struct Signals {
    term: Signal,
    int: Signal,
}

impl Signals {
    fn install() -> Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
        })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.term.recv() => tracing::info!("SIGTERM: shutting down"),
            _ = self.int.recv() => tracing::info!("SIGINT: shutting down"),
        }
    }
}
