//! `sockerless-backend-aca`: the ACA backend daemon.

use std::process::ExitCode;

use clap::Parser;
use sockerless_backend_aca::config::{CliArgs, Config, process_env};
use sockerless_backend_aca::daemon::{self, DaemonError};

fn main() -> ExitCode {
    sockerless_backend_aca::malloc::tune();
    let args = CliArgs::parse();
    let config = match Config::from_sources(&args, process_env()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("sockerless-backend-aca: {err}");
            return ExitCode::from(2);
        }
    };
    if let Err(err) = daemon::listen_addr(&config) {
        eprintln!("sockerless-backend-aca: {err}");
        return ExitCode::from(2);
    }
    daemon::init_logging(&config);
    if let Err(err) = daemon::raise_open_file_limit() {
        tracing::warn!(error = %err, "cannot raise the open-file limit");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("sockerless-backend-aca: cannot start the async runtime: {err}");
            return ExitCode::from(1);
        }
    };
    sockerless_backend_aca::malloc::spawn_trimmer();
    match runtime.block_on(daemon::run(config, daemon::shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err @ DaemonError::Listen(_)) => {
            eprintln!("sockerless-backend-aca: {err}");
            ExitCode::from(2)
        }
        Err(err) => {
            tracing::error!(error = %err, "sockerless-backend-aca failed");
            eprintln!("sockerless-backend-aca: {err}");
            ExitCode::from(1)
        }
    }
}
