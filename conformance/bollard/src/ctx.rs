//! The environment of the contract, the Docker client, what a scenario
//! created (removed at the end, also on failure) and small helpers.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bollard::Docker;
use bollard::container::LogOutput;
use bollard::errors::Error as BollardError;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, ListContainersOptions, ListNetworksOptions,
    ListVolumesOptions, RemoveContainerOptions, RemoveVolumeOptions, WaitContainerOptions,
};
use futures_util::{Stream, StreamExt, TryStreamExt};
use tokio::io::AsyncReadExt;

/// Whole-scenario hang guard, below the harness's 180 s.
pub const SCENARIO_GUARD: Duration = Duration::from_secs(150);
/// Guard of one wait (a stream to its end, a container's exit).
pub const GUARD: Duration = Duration::from_secs(120);

pub struct Ctx {
    pub docker: Docker,
    pub prefix: String,
    pub image: String,
    created: Mutex<Vec<Created>>,
}

#[derive(Clone)]
enum Created {
    Container(String),
    Network(String),
    Volume(String),
}

impl Ctx {
    /// Connects as bollard's users do: `connect_with_local_defaults` reads
    /// `DOCKER_HOST` (`unix://`), then the API version is negotiated
    /// (the reference engine may be older than bollard's default).
    pub async fn from_env() -> Result<Self> {
        let prefix =
            std::env::var("CONFORMANCE_PREFIX").context("CONFORMANCE_PREFIX is not set")?;
        let image = std::env::var("CONFORMANCE_IMAGE").unwrap_or_else(|_| "busybox:latest".into());
        let docker = Docker::connect_with_local_defaults()
            .context("connect_with_local_defaults")?
            .negotiate_version()
            .await
            .context("negotiate the API version")?;
        let ctx = Self {
            docker,
            prefix,
            image,
            created: Mutex::new(Vec::new()),
        };
        ctx.ensure_image().await?;
        Ok(ctx)
    }

    /// Pulls the image when the side lacks it: bollard's create does not
    /// pull (the Docker CLI and docker-py's run do), so its users pull first.
    async fn ensure_image(&self) -> Result<()> {
        match self.docker.inspect_image(&self.image).await {
            Ok(_) => return Ok(()),
            Err(e) if status(&e) == Some(404) => {}
            Err(e) => return Err(e).context("inspect the image"),
        }
        let (repo, tag) = self
            .image
            .rsplit_once(':')
            .unwrap_or((&self.image, "latest"));
        let pull = self.docker.create_image(
            Some(CreateImageOptions {
                from_image: Some(repo.to_owned()),
                tag: Some(tag.to_owned()),
                ..Default::default()
            }),
            None,
            None,
        );
        let pulled: Vec<_> = tokio::time::timeout(GUARD, pull.try_collect())
            .await
            .context("hang guard: pull")?
            .with_context(|| format!("pull {}", self.image))?;
        if let Some(error) = pulled.iter().find_map(|p| p.error_detail.as_ref()) {
            bail!("pull {}: {error:?}", self.image);
        }
        Ok(())
    }

    pub fn name(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }

    fn record(&self, item: Created) {
        if let Ok(mut created) = self.created.lock() {
            created.push(item);
        }
    }

    pub fn track_network(&self, id: &str) {
        self.record(Created::Network(id.to_owned()));
    }

    pub fn track_volume(&self, name: &str) {
        self.record(Created::Volume(name.to_owned()));
    }

    /// Creates a container named prefix+suffix, tracked for cleanup.
    pub async fn create(&self, suffix: &str, body: ContainerCreateBody) -> Result<String> {
        let name = self.name(suffix);
        let created = self
            .docker
            .create_container(
                Some(CreateContainerOptions {
                    name: Some(name.clone()),
                    ..Default::default()
                }),
                body,
            )
            .await
            .with_context(|| format!("create {name}"))?;
        self.record(Created::Container(created.id.clone()));
        Ok(created.id)
    }

    /// A container of the image running `cmd`.
    pub fn body(&self, cmd: &[&str]) -> ContainerCreateBody {
        ContainerCreateBody {
            image: Some(self.image.clone()),
            cmd: Some(cmd.iter().map(|s| (*s).to_owned()).collect()),
            ..Default::default()
        }
    }

    pub async fn run_detached(&self, suffix: &str, body: ContainerCreateBody) -> Result<String> {
        let id = self.create(suffix, body).await?;
        self.docker
            .start_container(&id, None)
            .await
            .with_context(|| format!("start {suffix}"))?;
        Ok(id)
    }

    /// `wait` (condition not-running): bollard answers a non-zero exit with
    /// `DockerContainerWaitError`, so both are read back as the code.
    pub async fn wait_code(&self, id: &str) -> Result<i64> {
        let mut stream = self.docker.wait_container(
            id,
            Some(WaitContainerOptions {
                condition: "not-running".into(),
            }),
        );
        let item = tokio::time::timeout(GUARD, stream.next())
            .await
            .context("hang guard: wait did not answer")?
            .context("wait answered nothing")?;
        match item {
            Ok(response) => Ok(response.status_code),
            Err(BollardError::DockerContainerWaitError { code, .. }) => Ok(code),
            Err(e) => Err(e).context("wait"),
        }
    }

