//! `GET /distribution/{name}/json`: what the registry holds under a name,
//! as dockerd answers it: the manifest's (or index's) descriptor and the
//! platforms it serves (an index's entries, else the image config's).
//! Read where a pull would read (registry mirrors applied), with the
//! user's `X-Registry-Auth` or the configured login.

use serde_json::Value;
use sockerless_api::docker::{AuthConfig, DistributionInspect, OciDescriptor, OciPlatform};
use sockerless_api::{ApiError, Result};
use sockerless_azure::registry::blobs::RawManifest;

use super::pull::login_of;
use super::reference::ImageRef;
use crate::AcaBackend;
use crate::errors::map_azure_error;

fn platform_of(value: &Value) -> OciPlatform {
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
    OciPlatform {
        architecture: text("architecture"),
        os: text("os"),
        os_version: text("os.version"),
        os_features: value
            .get("os.features")
            .and_then(|f| serde_json::from_value(f.clone()).ok()),
        variant: text("variant"),
    }
}

/// The answer for a manifest and, for an image manifest, its config (pure).
pub fn inspect_of(manifest: &RawManifest, config: Option<&Value>) -> DistributionInspect {
    let platforms = if manifest.is_index() {
        manifest
            .json
            .get("manifests")
            .and_then(Value::as_array)
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|e| e.get("platform"))
                    .map(platform_of)
                    .collect()
            })
            .unwrap_or_default()
    } else {
        config.map(platform_of).into_iter().collect()
    };
    DistributionInspect {
        descriptor: OciDescriptor {
            media_type: Some(manifest.media_type.clone()),
            digest: Some(manifest.digest.clone()),
            size: Some(manifest.bytes.len() as i64),
            ..Default::default()
        },
        platforms,
    }
}

/// `Backend::distribution_inspect`.
pub async fn inspect(
    backend: &AcaBackend,
    name: &str,
    auth: Option<AuthConfig>,
) -> Result<DistributionInspect> {
    let reference = ImageRef::parse(name)?;
    let target = super::pull::target_for(backend, &reference);
    let login = login_of(auth.as_ref());
    let repo = backend
        .azure()
        .registry
        .open_repo(&target, login.as_ref(), false)
        .await
        .map_err(map_azure_error)?;
    let manifest = repo
        .manifest(None)
        .await
        .map_err(|e| match map_azure_error(e) {
            e if e.kind() == sockerless_api::ErrorKind::NotFound => ApiError::NotFound(format!(
                "manifest unknown: {} not found in the registry",
                reference.familiar()
            )),
            other => other,
        })?;
    let config =
        if manifest.is_index() {
            None
        } else {
            let bytes = repo
                .small_blob(&manifest.config().map_err(map_azure_error)?)
                .await
                .map_err(map_azure_error)?;
            Some(serde_json::from_slice::<Value>(&bytes).map_err(|e| {
                ApiError::Internal(format!("image config of {name} is not JSON: {e}"))
            })?)
        };
    Ok(inspect_of(&manifest, config.as_ref()))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use sockerless_azure::registry::blobs::parse_manifest;

    #[test]
    fn an_index_lists_its_platforms() {
        let index = parse_manifest(Bytes::from_static(
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
            {"digest":"sha256:a","size":1,"platform":{"architecture":"amd64","os":"linux"}},
            {"digest":"sha256:b","size":1,"platform":{"architecture":"arm64","os":"linux","variant":"v8"}}]}"#,
        ))
        .expect("index");
        let answer = inspect_of(&index, None);
        assert_eq!(
            answer.descriptor.media_type.as_deref(),
            Some("application/vnd.oci.image.index.v1+json")
        );
        assert_eq!(
            answer.descriptor.digest.as_deref(),
            Some(index.digest.as_str())
        );
        assert_eq!(answer.descriptor.size, Some(index.bytes.len() as i64));
        assert_eq!(answer.platforms.len(), 2);
        assert_eq!(answer.platforms[1].variant.as_deref(), Some("v8"));
    }

    #[test]
    fn an_image_manifest_has_its_configs_platform() {
        let manifest = parse_manifest(Bytes::from_static(
            br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{},"layers":[]}"#,
        ))
        .expect("manifest");
        let config = serde_json::json!({"architecture": "amd64", "os": "linux"});
        let answer = inspect_of(&manifest, Some(&config));
        assert_eq!(answer.platforms.len(), 1);
        assert_eq!(answer.platforms[0].os.as_deref(), Some("linux"));
        assert_eq!(
            answer.descriptor.media_type.as_deref(),
            Some("application/vnd.docker.distribution.manifest.v2+json")
        );
    }
}
