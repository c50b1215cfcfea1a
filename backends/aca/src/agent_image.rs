//! The agent image: the static `sockerless-agent` binary alone, at
//! `/sockerless-agent` (mode 0755) on an empty base, with entrypoint
//! `["/sockerless-agent"]`. Every job's init container runs it with
//! `--install /.sockerless` to copy the agent into a shared EmptyDir.
//!
//! The image is built in memory (one gzip layer, an OCI config and an OCI
//! manifest) and pushed with `oci-client`. The build is reproducible: the same
//! binary always gives the same digests (tar mtime 0, uid/gid 0, gzip without
//! timestamp, fixed `created`), so re-pushing an unchanged agent is a no-op.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use axum::http::HeaderValue;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::manifest::{
    IMAGE_CONFIG_MEDIA_TYPE, IMAGE_LAYER_GZIP_MEDIA_TYPE, OCI_IMAGE_MEDIA_TYPE, OciDescriptor,
    OciImageManifest,
};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::SecretString;

/// Where the agent lives inside the image (and the image's entrypoint).
pub const AGENT_PATH_IN_IMAGE: &str = "/sockerless-agent";
/// Repository the agent image is pushed to by default.
pub const DEFAULT_REPOSITORY: &str = "sockerless/agent";
/// Tag the agent image is pushed with by default: this crate's version.
pub const DEFAULT_TAG: &str = env!("CARGO_PKG_VERSION");

/// Why the agent image could not be built or pushed.
#[derive(Debug, thiserror::Error)]
pub enum AgentImageError {
    /// The agent binary cannot be read.
    #[error("cannot read the agent binary {path}: {source}")]
    ReadBinary {
        /// The path given.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The agent binary is empty (a failed build, most likely).
    #[error("the agent binary {0} is empty")]
    EmptyBinary(PathBuf),
    /// Writing the layer in memory failed.
    #[error("cannot build the agent image layer: {0}")]
    Layer(#[from] std::io::Error),
    /// Registry, repository or tag do not form a valid image reference.
    #[error("invalid image reference {reference:?}: {message}")]
    Reference {
        /// The reference built from the target.
        reference: String,
        /// What is wrong with it.
        message: String,
    },
    /// The registry refused or failed a request.
    #[error("pushing the agent image to {reference} failed: {message}")]
    Push {
        /// Where it was pushed.
        reference: String,
        /// The registry's answer.
        message: String,
    },
}

/// The agent image, built in memory.
#[derive(Clone)]
pub struct AgentImage {
    layer: Vec<u8>,
    diff_id: String,
    config: Vec<u8>,
    manifest: Vec<u8>,
}

impl std::fmt::Debug for AgentImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentImage")
            .field("manifest_digest", &self.manifest_digest())
            .field("layer_size", &self.layer.len())
            .finish()
    }
}

/// Where to push the agent image.
#[derive(Debug, Clone)]
pub struct PushTarget {
    /// Registry `host[:port]`, e.g. `127.0.0.1:5000` or `myreg.azurecr.io`.
    pub registry: String,
    /// Repository, e.g. [`DEFAULT_REPOSITORY`].
    pub repository: String,
    /// Tag, e.g. [`DEFAULT_TAG`].
    pub tag: String,
    /// Basic-auth user name and password, if the registry needs them.
    pub credentials: Option<(String, SecretString)>,
}

impl PushTarget {
    /// `registry/repository:tag`, anonymous.
    pub fn new(
        registry: impl Into<String>,
        repository: impl Into<String>,
        tag: impl Into<String>,
    ) -> Self {
        Self {
            registry: registry.into(),
            repository: repository.into(),
            tag: tag.into(),
            credentials: None,
        }
    }

    /// `registry/repository:tag`.
    pub fn tagged_reference(&self) -> String {
        format!("{}/{}:{}", self.registry, self.repository, self.tag)
    }

