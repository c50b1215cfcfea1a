//! Volumes through the `Backend` methods: records only, and with a storage
//! account against a stub ARM.

use std::sync::Arc;

use serde_json::json;
use sockerless_api::Backend;

use super::*;
use crate::azure::pipeline::AzureOptions;
use crate::azure::test_support::{StaticCredential, Stub, StubReply};
use crate::config::{Config, SecretString};
use crate::networks::tests::put_container;

async fn backend(dir: &tempfile::TempDir, arm: &url::Url, storage: bool) -> AcaBackend {
    let mut config = Config::new("sub", "rg", "env", "eastus");
    config.data_dir = dir.path().to_owned();
    config.arm_endpoint = arm.clone();
    if storage {
        config.storage_account_name = Some("acct".into());
        config.storage_account_key = Some(SecretString::new("account-key"));
    }
    AcaBackend::with_credential(config, Arc::new(StaticCredential), AzureOptions::default())
        .await
        .expect("backend")
}

fn named(name: &str) -> VolumeCreateRequest {
    VolumeCreateRequest {
        name: Some(name.to_owned()),
        labels: Some(HashMap::from([("app".to_owned(), "db".to_owned())])),
        ..Default::default()
    }
}

fn filters(pairs: &[(&str, &str)]) -> Filters {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), vec![(*v).to_owned()]))
        .collect()
}

#[tokio::test]
async fn record_only_volumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let unroutable = url::Url::parse("http://127.0.0.1:9/").expect("url");
    let b = backend(&dir, &unroutable, false).await;
    let v = b.volume_create(named("data")).await.expect("create");
    assert_eq!(
        (v.name.as_str(), v.driver.as_str(), v.mountpoint.as_str()),
        ("data", "local", "")
    );
    assert_eq!(v.scope, Some(VolumeScopeEnum::LOCAL));
    assert!(
        v.status
            .as_ref()
            .is_some_and(|s| s[0].starts_with("record only")),
        "{:?}",
        v.status
    );
    let again = b.volume_create(named("data")).await.expect("idempotent");
    assert_eq!(again.created_at, v.created_at);
    let anon = b
        .volume_create(VolumeCreateRequest::default())
        .await
        .expect("anonymous");
    assert_eq!(anon.name.len(), 64);
    assert!(anon.labels.contains_key(ANONYMOUS_LABEL));

    let err = b.volume_create(named("/abs")).await.expect_err("bad name");
    assert!(matches!(err, ApiError::InvalidParameter(_)));
    let err = b
        .volume_create(VolumeCreateRequest {
            driver: Some("nfs".into()),
            ..named("x1")
        })
        .await
        .expect_err("driver");
    assert!(matches!(err, ApiError::InvalidParameter(_)));

    let listed = b
        .volume_list(Filters::new())
        .await
        .expect("list")
        .volumes
        .expect("volumes");
    assert_eq!(listed.len(), 2);
    let listed = b
        .volume_list(filters(&[("label", "app=db")]))
        .await
        .expect("list")
        .volumes
        .expect("v");
    assert_eq!(
        listed.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(),
        ["data"]
    );
    let listed = b
        .volume_list(filters(&[("name", "dat")]))
        .await
        .expect("list")
        .volumes
        .expect("v");
    assert_eq!(listed.len(), 1);

    put_container(
        &b,
        &"d".repeat(64),
        "db",
        "exited",
        json!({"body": {"HostConfig": {"Binds": ["data:/var/lib/db:rw", "/host:/h"]}}}),
    )
    .await;
    let dangling = b
        .volume_list(filters(&[("dangling", "true")]))
        .await
        .expect("list")
        .volumes
        .expect("v");
    assert_eq!(
        dangling.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(),
        [anon.name.as_str()]
    );
    let err = b.volume_remove("data", false).await.expect_err("in use");
    assert!(
        matches!(err, ApiError::Conflict(ref m) if m.contains("volume is in use")),
        "{err:?}"
    );

    let pruned = b.volume_prune(Filters::new()).await.expect("prune");
    assert_eq!(pruned.volumes_deleted, Some(vec![anon.name.clone()]));
    let pruned = b
        .volume_prune(filters(&[("all", "true")]))
        .await
        .expect("prune");
    assert_eq!(pruned.volumes_deleted, Some(vec![]), "data is in use");

    b.volume_remove("data", true).await.expect("forced");
    let err = b.volume_inspect("data").await.expect_err("gone");
    assert_eq!(err, ApiError::NotFound("get data: no such volume".into()));
    let err = b.volume_remove("data", false).await.expect_err("gone");
    assert!(matches!(err, ApiError::NotFound(_)));
    b.volume_remove("data", true)
        .await
        .expect("force ignores missing");
}

