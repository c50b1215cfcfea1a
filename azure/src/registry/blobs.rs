//! One repository at a registry, authenticated once, for copying images
//! blob by blob (`docker save`, `push`, `commit`, `import`): raw manifests
//! (their bytes kept, so digests survive a copy), blobs as streams (never
//! held in memory; verified against their digest by `oci-client`), cross-
//! repository mounts, and pushes of streams, small blobs and manifests.

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use oci_client::client::ClientConfig;
use oci_client::manifest::{
    IMAGE_MANIFEST_LIST_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE, OCI_IMAGE_INDEX_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE, OciDescriptor,
};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use sha2::{Digest, Sha256};

use super::{Login, PullTarget, RegistryClient, map_oci_error};
use crate::{AzureError, CallContext};

/// Manifest media types asked for: indexes and image manifests, OCI and Docker.
const MANIFEST_TYPES: &[&str] = &[
    OCI_IMAGE_INDEX_MEDIA_TYPE,
    IMAGE_MANIFEST_LIST_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE,
    IMAGE_MANIFEST_MEDIA_TYPE,
];

/// Largest manifest or config read into memory.
pub const MAX_SMALL_BLOB: usize = 4 << 20;

/// A manifest as the registry holds it.
#[derive(Debug, Clone)]
pub struct RawManifest {
    /// Its bytes, unchanged.
    pub bytes: Bytes,
    /// `sha256:` of the bytes.
    pub digest: String,
    /// Its media type (from its `mediaType`, else guessed from its shape).
    pub media_type: String,
    /// The parsed JSON.
    pub json: serde_json::Value,
}

impl RawManifest {
    /// Whether it is an index (manifest list).
    pub fn is_index(&self) -> bool {
        self.json.get("manifests").is_some()
    }

    /// The layers of an image manifest.
    pub fn layers(&self) -> Result<Vec<OciDescriptor>, AzureError> {
        let layers = self.json.get("layers").cloned().unwrap_or_default();
        serde_json::from_value(layers)
            .map_err(|e| AzureError::other(format!("manifest {}: layers: {e}", self.digest)))
    }

    /// The config descriptor of an image manifest.
    pub fn config(&self) -> Result<OciDescriptor, AzureError> {
        let config = self.json.get("config").cloned().unwrap_or_default();
        serde_json::from_value(config)
            .map_err(|e| AzureError::other(format!("manifest {}: config: {e}", self.digest)))
    }
}

/// Parses manifest bytes (pure).
pub fn parse_manifest(bytes: Bytes) -> Result<RawManifest, AzureError> {
    let json: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| AzureError::other(format!("the registry's manifest is not JSON: {e}")))?;
    let media_type = match json.get("mediaType").and_then(|m| m.as_str()) {
        Some(m) => m.to_owned(),
        None if json.get("manifests").is_some() => OCI_IMAGE_INDEX_MEDIA_TYPE.to_owned(),
        None => OCI_IMAGE_MEDIA_TYPE.to_owned(),
    };
    Ok(RawManifest {
        digest: format!("sha256:{:x}", Sha256::digest(&bytes)),
        bytes,
        media_type,
        json,
    })
}

/// How a blob got to the destination of a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Copied {
    /// It was there already.
    Existed,
    /// Mounted from another repository of the same registry.
    Mounted,
    /// Streamed across.
    Pushed,
}

/// A repository at a registry, with its client and login.
pub struct Repo {
    client: Client,
    auth: RegistryAuth,
    target: PullTarget,
    ctx: CallContext,
}

impl RegistryClient {
    /// Opens `target`'s repository for reading (or, with `push`, writing
    /// too), with `login` or the configured login / ACR token / anonymous.
    pub async fn open_repo(
        &self,
        target: &PullTarget,
        login: Option<&Login>,
        push: bool,
    ) -> Result<Repo, AzureError> {
        let (verb, role) = if push {
            ("push", "push access (AcrPush) to the registry")
        } else {
            ("read", "pull access to the registry")
        };
        let ctx = CallContext::new(format!("aca: {verb} {target}"), role.to_owned());
        let actions = if push { "pull,push" } else { "pull" };
        let auth = match login {
            Some(l) => RegistryAuth::Basic(l.username.clone(), l.password.clone()),
            None if target.mirrored && !push => RegistryAuth::Anonymous,
            None => {
                self.auth_for_actions(&ctx, &target.registry, &target.repository, actions)
                    .await?
            }
        };
        let client = Client::new(ClientConfig {
            protocol: target.protocol(),
            ..Default::default()
        });
        let repo = Repo {
            client,
            auth,
            target: target.clone(),
            ctx,
        };
        let op = if push {
            RegistryOperation::Push
        } else {
            RegistryOperation::Pull
        };
        repo.client
            .auth(&repo.reference(None), &repo.auth, op)
            .await
            .map_err(|e| repo.error(e))?;
        Ok(repo)
    }
}

impl Repo {
    /// The repository with `tag_or_digest`, else the target's own tag or digest.
    fn reference(&self, tag_or_digest: Option<&str>) -> Reference {
        let (registry, repository) = (self.target.registry.clone(), self.target.repository.clone());
        match tag_or_digest {
            Some(d) if d.starts_with("sha256:") => {
                Reference::with_digest(registry, repository, d.to_owned())
            }
            Some(t) => Reference::with_tag(registry, repository, t.to_owned()),
            None => self.target.oci_reference(),
        }
    }

