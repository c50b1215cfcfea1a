//! Tests of [`AcaBackend`]: its construction and the system operations.

use sockerless_azure::test_support::{StaticCredential, Stub, StubReply};

use super::*;
use crate::store::{ContainerRecord, records};
use sockerless_api::{Backend, Filters};

const ENV_PATH: &str =
    "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.App/managedEnvironments/env";

async fn backend(stub: &Stub, dir: &tempfile::TempDir) -> AcaBackend {
    let mut config = Config::new("sub", "rg", "env", "eastus");
    config.data_dir = dir.path().to_owned();
    config.arm_endpoint = stub.base.clone();
    AcaBackend::with_credential(config, Arc::new(StaticCredential), AzureOptions::default())
        .await
        .expect("backend")
}

#[test]
fn capability_json_is_exactly_aca_001() {
    let got = serde_json::to_value(backend_info()).expect("ser");
    let want = serde_json::json!({
        "backend": "aca", "version": env!("CARGO_PKG_VERSION"),
        "capabilities": {
            "exec": true, "attach": true, "logs": true, "logs_follow": true,
            "volumes": true, "networks": true, "health_checks": true,
            "image_pull": true, "image_load": true,
            "max_timeout_seconds": 0, "agent_required": true
        }
    });
    assert_eq!(got, want);
}

#[tokio::test]
async fn system_info_counts_from_store_and_reads_the_environment() {
    let stub = Stub::start(|_, method, path, _| match (method, path) {
        ("GET", ENV_PATH) => StubReply::json(
            200,
            r#"{"name":"env","properties":{"provisioningState":"Succeeded"}}"#,
        ),
        _ => StubReply::json(404, "{}"),
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = backend(&stub, &dir).await;
    let id = "ab".repeat(32);
    let record = ContainerRecord {
        id: id.clone(),
        name: "web".into(),
        image: "busybox".into(),
        job_name: crate::names::job_name(&id).expect("name"),
        execution_name: None,
        agent_address: None,
        agent_token_hash: None,
        state: "running".into(),
        exit_code: None,
        created_at: 0,
        started_at: None,
        finished_at: None,
        config: serde_json::json!({}),
    };
    backend
        .store()
        .call(move |c| records::put_container(c, &record))
        .await
        .expect("put");

    let info = backend.system_info().await.expect("info");
    assert_eq!(info.containers, Some(1));
    assert_eq!(info.containers_running, Some(1));
    assert_eq!(info.os_type.as_deref(), Some("linux"));
    assert_eq!(info.architecture.as_deref(), Some("x86_64"));
    assert_eq!(
        info.server_version.as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(info.ncpu, Some(4));
    assert_eq!(info.mem_total, Some(8 * 1024 * 1024 * 1024));
    assert_eq!(info.warnings, Some(vec![]));
    assert_eq!(stub.calls(), vec![format!("GET {ENV_PATH}")]);
    backend.ping().await.expect("ping");
    let version = backend.system_version().await.expect("version");
    assert_eq!(version.api_version.as_deref(), Some("1.44"));
}

#[tokio::test]
async fn missing_environment_is_a_warning_naming_its_id() {
    let stub = Stub::start(|_, _, _, _| {
        StubReply::json(
            404,
            r#"{"error":{"code":"ResourceNotFound","message":"nope"}}"#,
        )
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = backend(&stub, &dir).await;
    let warning = backend.check_environment().await.expect("warning");
    assert!(warning.contains(ENV_PATH), "{warning}");
    let info = backend.system_info().await.expect("info still works");
    assert_eq!(info.warnings.map(|w| w.len()), Some(1));
}

#[tokio::test]
async fn unbuilt_operations_say_so() {
    let stub = Stub::start(|_, _, _, _| StubReply::json(404, "{}")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = backend(&stub, &dir).await;
    let bad = Filters::from([("nope".to_owned(), vec!["x".to_owned()])]);
    let Err(err) = backend.events(None, None, bad).await else {
        panic!("an unknown events filter is refused");
    };
    assert_eq!(
        err,
        ApiError::InvalidParameter("invalid filter 'nope'".into())
    );
    backend.close().await.expect("close");
    assert!(
        backend.ping().await.is_err(),
        "ping fails once the store is closed"
    );
}

#[tokio::test]
async fn workspace_arm_id_is_resolved_once() {
    const WS: &str = "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/logs";
    let stub = Stub::start(|_, method, path, _| match (method, path) {
        ("GET", WS) => StubReply::json(200, r#"{"properties":{"customerId":"cust-guid"}}"#),
        _ => StubReply::json(404, "{}"),
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::new("sub", "rg", "env", "eastus");
    config.data_dir = dir.path().to_owned();
    config.arm_endpoint = stub.base.clone();
    config.log_analytics_workspace_id = Some(WS.into());
    let backend =
        AcaBackend::with_credential(config, Arc::new(StaticCredential), AzureOptions::default())
            .await
            .expect("backend");
    for _ in 0..2 {
        assert_eq!(
            backend
                .log_analytics_workspace()
                .await
                .expect("resolve")
                .as_deref(),
            Some("cust-guid")
        );
    }
    assert_eq!(stub.calls().len(), 1);
}