#[tokio::test]
async fn storage_account_volumes_are_shares() {
    let share = crate::names::file_share_name("cache");
    let share_path = format!(
        "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct/fileServices/default/shares/{share}"
    );
    let storage_path = format!(
        "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.App/managedEnvironments/env/storages/{share}"
    );
    let (sp, st) = (share_path.clone(), storage_path.clone());
    let stub = Stub::start(move |_, method, path, _| match method {
        "PUT" if path == sp => StubReply::json(201, r#"{"name":"x","properties":{}}"#),
        "PUT" if path == st => StubReply::json(
            200,
            r#"{"name":"x","properties":{"azureFile":{"accountName":"acct"}}}"#,
        ),
        "DELETE" if path == sp || path == st => StubReply::json(200, ""),
        _ => StubReply::json(404, r#"{"error":{"code":"NotFound","message":"no"}}"#),
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&dir, &stub.base, true).await;
    let v = b.volume_create(named("cache")).await.expect("create");
    assert_eq!(v.mountpoint, format!("azurefile://acct/{share}"));
    let inspected = b.volume_inspect("cache").await.expect("inspect");
    assert_eq!(inspected.mountpoint, v.mountpoint);
    b.volume_remove("cache", false).await.expect("remove");
    assert_eq!(
        stub.calls(),
        vec![
            format!("PUT {share_path}"),
            format!("PUT {storage_path}"),
            format!("DELETE {storage_path}"),
            format!("DELETE {share_path}"),
        ]
    );
    assert!(
        b.volume_list(Filters::new())
            .await
            .expect("list")
            .volumes
            .expect("v")
            .is_empty()
    );
}

#[tokio::test]
async fn failed_storage_put_removes_the_share_and_keeps_no_record() {
    let stub = Stub::start(|_, method, path, _| match method {
        "PUT" if path.contains("/shares/") => StubReply::json(201, r#"{"properties":{}}"#),
        "PUT" => StubReply::json(
            400,
            r#"{"error":{"code":"InvalidStorage","message":"bad key"}}"#,
        ),
        "DELETE" => StubReply::json(200, ""),
        _ => StubReply::json(404, "{}"),
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&dir, &stub.base, true).await;
    let err = b
        .volume_create(named("broken"))
        .await
        .expect_err("storage refused");
    assert!(
        matches!(err, ApiError::InvalidParameter(_) | ApiError::Internal(_)),
        "{err:?}"
    );
    assert!(
        stub.calls()
            .last()
            .is_some_and(|c| c.starts_with("DELETE ") && c.contains("/shares/"))
    );
    assert!(matches!(
        b.volume_inspect("broken").await,
        Err(ApiError::NotFound(_))
    ));
}

#[test]
fn volume_sources_from_binds_and_mounts() {
    let config = json!({"body": {"HostConfig": {
        "Binds": ["v1:/a", "/host:/b", "v2:/c:ro"],
        "Mounts": [{"Type": "volume", "Source": "v3", "Target": "/d"}, {"Type": "bind", "Source": "/x", "Target": "/e"}]
    }}});
    assert_eq!(volumes_of(&config), ["v1", "v2", "v3"]);
}
