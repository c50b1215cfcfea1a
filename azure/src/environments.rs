//! The managed environment and its storages (Microsoft.App 2025-01-01).

use crate::arm::ArmClient;
use crate::models::{APP_API_VERSION, ManagedEnvironment, ManagedEnvironmentStorage};
use crate::{AzureError, CallContext};

/// One managed environment.
#[derive(Debug, Clone)]
pub struct EnvironmentClient {
    arm: ArmClient,
    resource_group: String,
    id: String,
    name: String,
}

impl EnvironmentClient {
    /// The environment `name` in `resource_group` of `subscription_id`.
    pub fn new(arm: ArmClient, subscription_id: &str, resource_group: &str, name: &str) -> Self {
        Self {
            arm,
            resource_group: resource_group.to_owned(),
            id: format!(
                "/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/Microsoft.App/managedEnvironments/{name}"
            ),
            name: name.to_owned(),
        }
    }

    /// The environment's ARM ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn ctx(&self, what: impl std::fmt::Display) -> CallContext {
        CallContext::new(
            format!("aca: {what}"),
            format!(
                "Container Apps Contributor (or Reader) on resource group {}",
                self.resource_group
            ),
        )
    }

    /// The environment, or `None` if it does not exist.
    pub async fn get(&self) -> Result<Option<ManagedEnvironment>, AzureError> {
        let ctx = self.ctx(format!("get managed environment {}", self.name));
        self.arm.get_optional(&ctx, &self.id, APP_API_VERSION).await
    }

    /// Creates or replaces an environment storage (Azure Files share binding).
    pub async fn put_storage(
        &self,
        name: &str,
        storage: &ManagedEnvironmentStorage,
    ) -> Result<ManagedEnvironmentStorage, AzureError> {
        let ctx = self.ctx(format!("put environment storage {name}"));
        self.arm
            .put(
                &ctx,
                &format!("{}/storages/{name}", self.id),
                APP_API_VERSION,
                storage,
            )
            .await
    }

    /// An environment storage, or `None`.
    pub async fn get_storage(
        &self,
        name: &str,
    ) -> Result<Option<ManagedEnvironmentStorage>, AzureError> {
        let ctx = self.ctx(format!("get environment storage {name}"));
        self.arm
            .get_optional(
                &ctx,
                &format!("{}/storages/{name}", self.id),
                APP_API_VERSION,
            )
            .await
    }

    /// Deletes an environment storage; `false` if it did not exist.
    pub async fn delete_storage(&self, name: &str) -> Result<bool, AzureError> {
        let ctx = self.ctx(format!("delete environment storage {name}"));
        self.arm
            .delete(
                &ctx,
                &format!("{}/storages/{name}", self.id),
                APP_API_VERSION,
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{AzureFileProperties, ManagedEnvironmentStorageProperties};
    use crate::pipeline::AzureOptions;
    use crate::test_support::{Stub, StubReply, stub_arm};

    const STORAGE: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.App/managedEnvironments/env/storages/slv-1";

    #[tokio::test]
    async fn storage_put_get_delete() {
        let stub = Stub::start(|_, method, path, _| match (method, path) {
            ("PUT", STORAGE) => StubReply::json(200, r#"{"name":"slv-1","properties":{"azureFile":{"accountName":"acct","shareName":"slv-1","accessMode":"ReadWrite"}}}"#),
            ("GET", STORAGE) => StubReply::json(200, r#"{"name":"slv-1"}"#),
            ("DELETE", STORAGE) => StubReply::json(204, ""),
            _ => StubReply::json(404, "{}"),
        })
        .await;
        let arm = stub_arm(&stub, AzureOptions::default());
        let env = EnvironmentClient::new(arm, "s", "rg", "env");
        let storage = ManagedEnvironmentStorage {
            properties: Some(ManagedEnvironmentStorageProperties {
                azure_file: Some(AzureFileProperties {
                    account_name: Some("acct".into()),
                    account_key: Some("key".into()),
                    access_mode: Some("ReadWrite".into()),
                    share_name: Some("slv-1".into()),
                }),
            }),
            ..Default::default()
        };
        let got = env.put_storage("slv-1", &storage).await.expect("put");
        assert_eq!(got.name.as_deref(), Some("slv-1"));
        assert!(env.get_storage("slv-1").await.expect("get").is_some());
        assert!(
            !env.delete_storage("slv-1")
                .await
                .expect("204 means it was not there")
        );
    }
}
