//! Volumes through the `Backend` methods, against the Azure emulator (its
//! ARM and its Azure Files data plane; no engine is needed).

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use serde_json::json;
use sockerless_api::Backend;
use sockerless_azure::pipeline::AzureOptions;
use sockerless_azure_sim::{RunningSim, SimConfig, Simulator, StorageAccountSeed};

use super::*;
use crate::config::{Config, SecretString};
use crate::networks::tests::put_container;

/// The emulator's managed identity.
#[derive(Debug)]
struct SimIdentity(String);

#[async_trait]
impl TokenCredential for SimIdentity {
    async fn get_token(
        &self,
        scopes: &[&str],
        _: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let resource = scopes
            .first()
            .map_or("", |s| s.trim_end_matches("/.default"));
        let err = |e: String| {
            azure_core::Error::with_message(azure_core::error::ErrorKind::Credential, e)
        };
        let v: Value = reqwest::Client::new()
            .get(format!(
                "{}/msi/token?resource={resource}&api-version=2019-08-01",
                self.0
            ))
            .header("X-IDENTITY-HEADER", IDENTITY_HEADER)
            .send()
            .await
            .map_err(|e| err(e.to_string()))?
            .json()
            .await
            .map_err(|e| err(e.to_string()))?;
        let token = v["access_token"].as_str().unwrap_or_default().to_owned();
        Ok(AccessToken::new(
            token,
            azure_core::time::OffsetDateTime::now_utc() + azure_core::time::Duration::minutes(30),
        ))
    }
}

/// The test emulator's identity header (its default is random per start).
const IDENTITY_HEADER: &str = "volumes-test-identity";

async fn sim() -> RunningSim {
    Simulator::start(SimConfig {
        engine: "unix:///nonexistent/sockerless-test.sock".into(),
        identity_header: IDENTITY_HEADER.into(),
        ..SimConfig::default()
    })
    .await
    .expect("emulator")
}

async fn backend(dir: &tempfile::TempDir, sim: &RunningSim, storage: bool) -> AcaBackend {
    let seed = sockerless_azure_sim::EnvironmentSeed::default();
    let mut config = Config::new(
        &seed.subscription_id,
        &seed.resource_group,
        &seed.name,
        &seed.location,
    );
    config.data_dir = dir.path().to_owned();
    config.arm_endpoint = sim.base_url().parse().expect("url");
    if storage {
        let account = StorageAccountSeed::default();
        config.storage_file_endpoint = Some(sim.file_endpoint(&account.name).parse().expect("url"));
        config.storage_account_name = Some(account.name);
        config.storage_account_key = Some(SecretString::new(account.key));
    }
    let credential = Arc::new(SimIdentity(sim.base_url()));
    AcaBackend::with_credential(config, credential, AzureOptions::default())
        .await
        .expect("backend")
}

fn share_dir(sim: &RunningSim) -> PathBuf {
    sockerless_azure_sim::arm::storage::share_dir(
        sim.data_dir(),
        &StorageAccountSeed::default().name,
        crate::config::DEFAULT_STORAGE_SHARE_NAME,
    )
    .expect("share dir")
}

/// ARM writes of environment storages in the emulator's request log.
async fn storage_writes(sim: &RunningSim) -> usize {
    let log: Vec<Value> = reqwest::get(format!("{}/_sim/requests", sim.base_url()))
        .await
        .expect("log")
        .json()
        .await
        .expect("json");
    log.iter()
        .filter(|r| {
            r["method"] == "PUT" && r["path"].as_str().is_some_and(|p| p.contains("/storages/"))
        })
        .count()
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
async fn refused_without_a_storage_account() {
    let sim = sim().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&dir, &sim, false).await;
    let err = b.volume_create(named("data")).await.expect_err("refused");
    assert!(
        matches!(err, ApiError::InvalidParameter(ref m) if m.contains("storage_account_name") && m.contains("storage_account_key")),
        "{err:?}"
    );
    let err = b
        .volume_create(VolumeCreateRequest::default())
        .await
        .expect_err("anonymous too");
    assert!(err.message().contains("storage_account_name"), "{err:?}");
}

