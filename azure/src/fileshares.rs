//! Azure Files shares through ARM (Microsoft.Storage 2024-01-01).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::arm::ArmClient;
use crate::{AzureError, CallContext};

/// API version of Microsoft.Storage file shares.
pub const STORAGE_API_VERSION: &str = "2024-01-01";

/// A file share (`FileShare` of file.json); properties kept as returned.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileShare {
    /// ARM ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Share name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Properties (`shareQuota`, `enabledProtocols`, `accessTier`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<Value>,
}

/// File shares of one storage account.
#[derive(Debug, Clone)]
pub struct FileSharesClient {
    arm: ArmClient,
    account: String,
    base: String,
}

impl FileSharesClient {
    /// Shares of storage account `account` in `resource_group`.
    pub fn new(arm: ArmClient, subscription_id: &str, resource_group: &str, account: &str) -> Self {
        Self {
            arm,
            account: account.to_owned(),
            base: format!(
                "/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/Microsoft.Storage/storageAccounts/{account}/fileServices/default/shares"
            ),
        }
    }

    fn ctx(&self, what: impl std::fmt::Display) -> CallContext {
        CallContext::new(
            format!("aca: {what}"),
            format!(
                "Storage Account Contributor on storage account {}",
                self.account
            ),
        )
    }

    /// Creates (or updates) a share with an optional quota in GiB.
    pub async fn create_share(
        &self,
        name: &str,
        quota_gib: Option<u32>,
    ) -> Result<FileShare, AzureError> {
        let mut properties = serde_json::Map::new();
        if let Some(q) = quota_gib {
            properties.insert("shareQuota".into(), q.into());
        }
        let body = FileShare {
            properties: Some(Value::Object(properties)),
            ..Default::default()
        };
        self.arm
            .put(
                &self.ctx(format!("create file share {name}")),
                &format!("{}/{name}", self.base),
                STORAGE_API_VERSION,
                &body,
            )
            .await
    }

    /// A share, or `None`.
    pub async fn get_share(&self, name: &str) -> Result<Option<FileShare>, AzureError> {
        self.arm
            .get_optional(
                &self.ctx(format!("get file share {name}")),
                &format!("{}/{name}", self.base),
                STORAGE_API_VERSION,
            )
            .await
    }

    /// Deletes a share; `false` if it did not exist.
    pub async fn delete_share(&self, name: &str) -> Result<bool, AzureError> {
        self.arm
            .delete(
                &self.ctx(format!("delete file share {name}")),
                &format!("{}/{name}", self.base),
                STORAGE_API_VERSION,
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::AzureOptions;
    use crate::test_support::{Stub, StubReply, stub_arm};

    const SHARE: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct/fileServices/default/shares/slv-1";

    #[tokio::test]
    async fn share_create_get_delete() {
        let stub = Stub::start(|_, method, path, n| match (method, path) {
            ("PUT", SHARE) => StubReply::json(201, r#"{"name":"slv-1","properties":{"shareQuota":5}}"#),
            ("GET", SHARE) if n == 0 => StubReply::json(200, r#"{"name":"slv-1"}"#),
            ("DELETE", SHARE) => StubReply::json(200, ""),
            _ => StubReply::json(404, r#"{"error":{"code":"ShareNotFound","message":"The specified share does not exist."}}"#),
        })
        .await;
        let arm = stub_arm(&stub, AzureOptions::default());
        let shares = FileSharesClient::new(arm, "s", "rg", "acct");
        let share = shares.create_share("slv-1", Some(5)).await.expect("create");
        assert_eq!(
            share.properties.and_then(|p| p.get("shareQuota").cloned()),
            Some(5.into())
        );
        assert!(shares.get_share("slv-1").await.expect("get").is_some());
        assert!(shares.delete_share("slv-1").await.expect("delete"));
        assert_eq!(shares.get_share("slv-1").await.expect("get"), None);
        assert!(stub.calls()[0].starts_with("PUT "));
    }
}
