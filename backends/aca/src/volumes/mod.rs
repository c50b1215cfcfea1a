//! Volumes: directories of one Azure Files share.
//!
//! With `storage_account_name` and `storage_account_key` configured, a
//! volume is a directory (named by [`storage::dir_name`]) of the share
//! `storage_share_name`, created and deleted through the Storage data plane
//! ([`sockerless_azure::files`]); job templates mount it with the volume
//! mount's `subPath` through one environment storage ([`storage`]). Its
//! `Mountpoint` is `azurefile://<account>/<share>/<dir>`. Without a storage
//! account a volume is refused at create, naming the keys to set (volumes
//! recorded by older versions without a share are listed and removable).
//!
//! Docker's `force` on remove skips the in-use check here (and ignores a
//! missing volume); prune removes anonymous volumes (generated names) unless
//! the `all=true` filter is given, like Docker API ≥ 1.42. Container-side
//! use (mounts at create, anonymous volumes, `--volumes-from`, `rm -v`) is in
//! [`attach`].

pub mod attach;
pub mod storage;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sockerless_api::docker::{
    Volume, VolumeCreateRequest, VolumeListResponse, VolumePruneResponse, VolumeScopeEnum,
};
use sockerless_api::{ApiError, Filters, Result};

use crate::AcaBackend;
use crate::errors::map_azure_error;
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
    /// The storage account holding the share; `None` for a record-only
    /// volume of an older version.
    pub storage_account: Option<String>,
    /// The share holding the volume's directory (`file_share_name` of the
    /// record is the directory); `None` before shares held directories.
    #[serde(default)]
    pub share: Option<String>,
    /// The name was generated (an anonymous volume).
    pub anonymous: bool,
}

fn decode(record: &VolumeRecord) -> Result<StoredVolume> {
    serde_json::from_value(record.config.clone()).map_err(|e| {
        ApiError::Internal(format!("stored volume {} is unreadable: {e}", record.name))
    })
}

fn to_docker(record: &VolumeRecord, stored: &StoredVolume) -> Volume {
    let dir = &record.file_share_name;
    let (mountpoint, status) = match (&stored.storage_account, &stored.share) {
        (Some(account), Some(share)) => (
            storage::mountpoint(account, share, dir),
            format!("directory {dir} of Azure Files share {share} in storage account {account}"),
        ),
        (Some(account), None) => (
            format!("azurefile://{account}/{dir}"),
            format!("Azure Files share {dir} in storage account {account} (an older layout)"),
        ),
        _ => (
            String::new(),
            "record only: created without a storage account, this volume has no data".to_owned(),
        ),
    };
    Volume {
        name: record.name.clone(),
        driver: stored.driver.clone(),
        mountpoint,
        created_at: Some(crate::clock::rfc3339(record.created_at)),
        status: Some(vec![status]),
        labels: stored.labels.clone(),
        scope: Some(VolumeScopeEnum::LOCAL),
        options: stored.options.clone(),
        ..Default::default()
    }
}

/// The record of a volume.
pub async fn get(backend: &AcaBackend, name: &str) -> Result<Option<VolumeRecord>> {
    let key = name.to_owned();
    Ok(backend
        .store()
        .call(move |c| records::get_volume(c, &key))
        .await?)
}

