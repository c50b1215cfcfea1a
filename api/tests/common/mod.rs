//! An in-memory backend and a server harness for the integration tests.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use sockerless_api::docker::{
    ContainerInspectResponse, ContainerWaitResponse, CreateImageInfo, ExecStartConfig, ImageInspect,
};
use sockerless_api::listen::{self, Drain, ListenAddr};
use sockerless_api::{
    ApiError, AttachOptions, AttachedOutput, Backend, BackendInfo, ByteStream, Capabilities,
    InputStream, LogsOptions, OutputChunk, PathStat, ProgressStream, PullImageOptions, StreamKind,
    WaitCondition,
};
use tokio::sync::{Notify, mpsc, oneshot};

/// Hooks a test uses to hold operations open and see them arrive.
#[derive(Default)]
pub struct Gates {
    /// `container_wait("slow")` signals here once it is waiting...
    pub wait_entered: Notify,
    /// ...and returns once this is notified.
    pub wait_release: Notify,
    /// `container_attach("held")` output ends once this is notified.
    pub attach_release: Notify,
    /// What `container_archive_put` received.
    pub uploaded: Mutex<Option<Vec<u8>>>,
}

/// A handful of operations in memory; the rest are the trait's 501 defaults.
#[derive(Default, Clone)]
pub struct TestBackend {
    pub gates: Arc<Gates>,
}

pub fn info() -> BackendInfo {
    BackendInfo {
        backend: "test".into(),
        version: "9.9.9".into(),
        capabilities: Capabilities {
            exec: true,
            attach: true,
            logs: true,
            logs_follow: false,
            volumes: false,
            networks: false,
            health_checks: false,
            image_pull: true,
            image_load: true,
            max_timeout_seconds: 3600,
            agent_required: true,
        },
    }
}

/// The error `container_start(kind)` returns, by kind name.
pub fn error_of_kind(kind: &str) -> Option<ApiError> {
    let m = format!("{kind} happened: ü / % \"quoted\"");
    Some(match kind {
        "NotFound" => ApiError::NotFound(m),
        "Conflict" => ApiError::Conflict(m),
        "InvalidParameter" => ApiError::InvalidParameter(m),
        "NotModified" => ApiError::NotModified(m),
        "NotImplemented" => ApiError::NotImplemented(m),
        "Unavailable" => ApiError::Unavailable(m),
        "Internal" => ApiError::Internal(m),
        _ => return None,
    })
}

fn chunk(stream: StreamKind, data: &'static str) -> Result<OutputChunk, ApiError> {
    Ok(OutputChunk {
        stream,
        data: Bytes::from_static(data.as_bytes()),
    })
}

#[async_trait]
impl Backend for TestBackend {
    async fn capabilities(&self) -> sockerless_api::Result<BackendInfo> {
        Ok(info())
    }

    /// Never ends on its own.
    async fn events(
        &self,
        _since: Option<i64>,
        _until: Option<i64>,
        _filters: sockerless_api::Filters,
    ) -> sockerless_api::Result<sockerless_api::EventStream> {
        Ok(Box::pin(futures_util::stream::pending()))
    }

