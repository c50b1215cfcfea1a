//! One replica on the engine: its sandbox, its containers (with the
//! platform variables and resource limits applied), how each ended, and its
//! termination: SIGTERM, then SIGKILL after the grace period, as the kubelet
//! stops a pod.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptions, KillContainerOptions, RemoveContainerOptions, StartContainerOptions,
    StopContainerOptions, WaitContainerOptions,
};
use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::watch;

use super::volumes::{self, HostVolume};
use super::{LABEL_EXECUTION, LABEL_OWNER, LABEL_SIM, LaunchSpec, SimNetwork, StopKind};
use super::{console, network, resources};
use crate::loganalytics::LineSource;
use crate::state::AppState;

/// Time between SIGTERM and SIGKILL when a replica is stopped. Job templates
/// carry no `terminationGracePeriodSeconds`; Azure's default is 30 s.
pub const TERMINATION_GRACE: Duration = Duration::from_secs(30);

/// How a container ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerEnd {
    /// Exit code of its main process.
    pub code: i64,
    /// Whether the kernel killed a process of it for exceeding its memory.
    pub oom: bool,
}

impl ContainerEnd {
    /// Whether it counts as a success (exit 0 and nothing OOM-killed).
    pub fn succeeded(self) -> bool {
        self.code == 0 && !self.oom
    }

    /// `additionalInformation` of its end, as Kubernetes names the reason.
    pub fn reason(self) -> &'static str {
        if self.oom {
            "OOMKilled"
        } else if self.code == 0 {
            "Completed"
        } else {
            "Error"
        }
    }
}

/// A replica being run.
pub struct Replica<'a> {
    /// The engine.
    pub docker: &'a Docker,
    /// Emulator state.
    pub state: &'a AppState,
    /// The execution.
    pub spec: &'a LaunchSpec,
    /// `{execution}-{5 chars}`.
    pub name: String,
    created: Vec<String>,
    sandbox: Option<String>,
    /// Template containers started so far: (template name, engine ID).
    pub started: Vec<(String, String)>,
    log_tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl<'a> Replica<'a> {
    /// A replica of `spec` named `name`, nothing created yet.
    pub fn new(
        docker: &'a Docker,
        state: &'a AppState,
        spec: &'a LaunchSpec,
        name: String,
    ) -> Self {
        Replica {
            docker,
            state,
            spec,
            name,
            created: Vec::new(),
            sandbox: None,
            started: Vec::new(),
            log_tasks: Vec::new(),
        }
    }

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

    /// The variables ACA sets in every job replica's containers.
    pub fn platform_env(&self) -> Vec<String> {
        vec![
            format!("CONTAINER_APP_JOB_NAME={}", self.spec.job_name),
            format!("CONTAINER_APP_JOB_EXECUTION_NAME={}", self.spec.exec_name),
            format!("CONTAINER_APP_REPLICA_NAME={}", self.name),
        ]
    }

    /// Starts the sandbox holding the replica's network namespace on the
    /// emulator's network and writes the replica's hosts and resolv.conf
    /// files. Returns the sandbox's ID and the binds of those files.
    pub async fn sandbox(&mut self, net: &SimNetwork) -> Result<(String, Vec<String>), String> {
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
        self.sandbox = Some(resp.id.clone());
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

    /// Creates template container `c` in the replica's namespace `network`.
    pub async fn create(
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
        // The template's own variables come after the platform's, so a job
        // that sets one of those names keeps its value.
        let mut env = self.platform_env();
        env.extend(volumes::env(c, secrets)?);
        let (nano_cpus, memory) = resources::limits(c);
        let body = ContainerCreateBody {
            image: c["image"].as_str().map(str::to_string),
            entrypoint: strings(&c["command"]),
            cmd: strings(&c["args"]),
            env: Some(env),
            labels: Some(self.labels()),
            host_config: Some(HostConfig {
                network_mode: Some(network.to_string()),
                binds: Some(binds),
                nano_cpus,
                memory,
                // No swap beyond the limit: over it, the kernel OOM-kills.
                memory_swap: memory,
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

    /// Starts container `id` (template container `c`) and follows its output.
    pub async fn start(&mut self, id: &str, c: &Value) -> Result<(), String> {
        let cname = c["name"].as_str().unwrap_or_default().to_string();
        self.docker
            .start_container(id, None::<StartContainerOptions>)
            .await
            .map_err(|e| format!("starting container '{cname}' failed: {e}"))?;
        self.started.push((cname.clone(), id.to_string()));
        let source = Arc::new(LineSource {
            workspace_id: self.spec.workspace_id.clone(),
            job_name: self.spec.job_name.clone(),
            job_id: self.spec.job_id.clone(),
            environment_name: self.spec.environment_name.clone(),
            replica: self.name.clone(),
            container: cname,
            image: c["image"].as_str().unwrap_or_default().to_string(),
            container_id: id.to_string(),
        });
        self.log_tasks.push(console::follow(
            self.docker.clone(),
            self.state.logs.clone(),
            source,
            id.to_string(),
        ));
        Ok(())
    }

    /// Waits for container `id` to end.
    pub async fn wait_end(&self, id: &str) -> Result<ContainerEnd, String> {
        let mut wait = self.docker.wait_container(id, None::<WaitContainerOptions>);
        while wait.next().await.is_some() {}
        self.end_of(id).await
    }

    /// How container `id` ended (or where it stands, if it still runs).
    pub async fn end_of(&self, id: &str) -> Result<ContainerEnd, String> {
        let info = self
            .docker
            .inspect_container(id, None)
            .await
            .map_err(|e| format!("inspecting container failed: {e}"))?;
        let state = info.state.unwrap_or_default();
        Ok(ContainerEnd {
            code: state.exit_code.unwrap_or(-1),
            oom: state.oom_killed.unwrap_or(false),
        })
    }

    /// Stops every container: SIGTERM, then SIGKILL after `grace` (all at
    /// once, as the kubelet stops a pod's containers), or SIGKILL at once
    /// if `stop` turns to [`StopKind::Kill`] meanwhile. The sandbox goes last.
    pub async fn terminate(&self, grace: Duration, stop: &mut watch::Receiver<StopKind>) {
        let secs = i32::try_from(grace.as_secs()).unwrap_or(i32::MAX);
        let stops = self
            .created
            .iter()
            .filter(|id| Some(*id) != self.sandbox.as_ref())
            .map(|id| {
                self.docker.stop_container(
                    id,
                    Some(StopContainerOptions {
                        t: Some(secs),
                        ..Default::default()
                    }),
                )
            });
        let all = futures_util::future::join_all(stops);
        tokio::select! {
            _ = all => {}
            _ = stop.wait_for(|k| *k == StopKind::Kill) => {}
        }
        self.kill_all().await;
    }

    /// SIGKILL to every container.
    pub async fn kill_all(&self) {
        for id in &self.created {
            let _ = self
                .docker
                .kill_container(id, None::<KillContainerOptions>)
                .await;
        }
    }

    /// Removes the containers and the replica's files once its output is in.
    pub async fn cleanup(&mut self) {
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
