//! An in-memory `Backend` for contract tests: enough behaviour to exercise
//! every route, with knobs (capabilities, recorded inputs) for assertions.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use sockerless_api::docker::*;
use sockerless_api::*;
use tokio::sync::watch;

/// Every capability on.
pub fn full_caps() -> Capabilities {
    Capabilities {
        exec: true,
        attach: true,
        logs: true,
        logs_follow: true,
        volumes: true,
        networks: true,
        health_checks: true,
        image_pull: true,
        image_load: true,
        max_timeout_seconds: 0,
        agent_required: false,
    }
}

pub struct Ctr {
    pub id: String,
    pub name: String,
    pub config: ContainerCreateBody,
    pub running: bool,
    pub exit_code: i64,
    pub exited: watch::Sender<bool>,
}

#[derive(Default)]
pub struct Store {
    pub next: u64,
    pub containers: BTreeMap<String, Ctr>,
    pub execs: BTreeMap<String, (String, ExecConfig)>,
    pub images: BTreeMap<String, String>,
    pub networks: BTreeMap<String, NetworkInspect>,
    pub volumes: BTreeMap<String, Volume>,
}

/// What the test backend saw, for assertions.
#[derive(Default, Debug)]
pub struct Seen {
    pub pull_auth: Option<Option<AuthConfig>>,
    pub filters: Option<Filters>,
    pub list_opts: Option<ListContainersOptions>,
    pub logs_opts: Option<LogsOptions>,
    pub stop_opts: Option<StopOptions>,
    pub archive_put: Option<(String, usize)>,
    pub loaded_bytes: Option<usize>,
    pub resize: Option<(u16, u16)>,
}

pub struct MemBackend {
    pub info: Mutex<BackendInfo>,
    pub store: Mutex<Store>,
    pub seen: Mutex<Seen>,
}

impl MemBackend {
    pub fn new() -> Self {
        Self::with_caps(full_caps())
    }

    pub fn with_caps(capabilities: Capabilities) -> Self {
        let mut store = Store::default();
        store
            .images
            .insert("busybox:latest".into(), format!("sha256:{:064x}", 7));
        Self {
            info: Mutex::new(BackendInfo {
                backend: "memtest".into(),
                version: "9.9.9".into(),
                capabilities,
            }),
            store: Mutex::new(store),
            seen: Mutex::new(Seen::default()),
        }
    }

    pub fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().expect("store lock")
    }

    pub fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().expect("seen lock")
    }

    fn find(&self, reference: &str) -> Result<String> {
        let store = self.store();
        store
            .containers
            .values()
            .find(|c| c.id == reference || c.name == reference || c.id.starts_with(reference))
            .map(|c| c.id.clone())
            .ok_or_else(|| ApiError::NotFound(format!("No such container: {reference}")))
    }

    fn stop_now(&self, id: &str, code: i64) -> bool {
        let mut store = self.store();
        let Some(c) = store.containers.get_mut(id) else {
            return false;
        };
        let was = c.running;
        c.running = false;
        c.exit_code = code;
        c.exited.send_replace(true);
        was
    }
}

fn chunk(stream: StreamKind, data: &'static [u8]) -> Result<OutputChunk> {
    Ok(OutputChunk {
        stream,
        data: Bytes::from_static(data),
    })
}

/// Output that says hello on both streams, then, after stdin ends, echoes
/// everything read from stdin: proof that half-close keeps output flowing.
fn echo_output(tty: bool, stdin: Option<InputStream>) -> AttachedOutput {
    let hello = futures_util::stream::iter(vec![
        chunk(StreamKind::Stdout, b"hello\n"),
        chunk(StreamKind::Stderr, b"oops\n"),
    ]);
    let echo = futures_util::stream::once(async move {
        let mut all = Vec::new();
        if let Some(mut stdin) = stdin {
            while let Some(bytes) = stdin.next().await {
                all.extend_from_slice(&bytes);
            }
        }
        let mut out = b"stdin:".to_vec();
        out.extend_from_slice(&all);
        Ok(OutputChunk {
            stream: StreamKind::Stdout,
            data: Bytes::from(out),
        })
    });
    AttachedOutput {
        tty,
        output: Box::pin(hello.chain(echo)),
    }
}

pub fn progress(status: &str) -> Result<CreateImageInfo> {
    Ok(CreateImageInfo {
        status: Some(status.to_owned()),
        ..Default::default()
    })
}