    async fn container_start(&self, id: &str) -> sockerless_api::Result<()> {
        match error_of_kind(id) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    async fn container_inspect(
        &self,
        id: &str,
    ) -> sockerless_api::Result<ContainerInspectResponse> {
        Ok(ContainerInspectResponse {
            id: Some(id.to_owned()),
            ..Default::default()
        })
    }

    async fn image_inspect(&self, name: &str) -> sockerless_api::Result<ImageInspect> {
        Ok(ImageInspect {
            id: Some(name.to_owned()),
            ..Default::default()
        })
    }

    async fn container_wait(
        &self,
        id: &str,
        _c: WaitCondition,
    ) -> sockerless_api::Result<ContainerWaitResponse> {
        if id == "slow" {
            let released = self.gates.wait_release.notified();
            self.gates.wait_entered.notify_one();
            released.await;
        }
        Ok(ContainerWaitResponse {
            status_code: 7,
            error: None,
        })
    }

    async fn container_logs(
        &self,
        id: &str,
        _opts: LogsOptions,
    ) -> sockerless_api::Result<AttachedOutput> {
        if id == "missing" {
            return Err(ApiError::NotFound("No such container: missing".into()));
        }
        let items = vec![
            chunk(StreamKind::Stdout, "out\n"),
            chunk(StreamKind::Stderr, "err\n"),
        ];
        Ok(AttachedOutput {
            tty: false,
            output: Box::pin(futures_util::stream::iter(items)),
        })
    }

    /// Echoes stdin to stdout until stdin closes; `held` ends when released;
    /// `tty` reports a TTY.
    async fn container_attach(
        &self,
        id: &str,
        _opts: AttachOptions,
        stdin: Option<InputStream>,
    ) -> sockerless_api::Result<AttachedOutput> {
        match id {
            "missing" => Err(ApiError::NotFound("No such container: missing".into())),
            "held" => {
                let gates = self.gates.clone();
                let output = futures_util::stream::once(async move {
                    gates.attach_release.notified().await;
                    chunk(StreamKind::Stdout, "released")
                });
                Ok(AttachedOutput {
                    tty: false,
                    output: Box::pin(output),
                })
            }
            _ => {
                let stdin =
                    stdin.ok_or_else(|| ApiError::InvalidParameter("stdin required".into()))?;
                let output = stdin.map(|data| {
                    Ok(OutputChunk {
                        stream: StreamKind::Stdout,
                        data,
                    })
                });
                Ok(AttachedOutput {
                    tty: id == "tty",
                    output: Box::pin(output),
                })
            }
        }
    }

    async fn exec_start(
        &self,
        exec_id: &str,
        config: ExecStartConfig,
        _stdin: Option<InputStream>,
    ) -> sockerless_api::Result<AttachedOutput> {
        let data = Bytes::from(format!("exec {exec_id}"));
        let output = futures_util::stream::iter([Ok(OutputChunk {
            stream: StreamKind::Stdout,
            data,
        })]);
        Ok(AttachedOutput {
            tty: config.tty.unwrap_or(false),
            output: Box::pin(output),
        })
    }

    /// Two progress items; `bad` fails after the first.
    async fn image_pull(
        &self,
        opts: PullImageOptions,
        auth: Option<sockerless_api::docker::AuthConfig>,
    ) -> sockerless_api::Result<ProgressStream> {
        let user = auth.and_then(|a| a.username).unwrap_or_default();
        let first = Ok(CreateImageInfo {
            status: Some(format!("Pulling {} as {user:?}", opts.from_image)),
            ..Default::default()
        });
        let second = if opts.from_image == "bad" {
            Err(ApiError::Unavailable("registry went away".into()))
        } else {
            Ok(CreateImageInfo {
                status: Some("Done".into()),
                ..Default::default()
            })
        };
        Ok(Box::pin(futures_util::stream::iter([first, second])))
    }

    async fn container_archive_get(
        &self,
        _id: &str,
        path: &str,
    ) -> sockerless_api::Result<(PathStat, ByteStream)> {
        let stat = PathStat {
            name: path.trim_start_matches('/').to_owned(),
            size: 5,
            mode: 0o644,
            mtime: "2026-01-01T00:00:00Z".into(),
            link_target: String::new(),
        };
        let big = Bytes::from(vec![b'x'; 300 * 1024]);
        let bytes = futures_util::stream::iter([Ok(Bytes::from_static(b"hello")), Ok(big)]);
        Ok((stat, Box::pin(bytes)))
    }

    async fn container_archive_put(
        &self,
        _id: &str,
        _path: &str,
        mut tar: ByteStream,
    ) -> sockerless_api::Result<()> {
        let mut all = Vec::new();
        while let Some(item) = tar.next().await {
            all.extend_from_slice(&item?);
        }
        *self.gates.uploaded.lock().expect("lock") = Some(all);
        Ok(())
    }

    async fn image_load(
        &self,
        mut tarball: ByteStream,
        _quiet: bool,
    ) -> sockerless_api::Result<ProgressStream> {
        let mut n = 0;
        while let Some(item) = tarball.next().await {
            n += item?.len();
        }
        let item = CreateImageInfo {
            status: Some(format!("Loaded {n} bytes")),
            ..Default::default()
        };
        Ok(Box::pin(futures_util::stream::iter([Ok(item)])))
    }
}

/// A running server.
pub struct Server {
    pub addr: ListenAddr,
    stop: Option<oneshot::Sender<()>>,
    pub task: tokio::task::JoinHandle<Drain>,
}

impl Server {
    /// Starts serving `router` on `addr`.
    pub async fn start(addr: &ListenAddr, router: axum::Router, drain: Duration) -> Server {
        let listener = listen::bind(addr).await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(listen::serve(
            listener,
            router,
            async move {
                let _ = stopped.await;
            },
            drain,
        ));
        Server {
            addr,
            stop: Some(stop),
            task,
        }
    }

    /// Serves the internal API of `backend`.
    pub async fn internal(addr: &ListenAddr, backend: TestBackend) -> Server {
        Self::start(
            addr,
            sockerless_api::server::router(Arc::new(backend)),
            Duration::from_secs(3600),
        )
        .await
    }

    /// Begins the graceful shutdown.
    pub fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Shuts down and waits for `serve` to return.
    pub async fn stop(mut self) -> Drain {
        self.shutdown();
        self.task.await.expect("serve task")
    }
}

/// An input stream fed through the returned sender; dropping it closes stdin.
pub fn stdin_pipe() -> (mpsc::Sender<Bytes>, InputStream) {
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    let stream =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
    (tx, Box::pin(stream))
}

pub fn unix_addr(dir: &tempfile::TempDir, name: &str) -> ListenAddr {
    ListenAddr::Unix(dir.path().join(name))
}

pub fn tcp_any() -> ListenAddr {
    "tcp://127.0.0.1:0".parse().expect("addr")
}
