//! The Docker socket inside containers: `-v /var/run/docker.sock:/p` (or
//! `/run/docker.sock`, or `--mount type=bind` of either; any container path
//! `/p`) makes the agent serve a Unix socket at `/p`. Every connection a
//! process makes to it reaches the backend as an inbound Unix socket session
//! ([`AgentEvent::UnixInbound`](sockerless_agent::peer::AgentEvent)), which
//! is piped to this daemon's Docker API: `docker_api_url` in the
//! configuration (the all-in-one sets it to its own listener). Without it,
//! such a bind is refused at create.
//!
//! - [`check_create`]: the refusal at create.
//! - [`prepare`]: before the process starts, the agent is told which paths
//!   to serve (UNIX_LISTEN), so the socket is there when the process runs.
//! - [`inbound`]: one tunnel per connection, at most [`MAX_TUNNELS`] at once
//!   per container (per agent connection); a connection to a path the
//!   container did not bind, or beyond the limit, is refused.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use sockerless_agent::peer::Session;
use sockerless_api::listen::ListenAddr;
use sockerless_api::{ApiError, Result};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::Semaphore;

use crate::AcaBackend;
use crate::agent_link::pump::AgentLink;
use crate::config::Config;
use crate::containers::mounts::MountSpec;
use crate::relay::splice::ABORT_SIGNAL;
use crate::runtime::StoredConfig;
use crate::runtime::state::ContainerRuntime;

/// Concurrent Docker API connections per container.
pub const MAX_TUNNELS: usize = 64;
/// The configuration key of the Docker API address.
pub const CONFIG_KEY: &str = "docker_api_url";

/// The tunnel slots of one agent connection.
#[derive(Debug, Clone)]
pub struct Tunnels(Arc<Semaphore>);

impl Default for Tunnels {
    fn default() -> Self {
        Self(Arc::new(Semaphore::new(MAX_TUNNELS)))
    }
}

/// The container paths of the Docker socket among `mounts`.
pub fn targets(mounts: &[MountSpec]) -> Vec<String> {
    mounts
        .iter()
        .filter_map(|m| match m {
            MountSpec::DockerSocket { target, .. } => Some(target.clone()),
            _ => None,
        })
        .collect()
}

/// Turns binds of this daemon's own Docker socket (the path of a
/// `unix://` `docker_api_url`, e.g. what Testcontainers binds when
/// `DOCKER_HOST` names it) into Docker socket mounts; the conventional
/// paths are classified so already (`mounts::DOCKER_SOCKETS`). Call right
/// after `mounts::classify`, before binds are looked at.
pub fn adopt(config: &Config, mounts: &mut [MountSpec]) {
    let Some(ListenAddr::Unix(own)) = &config.docker_api_url else {
        return;
    };
    for m in mounts.iter_mut() {
        if let MountSpec::Bind {
            host_path,
            target,
            read_only,
            ..
        } = m
            && same_path(host_path, &own.to_string_lossy())
        {
            *m = MountSpec::DockerSocket {
                host_path: std::mem::take(host_path),
                target: std::mem::take(target),
                read_only: *read_only,
            };
        }
    }
}

/// Refuses a Docker socket bind when no Docker API address is configured.
pub fn check_create(config: &Config, mounts: &[MountSpec]) -> Result<()> {
    let Some(host_path) = mounts.iter().find_map(|m| match m {
        MountSpec::DockerSocket { host_path, .. } => Some(host_path),
        _ => None,
    }) else {
        return Ok(());
    };
    if config.docker_api_url.is_some() {
        return Ok(());
    }
    Err(ApiError::InvalidParameter(format!(
        "binding the Docker socket ({host_path}) needs the backend's {CONFIG_KEY} \
         (SOCKERLESS_ACA_DOCKER_API_URL, --docker-api-url): the Docker API address \
         containers reach through it, e.g. unix:///var/run/sockerless-docker.sock"
    )))
}

/// Asks the agent to serve the container's Docker socket paths (nothing
/// to do when it binds none). Run before the process starts.
pub async fn prepare(
    backend: &AcaBackend,
    rt: &Arc<ContainerRuntime>,
    link: &Arc<AgentLink>,
) -> Result<()> {
    let paths = container_targets(backend, &rt.id).await?;
    if paths.is_empty() {
        return Ok(());
    }
    tracing::debug!(container = %rt.id, ?paths, "serving the Docker socket");
    link.unix_listen(paths)
        .map_err(|e| ApiError::Internal(format!("serving the Docker socket: {e}")))
}

async fn container_targets(backend: &AcaBackend, id: &str) -> Result<Vec<String>> {
    let record = crate::runtime::find_container(backend, id).await?;
    let stored = StoredConfig::of(&record)?;
    if !stored.mounts.is_empty() {
        return Ok(targets(&stored.mounts));
    }
    // Stored without resolved mounts (created before they were kept): the
    // body's own mounts (`--volumes-from` aside) are what there is.
    let mut mounts = crate::containers::mounts::classify(&stored.body)
        .map(|c| c.mounts)
        .unwrap_or_default();
    adopt(backend.config(), &mut mounts);
    Ok(targets(&mounts))
}

/// `a` and `b` name the same path (`.` and repeated `/` aside).
fn same_path(a: &str, b: &str) -> bool {
    let clean = |p: &str| -> PathBuf {
        Path::new(p)
            .components()
            .filter(|c| !matches!(c, Component::CurDir))
            .collect()
    };
    clean(a) == clean(b)
}

