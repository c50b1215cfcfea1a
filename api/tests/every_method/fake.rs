//! A backend that records every call (operation and arguments as JSON) and
//! answers each with its canned answer from [`super::answers`].

use std::pin::Pin;
use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sockerless_api::docker::{
    AuthConfig, AuthResponse, ContainerCreateResponse, ContainerInspectResponse,
    ContainerPruneResponse, ContainerSummary, ContainerTopResponse, ContainerUpdateBody,
    ContainerUpdateResponse, ContainerWaitResponse, DistributionInspect, ExecConfig,
    ExecInspectResponse, ExecStartConfig, FilesystemChange, IdResponse, ImageDeleteResponseItem,
    ImageInspect, ImagePruneResponse, ImageSummary, NetworkConnectRequest, NetworkCreateRequest,
    NetworkCreateResponse, NetworkDisconnectRequest, NetworkInspect, NetworkPruneResponse,
    SystemInfo, SystemVersion, Volume, VolumeCreateRequest, VolumeListResponse,
    VolumePruneResponse,
};
use sockerless_api::{
    ApiError, AttachOptions, AttachedOutput, Backend, BackendInfo, BuildImageOptions, BuildStream,
    ByteStream, CommitOptions, CreateContainerRequest, EventStream, Filters, ImportImageOptions,
    InputStream, ListContainersOptions, ListImagesOptions, LogsOptions, OutputChunk, PathStat,
    ProgressStream, PullImageOptions, PushStream, RemoveContainerOptions, RemoveImageOptions,
    Result, StatsStream, StopOptions, StreamKind, WaitCondition,
};

use super::answers::answer;

/// The calls received, oldest first: (operation, arguments).
#[derive(Default)]
pub struct Recorder {
    pub calls: Mutex<Vec<(String, Value)>>,
}

fn j(x: impl Serialize) -> Value {
    serde_json::to_value(x).expect("argument serializes")
}

fn ans<T: DeserializeOwned>(op: &str) -> Result<T> {
    serde_json::from_value(answer(op)).map_err(|e| ApiError::Internal(format!("{op}: {e}")))
}

fn items<T: DeserializeOwned + Send + 'static>(
    op: &str,
) -> Result<Pin<Box<dyn Stream<Item = Result<T>> + Send>>> {
    let all: Vec<T> = ans(op)?;
    Ok(Box::pin(futures_util::stream::iter(
        all.into_iter().map(Ok),
    )))
}

/// The canned string in two chunks, so more than one frame crosses.
fn bytes(op: &str) -> Result<ByteStream> {
    let text: String = ans(op)?;
    let (a, b) = text.split_at(text.len() / 2);
    let chunks = [Bytes::from(a.to_owned()), Bytes::from(b.to_owned())];
    Ok(Box::pin(futures_util::stream::iter(chunks.map(Ok))))
}

/// The canned chunks, then stdin echoed on stdout.
fn output(op: &str, stdin: Option<InputStream>) -> Result<AttachedOutput> {
    let a = answer(op);
    let tty = a["tty"].as_bool().unwrap_or_default();
    let chunks: Vec<Result<OutputChunk>> = a["out"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|pair| {
            let byte = pair[0].as_u64().and_then(|b| u8::try_from(b).ok());
            Ok(OutputChunk {
                stream: byte
                    .and_then(StreamKind::from_byte)
                    .unwrap_or(StreamKind::Stdout),
                data: Bytes::from(pair[1].as_str().unwrap_or_default().to_owned()),
            })
        })
        .collect();
    let echo = futures_util::stream::iter(stdin).flatten().map(|data| {
        Ok(OutputChunk {
            stream: StreamKind::Stdout,
            data,
        })
    });
    let output = futures_util::stream::iter(chunks).chain(echo);
    Ok(AttachedOutput {
        tty,
        output: Box::pin(output),
    })
}

