//! Request options and stream types of the internal API.
//!
//! Docker's data model itself (container configs, inspect results, …) is not
//! written here: it is `bollard-stubs`, generated from Docker's swagger and
//! re-exported as [`crate::docker`]. What lives here are the options Docker
//! passes as query parameters (already parsed and validated by the frontend)
//! and the shapes of streams.

use std::collections::HashMap;
use std::pin::Pin;

use bytes::Bytes;
use futures_core::Stream;
use serde::{Deserialize, Serialize};

use crate::ApiError;
use crate::docker::{ContainerCreateBody, CreateImageInfo};

/// Docker filters, normalised: filter name → accepted values.
pub type Filters = HashMap<String, Vec<String>>;

/// `POST /containers/create`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateContainerRequest {
    /// `name` query parameter (without a leading `/`), generated when absent.
    pub name: Option<String>,
    /// `platform` query parameter, e.g. `linux/amd64`.
    pub platform: Option<String>,
    /// The JSON body: container config plus `HostConfig` and `NetworkingConfig`.
    pub config: ContainerCreateBody,
}

/// `GET /containers/json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListContainersOptions {
    /// Include stopped containers.
    pub all: bool,
    /// Return at most this many, newest first.
    pub limit: Option<usize>,
    /// Compute `SizeRw` / `SizeRootFs`.
    pub size: bool,
    /// Docker's filters (`label`, `name`, `id`, `status`, `ancestor`, …).
    pub filters: Filters,
}

/// `GET /containers/{id}/logs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogsOptions {
    /// Keep the stream open and send new output as it comes.
    pub follow: bool,
    /// Include stdout.
    pub stdout: bool,
    /// Include stderr.
    pub stderr: bool,
    /// Only output at or after this time, in nanoseconds since the Unix epoch.
    pub since_nanos: Option<i64>,
    /// Only output before this time, in nanoseconds since the Unix epoch.
    pub until_nanos: Option<i64>,
    /// Prefix every line with its RFC 3339 timestamp.
    pub timestamps: bool,
    /// Only the last N lines; `None` for all.
    pub tail: Option<u64>,
}

/// `POST /containers/{id}/attach`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachOptions {
    /// Stream output as it is produced (otherwise only `logs`).
    pub stream: bool,
    /// Send the previous output first.
    pub logs: bool,
    /// Attach stdin.
    pub stdin: bool,
    /// Attach stdout.
    pub stdout: bool,
    /// Attach stderr.
    pub stderr: bool,
    /// Detach key sequence (e.g. `ctrl-p,ctrl-q`).
    pub detach_keys: Option<String>,
}

/// `POST /containers/{id}/stop` and `/restart`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopOptions {
    /// Signal to send first; the container's `StopSignal` when absent.
    pub signal: Option<String>,
    /// Seconds to wait before killing; the container's `StopTimeout` (or 10) when absent.
    pub timeout_secs: Option<i64>,
}

/// `DELETE /containers/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveContainerOptions {
    /// Kill a running container first.
    pub force: bool,
    /// Also remove anonymous volumes.
    pub volumes: bool,
    /// Remove a link only.
    pub link: bool,
}

/// `POST /containers/{id}/wait?condition=`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaitCondition {
    /// Return when the container is not running (at once if it is not).
    #[default]
    NotRunning,
    /// Return at the next exit.
    NextExit,
    /// Return when the container is removed.
    Removed,
}

/// `GET /images/json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListImagesOptions {
    /// Include intermediate images.
    pub all: bool,
    /// Include digests.
    pub digests: bool,
    /// Docker's filters (`reference`, `label`, `dangling`, …).
    pub filters: Filters,
}

/// `POST /images/create` (pull).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullImageOptions {
    /// `fromImage`: the image reference, possibly with tag or digest.
    pub from_image: String,
    /// `tag`: tag or digest, when not part of `from_image`.
    pub tag: Option<String>,
    /// `platform`, e.g. `linux/amd64`.
    pub platform: Option<String>,
}

/// `DELETE /images/{name}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveImageOptions {
    /// Remove even if in use or tagged several times.
    pub force: bool,
    /// Keep untagged parents.
    pub noprune: bool,
}

/// Which of a process's streams a chunk of output belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum StreamKind {
    /// Standard input (echoed back in TTY mode only).
    Stdin = 0,
    /// Standard output; everything, in TTY mode.
    Stdout = 1,
    /// Standard error.
    Stderr = 2,
}