#[async_trait]
impl Backend for MemBackend {
    async fn capabilities(&self) -> Result<BackendInfo> {
        Ok(self.info.lock().expect("info lock").clone())
    }

    async fn system_info(&self) -> Result<SystemInfo> {
        let store = self.store();
        Ok(SystemInfo {
            containers: Some(store.containers.len() as i64),
            images: Some(store.images.len() as i64),
            ncpu: Some(2),
            ..Default::default()
        })
    }

    async fn auth(&self, config: AuthConfig) -> Result<AuthResponse> {
        if config.password.as_deref() == Some("right") {
            Ok(AuthResponse {
                status: "Login Succeeded".into(),
                identity_token: None,
            })
        } else {
            Err(ApiError::Unavailable("login failed".into()))
        }
    }

    async fn events(
        &self,
        since: Option<i64>,
        _: Option<i64>,
        filters: Filters,
    ) -> Result<EventStream> {
        self.seen().filters = Some(filters);
        let event = EventMessage {
            typ: Some(EventMessageTypeEnum::CONTAINER),
            action: Some("start".into()),
            time_nano: since,
            ..Default::default()
        };
        Ok(Box::pin(futures_util::stream::iter(vec![
            Ok(event.clone()),
            Ok(event),
        ])))
    }

    async fn container_create(
        &self,
        req: CreateContainerRequest,
    ) -> Result<ContainerCreateResponse> {
        let mut store = self.store();
        store.next += 1;
        let id = format!("{:064x}", 0xc0ffee_u64 * 1000 + store.next);
        let name = req.name.unwrap_or_else(|| format!("ctr{}", store.next));
        if store.containers.values().any(|c| c.name == name) {
            return Err(ApiError::Conflict(format!("name {name} already in use")));
        }
        let (exited, _) = watch::channel(false);
        store.containers.insert(
            id.clone(),
            Ctr {
                id: id.clone(),
                name,
                config: req.config,
                running: false,
                exit_code: 0,
                exited,
            },
        );
        Ok(ContainerCreateResponse {
            id,
            warnings: vec![],
        })
    }

    async fn container_start(&self, id: &str) -> Result<()> {
        let id = self.find(id)?;
        let mut store = self.store();
        let c = store
            .containers
            .get_mut(&id)
            .ok_or_else(|| ApiError::NotFound(id.clone()))?;
        if c.running {
            return Err(ApiError::NotModified("already started".into()));
        }
        // `exit N` as the command: the process ends at once with code N.
        let exit_code = match c.config.cmd.as_deref() {
            Some([cmd, code]) if cmd == "exit" => code.parse::<i64>().ok(),
            _ => None,
        };
        match exit_code {
            Some(code) => {
                c.exit_code = code;
                c.exited.send_replace(true);
            }
            None => {
                c.running = true;
                c.exited.send_replace(false);
            }
        }
        Ok(())
    }