    /// Removes what the scenario created, and whatever carries the prefix
    /// (created before a failure could record it). An error here fails the
    /// scenario: removing what one created is part of conforming.
    pub async fn cleanup(&self) -> Result<()> {
        let mut items = self.created.lock().map(|c| c.clone()).unwrap_or_default();
        items.extend(self.sweep().await);
        let mut errors = Vec::new();
        // Containers first: networks and volumes in use cannot be removed.
        for pass in 0..3 {
            for item in &items {
                let result = match (pass, item) {
                    (0, Created::Container(id)) => self
                        .docker
                        .remove_container(
                            id,
                            Some(RemoveContainerOptions {
                                force: true,
                                v: true,
                                ..Default::default()
                            }),
                        )
                        .await
                        .map(|_| format!("container {id}")),
                    (1, Created::Network(id)) => self
                        .docker
                        .remove_network(id)
                        .await
                        .map(|_| format!("network {id}")),
                    (2, Created::Volume(name)) => self
                        .docker
                        .remove_volume(name, Some(RemoveVolumeOptions { force: true }))
                        .await
                        .map(|_| format!("volume {name}")),
                    _ => continue,
                };
                if let Err(e) = result
                    && status(&e) != Some(404)
                {
                    errors.push(format!("{e}"));
                }
            }
        }
        if !errors.is_empty() {
            bail!("cleanup failed: {}", errors.join("; "));
        }
        Ok(())
    }

    async fn sweep(&self) -> Vec<Created> {
        let filter = HashMap::from([("name".to_owned(), vec![self.prefix.clone()])]);
        let mut found = Vec::new();
        if let Ok(list) = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(filter.clone()),
                ..Default::default()
            }))
            .await
        {
            for c in list {
                let ours = c
                    .names
                    .iter()
                    .flatten()
                    .any(|n| n.trim_start_matches('/').starts_with(&self.prefix));
                if let (true, Some(id)) = (ours, c.id) {
                    found.push(Created::Container(id));
                }
            }
        }
        if let Ok(list) = self
            .docker
            .list_networks(Some(ListNetworksOptions {
                filters: Some(filter.clone()),
            }))
            .await
        {
            for n in list {
                if let (Some(name), Some(id)) = (n.name, n.id)
                    && name.starts_with(&self.prefix)
                {
                    found.push(Created::Network(id));
                }
            }
        }
        if let Ok(list) = self
            .docker
            .list_volumes(Some(ListVolumesOptions {
                filters: Some(filter),
            }))
            .await
        {
            for v in list.volumes.into_iter().flatten() {
                if v.name.starts_with(&self.prefix) {
                    found.push(Created::Volume(v.name));
                }
            }
        }
        found
    }
}

/// The HTTP status of a daemon's error answer.
pub fn status(e: &BollardError) -> Option<u16> {
    match e {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

pub fn expect_eq<T: PartialEq + Debug>(actual: T, expected: T, what: &str) -> Result<()> {
    if actual != expected {
        bail!("{what}: expected {expected:?}, got {actual:?}");
    }
    Ok(())
}

/// Expects a daemon error with `code` whose message contains `needle`.
pub fn expect_status<T: Debug>(
    result: Result<T, BollardError>,
    code: u16,
    needle: &str,
    what: &str,
) -> Result<()> {
    match result {
        Err(BollardError::DockerResponseServerError {
            status_code,
            message,
        }) if status_code == code && message.contains(needle) => Ok(()),
        other => bail!("{what}: expected status {code} with {needle:?}, got {other:?}"),
    }
}

/// Output of a stream split by `LogOutput` variant, read to its end.
#[derive(Debug, Default, PartialEq)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub console: String,
}

pub async fn collect<S>(mut stream: S) -> Result<Output>
where
    S: Stream<Item = Result<LogOutput, BollardError>> + Unpin,
{
    let mut out = Output::default();
    let read = async {
        while let Some(item) = stream.next().await {
            match item.context("output stream")? {
                LogOutput::StdOut { message } => {
                    out.stdout.push_str(&String::from_utf8_lossy(&message))
                }
                LogOutput::StdErr { message } => {
                    out.stderr.push_str(&String::from_utf8_lossy(&message))
                }
                LogOutput::Console { message } => {
                    out.console.push_str(&String::from_utf8_lossy(&message))
                }
                LogOutput::StdIn { .. } => {}
            }
        }
        anyhow::Ok(())
    };
    tokio::time::timeout(GUARD, read)
        .await
        .context("hang guard: the output stream did not end")??;
    Ok(out)
}

/// Connects to addr (retrying while nothing listens yet) and reads to EOF.
pub async fn tcp_read(addr: &str) -> Result<String> {
    let attempt = async {
        let mut last = String::new();
        for _ in 0..120 {
            match tokio::net::TcpStream::connect(addr).await {
                Ok(mut stream) => {
                    let mut data = Vec::new();
                    match stream.read_to_end(&mut data).await {
                        Ok(_) if !data.is_empty() => {
                            return Ok(String::from_utf8_lossy(&data).into_owned());
                        }
                        Ok(_) => last = "closed without data".into(),
                        Err(e) => last = e.to_string(),
                    }
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        bail!("nothing read from {addr}: {last}")
    };
    tokio::time::timeout(GUARD, attempt)
        .await
        .context("hang guard: tcp round trip")?
}
