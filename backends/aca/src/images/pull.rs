//! `POST /images/create`: pull through mirrors, with Docker's progress messages.
//!
//! The manifest and config are read before the stream starts, so a missing
//! image or a refused login is an HTTP error (as dockerd answers before any
//! progress is written). Layers are not downloaded (ACA pulls them when a
//! replica starts): each is reported `Pulling fs layer` (or `Already exists`
//! when another stored image has it) and then `Pull complete` once the record
//! is stored. A failure while storing ends the stream with an `Err` item.

use std::collections::HashSet;

use futures_util::StreamExt;
use futures_util::stream;
use sockerless_api::docker::{AuthConfig, CreateImageInfo, ProgressDetail};
use sockerless_api::{ApiError, ProgressStream, PullImageOptions, Result};
use sockerless_azure::registry::{
    Login, PlatformSpec, PullError, PullTarget, PulledImage, RefusalCode,
};

use super::mirrors::{self, Source};
use super::reference::{ImageRef, is_docker_hub};
use super::stored::{self, ImageEntry, StoredCredential, StoredImage};
use crate::AcaBackend;
use crate::errors::map_azure_error;

/// The reference `fromImage` + `tag` name (a `tag` that is a digest pins it).
pub fn requested_reference(opts: &PullImageOptions) -> Result<ImageRef> {
    let mut reference = ImageRef::parse_loose(&opts.from_image)?;
    if let Some(tag) = opts.tag.as_deref().filter(|t| !t.is_empty()) {
        let combined = if tag.contains(':') {
            format!("{}@{tag}", reference.repository())
        } else {
            format!("{}:{tag}", reference.repository())
        };
        if reference.tag.is_none() && reference.digest.is_none() {
            reference = ImageRef::parse_loose(&combined)?;
        } else if ImageRef::parse_loose(&combined)? != reference {
            return Err(ApiError::InvalidParameter(format!(
                "invalid reference format: {} already names a tag or digest, and tag {tag:?} differs",
                opts.from_image
            )));
        }
    }
    if reference.tag.is_none() && reference.digest.is_none() {
        reference.tag = Some(super::reference::DEFAULT_TAG.to_owned());
    }
    Ok(reference)
}

/// The user's login from `X-Registry-Auth`, when it carries one.
pub fn login_of(auth: Option<&AuthConfig>) -> Option<Login> {
    let auth = auth?;
    let username = auth.username.clone().filter(|u| !u.is_empty())?;
    let password = auth.password.clone().unwrap_or_default();
    Some(Login { username, password })
}

/// The repository ACA pulls: the mirror when one applies, else the image's
/// own registry (Docker Hub as `docker.io`).
pub fn aca_repository(reference: &ImageRef, source: &Source) -> String {
    if !source.mirrored && is_docker_hub(&reference.registry) {
        reference.repository()
    } else {
        source.repository()
    }
}

/// `Backend::image_pull`.
pub async fn pull(
    backend: &AcaBackend,
    opts: PullImageOptions,
    auth: Option<AuthConfig>,
) -> Result<ProgressStream> {
    let reference = requested_reference(&opts)?;
    let platform = requested_platform(opts.platform.as_deref())?;
    let source = mirrors::source(&backend.config().registry_mirrors, &reference);
    let target = target_from(&source, &reference);
    let login = login_of(auth.as_ref());
    tracing::info!(image = %reference, from = %target, "pulling image manifest and config");
    let pulled = backend
        .azure()
        .registry
        .pull_image(&target, login.as_ref(), platform.as_ref())
        .await
        .map_err(|e| pull_error(&reference, e))?;
    let existing = stored::all(backend).await?;
    let entry = entry_for(&reference, &source, &pulled, login.as_ref());
    let up_to_date = existing.iter().any(|e| {
        e.reference == entry.reference && e.digest == entry.digest && e.image.id == entry.image.id
    });
    let known_layers: HashSet<String> = existing
        .iter()
        .filter(|e| e.reference != entry.reference)
        .flat_map(|e| layer_digests(&e.image.config))
        .collect();
    let (before, after) = progress(&reference, &pulled, &known_layers, up_to_date);
    let backend = backend.clone();
    // The record is written after the first messages; a failure there is
    // the stream's last item (nothing is reported complete after it).
    let store_then_rest = stream::once(async move {
        let mut entry = entry;
        if let Some(old) = existing
            .iter()
            .find(|e| e.reference == entry.reference && e.image.id == entry.image.id)
        {
            entry.created_at = old.created_at;
        }
        match stored::put(&backend, &entry).await {
            Ok(()) => after.into_iter().map(Ok).collect::<Vec<_>>(),
            Err(e) => vec![Err(e)],
        }
    })
    .flat_map(stream::iter);
    let stream = stream::iter(before.into_iter().map(Ok)).chain(store_then_rest);
    Ok(Box::pin(stream))
}

