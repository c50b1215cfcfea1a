//! Host directories behind a replica's volumes, secrets and registry
//! credentials, resolved from the job's configuration.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::arm::storage::share_dir;

/// A volume ready to bind-mount.
#[derive(Debug, Clone)]
pub struct HostVolume {
    /// Host directory.
    pub path: PathBuf,
    /// Mounted read-only.
    pub read_only: bool,
}

/// Secret values by name (Key Vault references cannot be resolved here).
pub fn secret_values(configuration: &Value) -> HashMap<String, String> {
    configuration["secrets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            Some((
                s["name"].as_str()?.to_string(),
                s["value"].as_str()?.to_string(),
            ))
        })
        .collect()
}

/// Prepares the host directories of every volume of a replica.
pub fn prepare(
    template: &Value,
    data_dir: &Path,
    replica: &str,
    environment_key: &str,
    storages: &BTreeMap<String, Value>,
    secrets: &HashMap<String, String>,
) -> Result<HashMap<String, HostVolume>, String> {
    let mut out = HashMap::new();
    for v in template["volumes"].as_array().into_iter().flatten() {
        let name = v["name"].as_str().unwrap_or_default();
        let kind = v["storageType"].as_str().unwrap_or("AzureFile");
        let replica_dir = crate::util::confined(data_dir, &["replicas", replica, name])
            .map_err(|e| format!("volume '{name}': {e}"))?;
        let vol = match kind {
            "EmptyDir" => {
                std::fs::create_dir_all(&replica_dir)
                    .map_err(|e| format!("volume '{name}': {e}"))?;
                HostVolume {
                    path: replica_dir,
                    read_only: false,
                }
            }
            "Secret" => {
                std::fs::create_dir_all(&replica_dir)
                    .map_err(|e| format!("volume '{name}': {e}"))?;
                let items: Vec<(String, String)> = match v["secrets"].as_array() {
                    Some(items) if !items.is_empty() => items
                        .iter()
                        .filter_map(|i| {
                            let r = i["secretRef"].as_str()?.to_string();
                            let p = i["path"]
                                .as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| r.clone());
                            Some((r, p))
                        })
                        .collect(),
                    _ => secrets.keys().map(|k| (k.clone(), k.clone())).collect(),
                };
                for (secret, rel) in items {
                    let value = secrets.get(&secret).ok_or_else(|| {
                        format!("volume '{name}': secret '{secret}' has no value")
                    })?;
                    if rel.contains("..") || rel.starts_with('/') {
                        return Err(format!("volume '{name}': invalid secret path '{rel}'"));
                    }
                    let file = replica_dir.join(&rel);
                    if let Some(parent) = file.parent() {
                        std::fs::create_dir_all(parent)
                            .map_err(|e| format!("volume '{name}': {e}"))?;
                    }
                    std::fs::write(&file, value).map_err(|e| format!("volume '{name}': {e}"))?;
                }
                HostVolume {
                    path: replica_dir,
                    read_only: true,
                }
            }
            "AzureFile" | "NfsAzureFile" => {
                let storage_name = v["storageName"].as_str().unwrap_or_default();
                let key = format!(
                    "{environment_key}/storages/{}",
                    storage_name.to_ascii_lowercase()
                );
                let storage = storages.get(&key).ok_or_else(|| {
                    format!(
                        "volume '{name}': storage '{storage_name}' not found in the environment"
                    )
                })?;
                let (props, host) = if kind == "AzureFile" {
                    let p = &storage["properties"]["azureFile"];
                    (p, p["accountName"].as_str().unwrap_or_default().to_string())
                } else {
                    let p = &storage["properties"]["nfsAzureFile"];
                    (
                        p,
                        format!("nfs-{}", p["server"].as_str().unwrap_or_default()),
                    )
                };
                let share = props["shareName"].as_str().unwrap_or_default();
                // NFS share names are `/account/share`: one directory per part.
                let mut parts = vec!["fileshares", host.as_str()];
                parts.extend(share.split('/').filter(|p| !p.is_empty()));
                let path = if kind == "AzureFile" {
                    share_dir(data_dir, &host, share)
                } else {
                    crate::util::confined(data_dir, &parts)
                }
                .map_err(|e| format!("volume '{name}': {e}"))?;
                if kind == "AzureFile" && !path.is_dir() {
                    return Err(format!(
                        "volume '{name}': file share '{share}' does not exist in storage account '{host}'"
                    ));
                }
                std::fs::create_dir_all(&path).map_err(|e| format!("volume '{name}': {e}"))?;
                HostVolume {
                    path,
                    read_only: props["accessMode"] == "ReadOnly",
                }
            }
            other => {
                return Err(format!(
                    "volume '{name}': unsupported storage type '{other}'"
                ));
            }
        };
        out.insert(name.to_string(), vol);
    }
    Ok(out)
}