#[tokio::test]
async fn volumes_are_directories_of_one_share() {
    let sim = sim().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&dir, &sim, true).await;
    let v = b.volume_create(named("data")).await.expect("create");
    assert_eq!(
        (v.name.as_str(), v.driver.as_str(), v.mountpoint.as_str()),
        (
            "data",
            "local",
            "azurefile://sockerlesssim/sockerless-volumes/data"
        )
    );
    assert_eq!(v.scope, Some(VolumeScopeEnum::LOCAL));
    let again = b.volume_create(named("data")).await.expect("idempotent");
    assert_eq!(again.created_at, v.created_at);
    let anon = b
        .volume_create(VolumeCreateRequest::default())
        .await
        .expect("anonymous");
    assert_eq!(anon.name.len(), 64);
    assert!(anon.labels.contains_key(ANONYMOUS_LABEL));
    let upper = b.volume_create(named("Data")).await.expect("upper case");
    assert_ne!(
        upper.mountpoint, v.mountpoint,
        "Azure Files names are case-insensitive"
    );
    let share = share_dir(&sim);
    for d in ["data", anon.name.as_str()] {
        assert!(share.join(d).is_dir(), "{d}");
    }
    assert_eq!(
        storage_writes(&sim).await,
        1,
        "one environment storage write for every volume"
    );

    let err = b.volume_create(named("/abs")).await.expect_err("bad name");
    assert!(matches!(err, ApiError::InvalidParameter(_)));
    let err = b
        .volume_create(VolumeCreateRequest {
            driver: Some("nfs".into()),
            ..named("x1")
        })
        .await
        .expect_err("driver");
    assert!(err.message().contains("\"nfs\""), "{err:?}");
    let err = b
        .volume_create(VolumeCreateRequest {
            driver_opts: Some(HashMap::from([("type".to_owned(), "tmpfs".to_owned())])),
            ..named("x1")
        })
        .await
        .expect_err("driver options");
    assert!(err.message().contains("type"), "{err:?}");

    let listed = |f: Filters| {
        let b = b.clone();
        async move {
            let mut names: Vec<String> = b
                .volume_list(f)
                .await
                .expect("list")
                .volumes
                .expect("volumes")
                .into_iter()
                .map(|v| v.name)
                .collect();
            names.sort();
            names
        }
    };
    assert_eq!(listed(Filters::new()).await.len(), 3);
    assert_eq!(
        listed(filters(&[("label", "app=db")])).await,
        ["Data", "data"]
    );
    assert_eq!(listed(filters(&[("name", "dat")])).await, ["data"]);

    // A container using `data`: in use, not dangling, not pruned.
    std::fs::write(share.join("data/f"), b"persisted").expect("write");
    std::fs::create_dir_all(share.join("data/sub/deeper")).expect("mkdir");
    std::fs::write(share.join("data/sub/deeper/g"), b"x").expect("write");
    let id = "d".repeat(64);
    put_container(
        &b,
        &id,
        "db",
        "exited",
        json!({"body": {}, "image_id": "sha256:x", "mounts": [
            {"Kind": "Volume", "name": "data", "target": "/var/lib/db", "read_only": false, "anonymous": false},
            {"Kind": "Bind", "host_path": "/h", "target": "/h", "read_only": false, "create_missing": true}
        ]}),
    )
    .await;
    assert_eq!(listed(filters(&[("dangling", "true")])).await, {
        let mut d = vec![anon.name.clone(), "Data".to_owned()];
        d.sort();
        d
    });
    let err = b.volume_remove("data", false).await.expect_err("in use");
    assert_eq!(
        err,
        ApiError::Conflict(format!("remove data: volume is in use - [{id}]"))
    );
    let pruned = b.volume_prune(Filters::new()).await.expect("prune");
    assert_eq!(pruned.volumes_deleted, Some(vec![anon.name.clone()]));
    assert!(!share.join(&anon.name).exists());

    // Removing deletes the data; a new volume of the same name is empty.
    b.volume_remove("data", true).await.expect("forced");
    assert!(!share.join("data").exists());
    assert_eq!(
        b.volume_inspect("data").await.expect_err("gone"),
        ApiError::NotFound("get data: no such volume".into())
    );
    assert!(matches!(
        b.volume_remove("data", false).await,
        Err(ApiError::NotFound(_))
    ));
    b.volume_remove("data", true)
        .await
        .expect("force ignores missing");
    b.volume_create(named("data")).await.expect("again");
    assert_eq!(
        std::fs::read_dir(share.join("data")).expect("dir").count(),
        0
    );

    // Another backend on the same account reuses the environment storage.
    let dir2 = tempfile::tempdir().expect("tempdir");
    let b2 = backend(&dir2, &sim, true).await;
    b2.volume_create(named("other")).await.expect("create");
    assert_eq!(
        storage_writes(&sim).await,
        1,
        "the existing storage is reused"
    );
}

