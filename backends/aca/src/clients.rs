//! Every Azure client the backend uses, built from the configuration.

use std::sync::Arc;

use azure_core::credentials::TokenCredential;

use sockerless_azure::Secret;
use sockerless_azure::acr_tasks::AcrTasksClient;
use sockerless_azure::arm::ArmClient;
use sockerless_azure::blobs::BlobClient;
use sockerless_azure::environments::EnvironmentClient;
use sockerless_azure::files::FilesClient;
use sockerless_azure::fileshares::FileSharesClient;
use sockerless_azure::jobs::JobsClient;
use sockerless_azure::loganalytics::LogAnalyticsClient;
use sockerless_azure::pipeline::AzureOptions;
use sockerless_azure::registry::{RegistryClient, RegistrySettings};

use crate::config::{Config, SecretString};

/// The Azure clients the backend uses; cheap to clone.
#[derive(Debug, Clone)]
pub struct AzureClients {
    /// ARM (shared by the ARM clients).
    pub arm: ArmClient,
    /// Container Apps Jobs.
    pub jobs: JobsClient,
    /// The managed environment and its storages.
    pub environment: EnvironmentClient,
    /// Log Analytics queries.
    pub log_analytics: LogAnalyticsClient,
    /// Azure Files shares, when a storage account is configured.
    pub file_shares: Option<FileSharesClient>,
    /// The Azure Files data plane of the volume share, when a storage
    /// account and its key are configured.
    pub files: Option<FilesClient>,
    /// Registry access.
    pub registry: RegistryClient,
    /// ACR Tasks of the registry that builds images, or why there is none.
    pub acr_tasks: Result<AcrTasksClient, String>,
    /// Blobs through SAS URLs (a build's source and log).
    pub blobs: BlobClient,
}

/// The registry whose ACR Tasks build images, as `(subscription, resource
/// group, name)`: `acr_resource_id`, else the `registry_server` registry
/// (`<name>.azurecr.io`) in the configured resource group; else why not.
pub fn acr_registry(config: &Config) -> Result<(String, String, String), String> {
    if let Some(id) = &config.acr_resource_id {
        let parts: Vec<&str> = id.trim_matches('/').split('/').collect();
        return match parts.as_slice() {
            [
                "subscriptions",
                sub,
                "resourceGroups",
                rg,
                "providers",
                provider,
                "registries",
                name,
            ] if provider.eq_ignore_ascii_case("Microsoft.ContainerRegistry")
                && [sub, rg, name].iter().all(|p| !p.is_empty()) =>
            {
                Ok(((*sub).to_owned(), (*rg).to_owned(), (*name).to_owned()))
            }
            _ => Err(format!(
                "acr_resource_id {id:?} is not a registry's ARM ID \
                 (/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.ContainerRegistry/registries/<name>)"
            )),
        };
    }
    let Some(server) = &config.registry_server else {
        return Err("docker build runs on ACR Tasks and pushes to registry_server: configure registry_server (an Azure Container Registry, <name>.azurecr.io)".to_owned());
    };
    match server.to_ascii_lowercase().strip_suffix(".azurecr.io") {
        Some(name) if !name.is_empty() && !name.contains('.') => Ok((
            config.subscription_id.clone(),
            config.resource_group.clone(),
            name.to_owned(),
        )),
        _ => Err(format!(
            "docker build runs on ACR Tasks: registry_server {server} is not an Azure Container Registry (<name>.azurecr.io); configure acr_resource_id with the ARM ID of the registry that builds and serves {server}"
        )),
    }
}

/// The Azure Files endpoint of the configured storage account.
pub fn file_endpoint(config: &Config) -> Option<url::Url> {
    let account = config.storage_account_name.as_deref()?;
    match &config.storage_file_endpoint {
        Some(u) => Some(u.clone()),
        None => url::Url::parse(&format!("https://{account}.file.core.windows.net")).ok(),
    }
}

fn files_client(config: &Config) -> Option<FilesClient> {
    let (account, key) = (
        config.storage_account_name.as_deref()?,
        config.storage_account_key.as_ref()?,
    );
    let endpoint = file_endpoint(config)?;
    match FilesClient::new(endpoint, account, &secret(key), &config.storage_share_name) {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::error!(error = %e, "no Azure Files client: volumes are refused");
            None
        }
    }
}

/// The configured secret, as the clients take it.
fn secret(value: &SecretString) -> Secret {
    Secret::new(value.expose().to_owned())
}

impl AzureClients {
    /// Builds every client for `config` with `credential`.
    pub fn new(
        config: &Config,
        credential: Arc<dyn TokenCredential>,
        options: AzureOptions,
    ) -> Self {
        let arm = ArmClient::with_scope(
            config.arm_endpoint.clone(),
            &config.arm_scope(),
            credential.clone(),
            options.clone(),
        );
        Self {
            jobs: JobsClient::new(arm.clone(), &config.subscription_id, &config.resource_group),
            environment: EnvironmentClient::new(
                arm.clone(),
                &config.subscription_id,
                &config.resource_group,
                &config.managed_environment_name,
            ),
            log_analytics: LogAnalyticsClient::with_scope(
                config.log_analytics_endpoint.clone(),
                &config.log_analytics_scope(),
                credential.clone(),
                &options,
            ),
            file_shares: config.storage_account_name.as_deref().map(|account| {
                FileSharesClient::new(
                    arm.clone(),
                    &config.subscription_id,
                    &config.resource_group,
                    account,
                )
            }),
            files: files_client(config),
            registry: RegistryClient::new(
                RegistrySettings {
                    server: config.registry_server.clone(),
                    username: config.registry_username.clone(),
                    password: config.registry_password.as_ref().map(secret),
                    mirrors: config.registry_mirrors.clone(),
                },
                credential,
                &options,
            ),
            acr_tasks: acr_registry(config)
                .map(|(sub, rg, name)| AcrTasksClient::new(arm.clone(), &sub, &rg, &name)),
            blobs: BlobClient::new(),
            arm,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::new("sub", "rg", "env", "westeurope")
    }

    #[test]
    fn the_build_registry_comes_from_the_id_or_the_acr_server() {
        let mut c = config();
        assert!(
            acr_registry(&c)
                .unwrap_err()
                .contains("configure registry_server")
        );
        c.registry_server = Some("MyReg.azurecr.io".into());
        assert_eq!(
            acr_registry(&c).expect("acr"),
            ("sub".into(), "rg".into(), "myreg".into())
        );
        c.registry_server = Some("127.0.0.1:5000".into());
        assert!(acr_registry(&c).unwrap_err().contains("acr_resource_id"));
        c.acr_resource_id = Some(
            "/subscriptions/s2/resourceGroups/rg2/providers/Microsoft.ContainerRegistry/registries/r2"
                .into(),
        );
        assert_eq!(
            acr_registry(&c).expect("id"),
            ("s2".into(), "rg2".into(), "r2".into())
        );
        c.acr_resource_id = Some("/subscriptions/s2/resourceGroups/rg2".into());
        assert!(
            acr_registry(&c)
                .unwrap_err()
                .contains("not a registry's ARM ID")
        );
    }
}