/// A connection to the Docker socket at `path` in container `id`: piped to
/// the Docker API, or refused (reset) when the container did not bind the
/// socket there, no address is configured, or [`MAX_TUNNELS`] are open.
pub fn inbound(backend: &AcaBackend, id: &str, tunnels: &Tunnels, path: String, session: Session) {
    let refuse = |session: &Session, why: &str| {
        tracing::info!(container = %id, %path, why, "Docker socket connection refused");
        let _ = session.input().signal(ABORT_SIGNAL);
    };
    let Some(api) = backend.config().docker_api_url.clone() else {
        return refuse(&session, "no docker_api_url configured");
    };
    let Ok(permit) = tunnels.0.clone().try_acquire_owned() else {
        return refuse(&session, "too many Docker socket connections");
    };
    let backend = backend.clone();
    let id = id.to_owned();
    tokio::spawn(async move {
        let allowed = match container_targets(&backend, &id).await {
            Ok(targets) => targets.iter().any(|t| same_path(t, &path)),
            Err(_) => false,
        };
        if !allowed {
            tracing::info!(container = %id, %path, "Docker socket connection refused: not bound there");
            let _ = session.input().signal(ABORT_SIGNAL);
            return;
        }
        tunnel(&api, session).await;
        drop(permit);
    });
}

/// Pipes a socket session to the Docker API at `api` until both sides end.
pub async fn tunnel(api: &ListenAddr, session: Session) {
    match api {
        ListenAddr::Unix(path) => match UnixStream::connect(path).await {
            Ok(stream) => {
                let (rd, wr) = stream.into_split();
                crate::ports::relay::pipe_io(rd, wr, session, |_| {}).await;
            }
            Err(e) => unreachable_api(api, &e, &session),
        },
        ListenAddr::Tcp { host, port } => {
            // A wildcard listener is reached on loopback.
            let host = match host.as_str() {
                "" | "0.0.0.0" => "127.0.0.1",
                "::" => "::1",
                h => h,
            };
            match TcpStream::connect((host, *port)).await {
                Ok(stream) => crate::ports::relay::pipe(stream, session).await,
                Err(e) => unreachable_api(api, &e, &session),
            }
        }
    }
}

fn unreachable_api(api: &ListenAddr, e: &std::io::Error, session: &Session) {
    tracing::warn!(%api, error = %e, "the Docker API for a container's Docker socket is unreachable");
    let _ = session.input().signal(ABORT_SIGNAL);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn socket(target: &str) -> MountSpec {
        MountSpec::DockerSocket {
            host_path: "/var/run/docker.sock".into(),
            target: target.into(),
            read_only: false,
        }
    }

    #[test]
    fn refused_at_create_without_an_address_naming_the_key() {
        let mut config = Config::new("s", "rg", "env", "loc");
        let mounts = vec![socket("/var/run/docker.sock")];
        let err = check_create(&config, &mounts).expect_err("refused");
        assert!(err.message().contains("docker_api_url"), "{err:?}");
        assert!(check_create(&config, &[]).is_ok());
        config.docker_api_url = Some("unix:///tmp/d.sock".parse().expect("addr"));
        assert!(check_create(&config, &mounts).is_ok());
    }

    #[test]
    fn binds_of_the_daemons_own_socket_are_adopted() {
        let bind = |host: &str| MountSpec::Bind {
            host_path: host.into(),
            target: "/var/run/docker.sock".into(),
            read_only: true,
            create_missing: true,
        };
        let mut config = Config::new("s", "rg", "env", "loc");
        let mut mounts = vec![bind("/tmp/slx/docker.sock"), bind("/data")];
        adopt(&config, &mut mounts);
        assert!(targets(&mounts).is_empty());
        config.docker_api_url = Some("unix:///tmp/slx/docker.sock".parse().expect("addr"));
        adopt(&config, &mut mounts);
        assert_eq!(
            mounts[0],
            MountSpec::DockerSocket {
                host_path: "/tmp/slx/docker.sock".into(),
                target: "/var/run/docker.sock".into(),
                read_only: true,
            }
        );
        assert_eq!(mounts[1], bind("/data"));
    }

    #[test]
    fn the_config_key_takes_unix_and_tcp_addresses_only() {
        use clap::Parser;
        let load = |url: &str| {
            let args = crate::CliArgs::try_parse_from([
                "b",
                "--subscription-id",
                "s",
                "--resource-group",
                "rg",
                "--managed-environment-name",
                "env",
                "--location",
                "loc",
                "--docker-api-url",
                url,
            ])
            .expect("parse");
            Config::from_sources(&args, Vec::<(String, String)>::new())
        };
        let tcp = load("tcp://127.0.0.1:2375").expect("tcp");
        assert_eq!(
            tcp.docker_api_url,
            Some("tcp://127.0.0.1:2375".parse().expect("addr"))
        );
        let unix = load("unix:///run/d.sock").expect("unix");
        assert_eq!(
            unix.docker_api_url,
            Some(ListenAddr::Unix("/run/d.sock".into()))
        );
        let err = load("http://x").expect_err("refused");
        assert!(err.to_string().contains("docker_api_url"), "{err}");
        assert_eq!(load("").expect("empty").docker_api_url, None);
    }

    #[test]
    fn targets_and_paths() {
        let mounts = vec![
            MountSpec::Tmpfs {
                target: "/t".into(),
                options: vec![],
            },
            socket("/x/docker.sock"),
        ];
        assert_eq!(targets(&mounts), vec!["/x/docker.sock".to_owned()]);
        assert!(same_path("/x//docker.sock", "/x/./docker.sock"));
        assert!(!same_path("/x/docker.sock", "/y/docker.sock"));
    }
}
