//! Every Azure client the backend uses, built from the configuration.

use std::sync::Arc;

use azure_core::credentials::TokenCredential;

use sockerless_azure::Secret;
use sockerless_azure::arm::ArmClient;
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
            arm,
        }
    }
}
