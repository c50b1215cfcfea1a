//! Image inspect, list, tag and remove, all from the store (no registry call).

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;
use sockerless_api::docker::{
    DriverData, ImageConfig, ImageDeleteResponseItem, ImageInspect, ImageInspectMetadata,
    ImageInspectRootFs, ImageSummary,
};
use sockerless_api::{ApiError, Filters, ListImagesOptions, RemoveImageOptions, Result};

use super::filters::{image_matches, reference_matches, validate_filters};
use super::pull::layer_digests;
use super::reference::{DEFAULT_TAG, ImageRef};
use super::stored::{self, ImageEntry};
use crate::AcaBackend;
use crate::clock::rfc3339;
use crate::store::records;

/// The Docker `ImageConfig` of an OCI config JSON (its `config` object).
/// A field Docker's model cannot read is left out, not the whole config.
pub fn image_config(oci: &Value) -> ImageConfig {
    let Some(Value::Object(fields)) = oci.get("config") else {
        return ImageConfig::default();
    };
    if let Ok(config) = serde_json::from_value(Value::Object(fields.clone())) {
        return config;
    }
    let readable: serde_json::Map<String, Value> = fields
        .iter()
        .filter(|(k, v)| {
            let one = serde_json::Map::from_iter([((*k).clone(), (*v).clone())]);
            serde_json::from_value::<ImageConfig>(Value::Object(one)).is_ok()
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    serde_json::from_value(Value::Object(readable)).unwrap_or_default()
}

#[cfg(test)]
#[test]
fn an_unreadable_field_does_not_lose_the_config() {
    let oci = serde_json::json!({"config": {"Cmd": ["sh"], "Healthcheck": "odd", "Env": ["A=1"]}});
    let config = image_config(&oci);
    assert_eq!(config.cmd, Some(vec!["sh".to_owned()]));
    assert_eq!(config.env, Some(vec!["A=1".to_owned()]));
    assert!(config.healthcheck.is_none());
}

/// The rows of one image (same ID), the way inspect and list show it.
#[derive(Debug, Clone)]
pub struct ImageGroup<'a> {
    /// Rows sharing the ID, first the one the user named (if any).
    pub entries: Vec<&'a ImageEntry>,
}

impl ImageGroup<'_> {
    fn first(&self) -> &ImageEntry {
        self.entries[0]
    }

    /// `busybox:latest`, … (tag rows only).
    pub fn repo_tags(&self) -> Vec<String> {
        let mut tags: Vec<String> = self
            .entries
            .iter()
            .filter(|e| e.is_tag())
            .map(|e| e.reference.familiar())
            .collect();
        tags.sort();
        tags.dedup();
        tags
    }

    /// `busybox@sha256:…` for repositories the image was pulled from.
    pub fn repo_digests(&self) -> Vec<String> {
        let mut digests: Vec<String> = self
            .entries
            .iter()
            .filter(|e| e.image.pulled && !e.digest.is_empty())
            .map(|e| e.reference.familiar_digest(&e.digest))
            .collect();
        digests.sort();
        digests.dedup();
        digests
    }

    /// Image creation time from its config, else when it was pulled.
    pub fn created_rfc3339(&self) -> String {
        self.first()
            .image
            .config
            .get("created")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| rfc3339(self.first().created_at))
    }

    /// Creation time in seconds since the epoch.
    pub fn created_unix(&self) -> i64 {
        time::OffsetDateTime::parse(
            &self.created_rfc3339(),
            &time::format_description::well_known::Rfc3339,
        )
        .map(|t| t.unix_timestamp())
        .unwrap_or(self.first().created_at / 1_000_000_000)
    }

    /// The image's labels.
    pub fn labels(&self) -> HashMap<String, String> {
        image_config(&self.first().image.config)
            .labels
            .unwrap_or_default()
    }
}

/// Groups rows by image ID (stable order: newest first, as stored).
pub fn groups(entries: &[ImageEntry]) -> Vec<ImageGroup<'_>> {
    let mut order: Vec<&str> = Vec::new();
    let mut by_id: BTreeMap<&str, Vec<&ImageEntry>> = BTreeMap::new();
    for e in entries {
        let id = e.image.id.as_str();
        if !by_id.contains_key(id) {
            order.push(id);
        }
        by_id.entry(id).or_default().push(e);
    }
    order
        .into_iter()
        .filter_map(|id| by_id.remove(id).map(|entries| ImageGroup { entries }))
        .collect()
}

