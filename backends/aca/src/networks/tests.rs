//! Networks as records, through the `Backend` methods of an `AcaBackend`.

use std::sync::Arc;

use serde_json::json;
use sockerless_api::Backend;
use sockerless_azure::pipeline::AzureOptions;
use sockerless_azure::test_support::StaticCredential;

use super::*;
use crate::config::Config;
use crate::images::filters::parse_until;
use sockerless_api::docker::{NetworkConnectRequest, NetworkDisconnectRequest};

pub(crate) async fn backend_for_tests(dir: &tempfile::TempDir) -> AcaBackend {
    backend(dir).await
}

async fn backend(dir: &tempfile::TempDir) -> AcaBackend {
    let mut config = Config::new("sub", "rg", "env", "eastus");
    config.data_dir = dir.path().to_owned();
    // Nothing here may call Azure: an unroutable endpoint makes any call fail.
    config.arm_endpoint = url::Url::parse("http://127.0.0.1:9/").expect("url");
    AcaBackend::with_credential(config, Arc::new(StaticCredential), AzureOptions::default())
        .await
        .expect("backend")
}

fn create_req(name: &str) -> NetworkCreateRequest {
    NetworkCreateRequest {
        name: name.to_owned(),
        labels: Some(HashMap::from([("team".to_owned(), "ci".to_owned())])),
        ..Default::default()
    }
}

pub(crate) async fn put_container(
    backend: &AcaBackend,
    id: &str,
    name: &str,
    state: &str,
    config: Value,
) {
    let record = ContainerRecord {
        id: id.to_owned(),
        name: name.to_owned(),
        image: "busybox".into(),
        job_name: crate::names::job_name(id).expect("job name"),
        execution_name: None,
        agent_address: None,
        agent_token_hash: None,
        state: state.to_owned(),
        exit_code: None,
        created_at: 0,
        started_at: None,
        finished_at: None,
        config,
    };
    backend
        .store()
        .call(move |c| records::put_container(c, &record))
        .await
        .expect("put container");
}

fn filters(pairs: &[(&str, &str)]) -> Filters {
    let mut f = Filters::new();
    for (k, v) in pairs {
        f.entry((*k).to_owned()).or_default().push((*v).to_owned());
    }
    f
}

#[tokio::test]
async fn create_list_inspect_remove_like_docker() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&dir).await;
    let created = b
        .network_create(create_req("ci-net"))
        .await
        .expect("create");
    assert_eq!(created.id.len(), 64);
    assert!(created.id.bytes().all(|c| c.is_ascii_hexdigit()));
    let second = b.network_create(create_req("other")).await.expect("create");

    let dup = b
        .network_create(create_req("ci-net"))
        .await
        .expect_err("duplicate");
    assert_eq!(
        dup,
        ApiError::Conflict("network with name ci-net already exists".into())
    );

    let all = b.network_list(Filters::new()).await.expect("list");
    let names: BTreeSet<String> = all.iter().filter_map(|n| n.name.clone()).collect();
    assert_eq!(
        names,
        BTreeSet::from(["bridge", "host", "none", "ci-net", "other"].map(String::from))
    );
    let predefined_ids: Vec<String> = all
        .iter()
        .filter(|n| n.name.as_deref() == Some("bridge"))
        .filter_map(|n| n.id.clone())
        .collect();
    let again = b.network_list(Filters::new()).await.expect("list");
    assert!(
        again
            .iter()
            .any(|n| n.id.as_ref() == predefined_ids.first()),
        "predefined IDs are stable"
    );

    let n = b.network_inspect("ci-net").await.expect("inspect by name");
    assert_eq!(n.id.as_deref(), Some(created.id.as_str()));
    assert_eq!(n.driver.as_deref(), Some("bridge"));
    assert_eq!(n.scope.as_deref(), Some("local"));
    let subnet = n
        .ipam
        .as_ref()
        .and_then(|i| i.config.as_ref())
        .and_then(|c| c.first())
        .and_then(|c| c.subnet.clone());
    assert_eq!(subnet.as_deref(), Some("127.18.0.0/16"));
    let other = b
        .network_inspect(&second.id[..12])
        .await
        .expect("inspect by prefix");
    let subnet = other
        .ipam
        .and_then(|i| i.config)
        .and_then(|c| c.into_iter().next())
        .and_then(|c| c.subnet);
    assert_eq!(subnet.as_deref(), Some("127.19.0.0/16"));
    assert_eq!(
        n.labels
            .as_ref()
            .and_then(|l| l.get("team"))
            .map(String::as_str),
        Some("ci")
    );
    assert_eq!(n.containers.as_ref().map(HashMap::len), Some(0));

    let custom = b
        .network_list(filters(&[("type", "custom")]))
        .await
        .expect("list");
    assert_eq!(custom.len(), 2);
    let builtin = b
        .network_list(filters(&[("type", "builtin")]))
        .await
        .expect("list");
    assert_eq!(builtin.len(), 3);
    let by_label = b
        .network_list(filters(&[("label", "team=ci")]))
        .await
        .expect("list");
    assert_eq!(by_label.len(), 2);
    let by_name = b
        .network_list(filters(&[("name", "ci-")]))
        .await
        .expect("list");
    assert_eq!(by_name.len(), 1);
    let by_id = b
        .network_list(filters(&[("id", &created.id[..10])]))
        .await
        .expect("list");
    assert_eq!(by_id.len(), 1);
    let by_driver = b
        .network_list(filters(&[("driver", "host")]))
        .await
        .expect("list");
    assert_eq!(by_driver.len(), 1);
    let bad = b
        .network_list(filters(&[("colour", "x")]))
        .await
        .expect_err("bad filter");
    assert!(matches!(bad, ApiError::InvalidParameter(_)));

    let err = b.network_remove("bridge").await.expect_err("predefined");
    assert!(
        matches!(err, ApiError::InvalidParameter(ref m) if m.contains("pre-defined")),
        "{err:?}"
    );
    b.network_remove("ci-net").await.expect("remove");
    let err = b.network_inspect("ci-net").await.expect_err("gone");
    assert_eq!(err, ApiError::NotFound("network ci-net not found".into()));
    let err = b.network_remove("ci-net").await.expect_err("gone");
    assert!(matches!(err, ApiError::NotFound(_)));
}

