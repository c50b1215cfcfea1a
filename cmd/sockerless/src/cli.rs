//! Command line of the all-in-one.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use sockerless_backend_aca::CliArgs;

/// Where Docker clients connect by default.
pub const DEFAULT_HOST: &str = "unix:///var/run/sockerless.sock";
/// Container engine the embedded emulator runs executions on by default.
pub const DEFAULT_ENGINE: &str = "unix:///var/run/docker.sock";
/// Where Docker Hub images come from in emulator mode by default (the test registry).
pub const DEFAULT_DOCKER_IO_MIRROR: &str = "http://127.0.0.1:5000";
/// Name of the static agent binary.
pub const AGENT_BIN_NAME: &str = "sockerless-agent";

/// `sockerless`: the Docker API and the ACA backend in one process.
#[derive(Debug, Parser)]
#[command(
    name = "sockerless",
    version,
    about = "Docker Engine API on Azure Container Apps Jobs: the Docker frontend and the ACA backend in one process",
    long_about = "Docker Engine API on Azure Container Apps Jobs: the Docker frontend and the ACA backend \
in one process.\n\nWith --emulator it starts an embedded Azure emulator that runs every job execution as \
containers on a local engine (--engine), builds the agent image from --agent-bin and pushes it into the \
emulator's registry. Without it, the Azure configuration (--subscription-id and the rest) is required.\n\n\
Once ready, the first line on stdout is `export DOCKER_HOST=...`; logs go to stderr.",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// A one-off task instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Serving options.
    #[command(flatten)]
    pub run: RunArgs,
}

/// One-off tasks.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the agent image (the static agent on an empty base) and push it
    /// to a registry; prints the pinned reference (`registry/repo@sha256:...`)
    /// to use as `--agent-image`.
    PushAgentImage(PushArgs),
}

/// Options of `sockerless` (serving).
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Docker API listener: unix:///path or tcp://127.0.0.1:PORT (TCP on loopback only: no TLS).
    #[arg(short = 'H', long = "host", value_name = "ADDR", env = "SOCKERLESS_HOST", default_value = DEFAULT_HOST)]
    pub host: String,
    /// Run on the embedded Azure emulator (a local engine runs the job executions) instead of Azure.
    /// Never implied: without it, a missing Azure key is an error.
    #[arg(long, env = "SOCKERLESS_EMULATOR")]
    pub emulator: bool,
    /// Emulator mode: container engine running the job executions (unix:// only).
    #[arg(long, value_name = "URL", env = "SOCKERLESS_SIM_ENGINE", default_value = DEFAULT_ENGINE)]
    pub engine: String,
    /// Emulator mode: timing profile of the emulator, `fast` or `azure` (executions scheduled in
    /// 5–40 s, operations of seconds, console logs minutes late; see sockerless-azure-sim).
    #[arg(
        long,
        value_name = "PROFILE",
        env = "SOCKERLESS_SIM_PROFILE",
        default_value = "fast"
    )]
    pub emulator_profile: sockerless_azure_sim::Profile,
    /// Static agent binary for the agent image [default: sockerless-agent next to this
    /// executable, then $SOCKERLESS_AGENT_BIN].
    #[arg(long, value_name = "PATH")]
    pub agent_bin: Option<PathBuf>,
    /// Registry serving Docker Hub images (docker.io), e.g. http://127.0.0.1:5000
    /// [default in emulator mode: http://127.0.0.1:5000].
    #[arg(long, value_name = "URL", env = "SOCKERLESS_DOCKER_IO_MIRROR")]
    pub docker_io_mirror: Option<String>,
    /// Backend configuration (the flags of sockerless-backend-aca; `--listen` is unused here).
    #[command(flatten)]
    pub backend: CliArgs,
}

/// Options of `sockerless push-agent-image`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Static agent binary [default: sockerless-agent next to this executable, then
    /// $SOCKERLESS_AGENT_BIN].
    #[arg(long, value_name = "PATH")]
    pub agent_bin: Option<PathBuf>,
    /// Registry host[:port], e.g. myreg.azurecr.io or 127.0.0.1:5000 (plain http on loopback).
    #[arg(long, value_name = "HOST")]
    pub registry: String,
    /// Repository.
    #[arg(long, value_name = "REPO", default_value = sockerless_backend_aca::agent_image::DEFAULT_REPOSITORY)]
    pub repository: String,
    /// Tag.
    #[arg(long, value_name = "TAG", default_value = sockerless_backend_aca::agent_image::DEFAULT_TAG)]
    pub tag: String,
    /// Registry user name (basic auth); the password is read from stdin.
    #[arg(long, value_name = "USER", requires = "password_stdin")]
    pub username: Option<String>,
    /// Read the registry password from stdin (one line).
    #[arg(long, requires = "username")]
    pub password_stdin: bool,
}

/// The agent binary: `explicit`, else `sockerless-agent` next to the current
/// executable, else `$SOCKERLESS_AGENT_BIN`.
pub fn resolve_agent_bin(explicit: Option<PathBuf>) -> Result<PathBuf, String> {
    if let Some(path) = explicit {
        return Ok(path);
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(AGENT_BIN_NAME)))
        .filter(|p| p.is_file());
    if let Some(path) = beside {
        return Ok(path);
    }
    match std::env::var_os("SOCKERLESS_AGENT_BIN") {
        Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
        _ => Err(format!(
            "no agent binary: pass --agent-bin PATH, put {AGENT_BIN_NAME} next to this executable, \
             or set SOCKERLESS_AGENT_BIN (build it with `cargo xtask agent`)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn backend_flags_are_flattened() {
        let cli = Cli::try_parse_from([
            "sockerless",
            "-H",
            "tcp://127.0.0.1:2375",
            "--subscription-id",
            "sub",
            "--registry-mirror",
            "docker.io=http://127.0.0.1:5000",
            "--data-dir",
            "/tmp/x",
        ])
        .expect("parse");
        assert!(cli.command.is_none());
        assert_eq!(cli.run.host, "tcp://127.0.0.1:2375");
        assert_eq!(cli.run.backend.subscription_id.as_deref(), Some("sub"));
        assert_eq!(cli.run.backend.data_dir, Some(PathBuf::from("/tmp/x")));
        assert_eq!(cli.run.backend.registry_mirrors.len(), 1);
    }

    #[test]
    fn push_agent_image_needs_a_registry_and_paired_credentials() {
        let cli = Cli::try_parse_from([
            "sockerless",
            "push-agent-image",
            "--agent-bin",
            "/bin/true",
            "--registry",
            "127.0.0.1:5000",
        ])
        .expect("parse");
        let Some(Command::PushAgentImage(push)) = cli.command else {
            panic!("subcommand expected");
        };
        assert_eq!(push.repository, "sockerless/agent");
        assert!(!push.password_stdin);
        assert!(Cli::try_parse_from(["sockerless", "push-agent-image"]).is_err());
        assert!(
            Cli::try_parse_from([
                "sockerless",
                "push-agent-image",
                "--registry",
                "r",
                "--username",
                "u"
            ])
            .is_err(),
            "--username without --password-stdin"
        );
    }

    #[test]
    fn explicit_agent_bin_wins() {
        assert_eq!(
            resolve_agent_bin(Some(PathBuf::from("/x/agent"))),
            Ok(PathBuf::from("/x/agent"))
        );
    }
}
