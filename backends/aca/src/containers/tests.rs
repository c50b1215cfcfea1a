//! Tests of the container operations answered from the store (rename, inspect, list, remove) over a stubbed Azure.

use std::sync::Arc;

use sockerless_api::docker::{ContainerCreateBody, HostConfig};
use sockerless_api::{ApiError, Backend, ListContainersOptions, RemoveContainerOptions};
use sockerless_azure::pipeline::AzureOptions;
use sockerless_azure::test_support::{StaticCredential, Stub, StubReply};

use crate::AcaBackend;
use crate::config::Config;
use crate::runtime::StoredConfig;
use crate::store::{ContainerRecord, records};

const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

async fn backend(stub: &Stub, dir: &tempfile::TempDir) -> AcaBackend {
    let mut config = Config::new("sub", "rg", "env", "eastus");
    config.data_dir = dir.path().to_owned();
    config.arm_endpoint = stub.base.clone();
    AcaBackend::with_credential(config, Arc::new(StaticCredential), AzureOptions::default())
        .await
        .expect("backend")
}

async fn put(backend: &AcaBackend, id: &str, name: &str, state: &str) {
    let stored = StoredConfig {
        body: ContainerCreateBody {
            cmd: Some(vec!["echo".into(), "hi".into()]),
            labels: Some([("ci".to_owned(), name.to_owned())].into()),
            host_config: Some(HostConfig::default()),
            ..Default::default()
        },
        image_id: "sha256:beef".into(),
        ..Default::default()
    };
    let record = ContainerRecord {
        id: id.into(),
        name: name.into(),
        image: "busybox".into(),
        job_name: crate::names::job_name(id).expect("job"),
        execution_name: None,
        agent_address: None,
        agent_token_hash: None,
        state: state.into(),
        exit_code: (state == "exited").then_some(2),
        created_at: if id == A { 1 } else { 2 },
        started_at: None,
        finished_at: None,
        config: stored.to_value().expect("json"),
    };
    backend
        .store()
        .call(move |c| records::put_container(c, &record))
        .await
        .expect("put");
}

#[tokio::test]
async fn rename_inspect_list_and_remove_use_the_store_only() {
    let stub = Stub::start(|_, _, _, _| StubReply::json(500, "{}")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = backend(&stub, &dir).await;
    put(&backend, A, "web", "created").await;
    put(&backend, B, "db", "exited").await;

    let err = backend
        .container_rename("web", "db")
        .await
        .expect_err("taken");
    assert!(
        matches!(err, ApiError::Conflict(ref m) if m.contains(B)),
        "{err:?}"
    );
    let err = backend
        .container_rename("web", "bad name")
        .await
        .expect_err("invalid");
    assert!(matches!(err, ApiError::InvalidParameter(_)), "{err:?}");
    backend
        .container_rename("aaaa", "front")
        .await
        .expect("rename by prefix");
    let inspect = backend.container_inspect("front").await.expect("inspect");
    assert_eq!(inspect.name.as_deref(), Some("/front"));
    assert_eq!(inspect.path.as_deref(), Some("echo"));
    assert_eq!(inspect.args, Some(vec!["hi".to_owned()]));
    let host_config = inspect.host_config.expect("host config");
    // No request: the default pair the replica gets (0.5 CPU / 1 GiB).
    assert_eq!(host_config.nano_cpus, Some(500_000_000));
    assert_eq!(host_config.memory, Some(1 << 30));
    let annotations = host_config.annotations.expect("annotations");
    assert_eq!(annotations["sockerless.aca.arm.reads"], "0");

    let running_only = backend
        .container_list(ListContainersOptions::default())
        .await
        .expect("ps");
    assert!(running_only.is_empty());
    let all = backend
        .container_list(ListContainersOptions {
            all: true,
            ..Default::default()
        })
        .await
        .expect("ps -a");
    let names: Vec<_> = all
        .iter()
        .map(|c| c.names.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        vec![vec!["/db".to_owned()], vec!["/front".to_owned()]]
    );
    assert_eq!(
        all[0]
            .status
            .as_deref()
            .map(|s| s.starts_with("Exited (2)")),
        Some(true)
    );
    let last = backend
        .container_list(ListContainersOptions {
            limit: Some(1),
            ..Default::default()
        })
        .await
        .expect("ps -n 1");
    assert_eq!(last.len(), 1);
    let filtered = backend
        .container_list(ListContainersOptions {
            all: true,
            filters: [("label".to_owned(), vec!["ci=db".to_owned()])].into(),
            ..Default::default()
        })
        .await
        .expect("ps --filter");
    assert_eq!(filtered.len(), 1);

    // Never started: no job to delete, so no Azure call at all.
    backend
        .container_remove("front", RemoveContainerOptions::default())
        .await
        .expect("rm");
    backend
        .container_remove(B, RemoveContainerOptions::default())
        .await
        .expect("rm");
    assert!(matches!(
        backend.container_inspect(A).await,
        Err(ApiError::NotFound(ref m)) if m == &format!("No such container: {A}")
    ));
    assert!(stub.calls().is_empty(), "{:?}", stub.calls());
}