impl StreamKind {
    /// The stream byte of Docker's multiplexed framing.
    pub fn as_byte(self) -> u8 {
        self as u8
    }

    /// Parses Docker's stream byte.
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(StreamKind::Stdin),
            1 => Some(StreamKind::Stdout),
            2 => Some(StreamKind::Stderr),
            _ => None,
        }
    }
}

/// A chunk of a process's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputChunk {
    /// Which stream.
    pub stream: StreamKind,
    /// The bytes, as the process wrote them (with a timestamp prefix when asked for).
    pub data: Bytes,
}

/// Output of a container or exec; ends when the process (or the request) ends.
pub type OutputStream = Pin<Box<dyn Stream<Item = Result<OutputChunk, ApiError>> + Send>>;

/// Bytes going into a process's stdin; the end of the stream closes stdin.
pub type InputStream = Pin<Box<dyn Stream<Item = Bytes> + Send>>;

/// A stream of raw bytes (image tarballs, archives).
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, ApiError>> + Send>>;

/// Docker's JSON progress messages of a pull or load.
pub type ProgressStream = Pin<Box<dyn Stream<Item = Result<CreateImageInfo, ApiError>> + Send>>;

/// `GET /containers/{id}/stats`: dockerd's stats documents (kept as JSON
/// values so every key dockerd writes, and only those, goes through).
pub type StatsStream = Pin<Box<dyn Stream<Item = Result<serde_json::Value, ApiError>> + Send>>;

/// Output of `attach`, `logs` or `exec start`, and whether it came from a TTY.
///
/// With `tty` the frontend writes bytes raw; otherwise it frames them with
/// Docker's 8-byte multiplexed headers.
pub struct AttachedOutput {
    /// Whether the process has a TTY.
    pub tty: bool,
    /// The output.
    pub output: OutputStream,
}

impl std::fmt::Debug for AttachedOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachedOutput")
            .field("tty", &self.tty)
            .finish_non_exhaustive()
    }
}

/// `GET /containers/{id}/archive` (HEAD): Docker's `X-Docker-Container-Path-Stat`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathStat {
    /// Base name.
    pub name: String,
    /// Size in bytes.
    pub size: i64,
    /// Go `os.FileMode` bits.
    pub mode: u32,
    /// RFC 3339 modification time.
    pub mtime: String,
    /// Symlink target, empty if not a link.
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

/// `POST /images/create?fromSrc=-` (`docker import`): where the imported
/// image goes and what its config says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportImageOptions {
    /// `repo`: repository (possibly with a tag) to tag the image with.
    pub repo: Option<String>,
    /// `tag`: tag, when not part of `repo`.
    pub tag: Option<String>,
    /// `changes`: Dockerfile instructions applied to the config.
    pub changes: Vec<String>,
    /// `message`: the history entry's comment.
    pub message: Option<String>,
    /// `platform`, e.g. `linux/amd64`.
    pub platform: Option<String>,
}

/// `POST /commit`: the container, the new image's name and config.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CommitOptions {
    /// `container`: ID or name.
    pub container: String,
    /// `repo`: repository (possibly with a tag); none makes a dangling image.
    pub repo: Option<String>,
    /// `tag`, when not part of `repo`.
    pub tag: Option<String>,
    /// `comment`: the history entry's comment.
    pub comment: Option<String>,
    /// `author`.
    pub author: Option<String>,
    /// `pause`: pause the container while its changes are read.
    pub pause: bool,
    /// `changes`: Dockerfile instructions applied to the config.
    pub changes: Vec<String>,
    /// The body: config fields overriding the container's.
    pub config: Option<crate::docker::ContainerConfig>,
}

/// `aux` of `docker push`'s last progress line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PushAux {
    /// The tag pushed.
    pub tag: String,
    /// The manifest digest at the registry.
    pub digest: String,
    /// The manifest's size in bytes.
    pub size: i64,
}

/// One line of `docker push`'s progress: Docker's JSON message, and `aux`
/// on the line naming the pushed digest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PushProgress {
    /// `status`, `id`, `progressDetail`, `errorDetail`.
    #[serde(flatten)]
    pub info: CreateImageInfo,
    /// The pushed manifest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aux: Option<PushAux>,
}

/// The progress of a push.
pub type PushStream = Pin<Box<dyn Stream<Item = Result<PushProgress, ApiError>> + Send>>;
