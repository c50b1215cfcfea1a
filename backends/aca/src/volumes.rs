//! Volumes, backed by Azure Files shares.
//!
//! With `storage_account_name` (and `storage_account_key`) configured, a
//! volume is a file share (named by [`crate::names::file_share_name`]) plus
//! a managed-environment storage of the same name that job templates mount;
//! its `Mountpoint` is `azurefile://<account>/<share>`. Without a storage
//! account a volume is a record only: it is listed and inspected, its
//! `Mountpoint` is empty and its `Status` says that it has no share.
//!
//! Docker's `force` on remove skips the in-use check here (and ignores a
//! missing volume); prune removes anonymous volumes (generated names) unless
//! the `all=true` filter is given, like Docker API ≥ 1.42.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sockerless_api::docker::{
    Volume, VolumeCreateRequest, VolumeListResponse, VolumePruneResponse, VolumeScopeEnum,
};
use sockerless_api::{ApiError, Filters, Result};

use crate::AcaBackend;
use crate::azure::models::{
    AzureFileProperties, ManagedEnvironmentStorage, ManagedEnvironmentStorageProperties,
};
use crate::images::filters::{check_filter_names, labels_match, parse_bool_filter};
use crate::store::{ContainerRecord, VolumeRecord, records};

const LIST_FILTERS: &[&str] = &["dangling", "driver", "label", "name"];
const PRUNE_FILTERS: &[&str] = &["all", "label"];
/// Docker marks volumes it named itself with this label.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// The `config` column of a volume row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredVolume {
    /// Always `local`.
    pub driver: String,
    /// Labels.
    pub labels: HashMap<String, String>,
    /// Driver options as given.
    pub options: HashMap<String, String>,
    /// The storage account holding the share; `None` for a record-only volume.
    pub storage_account: Option<String>,
    /// The name was generated (an anonymous volume).
    pub anonymous: bool,
}

fn decode(record: &VolumeRecord) -> Result<StoredVolume> {
    serde_json::from_value(record.config.clone()).map_err(|e| {
        ApiError::Internal(format!("stored volume {} is unreadable: {e}", record.name))
    })
}

