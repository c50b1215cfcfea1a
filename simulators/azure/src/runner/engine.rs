//! The Docker Engine side of an execution.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, KillContainerOptions, ListContainersOptions,
    LogsOptions, RemoveContainerOptions, StartContainerOptions, WaitContainerOptions,
};
use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::watch;

use super::network;
use super::volumes::{self, HostVolume};
use super::{LABEL_EXECUTION, LABEL_OWNER, LABEL_SIM, LaunchSpec, SimNetwork, set_status};
use crate::arm::store::ExecStatus;
use crate::loganalytics::{ConsoleLine, LineSource};
use crate::state::AppState;
use crate::util;

/// Longest console row: output without a newline is split into rows of at
/// most this many bytes (a bound of the emulator's own: a process printing
/// no newline must not grow a buffer without end).
const MAX_CONSOLE_LINE: usize = 16 << 10;

/// Connects to a Docker engine given as `unix:///path` or a bare path, and
/// negotiates the API version (engines as old as 1.41 are fine).
pub async fn connect(endpoint: &str) -> Result<Docker, String> {
    let path = endpoint.strip_prefix("unix://").unwrap_or(endpoint);
    if !path.starts_with('/') {
        return Err(format!(
            "unsupported engine endpoint '{endpoint}' (only unix sockets)"
        ));
    }
    Docker::connect_with_unix(path, 120, bollard::API_DEFAULT_VERSION)
        .map_err(|e| format!("engine {endpoint}: {e}"))?
        .negotiate_version()
        .await
        .map_err(|e| format!("engine {endpoint}: {e}"))
}

/// Removes all containers, then all networks, labelled with `owner`.
pub async fn remove_owned(endpoint: &str, owner: &str) -> Result<(), String> {
    let docker = connect(endpoint).await?;
    let filters = HashMap::from([("label".to_string(), vec![format!("{LABEL_OWNER}={owner}")])]);
    let list = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .map_err(|e| e.to_string())?;
    for c in list {
        if let Some(id) = c.id {
            let _ = docker
                .remove_container(
                    &id,
                    Some(RemoveContainerOptions {
                        force: true,
                        v: true,
                        ..Default::default()
                    }),
                )
                .await;
        }
    }
    network::remove_owned(&docker, owner).await;
    Ok(())
}

/// Removes engine tags (not shared layers) of `images`.
pub async fn untag(endpoint: &str, images: &[String]) {
    if images.is_empty() {
        return;
    }
    let Ok(docker) = connect(endpoint).await else {
        return;
    };
    for image in images {
        let _ = docker
            .remove_image(
                image,
                None::<bollard::query_parameters::RemoveImageOptions>,
                None,
            )
            .await;
    }
}

