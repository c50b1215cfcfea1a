//! `sockerless-docker-frontend`: the Docker Engine API v1.44 in front of a
//! sockerless backend reached over the internal API.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use sockerless_api::RemoteBackend;
use sockerless_api::listen::{Drain, ListenAddr};
use sockerless_frontend_docker::{FrontendConfig, TlsArgs, run};

/// Serves the Docker Engine API (v1.44) over a sockerless backend.
#[derive(Debug, Parser)]
#[command(name = "sockerless-docker-frontend", version)]
struct Args {
    /// Where Docker clients connect: unix:///path or tcp://host:port (loopback, or any host with --tlsverify).
    #[arg(
        long,
        env = "SOCKERLESS_DOCKER_LISTEN",
        default_value = "unix:///var/run/sockerless-docker.sock"
    )]
    listen: String,

    /// The backend's internal API: unix:///path or tcp://host:port.
    #[arg(
        long,
        env = "SOCKERLESS_BACKEND",
        default_value = "unix:///var/run/sockerless-backend.sock"
    )]
    backend: String,

    /// Seconds a graceful shutdown waits for open requests and attached streams.
    #[arg(long, env = "SOCKERLESS_DRAIN_TIMEOUT", default_value_t = 30)]
    drain_timeout: u64,

    /// Seconds between re-reads of the backend's capabilities.
    #[arg(long, env = "SOCKERLESS_CAPABILITIES_REFRESH", default_value_t = 300)]
    capabilities_refresh: u64,

    #[command(flatten)]
    tls: TlsArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let listen: ListenAddr = args.listen.parse().context("--listen")?;
    let backend_addr: ListenAddr = args.backend.parse().context("--backend")?;
    let mut config = FrontendConfig::new(listen);
    config.drain_timeout = Duration::from_secs(args.drain_timeout);
    config.capabilities_refresh = Duration::from_secs(args.capabilities_refresh.max(1));
    config.tls = args.tls.settings()?;
    tracing::info!(backend = %backend_addr, "using backend");
    let backend = Arc::new(RemoteBackend::new(backend_addr));
    match run(&config, backend, shutdown_signal()).await? {
        Drain::Complete => tracing::info!("shut down cleanly"),
        Drain::TimedOut { remaining } => {
            tracing::warn!(remaining, "shut down with connections cut off")
        }
    }
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT: shutting down"),
        () = term => tracing::info!("SIGTERM: shutting down"),
    }
}