fn rfc3339(nanos: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn to_docker(record: &VolumeRecord, stored: &StoredVolume) -> Volume {
    let (mountpoint, status) = match &stored.storage_account {
        Some(account) => (
            format!("azurefile://{account}/{}", record.file_share_name),
            format!("Azure Files share {} in storage account {account}", record.file_share_name),
        ),
        None => (
            String::new(),
            "record only: no storage_account_name is configured, so this volume has no Azure Files share"
                .to_owned(),
        ),
    };
    Volume {
        name: record.name.clone(),
        driver: stored.driver.clone(),
        mountpoint,
        created_at: Some(rfc3339(record.created_at)),
        status: Some(vec![status]),
        labels: stored.labels.clone(),
        scope: Some(VolumeScopeEnum::LOCAL),
        options: stored.options.clone(),
        ..Default::default()
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

fn random_name() -> Result<String> {
    let mut buf = [0u8; 32];
    getrandom::fill(&mut buf)
        .map_err(|e| ApiError::Internal(format!("no randomness available: {e}")))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

async fn get(backend: &AcaBackend, name: &str) -> Result<Option<VolumeRecord>> {
    let key = name.to_owned();
    Ok(backend
        .store()
        .call(move |c| records::get_volume(c, &key))
        .await?)
}

/// Volume names a container's create config uses (`Binds` with a name as
/// source, `Mounts` of type `volume`). Reads the runtime's `{"body": …}`
/// layout or a bare body.
pub fn volumes_of(config: &Value) -> Vec<String> {
    let body = config.get("body").unwrap_or(config);
    let host = body.get("HostConfig");
    let mut out = Vec::new();
    if let Some(binds) = host.and_then(|h| h.get("Binds")).and_then(Value::as_array) {
        for bind in binds.iter().filter_map(Value::as_str) {
            if let Some((source, _)) = bind.split_once(':')
                && !source.starts_with('/')
                && !source.is_empty()
            {
                out.push(source.to_owned());
            }
        }
    }
    if let Some(mounts) = host.and_then(|h| h.get("Mounts")).and_then(Value::as_array) {
        for m in mounts {
            let is_volume = m.get("Type").and_then(Value::as_str) == Some("volume");
            if let (true, Some(source)) = (is_volume, m.get("Source").and_then(Value::as_str)) {
                out.push(source.to_owned());
            }
        }
    }
    out
}

async fn users(backend: &AcaBackend, name: &str) -> Result<Vec<ContainerRecord>> {
    let containers = backend
        .store()
        .call(|c| records::list_containers(c))
        .await?;
    Ok(containers
        .into_iter()
        .filter(|c| volumes_of(&c.config).iter().any(|v| v == name))
        .collect())
}

/// `Backend::volume_create`. An existing name returns the existing volume.
pub async fn create(backend: &AcaBackend, req: VolumeCreateRequest) -> Result<Volume> {
    let driver = req
        .driver
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "local".to_owned());
    if driver != "local" {
        return Err(ApiError::InvalidParameter(format!(
            "volume driver {driver:?} is not supported: volumes are Azure Files shares (driver \"local\")"
        )));
    }
    let anonymous = req.name.as_deref().is_none_or(str::is_empty);
    let name = match req.name.filter(|n| !n.is_empty()) {
        Some(n) if valid_name(&n) => n,
        Some(n) => {
            return Err(ApiError::InvalidParameter(format!(
                "create {n}: \"{n}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
            )));
        }
        None => random_name()?,
    };
    if let Some(existing) = get(backend, &name).await? {
        return Ok(to_docker(&existing, &decode(&existing)?));
    }
    let share = crate::names::file_share_name(&name);
    let config = backend.config();
    let storage_account = match (&backend.azure().file_shares, &config.storage_account_name) {
        (Some(shares), Some(account)) => {
            let key = config.storage_account_key.as_ref().ok_or_else(|| {
                ApiError::Internal(format!(
                    "create volume {name}: storage_account_key is not configured; the environment storage of an Azure Files share needs the account key"
                ))
            })?;
            shares.create_share(&share, None).await?;
            let storage = ManagedEnvironmentStorage {
                properties: Some(ManagedEnvironmentStorageProperties {
                    azure_file: Some(AzureFileProperties {
                        account_name: Some(account.clone()),
                        account_key: Some(key.expose().to_owned()),
                        access_mode: Some("ReadWrite".to_owned()),
                        share_name: Some(share.clone()),
                    }),
                }),
                ..Default::default()
            };
            if let Err(e) = backend
                .azure()
                .environment
                .put_storage(&share, &storage)
                .await
            {
                if let Err(cleanup) = shares.delete_share(&share).await {
                    tracing::warn!(share = %share, error = %cleanup, "could not delete the share of a failed volume create");
                }
                return Err(e);
            }
            Some(account.clone())
        }
        _ => None,
    };
    let mut labels = req.labels.unwrap_or_default();
    if anonymous {
        labels.entry(ANONYMOUS_LABEL.to_owned()).or_default();
    }
    let stored = StoredVolume {
        driver,
        labels,
        options: req.driver_opts.unwrap_or_default(),
        storage_account,
        anonymous,
    };
    let record = VolumeRecord {
        name,
        file_share_name: share,
        config: serde_json::to_value(&stored)
            .map_err(|e| ApiError::Internal(format!("encode volume: {e}")))?,
        created_at: crate::images::now_nanos(),
    };
    let row = record.clone();
    backend
        .store()
        .call(move |c| records::put_volume(c, &row))
        .await?;
    Ok(to_docker(&record, &stored))
}

/// `Backend::volume_list`.
pub async fn list(backend: &AcaBackend, filters: Filters) -> Result<VolumeListResponse> {
    check_filter_names(&filters, LIST_FILTERS)?;
    let dangling = parse_bool_filter("dangling", filters.get("dangling").map_or(&[][..], |v| v))?;
    let rows = backend.store().call(|c| records::list_volumes(c)).await?;
    let containers = backend
        .store()
        .call(|c| records::list_containers(c))
        .await?;
    let used: Vec<String> = containers
        .iter()
        .flat_map(|c| volumes_of(&c.config))
        .collect();
    let any = |key: &str, f: &dyn Fn(&str) -> bool| {
        filters.get(key).is_none_or(|v| v.iter().any(|x| f(x)))
    };
    let mut volumes = Vec::new();
    for row in &rows {
        let stored = decode(row)?;
        let keep = any("name", &|x| row.name.contains(x))
            && any("driver", &|x| stored.driver == x)
            && labels_match(&stored.labels, filters.get("label"))
            && dangling.is_none_or(|d| d != used.contains(&row.name));
        if keep {
            volumes.push(to_docker(row, &stored));
        }
    }
    Ok(VolumeListResponse {
        volumes: Some(volumes),
        warnings: Some(Vec::new()),
    })
}

/// `Backend::volume_inspect`.
pub async fn inspect(backend: &AcaBackend, name: &str) -> Result<Volume> {
    match get(backend, name).await? {
        Some(record) => Ok(to_docker(&record, &decode(&record)?)),
        None => Err(ApiError::NotFound(format!("get {name}: no such volume"))),
    }
}

/// Deletes the environment storage and the share (if any), then the record.
async fn delete(backend: &AcaBackend, record: &VolumeRecord, stored: &StoredVolume) -> Result<()> {
    if stored.storage_account.is_some() {
        let share = &record.file_share_name;
        backend.azure().environment.delete_storage(share).await?;
        match &backend.azure().file_shares {
            Some(shares) => {
                shares.delete_share(share).await?;
            }
            None => {
                return Err(ApiError::Internal(format!(
                    "remove {}: the volume's share {share} is in storage account {}, but no storage account is configured now",
                    record.name,
                    stored.storage_account.as_deref().unwrap_or_default()
                )));
            }
        }
    }
    let name = record.name.clone();
    backend
        .store()
        .call(move |c| records::delete_volume(c, &name))
        .await?;
    Ok(())
}

/// `Backend::volume_remove`.
pub async fn remove(backend: &AcaBackend, name: &str, force: bool) -> Result<()> {
    let Some(record) = get(backend, name).await? else {
        if force {
            return Ok(());
        }
        return Err(ApiError::NotFound(format!("get {name}: no such volume")));
    };
    let stored = decode(&record)?;
    let users = users(backend, name).await?;
    if !users.is_empty() && !force {
        let ids: Vec<&str> = users.iter().map(|c| c.id.as_str()).collect();
        return Err(ApiError::Conflict(format!(
            "remove {name}: volume is in use - [{}]",
            ids.join(", ")
        )));
    }
    delete(backend, &record, &stored).await
}

/// `Backend::volume_prune`.
pub async fn prune(backend: &AcaBackend, filters: Filters) -> Result<VolumePruneResponse> {
    check_filter_names(&filters, PRUNE_FILTERS)?;
    let all = parse_bool_filter("all", filters.get("all").map_or(&[][..], |v| v))?.unwrap_or(false);
    let rows = backend.store().call(|c| records::list_volumes(c)).await?;
    let containers = backend
        .store()
        .call(|c| records::list_containers(c))
        .await?;
    let used: Vec<String> = containers
        .iter()
        .flat_map(|c| volumes_of(&c.config))
        .collect();
    let mut deleted = Vec::new();
    for row in &rows {
        let stored = decode(row)?;
        let prunable = (all || stored.anonymous)
            && !used.contains(&row.name)
            && labels_match(&stored.labels, filters.get("label"));
        if prunable {
            delete(backend, row, &stored).await?;
            deleted.push(row.name.clone());
        }
    }
    Ok(VolumePruneResponse {
        volumes_deleted: Some(deleted),
        space_reclaimed: Some(0),
    })
}

#[cfg(test)]
#[path = "volumes_tests.rs"]
mod tests;