#[test]
fn volume_sources_from_resolved_mounts_or_old_records() {
    let config = json!({"body": {"HostConfig": {
        "Binds": ["v1:/a", "/host:/b", "v2:/c:ro"],
        "Mounts": [{"Type": "volume", "Source": "v3", "Target": "/d"}, {"Type": "bind", "Source": "/x", "Target": "/e"}]
    }}});
    assert_eq!(volumes_of(&config), ["v1", "v2", "v3"]);
    let resolved = json!({"body": {}, "mounts": [
        {"Kind": "Volume", "name": "anon1", "target": "/a", "read_only": false, "anonymous": true},
        {"Kind": "Tmpfs", "target": "/t", "options": []}
    ]});
    assert_eq!(volumes_of(&resolved), ["anon1"]);
}

#[tokio::test]
async fn mounts_resolved_at_create_and_put_into_the_job() {
    use crate::containers::mounts::MountSpec;
    use sockerless_api::docker::{ContainerCreateBody, HostConfig};
    use sockerless_azure::models::StorageType;

    let sim = sim().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&dir, &sim, true).await;
    let body = ContainerCreateBody {
        volumes: Some(vec!["/anon".into(), "/from".into()]),
        host_config: Some(HostConfig {
            binds: Some(vec!["named:/a".into(), "ro-vol:/r:ro".into()]),
            tmpfs: Some(HashMap::from([("/run".to_owned(), String::new())])),
            volumes_from: Some(vec!["helper:ro".into()]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = attach::resolve(&b, &body).await.expect_err("no helper yet");
    assert!(
        matches!(err, ApiError::NotFound(ref m) if m.contains("helper")),
        "{err:?}"
    );
    put_container(
        &b,
        &"e".repeat(64),
        "helper",
        "exited",
        json!({"body": {}, "image_id": "sha256:x", "mounts": [
            {"Kind": "Volume", "name": "shared", "target": "/from", "read_only": false, "anonymous": false}
        ]}),
    )
    .await;
    b.volume_create(named("shared")).await.expect("shared");
    let mounts = attach::resolve(&b, &body).await.expect("resolved");
    let anon = match &mounts[..] {
        [
            MountSpec::Volume { name: n1, .. },
            MountSpec::Volume {
                name: n2,
                read_only: true,
                ..
            },
            MountSpec::Tmpfs { .. },
            MountSpec::Volume {
                name: shared,
                read_only: true,
                target,
                ..
            },
            MountSpec::Volume {
                name: anon,
                anonymous: true,
                target: anon_target,
                ..
            },
        ] => {
            assert_eq!((n1.as_str(), n2.as_str()), ("named", "ro-vol"));
            assert_eq!((shared.as_str(), target.as_str()), ("shared", "/from"));
            assert_eq!(anon_target, "/anon");
            anon.clone()
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(anon.len(), 64);
    for v in ["named", "ro-vol", anon.as_str()] {
        assert!(share_dir(&sim).join(v).is_dir(), "{v} created");
    }
    let mut job = attach::bare_job();
    attach::add_to_job(&b, &mounts, &mut job)
        .await
        .expect("job");
    let t = job.properties.and_then(|p| p.template).expect("template");
    let storages: Vec<Option<String>> = t
        .volumes
        .iter()
        .flatten()
        .filter(|v| v.storage_type == Some(StorageType::AzureFile))
        .map(|v| v.storage_name.clone())
        .collect();
    assert_eq!(
        storages,
        [
            Some("sockerless-volumes".to_owned()),
            Some("sockerless-volumes-ro".to_owned())
        ]
    );
    assert_eq!(
        storage_writes(&sim).await,
        2,
        "read-write and read-only storages, once each"
    );
    let subs: Vec<(String, String)> = t.containers.expect("c")[0]
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| {
            (
                m.mount_path.clone().unwrap_or_default(),
                m.sub_path.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert!(subs.contains(&("/a".into(), "named".into())), "{subs:?}");
    assert!(subs.contains(&("/anon".into(), anon.clone())), "{subs:?}");
    assert!(subs.contains(&("/run".into(), String::new())), "{subs:?}");

    // `rm -v`: the anonymous volume goes (nobody else uses it), named ones stay.
    attach::remove_anonymous(&b, &mounts).await;
    assert!(!share_dir(&sim).join(&anon).exists());
    assert!(share_dir(&sim).join("named").is_dir());
}