fn group_of<'a>(entries: &'a [ImageEntry], named: &ImageEntry) -> ImageGroup<'a> {
    let mut rows: Vec<&ImageEntry> = entries
        .iter()
        .filter(|e| e.image.id == named.image.id)
        .collect();
    rows.sort_by_key(|e| e.reference != named.reference);
    ImageGroup { entries: rows }
}

/// `Backend::image_inspect`.
pub async fn inspect(backend: &AcaBackend, name: &str) -> Result<ImageInspect> {
    let entries = stored::all(backend).await?;
    let found = stored::find_in(&entries, name).cloned_found()?;
    let group = group_of(&entries, &found.entry);
    Ok(inspect_group(&group))
}

fn inspect_group(group: &ImageGroup<'_>) -> ImageInspect {
    let first = group.first();
    let oci = &first.image.config;
    let text = |key: &str| oci.get(key).and_then(Value::as_str).map(str::to_owned);
    ImageInspect {
        id: Some(first.image.id.clone()),
        repo_tags: Some(group.repo_tags()),
        repo_digests: Some(group.repo_digests()),
        comment: Some(text("comment").unwrap_or_default()),
        created: Some(group.created_rfc3339()),
        author: Some(text("author").unwrap_or_default()),
        config: Some(image_config(oci)),
        architecture: Some(text("architecture").unwrap_or_else(|| "amd64".to_owned())),
        variant: text("variant"),
        os: Some(text("os").unwrap_or_else(|| "linux".to_owned())),
        os_version: text("os.version"),
        size: Some(first.image.size),
        graph_driver: Some(DriverData {
            name: "aca".to_owned(),
            data: HashMap::new(),
        }),
        root_fs: Some(ImageInspectRootFs {
            typ: "layers".to_owned(),
            layers: Some(layer_digests(oci)),
        }),
        metadata: Some(ImageInspectMetadata {
            last_tag_time: Some(rfc3339(
                group
                    .entries
                    .iter()
                    .map(|e| e.image.tagged_at)
                    .max()
                    .unwrap_or_default(),
            )),
        }),
        ..Default::default()
    }
}

/// `Backend::image_list`.
pub async fn list(backend: &AcaBackend, opts: ListImagesOptions) -> Result<Vec<ImageSummary>> {
    validate_filters(&opts.filters)?;
    let entries = stored::all(backend).await?;
    let all_groups = groups(&entries);
    let bound = |key: &str| -> Result<Option<i64>> {
        match opts.filters.get(key).and_then(|v| v.first()) {
            None => Ok(None),
            Some(name) => {
                let found = stored::find_in(&entries, name).cloned_found()?;
                Ok(Some(group_of(&entries, &found.entry).created_unix()))
            }
        }
    };
    let (before, since) = (bound("before")?, bound("since")?);
    Ok(all_groups
        .iter()
        .filter(|g| image_matches(g, &opts.filters))
        .filter(|g| before.is_none_or(|b| g.created_unix() < b))
        .filter(|g| since.is_none_or(|s| g.created_unix() > s))
        .map(|g| summary(g, &opts.filters))
        .collect())
}

fn summary(group: &ImageGroup<'_>, filters: &Filters) -> ImageSummary {
    // With a `reference` filter dockerd lists only the names it matched
    // (`docker images app` shows no row for the image's other tags).
    let named = match filters.get("reference").filter(|p| !p.is_empty()) {
        Some(patterns) => ImageGroup {
            entries: group
                .entries
                .iter()
                .copied()
                .filter(|e| patterns.iter().any(|p| reference_matches(p, &e.reference)))
                .collect(),
        },
        None => group.clone(),
    };
    ImageSummary {
        id: group.first().image.id.clone(),
        parent_id: String::new(),
        repo_tags: named.repo_tags(),
        repo_digests: named.repo_digests(),
        created: group.created_unix(),
        size: group.first().image.size,
        shared_size: -1,
        labels: group.labels(),
        containers: -1,
        manifests: None,
        descriptor: None,
    }
}