fn credentials_for(
    state: &AppState,
    spec: &LaunchSpec,
    image: &str,
    secrets: &HashMap<String, String>,
) -> Option<DockerCredentials> {
    let host = volumes::registry_host(image);
    let own = state.registry_host();
    for r in spec.configuration["registries"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let server = r["server"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if server != host {
            continue;
        }
        if let (Some(user), Some(pw)) = (
            r["username"].as_str(),
            r["passwordSecretRef"].as_str().and_then(|p| secrets.get(p)),
        ) {
            return Some(DockerCredentials {
                username: Some(user.to_string()),
                password: Some(pw.clone()),
                serveraddress: Some(server),
                ..Default::default()
            });
        }
        if r["identity"].as_str().is_some() && host == own {
            // A managed identity granted AcrPull: the emulator's registry trusts it.
            return Some(DockerCredentials {
                username: Some(state.config.registry_username.clone()),
                password: Some(state.config.registry_password.clone()),
                serveraddress: Some(server),
                ..Default::default()
            });
        }
    }
    None
}

async fn pull(
    docker: &Docker,
    image: &str,
    creds: Option<DockerCredentials>,
) -> Result<(), String> {
    let (repo, tag) = volumes::split_reference(image);
    let opts = CreateImageOptions {
        from_image: Some(repo),
        tag: Some(tag),
        ..Default::default()
    };
    let mut stream = docker.create_image(Some(opts), None, creds);
    while let Some(item) = stream.next().await {
        item.map_err(|e| format!("pulling image '{image}' failed: {e}"))?;
    }
    Ok(())
}

struct Replica<'a> {
    docker: &'a Docker,
    state: &'a AppState,
    spec: &'a LaunchSpec,
    name: String,
    created: Vec<String>,
    log_tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Replica<'_> {
    fn labels(&self) -> HashMap<String, String> {
        HashMap::from([
            (LABEL_SIM.to_string(), "1".to_string()),
            (
                LABEL_OWNER.to_string(),
                self.state.runner.owner().to_string(),
            ),
            (LABEL_EXECUTION.to_string(), self.spec.exec_name.clone()),
        ])
    }

    /// Starts the sandbox holding the replica's network namespace on the
    /// emulator's network and writes the replica's hosts and resolv.conf
    /// files. Returns the sandbox's ID and the binds of those files.
    async fn sandbox(&mut self, net: &SimNetwork) -> Result<(String, Vec<String>), String> {
        network::ensure_pause_image(self.docker).await?;
        let hostname = network::hostname(&self.name);
        let body = ContainerCreateBody {
            image: Some(network::PAUSE_IMAGE.to_string()),
            entrypoint: Some(vec!["/pause".to_string()]),
            hostname: Some(hostname.clone()),
            labels: Some(self.labels()),
            host_config: Some(HostConfig {
                network_mode: Some(net.name.clone()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let resp = self
            .docker
            .create_container(
                Some(CreateContainerOptions {
                    name: Some(format!("{}_sandbox", self.name)),
                    ..Default::default()
                }),
                body,
            )
            .await
            .map_err(|e| format!("creating the replica's sandbox failed: {e}"))?;
        self.created.push(resp.id.clone());
        self.docker
            .start_container(&resp.id, None::<StartContainerOptions>)
            .await
            .map_err(|e| format!("starting the replica's sandbox failed: {e}"))?;
        let info = self
            .docker
            .inspect_container(&resp.id, None)
            .await
            .map_err(|e| format!("inspecting the replica's sandbox failed: {e}"))?;
        let ip = info
            .network_settings
            .and_then(|n| n.networks)
            .and_then(|mut n| n.remove(&net.name))
            .and_then(|e| e.ip_address)
            .filter(|ip| !ip.is_empty())
            .ok_or_else(|| format!("the replica got no address on network '{}'", net.name))?;
        let dir = self.state.data_dir.join("replicas").join(&self.name);
        let hosts = network::write_hosts(&dir, &ip, &hostname)?;
        let resolv = network::write_resolv_conf(&dir)?;
        let binds = vec![
            format!("{}:/etc/hosts", hosts.display()),
            format!("{}:/etc/resolv.conf", resolv.display()),
        ];
        Ok((resp.id, binds))
    }

    async fn create(
        &mut self,
        c: &Value,
        network: &str,
        files: &[String],
        vols: &HashMap<String, HostVolume>,
        secrets: &HashMap<String, String>,
    ) -> Result<String, String> {
        let cname = c["name"].as_str().unwrap_or_default();
        let strings = |v: &Value| -> Option<Vec<String>> {
            v.as_array().map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
        };
        let mut binds = volumes::binds(c, vols)?;
        binds.extend_from_slice(files);
        let body = ContainerCreateBody {
            image: c["image"].as_str().map(str::to_string),
            entrypoint: strings(&c["command"]),
            cmd: strings(&c["args"]),
            env: Some(volumes::env(c, secrets)?),
            labels: Some(self.labels()),
            host_config: Some(HostConfig {
                network_mode: Some(network.to_string()),
                binds: Some(binds),
                ..Default::default()
            }),
            ..Default::default()
        };
        let docker_name = format!("{}-{}", self.name, sanitize(cname));
        let resp = self
            .docker
            .create_container(
                Some(CreateContainerOptions {
                    name: Some(docker_name),
                    ..Default::default()
                }),
                body,
            )
            .await
            .map_err(|e| format!("creating container '{cname}' failed: {e}"))?;
        self.created.push(resp.id.clone());
        Ok(resp.id)
    }

    async fn start(&mut self, id: &str, c: &Value) -> Result<(), String> {
        self.docker
            .start_container(id, None::<StartContainerOptions>)
            .await
            .map_err(|e| format!("starting container failed: {e}"))?;
        let docker = self.docker.clone();
        let logs = self.state.logs.clone();
        let source = Arc::new(LineSource {
            workspace_id: self.spec.workspace_id.clone(),
            job_name: self.spec.job_name.clone(),
            job_id: self.spec.job_id.clone(),
            environment_name: self.spec.environment_name.clone(),
            replica: self.name.clone(),
            container: c["name"].as_str().unwrap_or_default().to_string(),
            image: c["image"].as_str().unwrap_or_default().to_string(),
            container_id: id.to_string(),
        });
        let id = id.to_string();
        self.log_tasks.push(tokio::spawn(async move {
            let opts = LogsOptions {
                follow: true,
                stdout: true,
                stderr: true,
                ..Default::default()
            };
            let mut stream = docker.logs(&id, Some(opts));
            let mut partial: HashMap<&'static str, String> = HashMap::new();
            while let Some(Ok(chunk)) = stream.next().await {
                let (kind, bytes) = match chunk {
                    LogOutput::StdOut { message } => ("stdout", message),
                    LogOutput::StdErr { message } => ("stderr", message),
                    LogOutput::Console { message } => ("stdout", message),
                    LogOutput::StdIn { .. } => continue,
                };
                let buf = partial.entry(kind).or_default();
                buf.push_str(&String::from_utf8_lossy(&bytes));
                while let Some(pos) = buf.find('\n') {
                    let text: String = buf.drain(..=pos).collect();
                    logs.ingest(ConsoleLine {
                        source: source.clone(),
                        stream: kind,
                        log: text.trim_end_matches(['\n', '\r']).to_string(),
                    });
                }
                // Output without newlines becomes rows of a bounded length
                // instead of one buffer that grows as long as it prints.
                while buf.len() >= MAX_CONSOLE_LINE {
                    let mut cut = MAX_CONSOLE_LINE;
                    while !buf.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    let text: String = buf.drain(..cut).collect();
                    logs.ingest(ConsoleLine {
                        source: source.clone(),
                        stream: kind,
                        log: text,
                    });
                }
            }
            for (kind, rest) in partial {
                if !rest.is_empty() {
                    logs.ingest(ConsoleLine {
                        source: source.clone(),
                        stream: kind,
                        log: rest,
                    });
                }
            }
        }));
        Ok(())
    }

    async fn exit_code(&self, id: &str) -> Result<i64, String> {
        let mut wait = self.docker.wait_container(id, None::<WaitContainerOptions>);
        while wait.next().await.is_some() {}
        let info = self
            .docker
            .inspect_container(id, None)
            .await
            .map_err(|e| format!("inspecting container failed: {e}"))?;
        Ok(info.state.and_then(|s| s.exit_code).unwrap_or(-1))
    }

    async fn kill_all(&self) {
        for id in &self.created {
            let _ = self
                .docker
                .kill_container(id, None::<KillContainerOptions>)
                .await;
        }
    }

    async fn cleanup(&mut self) {
        for t in self.log_tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
        for id in self.created.drain(..) {
            let _ = self
                .docker
                .remove_container(
                    &id,
                    Some(RemoveContainerOptions {
                        force: true,
                        v: true,
                        ..Default::default()
                    }),
                )
                .await;
        }
        let dir = self.state.data_dir.join("replicas").join(&self.name);
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

enum Outcome {
    Exited(Vec<i64>),
    TimedOut,
    Stopped,
}

/// Runs one execution to its end; returns the final status and why. A failed
/// replica is retried up to `replicaRetryLimit` times (each attempt is a new
/// replica with its own name and volumes); `replicaTimeout` applies per replica.
pub async fn run(
    state: &AppState,
    spec: &LaunchSpec,
    mut stop: watch::Receiver<bool>,
) -> (ExecStatus, Option<String>) {
    let docker = match connect(state.runner.engine()).await {
        Ok(d) => d,
        Err(e) => return (ExecStatus::Failed, Some(e)),
    };
    let timeout = Duration::from_secs(
        spec.configuration["replicaTimeout"]
            .as_u64()
            .unwrap_or(1800)
            .max(1),
    );
    let retries = spec.configuration["replicaRetryLimit"]
        .as_u64()
        .unwrap_or(0)
        .min(10);
    let mut last = (ExecStatus::Failed, None);
    for _attempt in 0..=retries {
        let mut replica = Replica {
            docker: &docker,
            state,
            spec,
            name: format!("{}-{}", spec.exec_name, util::random_suffix(5)),
            created: Vec::new(),
            log_tasks: Vec::new(),
        };
        let work = run_replica(&mut replica, spec);
        let outcome = tokio::select! {
            r = tokio::time::timeout(timeout, work) => match r {
                Ok(Ok(codes)) => Ok(Outcome::Exited(codes)),
                Ok(Err(e)) => Err(e),
                Err(_) => Ok(Outcome::TimedOut),
            },
            _ = stop.wait_for(|s| *s) => Ok(Outcome::Stopped),
        };
        replica.kill_all().await;
        replica.cleanup().await;
        last = match outcome {
            Ok(Outcome::Exited(codes)) if codes.iter().all(|c| *c == 0) => {
                return (ExecStatus::Succeeded, None);
            }
            Ok(Outcome::Stopped) => return (ExecStatus::Stopped, None),
            Ok(Outcome::Exited(codes)) => {
                (ExecStatus::Failed, Some(format!("exit codes {codes:?}")))
            }
            Ok(Outcome::TimedOut) => (ExecStatus::Failed, Some("replicaTimeout reached".into())),
            Err(e) => (ExecStatus::Failed, Some(e)),
        };
        if *stop.borrow() {
            return (ExecStatus::Stopped, None);
        }
    }
    last
}

async fn run_replica(r: &mut Replica<'_>, spec: &LaunchSpec) -> Result<Vec<i64>, String> {
    let secrets = volumes::secret_values(&spec.configuration);
    volumes::check_account_keys(
        &spec.template,
        &spec.environment_key,
        &spec.storages,
        &r.state.config.storage_accounts,
    )?;
    let vols = volumes::prepare(
        &spec.template,
        &r.state.data_dir,
        &r.name,
        &spec.environment_key,
        &spec.storages,
        &secrets,
    )?;
    let inits: Vec<Value> = spec.template["initContainers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mains: Vec<Value> = spec.template["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut images: Vec<&str> = inits
        .iter()
        .chain(mains.iter())
        .filter_map(|c| c["image"].as_str())
        .collect();
    images.sort_unstable();
    images.dedup();
    for image in images {
        pull(
            r.docker,
            image,
            credentials_for(r.state, spec, image, &secrets),
        )
        .await?;
        if volumes::registry_host(image) == r.state.registry_host() {
            r.state.runner.note_own_image(image);
        }
    }
    let net = r
        .state
        .runner
        .prepare_network()
        .await
        .map_err(|e| format!("the emulator's replica network is not available: {e}"))?;
    let (sandbox, files) = r.sandbox(&net).await?;
    let joined = format!("container:{sandbox}");
    set_status(r.state, &spec.exec_key, ExecStatus::Running);
    for c in &inits {
        let id = r.create(c, &joined, &files, &vols, &secrets).await?;
        r.start(&id, c).await?;
        let code = r.exit_code(&id).await?;
        if code != 0 {
            return Ok(vec![code]);
        }
    }
    let mut ids = Vec::new();
    for c in &mains {
        let id = r.create(c, &joined, &files, &vols, &secrets).await?;
        ids.push(id);
    }
    for (id, c) in ids.iter().zip(&mains) {
        r.start(id, c).await?;
    }
    let mut codes = Vec::new();
    for id in &ids {
        codes.push(r.exit_code(id).await?);
    }
    Ok(codes)
}