/// Volume names a container uses: its resolved mounts (`mounts` of the
/// stored config), or for a container stored before they were kept, the
/// named sources of `Binds` and `Mounts` of type `volume`. Reads the
/// runtime's `{"body": …}` layout or a bare body.
pub fn volumes_of(config: &Value) -> Vec<String> {
    let resolved: Vec<String> = config
        .get("mounts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|m| m.get("Kind").and_then(Value::as_str) == Some("Volume"))
        .filter_map(|m| m.get("name").and_then(Value::as_str))
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect();
    if config
        .get("mounts")
        .and_then(Value::as_array)
        .is_some_and(|m| !m.is_empty())
    {
        return resolved;
    }
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

/// Containers using volume `name`.
pub async fn users(backend: &AcaBackend, name: &str) -> Result<Vec<ContainerRecord>> {
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
            "volume driver {driver:?} is not supported: volumes are directories of an Azure Files share (driver \"local\")"
        )));
    }
    if let Some(opts) = req.driver_opts.as_ref().filter(|o| !o.is_empty()) {
        let mut keys: Vec<&String> = opts.keys().collect();
        keys.sort();
        return Err(ApiError::InvalidParameter(format!(
            "volume driver options are not supported by sockerless-aca: {}",
            keys.iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let anonymous = req.name.as_deref().is_none_or(str::is_empty);
    let name = match req.name.filter(|n| !n.is_empty()) {
        Some(n) if crate::containers::mounts::valid_volume_name(&n) => n,
        Some(n) => {
            return Err(ApiError::InvalidParameter(format!(
                "create {n}: \"{n}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
            )));
        }
        None => crate::clock::random_id()?,
    };
    let labels = req.labels.unwrap_or_default();
    Ok(create_named(backend, &name, labels, anonymous).await?.0)
}

/// Creates volume `name` unless it exists; `true` when created.
pub async fn create_named(
    backend: &AcaBackend,
    name: &str,
    mut labels: HashMap<String, String>,
    anonymous: bool,
) -> Result<(Volume, bool)> {
    if let Some(existing) = get(backend, name).await? {
        return Ok((to_docker(&existing, &decode(&existing)?), false));
    }
    let files = storage::files(backend, &format!("create volume {name}"))?;
    storage::ensure_storage(backend, false).await?;
    let dir = storage::dir_name(name);
    if !files
        .create_directory(&dir)
        .await
        .map_err(map_azure_error)?
    {
        tracing::info!(volume = %name, dir = %dir, "the volume's directory already exists in the share: keeping its data");
    }
    if anonymous {
        labels.entry(ANONYMOUS_LABEL.to_owned()).or_default();
    }
    let stored = StoredVolume {
        driver: "local".to_owned(),
        labels,
        options: HashMap::new(),
        storage_account: Some(files.account().to_owned()),
        share: Some(files.share().to_owned()),
        anonymous,
    };
    let record = VolumeRecord {
        name: name.to_owned(),
        file_share_name: dir,
        config: serde_json::to_value(&stored)
            .map_err(|e| ApiError::Internal(format!("encode volume: {e}")))?,
        created_at: crate::clock::now_nanos(),
    };
    let row = record.clone();
    backend
        .store()
        .call(move |c| records::put_volume(c, &row))
        .await?;
    crate::events::actors::volume(backend, "create", name, "local");
    tracing::info!(volume = %name, "volume created");
    Ok((to_docker(&record, &stored), true))
}

/// Every volume, and the names of those some container (in any state)
/// mounts: what `ls` (`dangling`) and `prune` both judge by, read in one
/// store call.
async fn volumes_and_used(backend: &AcaBackend) -> Result<(Vec<VolumeRecord>, Vec<String>)> {
    let (rows, containers) = backend
        .store()
        .call(|c| Ok((records::list_volumes(c)?, records::list_containers(c)?)))
        .await?;
    let used = containers
        .iter()
        .flat_map(|c| volumes_of(&c.config))
        .collect();
    Ok((rows, used))
}

/// `Backend::volume_list`.
pub async fn list(backend: &AcaBackend, filters: Filters) -> Result<VolumeListResponse> {
    check_filter_names(&filters, LIST_FILTERS)?;
    let dangling = parse_bool_filter("dangling", filters.get("dangling").map_or(&[][..], |v| v))?;
    let (rows, used) = volumes_and_used(backend).await?;
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

/// Deletes the volume's data (its directory, or the share of an older
/// layout), then the record.
async fn delete(backend: &AcaBackend, record: &VolumeRecord, stored: &StoredVolume) -> Result<()> {
    if let Some(account) = &stored.storage_account {
        let dir = &record.file_share_name;
        match (
            &stored.share,
            &backend.azure().files,
            &backend.azure().file_shares,
        ) {
            (Some(share), Some(files), _)
                if files.share() == share && files.account() == account =>
            {
                files.delete_tree(dir).await.map_err(map_azure_error)?;
            }
            (None, _, Some(shares)) => {
                backend
                    .azure()
                    .environment
                    .delete_storage(dir)
                    .await
                    .map_err(map_azure_error)?;
                shares.delete_share(dir).await.map_err(map_azure_error)?;
            }
            _ => {
                return Err(ApiError::Internal(format!(
                    "remove {}: its data is in {} of storage account {account}, which is not the configured storage now",
                    record.name,
                    stored.share.as_deref().map_or_else(
                        || format!("share {dir}"),
                        |s| format!("share {s}, directory {dir}")
                    ),
                )));
            }
        }
    }
    let name = record.name.clone();
    backend
        .store()
        .call(move |c| records::delete_volume(c, &name))
        .await?;
    crate::events::actors::volume(backend, "destroy", &record.name, "local");
    tracing::info!(volume = %record.name, "volume removed");
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
    let (rows, used) = volumes_and_used(backend).await?;
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
mod tests;