/// dockerd's wording (moby `notFoundError`) for an image the registry
/// refused: a 404 naming what it lacks, "pull access denied" only when it
/// denied access.
fn pull_error(reference: &ImageRef, err: PullError) -> ApiError {
    match err {
        PullError::Refused { refusal, context } => {
            tracing::info!(image = %reference, error = %context, "the registry refused the pull");
            let cause = refusal.cause();
            ApiError::NotFound(match refusal.code {
                RefusalCode::ManifestUnknown => {
                    format!("manifest for {} not found: {cause}", reference.familiar())
                }
                RefusalCode::NameUnknown => format!(
                    "repository {} not found: {cause}",
                    reference.familiar_repository()
                ),
                RefusalCode::Denied => format!(
                    "pull access denied for {}, repository does not exist or may require 'docker login': {cause}",
                    reference.familiar_repository()
                ),
            })
        }
        // A 404 without one of the codes above (or no manifest for the
        // platform): still the manifest that is missing.
        PullError::Other(e) => match map_azure_error(e) {
            e if e.kind() == sockerless_api::ErrorKind::NotFound => ApiError::NotFound(format!(
                "manifest for {} not found: {}",
                reference.familiar(),
                e.message()
            )),
            other => other,
        },
    }
}

fn entry_for(
    reference: &ImageRef,
    source: &Source,
    pulled: &PulledImage,
    login: Option<&Login>,
) -> ImageEntry {
    let repository = aca_repository(reference, source);
    let credential = login
        .filter(|_| !source.mirrored)
        .map(|l| StoredCredential {
            server: repository.split('/').next().unwrap_or_default().to_owned(),
            username: l.username.clone(),
            password: l.password.clone(),
        });
    let now = crate::clock::now_nanos();
    ImageEntry {
        reference: reference.clone(),
        digest: pulled
            .list_digest
            .clone()
            .unwrap_or_else(|| pulled.digest.clone()),
        image: StoredImage {
            id: pulled.manifest.config.digest.clone(),
            config: pulled.config.clone(),
            size: pulled.manifest.layers.iter().map(|l| l.size.max(0)).sum(),
            source: repository,
            credential,
            pulled: true,
            tagged_at: now,
        },
        created_at: now,
    }
}

