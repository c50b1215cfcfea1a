//! Tests of the SQLite store: records, migrations, privacy of its files.

use super::records::*;
use super::*;
use serde_json::json;

fn container(id: &str, name: &str, state: &str) -> ContainerRecord {
    ContainerRecord {
        id: id.into(),
        name: name.into(),
        image: "busybox".into(),
        job_name: crate::names::job_name(id).expect("job name"),
        execution_name: None,
        agent_address: None,
        agent_token_hash: Some(hash_token("secret-token")),
        state: state.into(),
        exit_code: None,
        created_at: 1,
        started_at: None,
        finished_at: None,
        config: json!({"Image": "busybox", "Cmd": ["echo", "hi"], "HostConfig": {"AutoRemove": true}}),
    }
}

const ID1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const ID2: &str = "2222222222222222222222222222222222222222222222222222222222222222";

#[tokio::test]
async fn container_crud_and_counts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_async(dir.path().join("sub/state.db"))
        .await
        .expect("open");
    assert_eq!(
        store.schema_version().await.expect("version"),
        schema::MIGRATIONS.len() as u32
    );

    store
        .call(|c| put_container(c, &container(ID1, "one", "created")))
        .await
        .expect("put");
    store
        .call(|c| put_container(c, &container(ID2, "two", "running")))
        .await
        .expect("put");
    let got = store
        .call(|c| get_container(c, "/one"))
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(got, container(ID1, "one", "created"));
    assert_ne!(got.agent_token_hash.as_deref(), Some("secret-token"));
    assert_eq!(
        store
            .call(|c| containers_by_id_prefix(c, "22", 2))
            .await
            .expect("prefix")
            .len(),
        1
    );
    assert_eq!(
        store
            .call(|c| containers_by_id_prefix(c, "%", 2))
            .await
            .expect("prefix")
            .len(),
        0,
        "LIKE is escaped"
    );

    let mut updated = got.clone();
    updated.state = "exited".into();
    updated.exit_code = Some(3);
    updated.execution_name = Some("sl-1111-abcde".into());
    store
        .call(move |c| put_container(c, &updated))
        .await
        .expect("update");
    assert_eq!(
        store.container_counts().await.expect("counts"),
        ContainerCounts {
            total: 2,
            running: 1,
            paused: 0,
            stopped: 1
        }
    );

    let dup = container(ID1.replace('1', "3").as_str(), "two", "created");
    assert!(
        store.call(move |c| put_container(c, &dup)).await.is_err(),
        "names are unique"
    );

    assert!(
        store
            .call(|c| delete_container(c, ID2))
            .await
            .expect("delete")
    );
    assert!(
        !store
            .call(|c| delete_container(c, ID2))
            .await
            .expect("delete again")
    );
    assert_eq!(
        store
            .call(|c| list_containers(c))
            .await
            .expect("list")
            .len(),
        1
    );
}

#[tokio::test]
async fn other_records_crud() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_async(dir.path().join("state.db"))
        .await
        .expect("open");
    let image = ImageRecord {
        reference: "docker.io/library/busybox:latest".into(),
        digest: "sha256:ab".into(),
        config: json!({"config": {"Cmd": ["sh"]}}),
        created_at: 5,
    };
    let network = NetworkRecord {
        id: "n1".into(),
        name: "net".into(),
        config: json!({"Driver": "bridge"}),
        created_at: 6,
    };
    let volume = VolumeRecord {
        name: "data".into(),
        file_share_name: crate::names::file_share_name("data"),
        config: json!({"Labels": {}}),
        created_at: 7,
    };
    let exec = ExecRecord {
        id: "e1".into(),
        container_id: ID1.into(),
        config: json!({"Cmd": ["ls"]}),
        running: true,
        exit_code: None,
        created_at: 8,
    };
    let (i, n, v, e) = (image.clone(), network.clone(), volume.clone(), exec.clone());
    store
        .call(move |c| {
            put_container(c, &container(ID1, "one", "running"))?;
            put_image(c, &i)?;
            put_network(c, &n)?;
            put_volume(c, &v)?;
            put_exec(c, &e)
        })
        .await
        .expect("puts");
    assert_eq!(
        store
            .call(|c| get_image(c, "docker.io/library/busybox:latest"))
            .await
            .expect("img"),
        Some(image)
    );
    assert_eq!(
        store.call(|c| get_network(c, "net")).await.expect("net"),
        Some(network)
    );
    assert_eq!(
        store.call(|c| get_volume(c, "data")).await.expect("vol"),
        Some(volume)
    );
    assert_eq!(
        store.call(|c| get_exec(c, "e1")).await.expect("exec"),
        Some(exec)
    );
    assert_eq!(store.call(|c| list_images(c)).await.expect("l").len(), 1);
    assert_eq!(store.call(|c| list_networks(c)).await.expect("l").len(), 1);
    assert_eq!(store.call(|c| list_volumes(c)).await.expect("l").len(), 1);
    // Removing the container removes its execs.
    store
        .call(|c| delete_container(c, ID1))
        .await
        .expect("delete");
    assert_eq!(
        store.call(|c| execs_of(c, ID1)).await.expect("execs"),
        vec![]
    );
    assert!(
        store
            .call(|c| delete_image(c, "docker.io/library/busybox:latest"))
            .await
            .expect("d")
    );
    assert!(store.call(|c| delete_network(c, "n1")).await.expect("d"));
    assert!(store.call(|c| delete_volume(c, "data")).await.expect("d"));
    assert!(!store.call(|c| delete_exec(c, "e1")).await.expect("d"));
}