async fn drain(mut input: ByteStream) -> Result<String> {
    let mut all = Vec::new();
    while let Some(chunk) = input.next().await {
        all.extend_from_slice(&chunk?);
    }
    Ok(String::from_utf8_lossy(&all).into_owned())
}

impl Recorder {
    fn rec(&self, op: &str, args: Value) {
        self.calls.lock().expect("lock").push((op.to_owned(), args));
    }
}

#[async_trait]
impl Backend for Recorder {
    async fn capabilities(&self) -> Result<BackendInfo> {
        self.rec("capabilities", json!([]));
        ans("capabilities")
    }

    async fn ping(&self) -> Result<()> {
        self.rec("ping", json!([]));
        Ok(())
    }

    async fn system_info(&self) -> Result<SystemInfo> {
        self.rec("system_info", json!([]));
        ans("system_info")
    }

    async fn system_version(&self) -> Result<SystemVersion> {
        self.rec("system_version", json!([]));
        ans("system_version")
    }

    async fn auth(&self, config: AuthConfig) -> Result<AuthResponse> {
        self.rec("auth", json!([j(config)]));
        ans("auth")
    }

    async fn events(
        &self,
        since: Option<i64>,
        until: Option<i64>,
        filters: Filters,
    ) -> Result<EventStream> {
        self.rec("events", json!([since, until, j(filters)]));
        items("events")
    }

    async fn container_create(
        &self,
        req: CreateContainerRequest,
    ) -> Result<ContainerCreateResponse> {
        self.rec("container_create", json!([j(req)]));
        ans("container_create")
    }

    async fn container_start(&self, id: &str) -> Result<()> {
        self.rec("container_start", json!([id]));
        Ok(())
    }

    async fn container_inspect(&self, id: &str) -> Result<ContainerInspectResponse> {
        self.rec("container_inspect", json!([id]));
        ans("container_inspect")
    }

    async fn container_list(&self, opts: ListContainersOptions) -> Result<Vec<ContainerSummary>> {
        self.rec("container_list", json!([j(opts)]));
        ans("container_list")
    }

    async fn container_logs(&self, id: &str, opts: LogsOptions) -> Result<AttachedOutput> {
        self.rec("container_logs", json!([id, j(opts)]));
        output("container_logs", None)
    }

    async fn container_stop(&self, id: &str, opts: StopOptions) -> Result<()> {
        self.rec("container_stop", json!([id, j(opts)]));
        Ok(())
    }

    async fn container_restart(&self, id: &str, opts: StopOptions) -> Result<()> {
        self.rec("container_restart", json!([id, j(opts)]));
        Ok(())
    }

    async fn container_kill(&self, id: &str, signal: Option<String>) -> Result<()> {
        self.rec("container_kill", json!([id, signal]));
        Ok(())
    }

    async fn container_remove(&self, id: &str, opts: RemoveContainerOptions) -> Result<()> {
        self.rec("container_remove", json!([id, j(opts)]));
        Ok(())
    }

    async fn container_wait(&self, id: &str, c: WaitCondition) -> Result<ContainerWaitResponse> {
        self.rec("container_wait", json!([id, j(c)]));
        ans("container_wait")
    }

    async fn container_attach(
        &self,
        id: &str,
        opts: AttachOptions,
        stdin: Option<InputStream>,
    ) -> Result<AttachedOutput> {
        self.rec("container_attach", json!([id, j(opts), stdin.is_some()]));
        output("container_attach", stdin)
    }

    async fn container_resize(&self, id: &str, height: u16, width: u16) -> Result<()> {
        self.rec("container_resize", json!([id, height, width]));
        Ok(())
    }

    async fn container_rename(&self, id: &str, new_name: &str) -> Result<()> {
        self.rec("container_rename", json!([id, new_name]));
        Ok(())
    }

    async fn container_archive_stat(&self, id: &str, path: &str) -> Result<PathStat> {
        self.rec("container_archive_stat", json!([id, path]));
        ans("container_archive_stat")
    }