/// Layer identities of a stored config (its `rootfs.diff_ids`).
pub fn layer_digests(config: &serde_json::Value) -> Vec<String> {
    config
        .pointer("/rootfs/diff_ids")
        .and_then(|v| v.as_array())
        .map(|ids| {
            ids.iter()
                .filter_map(|d| d.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn message(status: impl Into<String>, id: Option<String>) -> CreateImageInfo {
    CreateImageInfo {
        id,
        status: Some(status.into()),
        progress_detail: None,
        error_detail: None,
    }
}

fn short(digest: &str) -> String {
    let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
    hex.chars().take(12).collect()
}

/// The messages before and after the record is stored, as dockerd words them.
fn progress(
    reference: &ImageRef,
    pulled: &PulledImage,
    known_layers: &HashSet<String>,
    up_to_date: bool,
) -> (Vec<CreateImageInfo>, Vec<CreateImageInfo>) {
    let id = reference
        .digest
        .clone()
        .or_else(|| reference.tag.clone())
        .unwrap_or_default();
    let mut before = vec![message(
        format!("Pulling from {}", reference.path),
        Some(id),
    )];
    let mut after = Vec::new();
    let diff_ids = layer_digests(&pulled.config);
    if !up_to_date {
        for (index, layer) in pulled.manifest.layers.iter().enumerate() {
            let layer_id = Some(short(&layer.digest));
            let known = diff_ids
                .get(index)
                .is_some_and(|d| known_layers.contains(d));
            if known {
                before.push(message("Already exists", layer_id));
            } else {
                let mut m = message("Pulling fs layer", layer_id.clone());
                m.progress_detail = Some(ProgressDetail::default());
                before.push(m);
                let mut done = message("Pull complete", layer_id);
                done.progress_detail = Some(ProgressDetail::default());
                after.push(done);
            }
        }
    }
    let digest = pulled.list_digest.as_deref().unwrap_or(&pulled.digest);
    after.push(message(format!("Digest: {digest}"), None));
    let status = if up_to_date {
        format!("Status: Image is up to date for {}", reference.familiar())
    } else {
        format!(
            "Status: Downloaded newer image for {}",
            reference.familiar()
        )
    };
    after.push(message(status, None));
    (before, after)
}

/// Where `reference` is read from: its registry or the mirror standing in for it.
pub(crate) fn target_for(backend: &AcaBackend, reference: &ImageRef) -> PullTarget {
    target_from(
        &mirrors::source(&backend.config().registry_mirrors, reference),
        reference,
    )
}

fn target_from(source: &mirrors::Source, reference: &ImageRef) -> PullTarget {
    PullTarget {
        registry: source.registry.clone(),
        repository: source.path.clone(),
        tag: reference.tag.clone(),
        digest: reference.digest.clone(),
        plain_http: source.plain_http,
        mirrored: source.mirrored,
    }
}

/// The `platform` query parameter of a pull or import (`os/arch[/variant]`;
/// empty or absent: none asked for).
pub(super) fn requested_platform(platform: Option<&str>) -> Result<Option<PlatformSpec>> {
    platform
        .filter(|p| !p.is_empty())
        .map(PlatformSpec::parse)
        .transpose()
        .map_err(map_azure_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(from: &str, tag: Option<&str>) -> PullImageOptions {
        PullImageOptions {
            from_image: from.to_owned(),
            tag: tag.map(str::to_owned),
            platform: None,
        }
    }

    #[test]
    fn from_image_and_tag_combine() {
        let r = requested_reference(&opts("busybox", Some("1.36"))).expect("ref");
        assert_eq!(r.canonical(), "docker.io/library/busybox:1.36");
        let r = requested_reference(&opts("busybox", None)).expect("ref");
        assert_eq!(r.canonical(), "docker.io/library/busybox:latest");
        let d = format!("sha256:{}", "a".repeat(64));
        let r = requested_reference(&opts("busybox", Some(&d))).expect("ref");
        assert_eq!(r.digest.as_deref(), Some(d.as_str()));
        assert!(r.tag.is_none());
        assert!(requested_reference(&opts("busybox:1", Some("2"))).is_err());
        assert!(requested_reference(&opts("busybox:1", Some("1"))).is_ok());
        assert!(requested_reference(&opts("BusyBox", None)).is_err());
    }

    /// dockerd's (20.10 … 27) messages, as `docker pull` / `docker run` print them.
    #[test]
    fn refusals_are_worded_as_dockerd_words_them() {
        use sockerless_azure::registry::Refusal;
        use sockerless_azure::{AzureError, ErrorKind};
        let refused = |code, message: &str| PullError::Refused {
            refusal: Refusal {
                code,
                message: message.to_owned(),
            },
            context: "aca: pull image …".to_owned(),
        };
        let local = requested_reference(&opts("127.0.0.1:5000/cf-missing", None)).expect("ref");
        assert_eq!(
            pull_error(
                &local,
                refused(RefusalCode::ManifestUnknown, "manifest unknown")
            ),
            ApiError::NotFound(
                "manifest for 127.0.0.1:5000/cf-missing:latest not found: manifest unknown: manifest unknown"
                    .into()
            )
        );
        let hub = requested_reference(&opts("nosuchuser/nosuchrepo", Some("v1"))).expect("ref");
        assert_eq!(
            pull_error(
                &hub,
                refused(
                    RefusalCode::Denied,
                    "requested access to the resource is denied"
                )
            ),
            ApiError::NotFound(
                "pull access denied for nosuchuser/nosuchrepo, repository does not exist or may require 'docker login': denied: requested access to the resource is denied"
                    .into()
            )
        );
        let official = requested_reference(&opts("busybox", None)).expect("ref");
        assert_eq!(
            pull_error(
                &official,
                refused(
                    RefusalCode::NameUnknown,
                    "repository name not known to registry"
                )
            ),
            ApiError::NotFound(
                "repository busybox not found: name unknown: repository name not known to registry"
                    .into()
            )
        );
        let digest = format!("sha256:{}", "a".repeat(64));
        let pinned = requested_reference(&opts("127.0.0.1:5000/x", Some(&digest))).expect("ref");
        assert_eq!(
            pull_error(
                &pinned,
                refused(RefusalCode::ManifestUnknown, "manifest unknown")
            ),
            ApiError::NotFound(format!(
                "manifest for 127.0.0.1:5000/x@{digest} not found: manifest unknown: manifest unknown"
            ))
        );
        // Other failures keep their kind; other 404s name the manifest.
        let other = PullError::Other(AzureError::new(
            ErrorKind::Unavailable,
            "registry went away",
        ));
        assert_eq!(
            pull_error(&local, other),
            ApiError::Unavailable("registry went away".into())
        );
        let other = PullError::Other(AzureError::new(ErrorKind::NotFound, "No such image: x"));
        assert_eq!(
            pull_error(&local, other),
            ApiError::NotFound(
                "manifest for 127.0.0.1:5000/cf-missing:latest not found: No such image: x".into()
            )
        );
    }

    #[test]
    fn empty_auth_is_no_login() {
        assert!(login_of(Some(&AuthConfig::default())).is_none());
        let auth = AuthConfig {
            username: Some("u".into()),
            password: Some("p".into()),
            serveraddress: None,
        };
        let login = login_of(Some(&auth)).expect("login");
        assert_eq!(login.password, "p");
    }
}