    /// Plain http for loopback registries (a local test registry or the
    /// emulator's), https for everything else.
    pub fn uses_plain_http(&self) -> bool {
        is_loopback_host(&self.registry)
    }
}

/// The image as pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedImage {
    /// `registry/repository@sha256:...`: pinned by digest, what a job
    /// template should use (`repo:tag@digest` is not understood everywhere).
    pub reference: String,
    /// `registry/repository:tag`.
    pub tagged: String,
    /// The manifest digest `sha256:...`.
    pub digest: String,
}

/// `sha256:<hex>` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    let hash = Sha256::digest(data);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in hash {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// Whether a registry `host[:port]` is on loopback (`127.0.0.0/8`, `::1`, `localhost`).
pub fn is_loopback_host(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        registry.rsplit_once(':').map_or(registry, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The image's creation time: the epoch, so the same agent binary always
/// gives the same image ID.
const EPOCH: &str = "1970-01-01T00:00:00Z";

/// The OCI image config of the agent image. Typed here rather than
/// `oci_client::config::ConfigFile`, whose labels are a `HashMap`: their
/// order, and so the image's digest, would change from one build to the next.
#[derive(Serialize)]
struct ImageConfig<'a> {
    created: &'a str,
    architecture: &'a str,
    os: &'a str,
    config: RunConfig<'a>,
    rootfs: Rootfs<'a>,
    history: [History<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RunConfig<'a> {
    entrypoint: [&'a str; 1],
    labels: BTreeMap<&'a str, &'a str>,
}

#[derive(Serialize)]
struct Rootfs<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    diff_ids: [&'a str; 1],
}

#[derive(Serialize)]
struct History<'a> {
    created: &'a str,
    created_by: &'a str,
}

impl AgentImage {
    /// Builds the image around the agent binary at `path`.
    pub fn from_file(path: &Path) -> Result<Self, AgentImageError> {
        let binary = std::fs::read(path).map_err(|source| AgentImageError::ReadBinary {
            path: path.to_owned(),
            source,
        })?;
        if binary.is_empty() {
            return Err(AgentImageError::EmptyBinary(path.to_owned()));
        }
        Self::build(&binary)
    }

    /// Builds the image around `agent` (the static binary's bytes).
    pub fn build(agent: &[u8]) -> Result<Self, AgentImageError> {
        let tar = layer_tar(agent)?;
        let diff_id = sha256_digest(&tar);
        let mut gz = flate2::write::GzEncoder::new(
            Vec::with_capacity(agent.len() / 2),
            flate2::Compression::default(),
        );
        gz.write_all(&tar)?;
        let layer = gz.finish()?;
        let config = serde_json::to_vec(&ImageConfig {
            created: EPOCH,
            architecture: "amd64",
            os: "linux",
            config: RunConfig {
                entrypoint: [AGENT_PATH_IN_IMAGE],
                labels: BTreeMap::from([
                    ("org.opencontainers.image.title", "sockerless-agent"),
                    ("org.opencontainers.image.version", DEFAULT_TAG),
                ]),
            },
            rootfs: Rootfs {
                kind: "layers",
                diff_ids: [diff_id.as_str()],
            },
            history: [History {
                created: EPOCH,
                created_by: "sockerless agent image: static sockerless-agent on an empty base",
            }],
        })
        .map_err(std::io::Error::other)?;
        let descriptor = |media_type: &str, blob: &[u8]| OciDescriptor {
            media_type: media_type.to_owned(),
            digest: sha256_digest(blob),
            size: i64::try_from(blob.len()).unwrap_or(i64::MAX),
            urls: None,
            artifact_type: None,
            annotations: None,
        };
        let manifest = serde_json::to_vec(&OciImageManifest {
            schema_version: 2,
            media_type: Some(OCI_IMAGE_MEDIA_TYPE.to_owned()),
            config: descriptor(IMAGE_CONFIG_MEDIA_TYPE, &config),
            layers: vec![descriptor(IMAGE_LAYER_GZIP_MEDIA_TYPE, &layer)],
            subject: None,
            artifact_type: None,
            annotations: None,
        })
        .map_err(std::io::Error::other)?;
        Ok(Self {
            layer,
            diff_id,
            config,
            manifest,
        })
    }

    /// The gzip-compressed layer.
    pub fn layer(&self) -> &[u8] {
        &self.layer
    }

    /// Digest of the compressed layer (the blob).
    pub fn layer_digest(&self) -> String {
        sha256_digest(&self.layer)
    }

    /// Digest of the uncompressed layer tar (the config's `rootfs.diff_ids`).
    pub fn diff_id(&self) -> &str {
        &self.diff_id
    }

    /// The OCI image config JSON.
    pub fn config_json(&self) -> &[u8] {
        &self.config
    }

    /// Digest of the config: the image ID Docker shows.
    pub fn config_digest(&self) -> String {
        sha256_digest(&self.config)
    }

    /// The OCI image manifest JSON, exactly as pushed.
    pub fn manifest_json(&self) -> &[u8] {
        &self.manifest
    }

    /// Digest of the manifest: what the pushed reference is pinned to.
    pub fn manifest_digest(&self) -> String {
        sha256_digest(&self.manifest)
    }

    /// Pushes layer, config and manifest to `target` and returns the pinned
    /// reference. Blobs the registry already has are uploaded again only if
    /// the registry asks for them (the push is idempotent).
    pub async fn push(&self, target: &PushTarget) -> Result<PushedImage, AgentImageError> {
        let tagged = target.tagged_reference();
        let reference: Reference =
            tagged
                .parse()
                .map_err(|e: oci_client::ParseError| AgentImageError::Reference {
                    reference: tagged.clone(),
                    message: e.to_string(),
                })?;
        let push_error = |e: oci_client::errors::OciDistributionError| AgentImageError::Push {
            reference: tagged.clone(),
            message: e.to_string(),
        };
        let client = registry_client(target);
        let auth = registry_auth(target);
        client
            .auth(&reference, &auth, RegistryOperation::Push)
            .await
            .map_err(push_error)?;
        client
            .push_blob(&reference, self.layer.clone(), &self.layer_digest())
            .await
            .map_err(push_error)?;
        client
            .push_blob(&reference, self.config.clone(), &self.config_digest())
            .await
            .map_err(push_error)?;
        client
            .push_manifest_raw(
                &reference,
                self.manifest.clone(),
                HeaderValue::from_static(OCI_IMAGE_MEDIA_TYPE),
            )
            .await
            .map_err(push_error)?;
        let digest = self.manifest_digest();
        tracing::info!(reference = %tagged, %digest, "pushed the agent image");
        Ok(PushedImage {
            reference: format!("{}/{}@{digest}", target.registry, target.repository),
            tagged,
            digest,
        })
    }
}

/// An `oci-client` for `target`: plain http on loopback.
pub fn registry_client(target: &PushTarget) -> Client {
    let protocol = if target.uses_plain_http() {
        ClientProtocol::Http
    } else {
        ClientProtocol::Https
    };
    Client::new(ClientConfig {
        protocol,
        ..Default::default()
    })
}

/// Basic auth when `target` has credentials, anonymous otherwise.
pub fn registry_auth(target: &PushTarget) -> RegistryAuth {
    match &target.credentials {
        Some((user, password)) => RegistryAuth::Basic(user.clone(), password.expose().to_owned()),
        None => RegistryAuth::Anonymous,
    }
}

/// A tar holding only `sockerless-agent` (0755, root, mtime 0).
fn layer_tar(agent: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::with_capacity(agent.len() + 2048));
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(agent.len() as u64);
    header.set_mode(0o755);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    let name = AGENT_PATH_IN_IMAGE.trim_start_matches('/');
    builder.append_data(&mut header, name, agent)?;
    builder.into_inner()
}

#[cfg(test)]
mod tests;