    async fn container_archive_get(&self, id: &str, path: &str) -> Result<(PathStat, ByteStream)> {
        self.rec("container_archive_get", json!([id, path]));
        let a = answer("container_archive_get");
        let stat = serde_json::from_value(a["stat"].clone())
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let data = Bytes::from(a["bytes"].as_str().unwrap_or_default().to_owned());
        Ok((stat, Box::pin(futures_util::stream::iter([Ok(data)]))))
    }

    async fn container_archive_put(&self, id: &str, path: &str, tar: ByteStream) -> Result<()> {
        let tar = drain(tar).await?;
        self.rec("container_archive_put", json!([id, path, tar]));
        Ok(())
    }

    async fn container_top(
        &self,
        id: &str,
        ps_args: Option<String>,
    ) -> Result<ContainerTopResponse> {
        self.rec("container_top", json!([id, ps_args]));
        ans("container_top")
    }

    async fn container_stats(&self, id: &str, stream: bool, one_shot: bool) -> Result<StatsStream> {
        self.rec("container_stats", json!([id, stream, one_shot]));
        items("container_stats")
    }

    async fn container_pause(&self, id: &str) -> Result<()> {
        self.rec("container_pause", json!([id]));
        Ok(())
    }

    async fn container_unpause(&self, id: &str) -> Result<()> {
        self.rec("container_unpause", json!([id]));
        Ok(())
    }

    async fn container_export(&self, id: &str) -> Result<ByteStream> {
        self.rec("container_export", json!([id]));
        bytes("container_export")
    }

    async fn container_update(
        &self,
        id: &str,
        update: ContainerUpdateBody,
    ) -> Result<ContainerUpdateResponse> {
        self.rec("container_update", json!([id, j(update)]));
        ans("container_update")
    }

    async fn container_prune(&self, filters: Filters) -> Result<ContainerPruneResponse> {
        self.rec("container_prune", json!([j(filters)]));
        ans("container_prune")
    }

    async fn container_changes(&self, id: &str) -> Result<Vec<FilesystemChange>> {
        self.rec("container_changes", json!([id]));
        ans("container_changes")
    }

    async fn container_commit(&self, opts: CommitOptions) -> Result<IdResponse> {
        self.rec("container_commit", json!([j(opts)]));
        ans("container_commit")
    }

    async fn exec_create(&self, container_id: &str, config: ExecConfig) -> Result<IdResponse> {
        self.rec("exec_create", json!([container_id, j(config)]));
        ans("exec_create")
    }

    async fn exec_start(
        &self,
        exec_id: &str,
        config: ExecStartConfig,
        stdin: Option<InputStream>,
    ) -> Result<AttachedOutput> {
        self.rec("exec_start", json!([exec_id, j(config), stdin.is_some()]));
        output("exec_start", stdin)
    }

    async fn exec_inspect(&self, exec_id: &str) -> Result<ExecInspectResponse> {
        self.rec("exec_inspect", json!([exec_id]));
        ans("exec_inspect")
    }

    async fn exec_resize(&self, exec_id: &str, height: u16, width: u16) -> Result<()> {
        self.rec("exec_resize", json!([exec_id, height, width]));
        Ok(())
    }

    async fn image_pull(
        &self,
        opts: PullImageOptions,
        auth: Option<AuthConfig>,
    ) -> Result<ProgressStream> {
        self.rec("image_pull", json!([j(opts), j(auth)]));
        items("image_pull")
    }

    async fn image_inspect(&self, name: &str) -> Result<ImageInspect> {
        self.rec("image_inspect", json!([name]));
        ans("image_inspect")
    }

    async fn image_list(&self, opts: ListImagesOptions) -> Result<Vec<ImageSummary>> {
        self.rec("image_list", json!([j(opts)]));
        ans("image_list")
    }

    async fn image_load(&self, tarball: ByteStream, quiet: bool) -> Result<ProgressStream> {
        let tarball = drain(tarball).await?;
        self.rec("image_load", json!([tarball, quiet]));
        items("image_load")
    }