#[tokio::test]
async fn containers_attach_by_config_and_connect() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&dir).await;
    b.network_create(create_req("gh")).await.expect("create");
    let job = "a".repeat(64);
    let step = "b".repeat(64);
    put_container(
        &b,
        &job,
        "job",
        "running",
        json!({"body": {"HostConfig": {"NetworkMode": "gh"}}}),
    )
    .await;
    put_container(&b, &step, "step", "running", json!({"body": {}})).await;

    let n = b.network_inspect("gh").await.expect("inspect");
    let attached = n.containers.expect("containers");
    assert_eq!(attached.len(), 1);
    assert_eq!(
        attached.get(&job).and_then(|e| e.name.clone()).as_deref(),
        Some("job")
    );

    let err = b.network_remove("gh").await.expect_err("in use");
    assert!(
        matches!(err, ApiError::Conflict(ref m) if m.contains("has active endpoints")),
        "{err:?}"
    );

    b.network_connect(
        "gh",
        NetworkConnectRequest {
            container: "step".into(),
            endpoint_config: None,
        },
    )
    .await
    .expect("connect");
    let err = b
        .network_connect(
            "gh",
            NetworkConnectRequest {
                container: step[..8].into(),
                endpoint_config: None,
            },
        )
        .await
        .expect_err("already connected");
    assert!(matches!(err, ApiError::Conflict(_)), "{err:?}");
    let n = b.network_inspect("gh").await.expect("inspect");
    let endpoint = n
        .containers
        .as_ref()
        .and_then(|c| c.get(&step))
        .and_then(|e| e.endpoint_id.clone());
    assert_eq!(endpoint.map(|e| e.len()), Some(64));

    let err = b
        .network_connect(
            "gh",
            NetworkConnectRequest {
                container: "nope".into(),
                endpoint_config: None,
            },
        )
        .await
        .expect_err("no container");
    assert_eq!(err, ApiError::NotFound("No such container: nope".into()));
    let err = b
        .network_connect(
            "nonet",
            NetworkConnectRequest {
                container: "step".into(),
                endpoint_config: None,
            },
        )
        .await
        .expect_err("no network");
    assert!(matches!(err, ApiError::NotFound(_)));

    for c in ["job", "step"] {
        b.network_disconnect(
            "gh",
            NetworkDisconnectRequest {
                container: c.into(),
                force: None,
            },
        )
        .await
        .expect("disconnect");
    }
    let err = b
        .network_disconnect(
            "gh",
            NetworkDisconnectRequest {
                container: "job".into(),
                force: None,
            },
        )
        .await
        .expect_err("not connected");
    assert!(matches!(err, ApiError::Conflict(_)), "{err:?}");
    let n = b.network_inspect("gh").await.expect("inspect");
    assert_eq!(n.containers.map(|c| c.len()), Some(0));
    let dangling = b
        .network_list(filters(&[("dangling", "true")]))
        .await
        .expect("list");
    assert_eq!(
        dangling
            .iter()
            .filter_map(|n| n.name.as_deref())
            .collect::<Vec<_>>(),
        ["gh"]
    );
    b.network_remove("gh").await.expect("remove once detached");
}

/// The container lookup of connect and disconnect is every operation's:
/// dockerd's 400 for an ambiguous ID prefix.
#[tokio::test]
async fn an_ambiguous_prefix_is_refused_as_dockerd_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&dir).await;
    b.network_create(create_req("amb")).await.expect("create");
    for (id, name) in [("ab".repeat(32), "one"), ("ac".repeat(32), "two")] {
        put_container(&b, &id, name, "created", json!({"body": {}})).await;
    }
    let req = || NetworkConnectRequest {
        container: "a".into(),
        endpoint_config: None,
    };
    let want = ApiError::InvalidParameter("multiple IDs found with provided prefix: a".into());
    assert_eq!(
        b.network_connect("amb", req())
            .await
            .expect_err("ambiguous"),
        want
    );
    let err = b
        .network_disconnect(
            "amb",
            NetworkDisconnectRequest {
                container: "a".into(),
                force: None,
            },
        )
        .await
        .expect_err("ambiguous");
    assert_eq!(err, want);
    assert_eq!(b.container_inspect("a").await.expect_err("inspect"), want);
}

