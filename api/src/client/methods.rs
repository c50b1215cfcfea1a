//! `Backend` over the internal HTTP API: one route per method (see the README).

use async_trait::async_trait;
use futures_util::StreamExt;
use http::Method;

use super::streams::{
    AbortOnDrop, UploadError, bytes_of, frames, items_of, output_of, spawn_stdin, upload,
};
use super::{RemoteBackend, id_path};
use crate::docker::{
    AuthConfig, AuthResponse, ContainerCreateResponse, ContainerInspectResponse, ContainerSummary,
    ContainerWaitResponse, ExecConfig, ExecInspectResponse, ExecStartConfig, IdResponse,
    ImageDeleteResponseItem, ImageInspect, ImageSummary, NetworkConnectRequest,
    NetworkCreateRequest, NetworkCreateResponse, NetworkDisconnectRequest, NetworkInspect,
    NetworkPruneResponse, SystemInfo, SystemVersion, Volume, VolumeCreateRequest,
    VolumeListResponse, VolumePruneResponse,
};
use crate::wire::{
    self, EventsOptions, FiltersBody, KillBody, LoadOptions, PathBody, RenameBody, ResizeBody,
    TagBody, VolumeRemoveBody, WaitBody, pct_decode, pct_encode,
};
use crate::{
    ApiError, AttachOptions, AttachedOutput, Backend, BackendInfo, ByteStream,
    CreateContainerRequest, EventStream, Filters, InputStream, ListContainersOptions,
    ListImagesOptions, LogsOptions, PathStat, ProgressStream, PullImageOptions,
    RemoveContainerOptions, RemoveImageOptions, Result, StopOptions, WaitCondition,
};

/// Stands in for "no body" where a body type must be named.
const NO_BODY: Option<&()> = None;

fn c(id: &str, rest: &str) -> String {
    id_path("container", id, rest)
}

impl RemoteBackend {
    /// Opens an output stream (logs, attach, exec start) with optional stdin.
    async fn output_stream(
        &self,
        path: String,
        options: &impl serde::Serialize,
        stdin: Option<InputStream>,
    ) -> Result<AttachedOutput> {
        let (headers, ws) = self
            .open_stream(&path, options, stdin.is_some(), None)
            .await?;
        let tty = headers.get(wire::TTY_HEADER).is_some_and(|v| v == "true");
        let (tx, rx) = ws.split();
        let helper = spawn_stdin(tx, stdin);
        Ok(AttachedOutput {
            tty,
            output: output_of(frames(rx, path, Some(helper))),
        })
    }

    /// Opens an upload route, sends `input`, and returns the server's verdict.
    async fn upload_stream(
        &self,
        path: String,
        options: &impl serde::Serialize,
        input: ByteStream,
    ) -> Result<()> {
        let (_, ws) = self.open_stream(&path, options, true, None).await?;
        let (mut tx, rx) = ws.split();
        let mut answer = Box::pin(frames(rx, path, None));
        let verdict = async move {
            match answer.next().await {
                None => Ok(()),
                Some(Err(e)) => Err(e),
                Some(Ok(_)) => Err(ApiError::Internal(
                    "unexpected frame after an upload".into(),
                )),
            }
        };
        tokio::pin!(verdict);
        tokio::select! {
            v = &mut verdict => v,
            sent = upload(&mut tx, input) => match sent {
                Err(UploadError::Input(e)) => Err(e),
                Ok(()) | Err(UploadError::Send) => verdict.await,
            },
        }
    }
}

#[async_trait]
impl Backend for RemoteBackend {
    async fn capabilities(&self) -> Result<BackendInfo> {
        self.call(Method::GET, "/capabilities", NO_BODY).await
    }

    async fn ping(&self) -> Result<()> {
        self.call_empty(Method::GET, "/ping", NO_BODY).await
    }

    async fn system_info(&self) -> Result<SystemInfo> {
        self.call(Method::GET, "/system/info", NO_BODY).await
    }