/// `Backend::image_tag`.
pub async fn tag(backend: &AcaBackend, name: &str, repo: &str, tag: Option<&str>) -> Result<()> {
    let mut target = ImageRef::parse_loose(repo)?;
    if target.digest.is_some() {
        return Err(ApiError::InvalidParameter(
            "refusing to create a tag with a digest reference".to_owned(),
        ));
    }
    match tag.filter(|t| !t.is_empty()) {
        Some(t) => target = ImageRef::parse_loose(&format!("{}:{t}", target.repository()))?,
        None if target.tag.is_none() => target.tag = Some(DEFAULT_TAG.to_owned()),
        None => {}
    }
    let found = stored::find(backend, name).await?;
    let now = crate::clock::now_nanos();
    let mut entry = found.entry;
    // The digest stays (ACA pulls the image pinned by it from its source);
    // RepoDigests only show repositories the image was pulled from.
    entry.image.pulled &= entry.reference.repository() == target.repository();
    entry.image.tagged_at = now;
    entry.reference = target;
    stored::put(backend, &entry).await?;
    crate::events::actors::image(backend, "tag", &entry.image.id, &entry.reference.familiar());
    Ok(())
}

/// Whether a container record uses the image `id` (named by ID or reference).
pub(crate) fn container_uses(
    entries: &[ImageEntry],
    container: &records::ContainerRecord,
    id: &str,
) -> bool {
    if container.image == id || container.config.to_string().contains(id) {
        return true;
    }
    matches!(
        stored::find_in(entries, &container.image),
        stored::FindResult::Found(e, _) if e.image.id == id
    )
}

/// `Backend::image_remove`.
pub async fn remove(
    backend: &AcaBackend,
    name: &str,
    opts: RemoveImageOptions,
) -> Result<Vec<ImageDeleteResponseItem>> {
    let entries = stored::all(backend).await?;
    let found = stored::find_in(&entries, name).cloned_found()?;
    let id = found.entry.image.id.clone();
    let short = id
        .trim_start_matches("sha256:")
        .chars()
        .take(12)
        .collect::<String>();
    let group = group_of(&entries, &found.entry);
    let users: Vec<records::ContainerRecord> = backend
        .store()
        .call(|c| records::list_containers(c))
        .await?
        .into_iter()
        .filter(|c| container_uses(&entries, c, &id))
        .collect();
    let mut items = Vec::new();
    if !found.by_id && group.entries.len() > 1 {
        // Untag one name; the image stays under its other names.
        stored::delete(backend, &found.entry.reference.canonical()).await?;
        items.push(untagged(&found.entry));
        return Ok(items);
    }
    if found.by_id && group.repo_tags().len() > 1 && !opts.force {
        return Err(ApiError::Conflict(format!(
            "conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories"
        )));
    }
    if let Some(user) = users.first()
        && !opts.force
    {
        let running = user.state == "running";
        return Err(ApiError::Conflict(if found.by_id {
            format!(
                "conflict: unable to delete {short} ({}) - image is being used by {} container {}",
                if running {
                    "cannot be forced"
                } else {
                    "must be forced"
                },
                if running { "running" } else { "stopped" },
                short_id(&user.id)
            )
        } else {
            format!(
                "conflict: unable to remove repository reference \"{name}\" (must force) - container {} is using its referenced image {short}",
                short_id(&user.id)
            )
        }));
    }
    for entry in &group.entries {
        stored::delete(backend, &entry.reference.canonical()).await?;
        items.push(untagged(entry));
        if entry.image.pulled && !entry.digest.is_empty() && entry.is_tag() {
            items.push(ImageDeleteResponseItem {
                untagged: Some(entry.reference.familiar_digest(&entry.digest)),
                deleted: None,
            });
        }
    }
    items.dedup();
    items.push(ImageDeleteResponseItem {
        untagged: None,
        deleted: Some(id),
    });
    Ok(items)
}

fn untagged(entry: &ImageEntry) -> ImageDeleteResponseItem {
    ImageDeleteResponseItem {
        untagged: Some(entry.reference.familiar()),
        deleted: None,
    }
}

fn short_id(id: &str) -> String {
    id.chars().take(12).collect()
}