    async fn container_inspect(&self, id: &str) -> Result<ContainerInspectResponse> {
        let id = self.find(id)?;
        let store = self.store();
        let c = &store.containers[&id];
        Ok(ContainerInspectResponse {
            id: Some(c.id.clone()),
            name: Some(format!("/{}", c.name)),
            state: Some(ContainerState {
                running: Some(c.running),
                exit_code: Some(c.exit_code),
                status: Some(if c.running {
                    ContainerStateStatusEnum::RUNNING
                } else {
                    ContainerStateStatusEnum::CREATED
                }),
                ..Default::default()
            }),
            config: Some(ContainerConfig {
                image: c.config.image.clone(),
                tty: c.config.tty,
                labels: c.config.labels.clone(),
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    async fn container_list(&self, opts: ListContainersOptions) -> Result<Vec<ContainerSummary>> {
        self.seen().list_opts = Some(opts.clone());
        let store = self.store();
        Ok(store
            .containers
            .values()
            .filter(|c| opts.all || c.running)
            .map(|c| ContainerSummary {
                id: Some(c.id.clone()),
                names: Some(vec![format!("/{}", c.name)]),
                image: c.config.image.clone(),
                command: Some(String::new()),
                created: Some(0),
                state: Some(if c.running {
                    ContainerSummaryStateEnum::RUNNING
                } else {
                    ContainerSummaryStateEnum::CREATED
                }),
                status: Some(if c.running {
                    "Up".into()
                } else {
                    "Created".into()
                }),
                labels: Some(c.config.labels.clone().unwrap_or_default()),
                ports: Some(vec![]),
                ..Default::default()
            })
            .collect())
    }

    async fn container_logs(&self, id: &str, opts: LogsOptions) -> Result<AttachedOutput> {
        let id = self.find(id)?;
        self.seen().logs_opts = Some(opts);
        let tty = self.store().containers[&id].config.tty.unwrap_or(false);
        let chunks = vec![
            chunk(StreamKind::Stdout, b"out1\n"),
            chunk(StreamKind::Stderr, b"err1\n"),
        ];
        Ok(AttachedOutput {
            tty,
            output: Box::pin(futures_util::stream::iter(chunks)),
        })
    }

    async fn container_stop(&self, id: &str, opts: StopOptions) -> Result<()> {
        let id = self.find(id)?;
        self.seen().stop_opts = Some(opts);
        if self.stop_now(&id, 143) {
            Ok(())
        } else {
            Err(ApiError::NotModified("not running".into()))
        }
    }

    async fn container_restart(&self, id: &str, _opts: StopOptions) -> Result<()> {
        let id = self.find(id)?;
        self.stop_now(&id, 0);
        self.container_start(&id).await
    }

    async fn container_kill(&self, id: &str, signal: Option<String>) -> Result<()> {
        let id = self.find(id)?;
        let code = if signal.as_deref() == Some("SIGUSR1") {
            138
        } else {
            137
        };
        if self.stop_now(&id, code) {
            Ok(())
        } else {
            Err(ApiError::Conflict(format!("Container {id} is not running")))
        }
    }

    async fn container_remove(&self, id: &str, opts: RemoveContainerOptions) -> Result<()> {
        let id = self.find(id)?;
        let mut store = self.store();
        if store.containers[&id].running && !opts.force {
            return Err(ApiError::Conflict(
                "You cannot remove a running container".into(),
            ));
        }
        store.containers.remove(&id);
        Ok(())
    }

    async fn container_wait(&self, id: &str, _c: WaitCondition) -> Result<ContainerWaitResponse> {
        let id = self.find(id)?;
        let mut rx = self.store().containers[&id].exited.subscribe();
        if rx.wait_for(|exited| *exited).await.is_err() {
            return Err(ApiError::Internal(
                "container vanished while waiting".into(),
            ));
        }
        let code = self.store().containers.get(&id).map_or(-1, |c| c.exit_code);
        Ok(ContainerWaitResponse {
            status_code: code,
            error: None,
        })
    }

    async fn container_attach(
        &self,
        id: &str,
        _opts: AttachOptions,
        stdin: Option<InputStream>,
    ) -> Result<AttachedOutput> {
        let id = self.find(id)?;
        let tty = self.store().containers[&id].config.tty.unwrap_or(false);
        Ok(echo_output(tty, stdin))
    }

    async fn container_resize(&self, id: &str, h: u16, w: u16) -> Result<()> {
        self.find(id)?;
        self.seen().resize = Some((h, w));
        Ok(())
    }

    async fn container_rename(&self, id: &str, new_name: &str) -> Result<()> {
        let id = self.find(id)?;
        let mut store = self.store();
        if let Some(c) = store.containers.get_mut(&id) {
            c.name = new_name.to_owned();
        }
        Ok(())
    }

    async fn container_archive_stat(&self, id: &str, path: &str) -> Result<PathStat> {
        self.find(id)?;
        if path != "/etc/hostname" {
            return Err(ApiError::NotFound(format!(
                "Could not find the file {path} in container {id}"
            )));
        }
        Ok(PathStat {
            name: "hostname".into(),
            size: 7,
            mode: 0o644,
            mtime: "2026-01-01T00:00:00Z".into(),
            link_target: String::new(),
        })
    }

    async fn container_archive_get(&self, id: &str, path: &str) -> Result<(PathStat, ByteStream)> {
        let stat = self.container_archive_stat(id, path).await?;
        let body: ByteStream = Box::pin(futures_util::stream::iter(vec![Ok(Bytes::from_static(
            b"TARDATA",
        ))]));
        Ok((stat, body))
    }

    async fn container_archive_put(&self, id: &str, path: &str, mut tar: ByteStream) -> Result<()> {
        self.find(id)?;
        let mut size = 0;
        while let Some(chunk) = tar.next().await {
            size += chunk?.len();
        }
        self.seen().archive_put = Some((path.to_owned(), size));
        Ok(())
    }

    async fn exec_create(&self, container_id: &str, config: ExecConfig) -> Result<IdResponse> {
        let cid = self.find(container_id)?;
        let mut store = self.store();
        store.next += 1;
        let id = format!("{:064x}", 0xe4ec_u64 * 1000 + store.next);
        store.execs.insert(id.clone(), (cid, config));
        Ok(IdResponse { id })
    }

    async fn exec_start(
        &self,
        exec_id: &str,
        config: ExecStartConfig,
        stdin: Option<InputStream>,
    ) -> Result<AttachedOutput> {
        let tty = {
            let store = self.store();
            let (_, exec) = store
                .execs
                .get(exec_id)
                .ok_or_else(|| ApiError::NotFound(format!("No such exec instance: {exec_id}")))?;
            exec.tty.unwrap_or(false)
        };
        if config.detach.unwrap_or(false) {
            return Ok(AttachedOutput {
                tty,
                output: Box::pin(futures_util::stream::empty()),
            });
        }
        Ok(echo_output(tty, stdin))
    }

    async fn exec_inspect(&self, exec_id: &str) -> Result<ExecInspectResponse> {
        let store = self.store();
        let (cid, config) = store
            .execs
            .get(exec_id)
            .ok_or_else(|| ApiError::NotFound(format!("No such exec instance: {exec_id}")))?;
        Ok(ExecInspectResponse {
            id: Some(exec_id.to_owned()),
            container_id: Some(cid.clone()),
            open_stdin: config.attach_stdin,
            running: Some(false),
            exit_code: Some(0),
            ..Default::default()
        })
    }

    async fn image_pull(
        &self,
        opts: PullImageOptions,
        auth: Option<AuthConfig>,
    ) -> Result<ProgressStream> {
        self.do_image_pull(opts, auth).await
    }

    async fn image_inspect(&self, name: &str) -> Result<ImageInspect> {
        self.do_image_inspect(name).await
    }

    async fn image_list(&self, opts: ListImagesOptions) -> Result<Vec<ImageSummary>> {
        self.do_image_list(opts).await
    }

    async fn image_load(&self, tarball: ByteStream, _quiet: bool) -> Result<ProgressStream> {
        self.do_image_load(tarball, _quiet).await
    }

    async fn image_tag(&self, name: &str, repo: &str, tag: Option<&str>) -> Result<()> {
        self.do_image_tag(name, repo, tag).await
    }

    async fn image_remove(
        &self,
        name: &str,
        _opts: RemoveImageOptions,
    ) -> Result<Vec<ImageDeleteResponseItem>> {
        self.do_image_remove(name, _opts).await
    }

    async fn network_create(&self, req: NetworkCreateRequest) -> Result<NetworkCreateResponse> {
        self.do_network_create(req).await
    }

    async fn network_list(&self, filters: Filters) -> Result<Vec<NetworkInspect>> {
        self.do_network_list(filters).await
    }

    async fn network_inspect(&self, id: &str) -> Result<NetworkInspect> {
        self.do_network_inspect(id).await
    }

    async fn network_connect(&self, id: &str, req: NetworkConnectRequest) -> Result<()> {
        self.do_network_connect(id, req).await
    }

    async fn network_disconnect(&self, id: &str, req: NetworkDisconnectRequest) -> Result<()> {
        self.do_network_disconnect(id, req).await
    }

    async fn network_remove(&self, id: &str) -> Result<()> {
        self.do_network_remove(id).await
    }

    async fn network_prune(&self, filters: Filters) -> Result<NetworkPruneResponse> {
        self.do_network_prune(filters).await
    }

    async fn volume_create(&self, req: VolumeCreateRequest) -> Result<Volume> {
        self.do_volume_create(req).await
    }

    async fn volume_list(&self, filters: Filters) -> Result<VolumeListResponse> {
        self.do_volume_list(filters).await
    }

    async fn volume_inspect(&self, name: &str) -> Result<Volume> {
        self.do_volume_inspect(name).await
    }

    async fn volume_remove(&self, name: &str, force: bool) -> Result<()> {
        self.do_volume_remove(name, force).await
    }

    async fn volume_prune(&self, _filters: Filters) -> Result<VolumePruneResponse> {
        self.do_volume_prune(_filters).await
    }
}
