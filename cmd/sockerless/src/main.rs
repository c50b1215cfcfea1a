//! `sockerless`: the Docker Engine API and the ACA backend in one process.
//!
//! - `sockerless [flags]`: serve the Docker API; against Azure when a
//!   subscription is configured, else against the embedded Azure emulator.
//! - `sockerless push-agent-image ...`: build and push the agent image.

mod cli;
mod emulator;
mod identity;
mod pki;
mod serve;

use std::io::Read;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use sockerless_backend_aca::agent_image::{AgentImage, PushTarget};
use sockerless_backend_aca::config::SecretString;

use crate::cli::{Cli, Command, PushArgs, resolve_agent_bin};
use crate::serve::UsageError;

fn main() -> ExitCode {
    sockerless_backend_aca::malloc::tune();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("sockerless: cannot start the async runtime: {err}");
            return ExitCode::from(1);
        }
    };
    let result = match cli.command {
        Some(Command::PushAgentImage(args)) => runtime.block_on(push_agent_image(args)),
        None => {
            sockerless_backend_aca::malloc::spawn_trimmer();
            runtime.block_on(serve::run(cli.run))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.is::<UsageError>() => {
            eprintln!("sockerless: {err}");
            ExitCode::from(2)
        }
        Err(err) => {
            tracing::error!(error = format!("{err:#}"), "sockerless failed");
            eprintln!("sockerless: {err:#}");
            ExitCode::from(1)
        }
    }
}

/// `sockerless push-agent-image`: prints the pinned reference on stdout.
async fn push_agent_image(args: PushArgs) -> Result<()> {
    init_plain_logging();
    let agent_bin = resolve_agent_bin(args.agent_bin).map_err(UsageError)?;
    let mut target = PushTarget::new(args.registry, args.repository, args.tag);
    if let (Some(user), true) = (args.username, args.password_stdin) {
        let mut password = String::new();
        std::io::stdin()
            .read_to_string(&mut password)
            .context("reading the registry password from stdin")?;
        let password = password.trim_end_matches(['\r', '\n']).to_owned();
        if password.is_empty() {
            return Err(UsageError("--password-stdin: stdin was empty".into()).into());
        }
        target.credentials = Some((user, SecretString::new(password)));
    }
    let image = AgentImage::from_file(&agent_bin)?;
    let pushed = image.push(&target).await?;
    println!("{}", pushed.reference);
    Ok(())
}

fn init_plain_logging() {
    let mut config = sockerless_backend_aca::Config::new("-", "-", "-", "-");
    if let Ok(level) = std::env::var("SOCKERLESS_ACA_LOG_LEVEL") {
        config.log_level = level;
    }
    sockerless_backend_aca::daemon::init_logging(&config);
}
