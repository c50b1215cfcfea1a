//! ARM client and LRO polling against a local stub standing in for ARM.

use super::*;
use crate::pipeline::collect_request_ids;
use crate::test_support::{Stub, StubReply, stub_arm};
use azure_core::http::ExponentialRetryOptions;

fn client(stub: &Stub) -> ArmClient {
    let options = AzureOptions {
        retry: ExponentialRetryOptions {
            initial_delay: azure_core::time::Duration::milliseconds(10),
            max_retries: 3,
            max_total_elapsed: azure_core::time::Duration::seconds(30),
            max_delay: azure_core::time::Duration::seconds(2),
        },
        poll_interval: Duration::from_millis(10),
        lro_timeout: Duration::from_secs(20),
        ..AzureOptions::default()
    };
    stub_arm(stub, options)
}

fn ctx() -> CallContext {
    CallContext::new(
        "aca: put job j",
        "Container Apps Contributor on resource group rg",
    )
}

const JOB: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.App/jobs/j";

#[tokio::test]
async fn put_follows_azure_async_operation_then_gets_the_resource() {
    let stub = Stub::start(|base, method, path, n| match (method, path) {
        ("PUT", JOB) => StubReply::json(
            201,
            r#"{"name":"j","properties":{"provisioningState":"InProgress"}}"#,
        )
        .header(
            "azure-asyncoperation",
            format!("{base}ops/1?api-version=2025-01-01"),
        )
        .header("x-ms-request-id", "req-put"),
        ("GET", "/ops/1") if n == 0 => StubReply::json(200, r#"{"status":"InProgress"}"#),
        ("GET", "/ops/1") => StubReply::json(200, r#"{"status":"Succeeded"}"#),
        ("GET", JOB) => StubReply::json(
            200,
            r#"{"name":"j","properties":{"provisioningState":"Succeeded"}}"#,
        )
        .header("x-ms-request-id", "req-get")
        .header("x-ms-correlation-request-id", "corr-1"),
        _ => StubReply::json(
            404,
            r#"{"error":{"code":"ResourceNotFound","message":"no"}}"#,
        ),
    })
    .await;
    let arm = client(&stub);
    let (job, ids) = collect_request_ids(arm.put::<_, Value>(
        &ctx(),
        JOB,
        "2025-01-01",
        &serde_json::json!({"location":"eastus"}),
    ))
    .await;
    let job = job.expect("put succeeds");
    assert_eq!(job["properties"]["provisioningState"], "Succeeded");
    assert_eq!(
        stub.calls(),
        vec![
            format!("PUT {JOB}"),
            "GET /ops/1".into(),
            "GET /ops/1".into(),
            format!("GET {JOB}")
        ]
    );
    assert!(
        stub.auth_headers().iter().all(|a| a == "Bearer test-token"),
        "{:?}",
        stub.auth_headers()
    );
    let request_ids: Vec<_> = ids.iter().filter_map(|i| i.request_id.clone()).collect();
    assert_eq!(request_ids, ["req-put", "req-get"]);
    assert_eq!(
        ids.last().and_then(|i| i.correlation_id.as_deref()),
        Some("corr-1")
    );
    assert_eq!(ids.len(), 4, "every try is recorded");
}

#[tokio::test]
async fn put_polls_provisioning_state_without_async_header() {
    let stub = Stub::start(|_, method, path, n| match (method, path) {
        ("PUT", JOB) => {
            StubReply::json(201, r#"{"properties":{"provisioningState":"InProgress"}}"#)
        }
        ("GET", JOB) if n < 2 => {
            StubReply::json(200, r#"{"properties":{"provisioningState":"InProgress"}}"#)
        }
        ("GET", JOB) => StubReply::json(200, r#"{"properties":{"provisioningState":"Succeeded"}}"#),
        _ => StubReply::json(404, "{}"),
    })
    .await;
    let job: Value = client(&stub)
        .put(&ctx(), JOB, "2025-01-01", &serde_json::json!({}))
        .await
        .expect("put");
    assert_eq!(job["properties"]["provisioningState"], "Succeeded");
    assert_eq!(stub.calls().len(), 4);
}

#[tokio::test]
async fn failed_operation_maps_its_error() {
    let stub = Stub::start(|base, method, path, _| match (method, path) {
        ("PUT", JOB) => StubReply::json(201, "{}").header("azure-asyncoperation", format!("{base}ops/2")),
        ("GET", "/ops/2") => StubReply::json(200, r#"{"status":"Failed","error":{"code":"InvalidParameter","message":"bad cpu/memory pair"}}"#),
        _ => StubReply::json(404, "{}"),
    })
    .await;
    let err = client(&stub)
        .put::<_, Value>(&ctx(), JOB, "2025-01-01", &serde_json::json!({}))
        .await
        .expect_err("fails");
    assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
    assert_eq!(
        err.message(),
        "aca: put job j: InvalidParameter: bad cpu/memory pair"
    );
}

#[tokio::test]
async fn throttled_get_is_retried_after_retry_after() {
    let stub = Stub::start(|_, method, path, n| match (method, path) {
        ("GET", JOB) if n == 0 => StubReply::json(
            429,
            r#"{"error":{"code":"TooManyRequests","message":"slow down"}}"#,
        )
        .header("retry-after", "1"),
        ("GET", JOB) => StubReply::json(200, r#"{"name":"j"}"#),
        _ => StubReply::json(404, "{}"),
    })
    .await;
    let started = std::time::Instant::now();
    let job: Value = client(&stub)
        .get(&ctx(), JOB, "2025-01-01")
        .await
        .expect("retried");
    assert_eq!(job["name"], "j");
    assert_eq!(stub.calls().len(), 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
}

#[tokio::test]
async fn throttling_that_persists_becomes_unavailable() {
    let stub = Stub::start(|_, _, _, _| {
        StubReply::json(
            429,
            r#"{"error":{"code":"TooManyRequests","message":"slow down"}}"#,
        )
    })
    .await;
    let err = client(&stub)
        .get::<Value>(&ctx(), JOB, "2025-01-01")
        .await
        .expect_err("gives up");
    assert!(err.kind() == crate::ErrorKind::Unavailable, "{err:?}");
    assert_eq!(stub.calls().len(), 4, "1 try + 3 retries");
}

#[tokio::test]
async fn post_once_is_not_retried_on_500() {
    let stub = Stub::start(|_, _, _, _| {
        StubReply::json(
            500,
            r#"{"error":{"code":"InternalServerError","message":"boom"}}"#,
        )
    })
    .await;
    let arm = client(&stub);
    let err = arm
        .post_once(&ctx(), &format!("{JOB}/start"), "2025-01-01", None)
        .await
        .expect_err("500");
    assert!(
        err.kind() == crate::ErrorKind::Other && err.message().contains("boom"),
        "{err:?}"
    );
    assert_eq!(
        stub.calls(),
        vec![format!("POST {JOB}/start")],
        "start is sent exactly once"
    );

    // The retrying POST, for contrast, does retry.
    let _ = arm
        .post(&ctx(), &format!("{JOB}/listSecrets"), "2025-01-01", None)
        .await;
    assert_eq!(stub.calls().len(), 1 + 4);
}

/// A 429 means Azure did not execute the action: a start is sent again
/// after `Retry-After`, until it is accepted (at most a few times).
#[tokio::test]
async fn post_once_is_sent_again_when_throttled() {
    let stub = Stub::start(|_, method, _, n| match method {
        "POST" if n < 2 => StubReply::json(
            429,
            r#"{"error":{"code":"TooManyRequests","message":"slow down"}}"#,
        )
        .header("retry-after", "0"),
        "POST" => StubReply::json(200, r#"{"name":"exec-1"}"#),
        _ => StubReply::json(404, "{}"),
    })
    .await;
    let started = client(&stub)
        .post_once(&ctx(), &format!("{JOB}/start"), "2025-01-01", None)
        .await
        .expect("started after two throttles");
    assert_eq!(started.body["name"], "exec-1");
    assert_eq!(stub.calls().len(), 3);

    let always = Stub::start(|_, _, _, _| {
        StubReply::json(
            429,
            r#"{"error":{"code":"TooManyRequests","message":"slow down"}}"#,
        )
        .header("retry-after", "0")
    })
    .await;
    let err = client(&always)
        .post_once(&ctx(), &format!("{JOB}/start"), "2025-01-01", None)
        .await
        .expect_err("gives up");
    assert!(err.kind() == crate::ErrorKind::Unavailable, "{err:?}");
    assert_eq!(always.calls().len(), 1 + MAX_UNSENT_RETRIES as usize);
}

#[test]
fn poll_delay_has_a_floor_and_a_ceiling() {
    use azure_core::http::headers::Headers;
    let floor = Duration::from_millis(500);
    let with = |v: &str| {
        let mut h = Headers::new();
        h.insert(RETRY_AFTER, v.to_owned());
        poll_delay(&h, floor)
    };
    assert_eq!(with("0"), floor, "Retry-After: 0 is not a tight loop");
    assert_eq!(with("3"), Duration::from_secs(3));
    assert_eq!(with("3600"), MAX_POLL_WAIT);
    assert_eq!(poll_delay(&Headers::new(), floor), floor);
}

#[tokio::test]
async fn delete_follows_location_until_done() {
    let stub = Stub::start(|base, method, path, n| match (method, path) {
        ("DELETE", JOB) => StubReply::json(202, "")
            .header("location", format!("{base}ops/del"))
            .header("retry-after", "0"),
        ("GET", "/ops/del") if n == 0 => StubReply::json(202, ""),
        ("GET", "/ops/del") => StubReply::json(204, ""),
        _ => StubReply::json(
            404,
            r#"{"error":{"code":"ResourceNotFound","message":"gone"}}"#,
        ),
    })
    .await;
    let arm = client(&stub);
    assert!(arm.delete(&ctx(), JOB, "2025-01-01").await.expect("delete"));
    assert_eq!(stub.calls().len(), 3);
    assert!(
        !arm.delete(&ctx(), "/subscriptions/s/other", "2025-01-01")
            .await
            .expect("absent is fine")
    );
}

#[tokio::test]
async fn missing_resource_is_none_for_get_optional() {
    let stub = Stub::start(|_, _, _, _| {
        StubReply::json(
            404,
            r#"{"error":{"code":"ResourceNotFound","message":"The Resource was not found."}}"#,
        )
    })
    .await;
    let arm = client(&stub);
    assert_eq!(
        arm.get_optional::<Value>(&ctx(), JOB, "2025-01-01")
            .await
            .expect("ok"),
        None
    );
    let err = arm
        .get::<Value>(&ctx(), JOB, "2025-01-01")
        .await
        .expect_err("404");
    assert!(
        err.is_not_found()
            && err
                .message()
                .starts_with("aca: put job j: ResourceNotFound"),
        "{err:?}"
    );
}

#[tokio::test]
async fn lro_timeout_is_bounded() {
    let stub = Stub::start(|base, method, _, _| match method {
        "PUT" => {
            StubReply::json(201, "{}").header("azure-asyncoperation", format!("{base}ops/forever"))
        }
        _ => StubReply::json(200, r#"{"status":"InProgress"}"#),
    })
    .await;
    let mut options = AzureOptions {
        poll_interval: Duration::from_millis(50),
        lro_timeout: Duration::from_millis(200),
        ..Default::default()
    };
    options.retry.max_retries = 0;
    let arm = stub_arm(&stub, options);
    let err = arm
        .put::<_, Value>(&ctx(), JOB, "2025-01-01", &serde_json::json!({}))
        .await
        .expect_err("times out");
    assert!(err.kind() == crate::ErrorKind::Unavailable, "{err:?}");
}

const LOCKED: &str = r#"{"error":{"code":"ContainerAppLockConflict","message":"Cannot modify container App 'j' because another modification is in progress. Please retry the operation."}}"#;

#[tokio::test]
async fn a_write_refused_for_a_lock_is_sent_again_once_the_lock_is_gone() {
    let stub = Stub::start(|_, method, path, n| match (method, path) {
        ("PUT", JOB) if n < 2 => StubReply::json(409, LOCKED),
        ("PUT", JOB) => StubReply::json(
            200,
            r#"{"name":"j","properties":{"provisioningState":"Succeeded"}}"#,
        ),
        ("POST", _) => StubReply::json(409, LOCKED),
        _ => StubReply::json(
            404,
            r#"{"error":{"code":"ResourceNotFound","message":"no"}}"#,
        ),
    })
    .await;
    let arm = client(&stub);
    let job: Value = arm
        .put(&ctx(), JOB, "2025-01-01", &serde_json::json!({}))
        .await
        .expect("PUT after the lock");
    assert_eq!(job["name"], "j");
    let calls = |what: &str| stub.calls().iter().filter(|c| *c == what).count();
    assert_eq!(calls(&format!("PUT {JOB}")), 3);
    let err = arm
        .post_once(&ctx(), &format!("{JOB}/start"), "2025-01-01", None)
        .await
        .expect_err("a POST is not repeated");
    assert!(err.kind() == crate::ErrorKind::Conflict, "{err:?}");
    assert_eq!(calls(&format!("POST {JOB}/start")), 1);
}

#[tokio::test]
async fn a_put_whose_operation_failed_is_sent_again() {
    let stub = Stub::start(|base, method, path, n| match (method, path) {
        ("PUT", JOB) => StubReply::json(201, r#"{"name":"j","properties":{"provisioningState":"InProgress"}}"#)
            .header("azure-asyncoperation", format!("{base}ops/{n}?api-version=2025-01-01")),
        ("GET", "/ops/0") => StubReply::json(200, r#"{"status":"Failed","error":{"code":"ContainerAppOperationError","message":"internal"}}"#),
        ("GET", "/ops/1") => StubReply::json(200, r#"{"status":"Canceled","error":{"code":"OperationCanceled","message":"canceled"}}"#),
        ("GET", _) if path.starts_with("/ops/") => StubReply::json(200, r#"{"status":"Succeeded"}"#),
        ("GET", JOB) => StubReply::json(200, r#"{"name":"j","properties":{"provisioningState":"Succeeded"}}"#),
        _ => StubReply::json(404, r#"{"error":{"code":"ResourceNotFound","message":"no"}}"#),
    })
    .await;
    let arm = client(&stub);
    let job: Value = arm
        .put(&ctx(), JOB, "2025-01-01", &serde_json::json!({}))
        .await
        .expect("the third PUT's operation succeeds");
    assert_eq!(job["properties"]["provisioningState"], "Succeeded");
    let puts = stub
        .calls()
        .iter()
        .filter(|c| *c == &format!("PUT {JOB}"))
        .count();
    assert_eq!(puts, 3);
}