/// Azure mounts a share with the environment storage's account key: a key
/// that is not the key of a storage account this emulator serves fails the
/// replica, as the SMB mount would (accounts it does not serve are not checked).
pub fn check_account_keys(
    template: &Value,
    environment_key: &str,
    storages: &BTreeMap<String, Value>,
    accounts: &[crate::config::StorageAccountSeed],
) -> Result<(), String> {
    for v in template["volumes"].as_array().into_iter().flatten() {
        if v["storageType"].as_str() != Some("AzureFile") {
            continue;
        }
        let storage_name = v["storageName"].as_str().unwrap_or_default();
        let key = format!(
            "{environment_key}/storages/{}",
            storage_name.to_ascii_lowercase()
        );
        let Some(storage) = storages.get(&key) else {
            continue;
        };
        let af = &storage["properties"]["azureFile"];
        let account = af["accountName"].as_str().unwrap_or_default();
        if let Some(seed) = accounts.iter().find(|a| a.name == account)
            && af["accountKey"].as_str() != Some(seed.key.as_str())
        {
            return Err(format!(
                "volume '{}': mounting share '{}' of storage account '{account}' failed: the account key of environment storage '{storage_name}' is not the account's key",
                v["name"].as_str().unwrap_or_default(),
                af["shareName"].as_str().unwrap_or_default()
            ));
        }
    }
    Ok(())
}

/// Docker binds (`host:container[:ro]`) for a container's volume mounts.
pub fn binds(
    container: &Value,
    volumes: &HashMap<String, HostVolume>,
) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for m in container["volumeMounts"].as_array().into_iter().flatten() {
        let vname = m["volumeName"].as_str().unwrap_or_default();
        let vol = volumes
            .get(vname)
            .ok_or_else(|| format!("volume mount references unknown volume '{vname}'"))?;
        let mut host = vol.path.clone();
        if let Some(sub) = m["subPath"].as_str().filter(|s| !s.is_empty()) {
            host = sub_path(&host, sub)?;
        }
        let target = m["mountPath"].as_str().unwrap_or_default();
        let ro = if vol.read_only { ":ro" } else { "" };
        out.push(format!("{}:{target}{ro}", host.display()));
    }
    Ok(out)
}

/// The directory `sub` of a volume at `root`, created if missing (as the
/// kubelet does). Absolute paths, `..` and symlinks on the way are refused:
/// a container could otherwise point the mount outside the volume.
pub fn sub_path(root: &Path, sub: &str) -> Result<PathBuf, String> {
    if sub.starts_with('/') || sub.split('/').any(|c| c == "..") {
        return Err(format!("invalid subPath '{sub}'"));
    }
    let mut host = root.to_path_buf();
    for c in sub.split('/').filter(|c| !c.is_empty() && *c != ".") {
        host.push(c);
        match std::fs::symlink_metadata(&host) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(format!("subPath '{sub}': '{c}' is a symbolic link"));
            }
            Ok(m) if !m.is_dir() => {
                return Err(format!("subPath '{sub}': '{c}' is not a directory"));
            }
            Ok(_) => {}
            Err(_) => std::fs::create_dir(&host).map_err(|e| format!("subPath '{sub}': {e}"))?,
        }
    }
    Ok(host)
}