#[tokio::test]
async fn connects_and_disconnects_at_once_do_not_undo_each_other() {
    // compose starts a project's services in parallel, each disconnected
    // from the project network and connected again with its aliases.
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&dir).await;
    b.network_create(create_req("proj")).await.expect("create");
    let ids: Vec<String> = (0..8).map(|i| format!("{i}").repeat(64)).collect();
    for (i, id) in ids.iter().enumerate() {
        let config = json!({"body": {"HostConfig": {"NetworkMode": "proj"}}});
        put_container(&b, id, &format!("svc{i}"), "running", config).await;
    }
    let cycle = |id: String| {
        let b = &b;
        async move {
            let disconnect = NetworkDisconnectRequest {
                container: id.clone(),
                force: None,
            };
            b.network_disconnect("proj", disconnect).await?;
            let connect = NetworkConnectRequest {
                container: id,
                endpoint_config: None,
            };
            b.network_connect("proj", connect).await
        }
    };
    let results = futures_util::future::join_all(ids.iter().cloned().map(cycle)).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let attached = b
        .network_inspect("proj")
        .await
        .expect("inspect")
        .containers
        .expect("containers");
    let mut names: Vec<String> = attached.values().filter_map(|e| e.name.clone()).collect();
    names.sort();
    assert_eq!(names, (0..8).map(|i| format!("svc{i}")).collect::<Vec<_>>());
}

#[tokio::test]
async fn prune_keeps_predefined_and_used_networks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&dir).await;
    b.network_create(create_req("used")).await.expect("create");
    b.network_create(create_req("idle")).await.expect("create");
    b.network_create(NetworkCreateRequest {
        name: "unlabelled".into(),
        ..Default::default()
    })
    .await
    .expect("create");
    put_container(
        &b,
        &"c".repeat(64),
        "user",
        "running",
        json!({"body": {"NetworkingConfig": {"EndpointsConfig": {"used": {}}}}}),
    )
    .await;
    let pruned = b
        .network_prune(filters(&[("label", "team")]))
        .await
        .expect("prune");
    assert_eq!(pruned.networks_deleted, Some(vec!["idle".to_owned()]));
    let pruned = b.network_prune(Filters::new()).await.expect("prune");
    assert_eq!(pruned.networks_deleted, Some(vec!["unlabelled".to_owned()]));
    let left = b
        .network_list(filters(&[("type", "custom")]))
        .await
        .expect("list");
    assert_eq!(left.len(), 1);
    let err = b
        .network_prune(filters(&[("until", "soon")]))
        .await
        .expect_err("bad until");
    assert!(matches!(err, ApiError::InvalidParameter(_)));
}

#[tokio::test]
async fn bad_names_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&dir).await;
    for bad in ["", "  ", "a\nb", "tab\there"] {
        let err = b.network_create(create_req(bad)).await.expect_err(bad);
        assert!(
            matches!(err, ApiError::InvalidParameter(_)),
            "{bad}: {err:?}"
        );
    }
    let err = b
        .network_create(create_req("host"))
        .await
        .expect_err("predefined");
    assert!(matches!(err, ApiError::Conflict(_)), "{err:?}");
}

#[test]
fn configured_networks_read_both_layouts() {
    assert_eq!(
        configured_networks(&json!({"HostConfig": {"NetworkMode": "default"}})),
        ["bridge"]
    );
    assert_eq!(
        configured_networks(
            &json!({"body": {"HostConfig": {"NetworkMode": "n1"}, "NetworkingConfig": {"EndpointsConfig": {"n2": {}}}}})
        ),
        ["n1", "n2"]
    );
    assert!(
        configured_networks(&json!({"HostConfig": {"NetworkMode": "container:abc"}})).is_empty()
    );
}

#[test]
fn until_accepts_docker_forms() {
    assert!(parse_until("2024-01-01T00:00:00Z").is_ok());
    assert_eq!(
        parse_until("1700000000").expect("secs"),
        1_700_000_000_000_000_000
    );
    assert!(parse_until("24h").expect("dur") < now_nanos());
    assert!(parse_until("x").is_err());
    assert!(parse_until("5y").is_err());
    assert!(parse_until("-99999999999999h").is_ok(), "no overflow");
}

/// dockerd accepts any printable name, spaces and `/` included.
#[test]
fn network_names_are_what_dockerd_accepts() {
    for ok in ["a b", " lead", "a/b", "é", "net_1.x-y"] {
        assert!(valid_name(ok), "{ok:?}");
    }
    for bad in ["", "   ", "a\nb", "a\u{7f}"] {
        assert!(!valid_name(bad), "{bad:?}");
    }
    assert!(!valid_name(&"n".repeat(513)));
}