    fn error(&self, e: oci_client::errors::OciDistributionError) -> AzureError {
        map_oci_error(&self.ctx, &self.target.to_string(), e)
    }

    /// The registry host.
    pub fn registry(&self) -> &str {
        &self.target.registry
    }

    /// The repository path.
    pub fn repository(&self) -> &str {
        &self.target.repository
    }

    /// The manifest at `tag_or_digest` (else the target's), as stored.
    pub async fn manifest(&self, tag_or_digest: Option<&str>) -> Result<RawManifest, AzureError> {
        let (bytes, _) = self
            .client
            .pull_manifest_raw(&self.reference(tag_or_digest), &self.auth, MANIFEST_TYPES)
            .await
            .map_err(|e| self.error(e))?;
        if bytes.len() > MAX_SMALL_BLOB {
            return Err(AzureError::other(format!(
                "{}: the manifest is larger than {MAX_SMALL_BLOB} bytes",
                self.ctx.operation
            )));
        }
        parse_manifest(bytes)
    }

    /// A blob as a stream of chunks (verified against its digest at its end).
    pub async fn blob_stream(
        &self,
        desc: &OciDescriptor,
    ) -> Result<impl Stream<Item = Result<Bytes, AzureError>> + Send + 'static, AzureError> {
        let stream = self
            .client
            .pull_blob_stream(&self.reference(None), desc)
            .await
            .map_err(|e| self.error(e))?;
        let what = format!("{}: blob {}", self.ctx.operation, desc.digest);
        Ok(stream.map(move |r| {
            r.map_err(|e| AzureError::unavailable(format!("{what}: {e}")).with_source(e))
        }))
    }

    /// A small blob (a config) read whole, at most [`MAX_SMALL_BLOB`].
    pub async fn small_blob(&self, desc: &OciDescriptor) -> Result<Bytes, AzureError> {
        if usize::try_from(desc.size).map_or(true, |s| s > MAX_SMALL_BLOB) {
            return Err(AzureError::other(format!(
                "{}: blob {} is larger than {MAX_SMALL_BLOB} bytes",
                self.ctx.operation, desc.digest
            )));
        }
        let mut stream = self.blob_stream(desc).await?;
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            if out.len() + chunk.len() > MAX_SMALL_BLOB {
                return Err(AzureError::other(format!(
                    "{}: blob {} is larger than it said",
                    self.ctx.operation, desc.digest
                )));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(out))
    }

    /// Whether the repository has the blob.
    pub async fn has_blob(&self, digest: &str) -> Result<bool, AzureError> {
        self.client
            .blob_exists(&self.reference(None), digest)
            .await
            .map_err(|e| self.error(e))
    }

    /// Pushes a stream of `size` bytes as the blob `digest`; an error of
    /// the stream ends the push with its text.
    pub async fn push_stream<S, E>(
        &self,
        stream: S,
        digest: &str,
        size: u64,
    ) -> Result<(), AzureError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: std::fmt::Display,
    {
        let stream = stream.map(|r| {
            r.map_err(|e| {
                oci_client::errors::OciDistributionError::GenericError(Some(e.to_string()))
            })
        });
        self.client
            .push_blob_stream(&self.reference(None), stream, digest, Some(size))
            .await
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    /// Pushes a small blob held in memory.
    pub async fn push_bytes(&self, data: Bytes) -> Result<String, AzureError> {
        let digest = format!("sha256:{:x}", Sha256::digest(&data));
        self.client
            .push_blob(&self.reference(None), data, &digest)
            .await
            .map_err(|e| self.error(e))?;
        Ok(digest)
    }

    /// Copies one blob from `from` unless already here: mounted when both
    /// are on one registry, else streamed through.
    pub async fn copy_blob(&self, from: &Repo, desc: &OciDescriptor) -> Result<Copied, AzureError> {
        if self.has_blob(&desc.digest).await? {
            return Ok(Copied::Existed);
        }
        if from.target.registry == self.target.registry
            && self
                .client
                .mount_blob(&self.reference(None), &from.reference(None), &desc.digest)
                .await
                .is_ok()
            && self.has_blob(&desc.digest).await.unwrap_or(false)
        {
            return Ok(Copied::Mounted);
        }
        let stream = from.blob_stream(desc).await?;
        let size = u64::try_from(desc.size).unwrap_or(0);
        self.push_stream(stream, &desc.digest, size).await?;
        Ok(Copied::Pushed)
    }

    /// Pushes manifest bytes under `tag`; returns their digest.
    pub async fn push_manifest(
        &self,
        tag: &str,
        bytes: Bytes,
        media_type: &str,
    ) -> Result<String, AzureError> {
        let digest = format!("sha256:{:x}", Sha256::digest(&bytes));
        let content_type = media_type.parse().map_err(|_| {
            AzureError::other(format!(
                "manifest media type {media_type:?} is not a header value"
            ))
        })?;
        self.client
            .push_manifest_raw(&self.reference(Some(tag)), bytes, content_type)
            .await
            .map_err(|e| self.error(e))?;
        Ok(digest)
    }
}