    async fn system_version(&self) -> Result<SystemVersion> {
        self.call(Method::GET, "/system/version", NO_BODY).await
    }

    async fn auth(&self, config: AuthConfig) -> Result<AuthResponse> {
        self.call(Method::POST, "/system/auth", Some(&config)).await
    }

    async fn events(
        &self,
        since_nanos: Option<i64>,
        until_nanos: Option<i64>,
        filters: Filters,
    ) -> Result<EventStream> {
        let opts = EventsOptions {
            since_nanos,
            until_nanos,
            filters,
        };
        let path = "/system/events".to_owned();
        let (_, ws) = self.open_stream(&path, &opts, false, None).await?;
        let (tx, rx) = ws.split();
        let helper = spawn_stdin(tx, None);
        Ok(Box::pin(items_of(frames(rx, path, Some(helper)))))
    }

    async fn container_create(
        &self,
        req: CreateContainerRequest,
    ) -> Result<ContainerCreateResponse> {
        self.call(Method::POST, "/containers/create", Some(&req))
            .await
    }

    async fn container_start(&self, id: &str) -> Result<()> {
        self.call_empty(Method::POST, &c(id, "/start"), NO_BODY)
            .await
    }

    async fn container_inspect(&self, id: &str) -> Result<ContainerInspectResponse> {
        self.call(Method::GET, &c(id, "/json"), NO_BODY).await
    }

    async fn container_list(&self, opts: ListContainersOptions) -> Result<Vec<ContainerSummary>> {
        self.call(Method::POST, "/containers/list", Some(&opts))
            .await
    }

    async fn container_logs(&self, id: &str, opts: LogsOptions) -> Result<AttachedOutput> {
        self.output_stream(c(id, "/logs"), &opts, None).await
    }

    async fn container_stop(&self, id: &str, opts: StopOptions) -> Result<()> {
        self.call_empty(Method::POST, &c(id, "/stop"), Some(&opts))
            .await
    }

    async fn container_restart(&self, id: &str, opts: StopOptions) -> Result<()> {
        self.call_empty(Method::POST, &c(id, "/restart"), Some(&opts))
            .await
    }

    async fn container_kill(&self, id: &str, signal: Option<String>) -> Result<()> {
        self.call_empty(Method::POST, &c(id, "/kill"), Some(&KillBody { signal }))
            .await
    }

    async fn container_remove(&self, id: &str, opts: RemoveContainerOptions) -> Result<()> {
        self.call_empty(Method::POST, &c(id, "/remove"), Some(&opts))
            .await
    }

    async fn container_wait(
        &self,
        id: &str,
        condition: WaitCondition,
    ) -> Result<ContainerWaitResponse> {
        self.call(Method::POST, &c(id, "/wait"), Some(&WaitBody { condition }))
            .await
    }

    async fn container_attach(
        &self,
        id: &str,
        opts: AttachOptions,
        stdin: Option<InputStream>,
    ) -> Result<AttachedOutput> {
        self.output_stream(c(id, "/attach"), &opts, stdin).await
    }

    async fn container_resize(&self, id: &str, height: u16, width: u16) -> Result<()> {
        self.call_empty(
            Method::POST,
            &c(id, "/resize"),
            Some(&ResizeBody { height, width }),
        )
        .await
    }

    async fn container_rename(&self, id: &str, new_name: &str) -> Result<()> {
        let body = RenameBody {
            name: new_name.to_owned(),
        };
        self.call_empty(Method::POST, &c(id, "/rename"), Some(&body))
            .await
    }

    async fn container_archive_stat(&self, id: &str, path: &str) -> Result<PathStat> {
        let body = PathBody {
            path: path.to_owned(),
        };
        self.call(Method::POST, &c(id, "/archive/stat"), Some(&body))
            .await
    }

