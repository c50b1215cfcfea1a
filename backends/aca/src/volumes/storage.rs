//! Where volumes live in Azure: ONE file share (`storage_share_name`) of the
//! storage account, a directory per volume, and the environment storage(s)
//! that job templates mount it through.
//!
//! The share (data plane, `Share_Create`) and the read-write environment
//! storage (ARM) are made ready once in the life of the backend, when the
//! first volume needs them: the storage is read first and written only if it
//! is missing or points elsewhere, so many volumes cost at most one ARM
//! write. A second, read-only environment storage on the same share backs
//! `:ro` mounts (ACA volume mounts have no read-only flag; the storage's
//! `accessMode` is what makes a mount read-only); it is made ready the
//! first time a container mounts a volume read-only.

use sha2::{Digest, Sha256};
use sockerless_api::ApiError;
use sockerless_azure::files::FilesClient;
use sockerless_azure::models::{
    AzureFileProperties, ManagedEnvironmentStorage, ManagedEnvironmentStorageProperties,
};
use tokio::sync::OnceCell;

use crate::AcaBackend;
use crate::errors::map_azure_error;

/// What is ready in Azure for volumes (per backend).
#[derive(Debug, Default)]
pub struct VolumeState {
    share: OnceCell<()>,
    rw: OnceCell<String>,
    ro: OnceCell<String>,
}

/// The message refusing a volume when no storage account is configured.
pub fn no_storage_message(what: &str) -> String {
    format!(
        "{what}: volumes are directories of an Azure Files share, and no storage account is configured: \
         set storage_account_name and storage_account_key (SOCKERLESS_ACA_STORAGE_ACCOUNT_NAME, \
         SOCKERLESS_ACA_STORAGE_ACCOUNT_KEY)"
    )
}

/// The data-plane client, or the refusal naming the missing keys.
pub fn files<'a>(backend: &'a AcaBackend, what: &str) -> Result<&'a FilesClient, ApiError> {
    backend
        .azure()
        .files
        .as_ref()
        .ok_or_else(|| ApiError::InvalidParameter(no_storage_message(what)))
}

/// The directory of a volume in the share: the name itself when Azure Files
/// keeps it apart from every other (names are case-insensitive there and may
/// not end with `.`), else its lower case plus 8 hex digits of its SHA-256.
pub fn dir_name(volume: &str) -> String {
    let plain = !volume.chars().any(|c| c.is_ascii_uppercase()) && !volume.ends_with('.');
    if plain {
        return volume.to_owned();
    }
    let digest = Sha256::digest(volume.as_bytes());
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{hex}",
        volume.to_ascii_lowercase().trim_end_matches('.')
    )
}

/// Name of the environment storage (≤ 32 characters) for the share.
pub fn storage_name(share: &str, read_only: bool) -> String {
    let name = if read_only {
        format!("{share}-ro")
    } else {
        share.to_owned()
    };
    if name.len() <= 32 {
        return name;
    }
    let digest = Sha256::digest(name.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("slv-{hex}{}", if read_only { "-ro" } else { "" })
}

/// `azurefile://account/share/dir`: a volume's `Mountpoint`.
pub fn mountpoint(account: &str, share: &str, dir: &str) -> String {
    format!("azurefile://{account}/{share}/{dir}")
}

/// Creates the share once per backend (data plane; an existing share is fine).
pub async fn ensure_share(backend: &AcaBackend) -> Result<(), ApiError> {
    let files = files(backend, "volume")?;
    backend
        .volume_state()
        .share
        .get_or_try_init(|| async {
            if files.create_share().await.map_err(map_azure_error)? {
                tracing::info!(
                    share = files.share(),
                    account = files.account(),
                    "created the volume share"
                );
            }
            Ok::<_, ApiError>(())
        })
        .await
        .map(|_| ())
}

/// The environment storage mounting the share (read-only or read-write),
/// made ready once per backend; returns its name.
pub async fn ensure_storage(backend: &AcaBackend, read_only: bool) -> Result<String, ApiError> {
    let state = backend.volume_state();
    let cell = if read_only { &state.ro } else { &state.rw };
    cell.get_or_try_init(|| put_storage_if_needed(backend, read_only))
        .await
        .cloned()
}

async fn put_storage_if_needed(backend: &AcaBackend, read_only: bool) -> Result<String, ApiError> {
    ensure_share(backend).await?;
    let files = files(backend, "volume")?;
    let config = backend.config();
    let key = config
        .storage_account_key
        .as_ref()
        .ok_or_else(|| ApiError::InvalidParameter(no_storage_message("volume")))?;
    let name = storage_name(files.share(), read_only);
    let mode = if read_only { "ReadOnly" } else { "ReadWrite" };
    let env = &backend.azure().environment;
    if let Some(existing) = env.get_storage(&name).await.map_err(map_azure_error)? {
        let af = existing.properties.and_then(|p| p.azure_file);
        let same = af.is_some_and(|a| {
            a.account_name.as_deref() == Some(files.account())
                && a.share_name.as_deref() == Some(files.share())
                && a.access_mode.as_deref() == Some(mode)
        });
        if same {
            tracing::info!(storage = %name, "reusing the environment storage of the volume share");
            return Ok(name);
        }
    }
    let storage = ManagedEnvironmentStorage {
        properties: Some(ManagedEnvironmentStorageProperties {
            azure_file: Some(AzureFileProperties {
                account_name: Some(files.account().to_owned()),
                // The key goes only into this property, as ACA requires.
                account_key: Some(key.expose().to_owned()),
                access_mode: Some(mode.to_owned()),
                share_name: Some(files.share().to_owned()),
            }),
        }),
        ..Default::default()
    };
    env.put_storage(&name, &storage)
        .await
        .map_err(map_azure_error)?;
    tracing::info!(storage = %name, access = mode, "created the environment storage of the volume share");
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_and_storage_names() {
        assert_eq!(dir_name("v1"), "v1");
        assert_eq!(dir_name("my_vol.data-1"), "my_vol.data-1");
        let upper = dir_name("V1");
        assert!(upper.starts_with("v1-") && upper.len() == 11, "{upper}");
        assert_ne!(dir_name("V1"), dir_name("v1"));
        assert_ne!(dir_name("v1."), dir_name("v1"));
        assert!(!dir_name("v1.").ends_with('.'));
        assert_eq!(
            storage_name("sockerless-volumes", false),
            "sockerless-volumes"
        );
        assert_eq!(
            storage_name("sockerless-volumes", true),
            "sockerless-volumes-ro"
        );
        let long = storage_name(&"a".repeat(40), true);
        assert!(long.len() <= 32 && long.ends_with("-ro"), "{long}");
        assert_eq!(mountpoint("acct", "s", "v1"), "azurefile://acct/s/v1");
    }
}