/// Environment variables of a container (`NAME=value`), secrets resolved.
pub fn env(container: &Value, secrets: &HashMap<String, String>) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for e in container["env"].as_array().into_iter().flatten() {
        let name = e["name"].as_str().unwrap_or_default();
        let value = match e["secretRef"].as_str() {
            Some(r) => secrets
                .get(r)
                .cloned()
                .ok_or_else(|| format!("env '{name}': secret '{r}' has no value"))?,
            None => e["value"].as_str().unwrap_or_default().to_string(),
        };
        out.push(format!("{name}={value}"));
    }
    Ok(out)
}

/// Splits an image reference into (repository, tag-or-digest) for a pull.
pub fn split_reference(image: &str) -> (String, String) {
    if let Some((repo, digest)) = image.split_once('@') {
        return (repo.to_string(), digest.to_string());
    }
    let last_slash = image.rfind('/').map(|i| i + 1).unwrap_or(0);
    match image[last_slash..].rfind(':') {
        Some(i) => (
            image[..last_slash + i].to_string(),
            image[last_slash + i + 1..].to_string(),
        ),
        None => (image.to_string(), "latest".to_string()),
    }
}

/// The registry host of an image reference (`docker.io` when none).
pub fn registry_host(image: &str) -> String {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first.to_ascii_lowercase()
        }
        _ => "docker.io".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_paths_stay_inside_the_volume() {
        let dir = std::env::temp_dir().join(format!("sim-subpath-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("vol")).expect("mkdir");
        let root = dir.join("vol");
        assert_eq!(sub_path(&root, "a/b").expect("created"), root.join("a/b"));
        assert!(root.join("a/b").is_dir());
        assert!(sub_path(&root, "../x").is_err());
        assert!(sub_path(&root, "/etc").is_err());
        std::os::unix::fs::symlink("/", root.join("esc")).expect("symlink");
        assert!(
            sub_path(&root, "esc/tmp")
                .expect_err("symlink")
                .contains("symbolic link")
        );
        std::fs::write(root.join("f"), b"x").expect("file");
        assert!(sub_path(&root, "f").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn account_keys_of_served_accounts_are_checked() {
        let template = serde_json::json!({"volumes": [{"name": "v", "storageType": "AzureFile", "storageName": "S"}]});
        let storage = |account: &str, key: &str| {
            BTreeMap::from([(
                "env/storages/s".to_owned(),
                serde_json::json!({"properties": {"azureFile": {"accountName": account, "accountKey": key, "shareName": "sh"}}}),
            )])
        };
        let accounts = vec![crate::config::StorageAccountSeed {
            name: "acct".into(),
            key: "a2V5".into(),
        }];
        assert!(check_account_keys(&template, "env", &storage("acct", "a2V5"), &accounts).is_ok());
        let err = check_account_keys(&template, "env", &storage("acct", "d3Jvbmc="), &accounts)
            .expect_err("wrong key");
        assert!(err.contains("account key"), "{err}");
        assert!(check_account_keys(&template, "env", &storage("other", "x"), &accounts).is_ok());
    }

    #[test]
    fn references() {
        assert_eq!(
            split_reference("busybox"),
            ("busybox".into(), "latest".into())
        );
        assert_eq!(
            split_reference("127.0.0.1:5000/a/b:v1"),
            ("127.0.0.1:5000/a/b".into(), "v1".into())
        );
        assert_eq!(
            split_reference("127.0.0.1:5000/a"),
            ("127.0.0.1:5000/a".into(), "latest".into())
        );
        assert_eq!(
            split_reference("r/a@sha256:ab"),
            ("r/a".into(), "sha256:ab".into())
        );
        assert_eq!(registry_host("127.0.0.1:5000/a"), "127.0.0.1:5000");
        assert_eq!(registry_host("library/busybox"), "docker.io");
        assert_eq!(registry_host("x.azurecr.io/a:b"), "x.azurecr.io");
    }
}
