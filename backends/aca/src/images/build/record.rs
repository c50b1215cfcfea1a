//! A built image recorded: its manifest and config read back from
//! `registry_server` where ACR Tasks pushed it, `--label`s set in its config
//! (ACR Tasks has no such option: a new config and manifest over the same
//! layers, pushed to every name), and each name recorded so that `images`,
//! `inspect`, `tag` and `run` see it.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sockerless_api::{ApiError, Result};
use sockerless_azure::acr_tasks::OutputImage;
use sockerless_azure::registry::blobs::RawManifest;

use super::plan::Destination;
use crate::AcaBackend;
use crate::errors::map_azure_error;
use crate::images::publish::{OwnImage, own_target};

/// `labels` merged into the image config's `config.Labels` (pure).
pub fn with_labels(mut config: Value, labels: &BTreeMap<String, String>) -> Value {
    if labels.is_empty() {
        return config;
    }
    let Some(image) = config.as_object_mut() else {
        return config;
    };
    let inner = image
        .entry("config")
        .or_insert_with(|| Value::Object(Default::default()));
    if !inner.is_object() {
        *inner = Value::Object(Default::default());
    }
    if let Some(inner) = inner.as_object_mut() {
        let slot = inner
            .entry("Labels")
            .or_insert_with(|| Value::Object(Default::default()));
        if !slot.is_object() {
            *slot = Value::Object(Default::default());
        }
        if let Some(map) = slot.as_object_mut() {
            for (k, v) in labels {
                map.insert(k.clone(), Value::from(v.clone()));
            }
        }
    }
    config
}

/// The manifest pointing at a new config, everything else unchanged (pure).
pub fn with_config(manifest: &RawManifest, config: &Bytes) -> Result<Bytes> {
    let mut json = manifest.json.clone();
    let Some(descriptor) = json.get_mut("config").and_then(Value::as_object_mut) else {
        return Err(ApiError::Internal(format!(
            "built manifest {} has no config",
            manifest.digest
        )));
    };
    descriptor.insert(
        "digest".to_owned(),
        Value::from(format!("sha256:{:x}", Sha256::digest(config))),
    );
    descriptor.insert("size".to_owned(), Value::from(config.len()));
    serde_json::to_vec(&json)
        .map(Bytes::from)
        .map_err(|e| ApiError::Internal(format!("manifest: {e}")))
}

/// Records the image ACR Tasks pushed to `destinations` (with `labels`
/// set); returns its ID.
pub async fn record_built(
    backend: &AcaBackend,
    server: &str,
    destinations: &[Destination],
    outputs: &[OutputImage],
    labels: &BTreeMap<String, String>,
) -> Result<String> {
    let Some(first) = destinations.first() else {
        return Err(ApiError::Internal("a build without a destination".into()));
    };
    let pushed = outputs
        .iter()
        .find(|o| o.repository == first.path && o.tag == first.tag && !o.digest.is_empty())
        .map(|o| o.digest.clone());
    let registry = &backend.azure().registry;
    let target = own_target(server, &first.path, &first.tag);
    let repo = registry
        .open_repo(&target, None, false)
        .await
        .map_err(map_azure_error)?;
    let manifest = repo
        .manifest(Some(pushed.as_deref().unwrap_or(&first.tag)))
        .await
        .map_err(map_azure_error)?;
    if manifest.is_index() {
        return Err(ApiError::Internal(format!(
            "ACR Tasks pushed an index for {}: a build is for one platform",
            first.image_name()
        )));
    }
    let layers = manifest.layers().map_err(map_azure_error)?;
    let config_desc = manifest.config().map_err(map_azure_error)?;
    let config_bytes = repo
        .small_blob(&config_desc)
        .await
        .map_err(map_azure_error)?;
    let config: Value = serde_json::from_slice(&config_bytes)
        .map_err(|e| ApiError::Internal(format!("built image config: {e}")))?;
    let config = with_labels(config, labels);
    let (config_bytes, relabelled) = if labels.is_empty() {
        (config_bytes, None)
    } else {
        let bytes = Bytes::from(
            serde_json::to_vec(&config).map_err(|e| ApiError::Internal(format!("config: {e}")))?,
        );
        let manifest_bytes = with_config(&manifest, &bytes)?;
        (bytes, Some(manifest_bytes))
    };
    let id = format!("sha256:{:x}", Sha256::digest(&config_bytes));
    let size = layers.iter().map(|l| l.size).sum();
    let now = crate::clock::now_nanos();
    for dest in destinations {
        let digest = match &relabelled {
            None => outputs
                .iter()
                .find(|o| o.repository == dest.path && o.tag == dest.tag && !o.digest.is_empty())
                .map_or_else(|| manifest.digest.clone(), |o| o.digest.clone()),
            Some(bytes) => {
                let target = own_target(server, &dest.path, &dest.tag);
                let dest_repo = registry
                    .open_repo(&target, None, true)
                    .await
                    .map_err(map_azure_error)?;
                dest_repo
                    .push_bytes(config_bytes.clone())
                    .await
                    .map_err(map_azure_error)?;
                dest_repo
                    .push_manifest(&dest.tag, bytes.clone(), &manifest.media_type)
                    .await
                    .map_err(map_azure_error)?
            }
        };
        let own = OwnImage {
            server: server.to_owned(),
            path: dest.path.clone(),
            digest,
            id: id.clone(),
            config: config.clone(),
            size,
        };
        own.record(backend, dest.name.clone(), now).await?;
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn labels_join_the_images_own() {
        let config = json!({"architecture": "amd64", "config": {"Labels": {"a": "1", "b": "2"}}});
        let labels = BTreeMap::from([
            ("b".to_owned(), "x".to_owned()),
            ("c".to_owned(), "3".to_owned()),
        ]);
        let out = with_labels(config, &labels);
        assert_eq!(
            out["config"]["Labels"],
            json!({"a": "1", "b": "x", "c": "3"})
        );
        let bare = with_labels(json!({"config": {"Labels": null}}), &labels);
        assert_eq!(bare["config"]["Labels"]["c"], "3");
        let untouched = json!({"config": {}});
        assert_eq!(with_labels(untouched.clone(), &BTreeMap::new()), untouched);
    }

    #[test]
    fn a_new_config_changes_only_the_manifests_config_descriptor() {
        let manifest = sockerless_azure::registry::blobs::parse_manifest(Bytes::from_static(
            br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:old","size":1},"layers":[{"mediaType":"x","digest":"sha256:l","size":5}]}"#,
        ))
        .expect("manifest");
        let config = Bytes::from_static(b"{\"new\":1}");
        let out: Value =
            serde_json::from_slice(&with_config(&manifest, &config).expect("new")).expect("json");
        assert_eq!(out["config"]["size"], 9);
        assert_eq!(
            out["config"]["digest"],
            format!("sha256:{:x}", Sha256::digest(&config))
        );
        assert_eq!(out["layers"], manifest.json["layers"]);
        assert_eq!(out["mediaType"], manifest.json["mediaType"]);
    }
}
