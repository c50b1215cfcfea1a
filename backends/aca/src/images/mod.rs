//! Images: pull through registry mirrors, and the image store.
//!
//! Each function implements one `Backend` method of [`AcaBackend`]; the
//! trait impl in `backend.rs` only delegates here. Layers are never
//! downloaded: ACA pulls them when it runs a replica, so a pull reads the
//! manifest and config only and records them. [`resolve`] is what container
//! create/start use.
//!
//! - [`reference`]: Docker reference parsing and normalisation.
//! - [`mirrors`]: `registry_mirrors` and http vs https.
//! - [`stored`]: the image rows and lookups by name or ID.
//! - `pull`, `catalog` (inspect/list/tag/remove), `login`, `load`.

pub mod mirrors;
pub mod reference;
pub mod stored;

pub mod build;
mod catalog;
pub mod distribution;
pub mod filters;
pub mod import;
pub mod instructions;
mod load;
mod login;
pub mod prune;
pub mod publish;
pub(crate) mod pull;
pub mod push;
pub mod save;
pub mod source;

use sockerless_api::docker::{
    AuthConfig, AuthResponse, ImageConfig, ImageDeleteResponseItem, ImageInspect, ImageSummary,
};
use sockerless_api::{
    ByteStream, ListImagesOptions, ProgressStream, PullImageOptions, RemoveImageOptions, Result,
};

use crate::AcaBackend;
use reference::is_docker_hub;

/// An image resolved from the store (pulled earlier), ready for create/start.
#[derive(Debug, Clone)]
pub struct ResolvedImage {
    /// Normalised reference, e.g. `docker.io/library/busybox:latest`.
    pub reference: String,
    /// The image ID Docker shows: `sha256:<config digest>`.
    pub id: String,
    /// Manifest digest `sha256:...` (for RepoDigests), if known.
    pub digest: Option<String>,
    /// The image's config (Entrypoint, Cmd, Env, WorkingDir, User,
    /// ExposedPorts, Healthcheck, Labels, StopSignal, Volumes).
    pub config: ImageConfig,
    /// What ACA must pull: the reference with registry mirrors applied,
    /// e.g. `127.0.0.1:5000/library/busybox@sha256:...` (pinned by digest
    /// when known, else `...:tag`).
    pub pull_reference: String,
    /// Credentials ACA needs for that registry (from X-Registry-Auth at pull
    /// time, or config registry_username/password for registry_server), if any.
    pub registry_credential: Option<RegistryCredential>,
}

/// A registry login for ACA's `configuration.registries` (the password goes
/// into `configuration.secrets`). `Debug` redacts the password.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryCredential {
    /// Registry host, e.g. `myreg.azurecr.io` or `127.0.0.1:5000`.
    pub server: String,
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: String,
}

impl std::fmt::Debug for RegistryCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryCredential")
            .field("server", &self.server)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Looks an image up by what the user typed (`busybox`, `busybox:latest`,
/// `docker.io/library/busybox`, an ID or ID prefix `sha256:abc…`/`abc…`).
/// `NotFound` with Docker's message `No such image: busybox:latest` when
/// absent (the CLI then pulls and retries create). No registry call.
pub async fn resolve(backend: &AcaBackend, name: &str) -> Result<ResolvedImage> {
    let found = stored::find(backend, name).await?;
    Ok(resolved_from(backend, &found.entry))
}

fn resolved_from(backend: &AcaBackend, entry: &stored::ImageEntry) -> ResolvedImage {
    let image = &entry.image;
    let config = catalog::image_config(&image.config);
    let digest = (!entry.digest.is_empty()).then(|| entry.digest.clone());
    let pull_reference = match (&digest, &entry.reference.tag) {
        (Some(d), _) => format!("{}@{d}", image.source),
        (None, Some(tag)) => format!("{}:{tag}", image.source),
        (None, None) => image.source.clone(),
    };
    ResolvedImage {
        reference: entry.reference.canonical(),
        id: image.id.clone(),
        digest,
        config,
        pull_reference,
        registry_credential: credential_for(backend, entry),
    }
}

/// The login ACA needs for an image's source registry: the one given at pull
/// time, else the configured `registry_server` login when the image comes
/// from there. `None` for anonymous pulls (and for ACR with managed identity).
fn credential_for(backend: &AcaBackend, entry: &stored::ImageEntry) -> Option<RegistryCredential> {
    if let Some(c) = &entry.image.credential {
        return Some(RegistryCredential {
            server: c.server.clone(),
            username: c.username.clone(),
            password: c.password.clone(),
        });
    }
    let source_registry = entry.image.source.split('/').next().unwrap_or_default();
    configured_credential(backend, source_registry)
}

/// The configured login (`registry_server`, `registry_username`,
/// `registry_password`) when `reference` lives on that registry: what ACA
/// needs to pull an image we did not pull ourselves, such as the agent image.
pub fn configured_credential_for(
    backend: &AcaBackend,
    reference: &str,
) -> Option<RegistryCredential> {
    let registry = reference::ImageRef::parse_loose(reference).ok()?.registry;
    configured_credential(backend, &registry)
}

fn configured_credential(backend: &AcaBackend, registry: &str) -> Option<RegistryCredential> {
    let config = backend.config();
    let server = config.registry_server.as_deref()?;
    let same = registry == server || (is_docker_hub(registry) && is_docker_hub(server));
    match (&config.registry_username, &config.registry_password) {
        (Some(user), Some(password)) if same => Some(RegistryCredential {
            server: server.to_owned(),
            username: user.clone(),
            password: password.expose().to_owned(),
        }),
        _ => None,
    }
}

/// `Backend::auth`.
pub async fn auth(backend: &AcaBackend, config: AuthConfig) -> Result<AuthResponse> {
    login::auth(backend, config).await
}

/// `Backend::image_pull`.
pub async fn pull(
    backend: &AcaBackend,
    opts: PullImageOptions,
    auth: Option<AuthConfig>,
) -> Result<ProgressStream> {
    let reference = pull::requested_reference(&opts).map(|r| r.familiar());
    let progress = pull::pull(backend, opts, auth).await?;
    Ok(crate::events::actors::on_pulled(
        backend,
        reference.ok(),
        progress,
    ))
}

/// `Backend::image_inspect`.
pub async fn inspect(backend: &AcaBackend, name: &str) -> Result<ImageInspect> {
    catalog::inspect(backend, name).await
}

/// `Backend::image_list`.
pub async fn list(backend: &AcaBackend, opts: ListImagesOptions) -> Result<Vec<ImageSummary>> {
    catalog::list(backend, opts).await
}

/// `Backend::image_load`.
pub async fn load(
    backend: &AcaBackend,
    tarball: ByteStream,
    quiet: bool,
) -> Result<ProgressStream> {
    load::load(backend, tarball, quiet).await
}

/// `Backend::image_tag`.
pub async fn tag(backend: &AcaBackend, name: &str, repo: &str, tag: Option<&str>) -> Result<()> {
    catalog::tag(backend, name, repo, tag).await
}

/// `Backend::image_remove`.
pub async fn remove(
    backend: &AcaBackend,
    name: &str,
    opts: RemoveImageOptions,
) -> Result<Vec<ImageDeleteResponseItem>> {
    let id = stored::find(backend, name)
        .await
        .ok()
        .map(|f| f.entry.image.id);
    let items = catalog::remove(backend, name, opts).await?;
    crate::events::actors::image_removed(backend, id.as_deref(), &items);
    Ok(items)
}

#[cfg(test)]
mod tests;
