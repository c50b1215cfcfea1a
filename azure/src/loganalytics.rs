//! Log Analytics query API (`POST {endpoint}/v1/workspaces/{customerId}/query`).

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use azure_core::http::{Context, Method, Pipeline, Request};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::arm::ArmClient;
use crate::pipeline::{AzureOptions, new_pipeline};
use crate::{AzureError, CallContext};

/// API version of Microsoft.OperationalInsights workspaces (to resolve customer IDs).
pub const WORKSPACE_API_VERSION: &str = "2023-09-01";

/// The customer ID (GUID) the query API takes for `workspace`: returned as is
/// unless it is an ARM resource ID (`/subscriptions/...`), which is resolved
/// with one ARM GET (`properties.customerId`).
pub async fn resolve_customer_id(arm: &ArmClient, workspace: &str) -> Result<String, AzureError> {
    if !workspace.starts_with("/subscriptions/") {
        return Ok(workspace.to_owned());
    }
    let ctx = CallContext::new(
        format!("aca: get Log Analytics workspace {workspace}"),
        format!("Log Analytics Reader on workspace {workspace}"),
    );
    let body: Value = arm.get(&ctx, workspace, WORKSPACE_API_VERSION).await?;
    body.pointer("/properties/customerId")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            AzureError::other(format!(
                "{}: the workspace has no customerId",
                ctx.operation
            ))
        })
}

/// The query body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueryBody<'a> {
    /// KQL.
    pub query: &'a str,
    /// ISO 8601 timespan, e.g. `PT1H` or `2024-01-01T00:00:00Z/2024-01-02T00:00:00Z`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timespan: Option<&'a str>,
}

/// A column of a result table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// KQL type (`string`, `datetime`, `long`, …).
    #[serde(rename = "type")]
    pub column_type: String,
}

/// A result table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// Table name, usually `PrimaryResult`.
    pub name: String,
    /// Columns.
    pub columns: Vec<Column>,
    /// Rows, one value per column.
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    /// Index of column `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}

/// Query results (`tables`, and `error` for partial failures).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryResults {
    /// Result tables.
    pub tables: Vec<Table>,
    /// Partial error, when the query only partly succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

/// A Log Analytics query client.
#[derive(Debug, Clone)]
pub struct LogAnalyticsClient {
    endpoint: Url,
    pipeline: Pipeline,
}

impl LogAnalyticsClient {
    /// A client for `endpoint` getting tokens for `scope` (e.g. `https://api.loganalytics.io/.default`).
    pub fn with_scope(
        endpoint: Url,
        scope: &str,
        credential: Arc<dyn TokenCredential>,
        options: &AzureOptions,
    ) -> Self {
        let pipeline = new_pipeline(credential, scope, options, true);
        Self { endpoint, pipeline }
    }

    /// Runs `query` in workspace `workspace_id` (the customer ID, a GUID).
    pub async fn query(
        &self,
        workspace_id: &str,
        query: &str,
        timespan: Option<&str>,
    ) -> Result<QueryResults, AzureError> {
        self.query_table(workspace_id, query, timespan)
            .await?
            .ok_or_else(|| {
                AzureError::unavailable(format!(
                    "aca: query Log Analytics workspace {workspace_id}: a table the query reads \
                     does not exist yet (Log Analytics creates it with its first row)"
                ))
            })
    }

    /// [`Self::query`], with `None` when a table the query reads does not
    /// exist: Log Analytics creates a table with its first ingested row, so a
    /// new workspace answers `SemanticError` until then. For callers that read
    /// one table, that means "no rows yet".
    pub async fn query_table(
        &self,
        workspace_id: &str,
        query: &str,
        timespan: Option<&str>,
    ) -> Result<Option<QueryResults>, AzureError> {
        let ctx = CallContext::new(
            format!("aca: query Log Analytics workspace {workspace_id}"),
            format!("Log Analytics Reader on workspace {workspace_id}"),
        );
        let mut url = self.endpoint.clone();
        url.path_segments_mut()
            .map_err(|()| {
                AzureError::other(format!(
                    "{}: invalid endpoint {}",
                    ctx.operation, self.endpoint
                ))
            })?
            .pop_if_empty()
            .extend(["v1", "workspaces", workspace_id, "query"]);
        let mut request = Request::new(url, Method::Post);
        request.insert_header("content-type", "application/json");
        request.insert_header("accept", "application/json");
        let body = serde_json::to_vec(&QueryBody { query, timespan })
            .map_err(|e| AzureError::other(format!("{}: {e}", ctx.operation)))?;
        request.set_body(body);
        let response = match self
            .pipeline
            .send(&Context::new(), &mut request, None)
            .await
        {
            Ok(response) => response,
            Err(e) if names_missing_table(&e) => return Ok(None),
            Err(e) => return Err(AzureError::from_core(&ctx, e)),
        };
        serde_json::from_slice(&response.into_body())
            .map(Some)
            .map_err(|e| AzureError::other(format!("{}: unexpected response: {e}", ctx.operation)))
    }
}

