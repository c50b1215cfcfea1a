//! Every Azure client the backend uses, built from the configuration.

use std::sync::Arc;

use azure_core::credentials::TokenCredential;

use super::arm::ArmClient;
use super::environments::EnvironmentClient;
use super::fileshares::FileSharesClient;
use super::jobs::JobsClient;
use super::loganalytics::LogAnalyticsClient;
use super::pipeline::AzureOptions;
use super::registry::{RegistryClient, RegistrySettings};
use crate::config::Config;

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
    /// Registry access.
    pub registry: RegistryClient,
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
            registry: RegistryClient::new(
                RegistrySettings {
                    server: config.registry_server.clone(),
                    username: config.registry_username.clone(),
                    password: config.registry_password.clone(),
                    mirrors: config.registry_mirrors.clone(),
                },
                credential,
                &options,
            ),
            arm,
        }
    }
}