    async fn image_tag(&self, name: &str, repo: &str, tag: Option<&str>) -> Result<()> {
        self.rec("image_tag", json!([name, repo, tag]));
        Ok(())
    }

    async fn image_remove(
        &self,
        name: &str,
        opts: RemoveImageOptions,
    ) -> Result<Vec<ImageDeleteResponseItem>> {
        self.rec("image_remove", json!([name, j(opts)]));
        ans("image_remove")
    }

    async fn image_prune(&self, filters: Filters) -> Result<ImagePruneResponse> {
        self.rec("image_prune", json!([j(filters)]));
        ans("image_prune")
    }

    async fn image_save(&self, names: Vec<String>) -> Result<ByteStream> {
        self.rec("image_save", json!([names]));
        bytes("image_save")
    }

    async fn image_push(
        &self,
        name: &str,
        tag: Option<&str>,
        auth: Option<AuthConfig>,
    ) -> Result<PushStream> {
        self.rec("image_push", json!([name, tag, j(auth)]));
        items("image_push")
    }

    async fn image_import(
        &self,
        opts: ImportImageOptions,
        tarball: ByteStream,
    ) -> Result<ProgressStream> {
        let tarball = drain(tarball).await?;
        self.rec("image_import", json!([j(opts), tarball]));
        items("image_import")
    }

    async fn image_build(
        &self,
        opts: BuildImageOptions,
        context: ByteStream,
    ) -> Result<BuildStream> {
        let context = drain(context).await?;
        self.rec("image_build", json!([j(opts), context]));
        items("image_build")
    }

    async fn distribution_inspect(
        &self,
        name: &str,
        auth: Option<AuthConfig>,
    ) -> Result<DistributionInspect> {
        self.rec("distribution_inspect", json!([name, j(auth)]));
        ans("distribution_inspect")
    }

    async fn network_create(&self, req: NetworkCreateRequest) -> Result<NetworkCreateResponse> {
        self.rec("network_create", json!([j(req)]));
        ans("network_create")
    }

    async fn network_list(&self, filters: Filters) -> Result<Vec<NetworkInspect>> {
        self.rec("network_list", json!([j(filters)]));
        ans("network_list")
    }

    async fn network_inspect(&self, id: &str) -> Result<NetworkInspect> {
        self.rec("network_inspect", json!([id]));
        ans("network_inspect")
    }

    async fn network_connect(&self, id: &str, req: NetworkConnectRequest) -> Result<()> {
        self.rec("network_connect", json!([id, j(req)]));
        Ok(())
    }

    async fn network_disconnect(&self, id: &str, req: NetworkDisconnectRequest) -> Result<()> {
        self.rec("network_disconnect", json!([id, j(req)]));
        Ok(())
    }

    async fn network_remove(&self, id: &str) -> Result<()> {
        self.rec("network_remove", json!([id]));
        Ok(())
    }

    async fn network_prune(&self, filters: Filters) -> Result<NetworkPruneResponse> {
        self.rec("network_prune", json!([j(filters)]));
        ans("network_prune")
    }

    async fn volume_create(&self, req: VolumeCreateRequest) -> Result<Volume> {
        self.rec("volume_create", json!([j(req)]));
        ans("volume_create")
    }

    async fn volume_list(&self, filters: Filters) -> Result<VolumeListResponse> {
        self.rec("volume_list", json!([j(filters)]));
        ans("volume_list")
    }

    async fn volume_inspect(&self, name: &str) -> Result<Volume> {
        self.rec("volume_inspect", json!([name]));
        ans("volume_inspect")
    }

    async fn volume_remove(&self, name: &str, force: bool) -> Result<()> {
        self.rec("volume_remove", json!([name, force]));
        Ok(())
    }

    async fn volume_prune(&self, filters: Filters) -> Result<VolumePruneResponse> {
        self.rec("volume_prune", json!([j(filters)]));
        ans("volume_prune")
    }
}
