//! `POST /build` (the classic builder's API): what the client asked for and
//! the progress it is answered with.

use std::collections::BTreeMap;
use std::pin::Pin;

use futures_core::Stream;
use serde::{Deserialize, Serialize};

use crate::ApiError;
use crate::docker::{AuthConfig, ErrorDetail, ImageId};

/// `POST /build`'s query and `X-Registry-Config`, as the backend needs them.
/// The build context is the request body, passed apart as a stream.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BuildImageOptions {
    /// `t`: every name the image gets (`repo[:tag]`); none leaves it unnamed.
    pub tags: Vec<String>,
    /// `dockerfile`: the Dockerfile's path inside the context.
    pub dockerfile: String,
    /// `buildargs`: `ARG` values (a value of `null` takes it from the
    /// environment in dockerd; it is refused before reaching a backend).
    pub build_args: BTreeMap<String, String>,
    /// `target`: the stage to build.
    pub target: Option<String>,
    /// `labels`: set on the image.
    pub labels: BTreeMap<String, String>,
    /// `nocache`.
    pub no_cache: bool,
    /// `q`: only the image ID is printed.
    pub quiet: bool,
    /// `platform`, e.g. `linux/amd64`.
    pub platform: Option<String>,
    /// `pull`: pull base images even when present.
    pub pull: bool,
    /// `X-Registry-Config`: logins for the base images' registries, by
    /// server.
    pub registry_config: BTreeMap<String, AuthConfig>,
}

impl std::fmt::Debug for BuildImageOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The registry logins' passwords stay out of every log.
        f.debug_struct("BuildImageOptions")
            .field("tags", &self.tags)
            .field("dockerfile", &self.dockerfile)
            .field("build_args", &self.build_args.keys().collect::<Vec<_>>())
            .field("target", &self.target)
            .field("labels", &self.labels)
            .field("no_cache", &self.no_cache)
            .field("quiet", &self.quiet)
            .field("platform", &self.platform)
            .field("pull", &self.pull)
            .field(
                "registry_config",
                &self.registry_config.keys().collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// One of a build's progress messages, as Docker's JSON message has them
/// (`BuildInfo` in the swagger): builder output, the image ID at the end,
/// or the error that ended the build.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BuildProgress {
    /// Builder output (`Step 1/4 : FROM busybox\n`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// The built image's ID, sent once it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aux: Option<ImageId>,
    /// Why the build failed (the builder's message and, for a failing
    /// `RUN`, its exit code).
    #[serde(
        rename = "errorDetail",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub error_detail: Option<ErrorDetail>,
}

impl BuildProgress {
    /// A line of builder output (`line` ends with its newline).
    pub fn line(line: impl Into<String>) -> Self {
        Self {
            stream: Some(line.into()),
            ..Self::default()
        }
    }

    /// The image ID message.
    pub fn image_id(id: impl Into<String>) -> Self {
        Self {
            aux: Some(ImageId {
                id: Some(id.into()),
            }),
            ..Self::default()
        }
    }

    /// The error that ends a build.
    pub fn failed(message: impl Into<String>, code: Option<i64>) -> Self {
        Self {
            error_detail: Some(ErrorDetail {
                code,
                message: Some(message.into()),
            }),
            ..Self::default()
        }
    }
}

/// A build's progress.
pub type BuildStream = Pin<Box<dyn Stream<Item = Result<BuildProgress, ApiError>> + Send>>;
