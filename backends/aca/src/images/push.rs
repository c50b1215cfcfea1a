//! `POST /images/{name}/push` (`docker push`): the image is copied from
//! where it is held (its source repository: `registry_server`, a mirror or
//! the registry it was pulled from) to the registry its name says, blob by
//! blob (a blob already there is skipped, one on the same registry
//! mounted, any other streamed through), then its manifest, unchanged, so
//! the digest pushed is the digest held. The destination's login is the
//! user's `X-Registry-Auth`, else the configured one (or ACR's token
//! exchange); plain http for loopback registries only, as for pulls.
//! Progress in dockerd's words, per layer as it goes.

use futures_util::stream;
use sockerless_api::docker::{AuthConfig, CreateImageInfo};
use sockerless_api::{ApiError, PushAux, PushProgress, PushStream, Result};
use sockerless_azure::registry::blobs::Copied;
use sockerless_azure::registry::{PullTarget, is_loopback_registry};
use tokio::sync::mpsc;

use super::pull::login_of;
use super::reference::{ImageRef, is_docker_hub};
use super::{source, stored};
use crate::AcaBackend;
use crate::errors::map_azure_error;

/// Progress lines queued towards the client.
const DEPTH: usize = 16;

fn line(status: impl Into<String>, id: Option<&str>) -> PushProgress {
    PushProgress {
        info: CreateImageInfo {
            status: Some(status.into()),
            id: id.map(str::to_owned),
            ..Default::default()
        },
        aux: None,
    }
}

/// The short ID dockerd shows for a layer.
fn short(digest: &str) -> String {
    digest
        .trim_start_matches("sha256:")
        .chars()
        .take(12)
        .collect()
}

/// What the user asked to push: the reference with its tag (pure).
pub fn wanted(name: &str, tag: Option<&str>) -> Result<ImageRef> {
    let mut reference = ImageRef::parse_loose(name)?;
    if reference.digest.is_some() {
        return Err(ApiError::InvalidParameter(
            "cannot push a digest reference".into(),
        ));
    }
    match tag.filter(|t| !t.is_empty()) {
        Some(t) => reference = reference.with_tag(t),
        None if reference.tag.is_none() => reference = reference.with_tag("latest"),
        None => {}
    }
    Ok(reference)
}

/// `Backend::image_push`.
pub async fn push(
    backend: &AcaBackend,
    name: &str,
    tag: Option<&str>,
    auth: Option<AuthConfig>,
) -> Result<PushStream> {
    let reference = wanted(name, tag)?;
    let entry = stored::find(backend, &reference.canonical())
        .await
        .map_err(|_| {
            ApiError::NotFound(format!(
                "An image does not exist locally with the tag: {}",
                reference.familiar_repository()
            ))
        })?
        .entry;
    let registry = if is_docker_hub(&reference.registry) {
        "registry-1.docker.io".to_owned()
    } else {
        reference.registry.clone()
    };
    let tag = reference.tag.clone().unwrap_or_else(|| "latest".to_owned());
    let dest = PullTarget {
        plain_http: is_loopback_registry(&registry),
        registry,
        repository: reference.path.clone(),
        tag: Some(tag.clone()),
        digest: None,
        mirrored: false,
    };
    let login = login_of(auth.as_ref());
    let from = source::open(backend, &entry).await?;
    let manifest = source::image_manifest(&from, &entry).await?;
    let layers = manifest.layers().map_err(map_azure_error)?;
    let config = manifest.config().map_err(map_azure_error)?;
    let to = backend
        .azure()
        .registry
        .open_repo(&dest, login.as_ref(), true)
        .await
        .map_err(map_azure_error)?;
    let (tx, rx) = mpsc::channel::<Result<PushProgress>>(DEPTH);
    let shown = reference.familiar_repository();
    let (events, pushed) = (backend.clone(), reference.familiar());
    tokio::spawn(async move {
        let work = async {
            let say = |p: PushProgress| {
                let tx = tx.clone();
                async move {
                    tx.send(Ok(p))
                        .await
                        .map_err(|_| ApiError::Unavailable("gone".into()))
                }
            };
            say(line(
                format!("The push refers to repository [{shown}]"),
                None,
            ))
            .await?;
            for layer in layers.iter().rev() {
                say(line("Preparing", Some(&short(&layer.digest)))).await?;
            }
            for layer in layers.iter().rev() {
                let id = short(&layer.digest);
                let done = match to.copy_blob(&from, layer).await.map_err(map_azure_error)? {
                    Copied::Existed => "Layer already exists".to_owned(),
                    Copied::Mounted => format!("Mounted from {}", from.repository()),
                    Copied::Pushed => "Pushed".to_owned(),
                };
                say(line(done, Some(&id))).await?;
            }
            to.copy_blob(&from, &config)
                .await
                .map_err(map_azure_error)?;
            let size = manifest.bytes.len() as i64;
            let digest = to
                .push_manifest(&tag, manifest.bytes.clone(), &manifest.media_type)
                .await
                .map_err(map_azure_error)?;
            crate::events::actors::image_push(&events, &pushed);
            say(line(format!("{tag}: digest: {digest} size: {size}"), None)).await?;
            say(PushProgress {
                info: CreateImageInfo::default(),
                aux: Some(PushAux {
                    tag: tag.clone(),
                    digest,
                    size,
                }),
            })
            .await
        };
        if let Err(e) = work.await {
            let _ = tx.send(Err(e)).await;
        }
    });
    Ok(Box::pin(stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_comes_from_the_query_or_the_name() {
        assert_eq!(
            wanted("busybox", None).expect("ok").familiar(),
            "busybox:latest"
        );
        assert_eq!(
            wanted("busybox", Some("1")).expect("ok").familiar(),
            "busybox:1"
        );
        assert_eq!(
            wanted("127.0.0.1:5000/x:1", None).expect("ok").canonical(),
            "127.0.0.1:5000/x:1"
        );
        assert!(
            wanted(
                "busybox@sha256:0000000000000000000000000000000000000000000000000000000000000000",
                None
            )
            .is_err()
        );
        assert_eq!(short("sha256:0123456789abcdef"), "0123456789ab");
    }
}