/// Whether `err` is Log Analytics' answer for a table that does not exist:
/// 400 `BadArgumentError` whose inner errors hold `SemanticError` "Failed to
/// resolve table or column expression named '…'".
fn names_missing_table(err: &azure_core::Error) -> bool {
    let azure_core::error::ErrorKind::HttpResponse {
        status,
        raw_response: Some(raw),
        ..
    } = err.kind()
    else {
        return false;
    };
    if u16::from(*status) != 400 {
        return false;
    }
    let Ok(body) = serde_json::from_slice::<Value>(raw.body().as_ref()) else {
        return false;
    };
    // The codes nest: error → innererror → innererror; any level may carry it.
    let mut level = body.get("error");
    let mut semantic = false;
    let mut unresolved = false;
    while let Some(e) = level {
        semantic |= e.get("code").and_then(Value::as_str) == Some("SemanticError");
        unresolved |= e
            .get("message")
            .and_then(Value::as_str)
            .is_some_and(|m| m.contains("Failed to resolve table"));
        level = e.get("innererror");
    }
    semantic && unresolved
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::scope_for;
    use crate::test_support::{StaticCredential, Stub, StubReply, stub_arm};

    fn client(stub: &Stub) -> LogAnalyticsClient {
        LogAnalyticsClient::with_scope(
            stub.base.clone(),
            &scope_for(&stub.base),
            Arc::new(StaticCredential),
            &AzureOptions::default(),
        )
    }

    #[tokio::test]
    async fn query_posts_kql_and_parses_tables() {
        let stub = Stub::start(|_, method, path, _| match (method, path) {
            ("POST", "/v1/workspaces/ws-guid/query") => StubReply::json(
                200,
                r#"{"tables":[{"name":"PrimaryResult","columns":[{"name":"Log_s","type":"string"},{"name":"Stream_s","type":"string"}],"rows":[["hi","stdout"]]}]}"#,
            ),
            _ => StubReply::json(403, r#"{"error":{"code":"InsufficientAccessError","message":"no access"}}"#),
        })
        .await;
        let client = client(&stub);
        let results = client
            .query(
                "ws-guid",
                "ContainerAppConsoleLogs_CL | take 1",
                Some("PT1H"),
            )
            .await
            .expect("query");
        let table = &results.tables[0];
        assert_eq!(table.column("Stream_s"), Some(1));
        assert_eq!(table.rows[0][0], "hi");

        let err = client
            .query("other", "x", None)
            .await
            .expect_err("forbidden");
        assert!(
            err.kind() == crate::ErrorKind::Denied
                && err
                    .message()
                    .contains("Log Analytics Reader on workspace other"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_table_that_does_not_exist_yet_is_none_not_an_error() {
        // Log Analytics' answer before a workspace's first console row.
        const MISSING: &str = r#"{"error":{"message":"The request had some invalid properties","code":"BadArgumentError","correlationId":"c","innererror":{"code":"SemanticError","message":"A semantic error occurred.","innererror":{"code":"SEM0100","message":"'where' operator: Failed to resolve table or column expression named 'ContainerAppConsoleLogs_CL'"}}}}"#;
        const SYNTAX: &str = r#"{"error":{"message":"The request had some invalid properties","code":"BadArgumentError","innererror":{"code":"SyntaxError","message":"A recognition error occurred."}}}"#;
        let stub = Stub::start(|_, _, path, _| match path {
            "/v1/workspaces/new/query" => StubReply::json(400, MISSING),
            _ => StubReply::json(400, SYNTAX),
        })
        .await;
        let client = client(&stub);
        let q = "ContainerAppConsoleLogs_CL | take 1";
        assert_eq!(client.query_table("new", q, None).await.expect("ok"), None);
        let err = client.query("new", q, None).await.expect_err("no table");
        assert!(err.kind() == crate::ErrorKind::Unavailable, "{err:?}");
        let err = client
            .query_table("other", "bad |", None)
            .await
            .expect_err("a syntax error stays an error");
        assert!(err.kind() == crate::ErrorKind::InvalidInput, "{err:?}");
    }

    #[tokio::test]
    async fn workspace_arm_id_resolves_to_customer_id() {
        const WS: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/logs";
        let stub = Stub::start(|_, method, path, _| match (method, path) {
            ("GET", WS) => StubReply::json(
                200,
                r#"{"name":"logs","properties":{"customerId":"1234-guid"}}"#,
            ),
            _ => StubReply::json(404, "{}"),
        })
        .await;
        let arm = stub_arm(&stub, AzureOptions::default());
        assert_eq!(
            resolve_customer_id(&arm, WS).await.expect("resolve"),
            "1234-guid"
        );
        assert_eq!(
            resolve_customer_id(&arm, "abcd-guid").await.expect("as is"),
            "abcd-guid"
        );
        assert_eq!(stub.calls().len(), 1);
    }

    #[test]
    fn body_skips_absent_timespan() {
        let body = serde_json::to_string(&QueryBody {
            query: "T | take 1",
            timespan: None,
        })
        .expect("ser");
        assert_eq!(body, r#"{"query":"T | take 1"}"#);
    }
}