    async fn container_archive_get(&self, id: &str, path: &str) -> Result<(PathStat, ByteStream)> {
        let route = c(id, "/archive/get");
        let body = PathBody {
            path: path.to_owned(),
        };
        let (headers, ws) = self.open_stream(&route, &body, false, None).await?;
        let stat = headers
            .get(wire::PATH_STAT_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(pct_decode)
            .and_then(|json| serde_json::from_str::<PathStat>(&json).ok())
            .ok_or_else(|| {
                ApiError::Internal(format!(
                    "backend at {}: archive answer without path stat",
                    self.addr
                ))
            })?;
        let (tx, rx) = ws.split();
        let helper = spawn_stdin(tx, None);
        Ok((stat, bytes_of(frames(rx, route, Some(helper)))))
    }

    async fn container_archive_put(&self, id: &str, path: &str, tar: ByteStream) -> Result<()> {
        let body = PathBody {
            path: path.to_owned(),
        };
        self.upload_stream(c(id, "/archive/put"), &body, tar).await
    }

    async fn exec_create(&self, container_id: &str, config: ExecConfig) -> Result<IdResponse> {
        self.call(Method::POST, &c(container_id, "/exec"), Some(&config))
            .await
    }

    async fn exec_start(
        &self,
        exec_id: &str,
        config: ExecStartConfig,
        stdin: Option<InputStream>,
    ) -> Result<AttachedOutput> {
        self.output_stream(id_path("exec", exec_id, "/start"), &config, stdin)
            .await
    }

    async fn exec_inspect(&self, exec_id: &str) -> Result<ExecInspectResponse> {
        self.call(Method::GET, &id_path("exec", exec_id, "/json"), NO_BODY)
            .await
    }

    async fn exec_resize(&self, exec_id: &str, height: u16, width: u16) -> Result<()> {
        let body = ResizeBody { height, width };
        self.call_empty(
            Method::POST,
            &id_path("exec", exec_id, "/resize"),
            Some(&body),
        )
        .await
    }

    async fn image_pull(
        &self,
        opts: PullImageOptions,
        auth: Option<AuthConfig>,
    ) -> Result<ProgressStream> {
        let header = match auth {
            None => None,
            Some(a) => {
                let json = serde_json::to_string(&a)
                    .map_err(|e| ApiError::Internal(format!("encode auth: {e}")))?;
                Some((wire::REGISTRY_AUTH_HEADER, pct_encode(&json)))
            }
        };
        let path = "/images/pull".to_owned();
        let (_, ws) = self.open_stream(&path, &opts, false, header).await?;
        let (tx, rx) = ws.split();
        let helper = spawn_stdin(tx, None);
        Ok(Box::pin(items_of(frames(rx, path, Some(helper)))))
    }

    async fn image_inspect(&self, name: &str) -> Result<ImageInspect> {
        self.call(Method::GET, &id_path("image", name, "/json"), NO_BODY)
            .await
    }

    async fn image_list(&self, opts: ListImagesOptions) -> Result<Vec<ImageSummary>> {
        self.call(Method::POST, "/images/list", Some(&opts)).await
    }

    async fn image_load(&self, tarball: ByteStream, quiet: bool) -> Result<ProgressStream> {
        let path = "/images/load".to_owned();
        let (_, ws) = self
            .open_stream(&path, &LoadOptions { quiet }, true, None)
            .await?;
        let (mut tx, rx) = ws.split();
        let helper = AbortOnDrop::spawn(async move {
            // Input errors reach the server as `abort`; its answer tells the caller.
            let _ = upload(&mut tx, tarball).await;
            std::future::pending::<()>().await;
        });
        Ok(Box::pin(items_of(frames(rx, path, Some(helper)))))
    }

    async fn image_tag(&self, name: &str, repo: &str, tag: Option<&str>) -> Result<()> {
        let body = TagBody {
            repo: repo.to_owned(),
            tag: tag.map(str::to_owned),
        };
        self.call_empty(Method::POST, &id_path("image", name, "/tag"), Some(&body))
            .await
    }

    async fn image_remove(
        &self,
        name: &str,
        opts: RemoveImageOptions,
    ) -> Result<Vec<ImageDeleteResponseItem>> {
        self.call(
            Method::POST,
            &id_path("image", name, "/remove"),
            Some(&opts),
        )
        .await
    }

    async fn network_create(&self, req: NetworkCreateRequest) -> Result<NetworkCreateResponse> {
        self.call(Method::POST, "/networks/create", Some(&req))
            .await
    }

    async fn network_list(&self, filters: Filters) -> Result<Vec<NetworkInspect>> {
        self.call(
            Method::POST,
            "/networks/list",
            Some(&FiltersBody { filters }),
        )
        .await
    }

    async fn network_inspect(&self, id: &str) -> Result<NetworkInspect> {
        self.call(Method::GET, &id_path("network", id, "/json"), NO_BODY)
            .await
    }

    async fn network_connect(&self, id: &str, req: NetworkConnectRequest) -> Result<()> {
        self.call_empty(
            Method::POST,
            &id_path("network", id, "/connect"),
            Some(&req),
        )
        .await
    }

    async fn network_disconnect(&self, id: &str, req: NetworkDisconnectRequest) -> Result<()> {
        self.call_empty(
            Method::POST,
            &id_path("network", id, "/disconnect"),
            Some(&req),
        )
        .await
    }

    async fn network_remove(&self, id: &str) -> Result<()> {
        self.call_empty(Method::POST, &id_path("network", id, "/remove"), NO_BODY)
            .await
    }

    async fn network_prune(&self, filters: Filters) -> Result<NetworkPruneResponse> {
        self.call(
            Method::POST,
            "/networks/prune",
            Some(&FiltersBody { filters }),
        )
        .await
    }

    async fn volume_create(&self, req: VolumeCreateRequest) -> Result<Volume> {
        self.call(Method::POST, "/volumes/create", Some(&req)).await
    }

    async fn volume_list(&self, filters: Filters) -> Result<VolumeListResponse> {
        self.call(
            Method::POST,
            "/volumes/list",
            Some(&FiltersBody { filters }),
        )
        .await
    }

    async fn volume_inspect(&self, name: &str) -> Result<Volume> {
        self.call(Method::GET, &id_path("volume", name, "/json"), NO_BODY)
            .await
    }

    async fn volume_remove(&self, name: &str, force: bool) -> Result<()> {
        let body = VolumeRemoveBody { force };
        self.call_empty(
            Method::POST,
            &id_path("volume", name, "/remove"),
            Some(&body),
        )
        .await
    }

    async fn volume_prune(&self, filters: Filters) -> Result<VolumePruneResponse> {
        self.call(
            Method::POST,
            "/volumes/prune",
            Some(&FiltersBody { filters }),
        )
        .await
    }

    // ---- issue 16 [agent ops: top, stats, pause, export] (keep additions in this block) ----

    async fn container_top(
        &self,
        id: &str,
        ps_args: Option<String>,
    ) -> Result<crate::docker::ContainerTopResponse> {
        let body = crate::wire::TopBody { ps_args };
        self.call(Method::POST, &c(id, "/top"), Some(&body)).await
    }

    async fn container_stats(
        &self,
        id: &str,
        stream: bool,
        one_shot: bool,
    ) -> Result<crate::types::StatsStream> {
        let opts = crate::wire::StatsOptions { stream, one_shot };
        let path = c(id, "/stats");
        let (_, ws) = self.open_stream(&path, &opts, false, None).await?;
        let (tx, rx) = ws.split();
        let helper = spawn_stdin(tx, None);
        Ok(Box::pin(items_of(frames(rx, path, Some(helper)))))
    }

    async fn container_pause(&self, id: &str) -> Result<()> {
        self.call_empty(Method::POST, &c(id, "/pause"), NO_BODY)
            .await
    }

    async fn container_unpause(&self, id: &str) -> Result<()> {
        self.call_empty(Method::POST, &c(id, "/unpause"), NO_BODY)
            .await
    }

    async fn container_export(&self, id: &str) -> Result<ByteStream> {
        let route = c(id, "/export");
        let (_, ws) = self.open_stream(&route, &(), false, None).await?;
        let (tx, rx) = ws.split();
        let helper = spawn_stdin(tx, None);
        Ok(bytes_of(frames(rx, route, Some(helper))))
    }

    // ---- issue 16 [lifecycle: restart policies, update, prune, detach keys] (keep additions in this block) ----
    async fn container_update(
        &self,
        id: &str,
        update: crate::docker::ContainerUpdateBody,
    ) -> Result<crate::docker::ContainerUpdateResponse> {
        self.call(Method::POST, &c(id, "/update"), Some(&update))
            .await
    }

    async fn container_prune(
        &self,
        filters: Filters,
    ) -> Result<crate::docker::ContainerPruneResponse> {
        self.call(
            Method::POST,
            "/containers/prune",
            Some(&crate::wire::FiltersBody { filters }),
        )
        .await
    }

    async fn image_prune(&self, filters: Filters) -> Result<crate::docker::ImagePruneResponse> {
        self.call(
            Method::POST,
            "/images/prune",
            Some(&crate::wire::FiltersBody { filters }),
        )
        .await
    }

    // ---- issue 16 [images: save, push, import, distribution, commit, changes] (keep additions in this block) ----

    async fn image_save(&self, names: Vec<String>) -> Result<ByteStream> {
        let path = "/images/save".to_owned();
        let (_, ws) = self
            .open_stream(&path, &crate::wire::SaveOptions { names }, false, None)
            .await?;
        let (tx, rx) = ws.split();
        let helper = spawn_stdin(tx, None);
        Ok(bytes_of(frames(rx, path, Some(helper))))
    }

    async fn image_push(
        &self,
        name: &str,
        tag: Option<&str>,
        auth: Option<AuthConfig>,
    ) -> Result<crate::PushStream> {
        let header = match auth {
            None => None,
            Some(a) => {
                let json = serde_json::to_string(&a)
                    .map_err(|e| ApiError::Internal(format!("encode auth: {e}")))?;
                Some((wire::REGISTRY_AUTH_HEADER, pct_encode(&json)))
            }
        };
        let opts = crate::wire::PushOptions {
            name: name.to_owned(),
            tag: tag.map(str::to_owned),
        };
        let path = "/images/push".to_owned();
        let (_, ws) = self.open_stream(&path, &opts, false, header).await?;
        let (tx, rx) = ws.split();
        let helper = spawn_stdin(tx, None);
        Ok(Box::pin(items_of(frames(rx, path, Some(helper)))))
    }

    async fn image_import(
        &self,
        opts: crate::ImportImageOptions,
        tarball: ByteStream,
    ) -> Result<ProgressStream> {
        let path = "/images/import".to_owned();
        let (_, ws) = self.open_stream(&path, &opts, true, None).await?;
        let (mut tx, rx) = ws.split();
        let helper = AbortOnDrop::spawn(async move {
            // Input errors reach the server as `abort`; its answer tells the caller.
            let _ = upload(&mut tx, tarball).await;
            std::future::pending::<()>().await;
        });
        Ok(Box::pin(items_of(frames(rx, path, Some(helper)))))
    }

    async fn distribution_inspect(
        &self,
        name: &str,
        auth: Option<AuthConfig>,
    ) -> Result<crate::docker::DistributionInspect> {
        let body = crate::wire::DistributionBody {
            name: name.to_owned(),
            auth,
        };
        self.call(Method::POST, "/distribution/inspect", Some(&body))
            .await
    }

    async fn container_changes(&self, id: &str) -> Result<Vec<crate::docker::FilesystemChange>> {
        self.call(Method::GET, &c(id, "/changes"), NO_BODY).await
    }

    async fn container_commit(&self, opts: crate::CommitOptions) -> Result<IdResponse> {
        self.call(Method::POST, "/containers/commit", Some(&opts))
            .await
    }

    // ---- issue 16 [events] (keep additions in this block) ----
}