#[tokio::test]
async fn data_survives_reopen_and_close_is_final() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.db");
    let store = Store::open_async(path.clone()).await.expect("open");
    store
        .call(|c| put_container(c, &container(ID1, "one", "exited")))
        .await
        .expect("put");
    assert!(store.check_open().is_ok());
    store.close().await.expect("close");
    assert!(matches!(
        store.call(|c| list_containers(c)).await,
        Err(StoreError::Closed)
    ));
    assert!(matches!(store.check_open(), Err(StoreError::Closed)));

    let reopened = Store::open_async(path).await.expect("reopen");
    let got = reopened.call(|c| get_container(c, ID1)).await.expect("get");
    assert_eq!(got, Some(container(ID1, "one", "exited")));
    assert_eq!(
        reopened.schema_version().await.expect("v"),
        schema::MIGRATIONS.len() as u32,
        "migrations are not re-applied"
    );
}

#[tokio::test]
async fn a_stale_record_saved_after_the_execution_was_recorded_keeps_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_async(dir.path().join("state.db"))
        .await
        .expect("open");
    let stale = container(ID1, "one", "created");
    let put = stale.clone();
    store
        .call(move |c| put_container(c, &put))
        .await
        .expect("put");
    store
        .call(|c| set_execution_name(c, ID1, "exec-1"))
        .await
        .expect("set");
    let mut running = stale;
    running.state = "running".into();
    store
        .call(move |c| put_container(c, &running))
        .await
        .expect("put stale");
    let got = store
        .call(|c| get_container(c, ID1))
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(got.execution_name.as_deref(), Some("exec-1"));
    assert_eq!(got.state, "running");
}

/// The run's state changes are single statements: a rename written in
/// between is kept (no record read earlier is written back over it).
#[tokio::test]
async fn state_changes_touch_only_their_fields() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_async(dir.path().join("state.db"))
        .await
        .expect("open");
    let put = container(ID1, "one", "created");
    store
        .call(move |c| put_container(c, &put))
        .await
        .expect("put");
    let config = serde_json::json!({"restart": 1});
    store
        .call(move |c| {
            begin_run(c, ID1, "hash", &config)?;
            c.execute(
                "UPDATE containers SET name = 'renamed' WHERE id = ?1",
                [ID1],
            )?;
            assert!(mark_running(c, ID1, 10)?);
            assert!(!mark_running(c, ID1, 11)?, "already running");
            record_exit(c, ID1, 42, 20, (7, 2), true)
        })
        .await
        .expect("run")
        .map(|got| {
            assert_eq!(got.name, "renamed");
            assert_eq!(got.state, "exited");
            assert_eq!(
                (got.exit_code, got.started_at, got.finished_at),
                (Some(42), Some(10), Some(20))
            );
            assert_eq!(got.agent_token_hash, None, "the exit drops the token");
            assert_eq!(got.config["restart"], 1);
            assert_eq!(got.config["manually_stopped"], true, "a JSON boolean");
            assert_eq!(
                (
                    got.config["arm_reads"].as_u64(),
                    got.config["arm_writes"].as_u64()
                ),
                (Some(7), Some(2)),
                "the ARM calls kept with the exit"
            );
        })
        .expect("exists");
    let missing = store
        .call(|c| record_exit(c, "nope", 1, 1, (0, 0), false))
        .await
        .expect("query");
    assert!(missing.is_none());
}

/// The readers see what the writer committed, work while the writer is
/// busy, and close with the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_see_committed_writes_without_waiting_for_the_writer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_async(dir.path().join("state.db"))
        .await
        .expect("open");
    let put = container(ID1, "one", "created");
    store
        .call(move |c| put_container(c, &put))
        .await
        .expect("put");
    let (held_tx, held_rx) = std::sync::mpsc::channel::<()>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .call(move |_| {
                    let _ = held_tx.send(());
                    let _ = release_rx.recv();
                    Ok(())
                })
                .await
        })
    };
    tokio::task::spawn_blocking(move || held_rx.recv())
        .await
        .expect("join")
        .expect("the writer holds its connection");
    for _ in 0..READERS + 1 {
        let got = store
            .read(|c| get_container(c, ID1))
            .await
            .expect("read while the writer is busy");
        assert_eq!(got.map(|r| r.name).as_deref(), Some("one"));
    }
    release_tx.send(()).expect("release");
    writer.await.expect("join").expect("writer");
    store.close().await.expect("close");
    assert!(matches!(
        store.read(|c| get_container(c, ID1)).await,
        Err(StoreError::Closed)
    ));
}

#[test]
fn token_hash_is_sha256_hex() {
    assert_eq!(
        hash_token("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn a_wide_data_dir_and_database_files_are_made_private() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().expect("tempdir");
    let dir = parent.path().join("data");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let db = dir.join("state.db");
    drop(Store::open(&db).expect("first open"));
    for name in ["state.db", "state.db-wal", "state.db-shm"] {
        let path = dir.join(name);
        if path.exists() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("widen");
        }
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("widen dir");
    let store = Store::open(&db).expect("open");
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    for name in ["state.db", "state.db-wal", "state.db-shm", "state.key"] {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }
    drop(store);
}

#[tokio::test]
async fn a_taken_unique_name_is_a_typed_conflict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_async(dir.path().join("state.db"))
        .await
        .expect("open");
    store
        .call(|c| put_container(c, &container(ID1, "same", "created")))
        .await
        .expect("first");
    let err = store
        .call(|c| put_container(c, &container(ID2, "same", "created")))
        .await
        .expect_err("same name");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    // Unexpected by its caller, it stays the daemon's failure (500).
    assert_eq!(
        ApiError::from(err).kind(),
        sockerless_api::ErrorKind::Internal
    );
    assert_eq!(
        store.call(|c| image_count(c)).await.expect("count"),
        0,
        "no image rows"
    );
}
