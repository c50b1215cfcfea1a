//! Tests of binds: sources created or refused at start, size limits, kept tars re-rooted, the agent waits set, `:ro` directory binds planned as share mounts.

use std::fs;

use super::*;

fn bind(path: &std::path::Path, create_missing: bool) -> Bind {
    Bind {
        host_path: path.to_path_buf(),
        target: "/w".into(),
        read_only: false,
        create_missing,
    }
}

#[test]
fn missing_sources_are_created_for_v_and_refused_for_mount() {
    let tmp = tempfile::tempdir().expect("tmp");
    let made = tmp.path().join("a/b");
    check_bind(&bind(&made, true), 1 << 20).expect("-v creates");
    assert!(made.is_dir());
    let missing = tmp.path().join("nope");
    let err = check_bind(&bind(&missing, false), 1 << 20).expect_err("--mount refuses");
    assert!(
        matches!(&err, ApiError::InvalidParameter(m) if m == &format!(
            "invalid mount config for type \"bind\": bind source path does not exist: {}",
            missing.display()
        )),
        "{err:?}"
    );
    assert!(!missing.exists());
}

#[test]
fn trees_past_the_limit_are_refused_with_the_key_named() {
    let tmp = tempfile::tempdir().expect("tmp");
    fs::create_dir(tmp.path().join("d")).expect("d");
    fs::write(tmp.path().join("d/f"), vec![0u8; 3000]).expect("f");
    fs::write(tmp.path().join("g"), vec![0u8; 3000]).expect("g");
    // A link to something big outside is not counted (never followed).
    std::os::unix::fs::symlink("/usr", tmp.path().join("usr")).expect("link");
    assert_eq!(
        transfer::tree_size(tmp.path(), u64::MAX).expect("size"),
        6000
    );
    check_bind(&bind(tmp.path(), false), 6000).expect("at the limit");
    let err = check_bind(&bind(tmp.path(), false), 5999).expect_err("past it");
    assert!(
        matches!(&err, ApiError::InvalidParameter(m) if m.contains("bind_max_bytes")),
        "{err:?}"
    );
}

#[test]
fn kept_tars_are_re_rooted_and_escapes_refused() {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(2);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, "app.conf", &b"ok"[..])
        .expect("entry");
    let tar = b.into_inner().expect("tar");
    let mut out = Vec::new();
    transfer::prefixed(&tar[..], std::path::Path::new("etc/app"), &mut out).expect("prefixed");
    let mut a = tar::Archive::new(&out[..]);
    let names: Vec<String> = a
        .entries()
        .expect("entries")
        .map(|e| {
            e.expect("entry")
                .path()
                .expect("path")
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(names, ["etc/app/app.conf"]);

    let mut h = tar::Header::new_gnu();
    h.set_size(0);
    h.set_entry_type(tar::EntryType::Regular);
    h.as_old_mut().name[..9].copy_from_slice(b"../escape");
    h.set_cksum();
    let mut b = tar::Builder::new(Vec::new());
    b.append(&h, std::io::empty()).expect("raw");
    let evil = b.into_inner().expect("tar");
    let err =
        transfer::prefixed(&evil[..], std::path::Path::new("etc"), Vec::new()).expect_err("escape");
    assert!(err.contains("escapes"), "{err}");
}

#[test]
fn agent_waits_are_set_in_the_main_container_only() {
    use sockerless_azure::models::{Container, EnvironmentVar, Job, JobProperties, JobTemplate};
    let var = |n: &str, v: &str| EnvironmentVar {
        name: Some(n.into()),
        value: Some(v.into()),
        secret_ref: None,
    };
    let main = Container {
        env: Some(vec![
            var("SOCKERLESS_CONTAINER_ID", "x"),
            var("SOCKERLESS_AWAIT_PEERS_SECS", "10"),
        ]),
        ..Default::default()
    };
    let other = Container {
        env: Some(vec![var("A", "b")]),
        ..Default::default()
    };
    let mut job = Job {
        properties: Some(JobProperties {
            template: Some(JobTemplate {
                containers: Some(vec![main, other]),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    apply_waits(&mut job, (300, 150));
    let containers = job
        .properties
        .and_then(|p| p.template)
        .and_then(|t| t.containers)
        .expect("containers");
    let env = |c: &Container| -> Vec<(String, String)> {
        c.env
            .iter()
            .flatten()
            .map(|v| {
                (
                    v.name.clone().unwrap_or_default(),
                    v.value.clone().unwrap_or_default(),
                )
            })
            .collect()
    };
    let main = env(&containers[0]);
    assert!(main.contains(&("SOCKERLESS_AWAIT_PEERS_SECS".into(), "300".into())));
    assert!(main.contains(&("SOCKERLESS_EXIT_ACK_TIMEOUT".into(), "150".into())));
    assert_eq!(
        main.iter()
            .filter(|(k, _)| k == "SOCKERLESS_AWAIT_PEERS_SECS")
            .count(),
        1
    );
    assert_eq!(env(&containers[1]), [("A".to_owned(), "b".to_owned())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_cut_short_is_an_error_not_an_end() {
    use std::io::Read;
    for end in [Some(pipe::Chunk::End), None] {
        let (tx, mut reader) = pipe::reader();
        let expect_ok = end.is_some();
        tokio::spawn(async move {
            let _ = tx
                .send(pipe::Chunk::Data(bytes::Bytes::from_static(b"abc")))
                .await;
            if let Some(end) = end {
                let _ = tx.send(end).await;
            }
        });
        let read = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            reader.read_to_end(&mut out).map(|_| out)
        })
        .await
        .expect("join");
        assert_eq!(read.is_ok(), expect_ok, "{read:?}");
    }
}

#[test]
fn read_only_directory_binds_are_two_mounts_of_one_share_directory() {
    use crate::volumes::attach::{self, Planned};

    let ro = Bind {
        host_path: "/h/ro".into(),
        target: "/ro".into(),
        read_only: true,
        create_missing: true,
    };
    let rw = Bind {
        read_only: false,
        ..ro.clone()
    };
    assert!(read_only::through_share(&ro, true, true));
    assert!(
        !read_only::through_share(&ro, false, true),
        "no storage account"
    );
    assert!(!read_only::through_share(&ro, true, false), "a file");
    assert!(!read_only::through_share(&rw, true, true), "read-write");

    // The job already mounts a volume through the read-write storage and a
    // tmpfs; the bind's read-write mount shares that storage's job volume.
    let mut job = attach::bare_job();
    let volume = Planned::Share {
        storage: "share".into(),
        dir: "vol".into(),
        target: "/v".into(),
    };
    let tmpfs = Planned::EmptyDir {
        target: "/t".into(),
    };
    attach::apply(&mut job, &[volume, tmpfs]).expect("volumes");
    let planned = read_only::plan("sl-abc", &[(2, &ro)], "share-ro", "share");
    attach::apply(&mut job, &planned).expect("binds");

    let t = job.properties.and_then(|p| p.template).expect("template");
    let volumes: Vec<(String, Option<String>)> = t
        .volumes
        .iter()
        .flatten()
        .map(|v| (v.name.clone().unwrap_or_default(), v.storage_name.clone()))
        .collect();
    assert_eq!(
        volumes,
        [
            ("sockerless-vol-share-0".into(), Some("share".into())),
            ("sockerless-vol-tmpfs-0".into(), None),
            ("sockerless-vol-share-1".into(), Some("share-ro".into())),
        ]
    );
    let mounts: Vec<(String, String, String)> = t.containers.expect("containers")[0]
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| {
            (
                m.mount_path.clone().unwrap_or_default(),
                m.sub_path.clone().unwrap_or_default(),
                m.volume_name.clone().unwrap_or_default(),
            )
        })
        .collect();
    let row = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
    assert_eq!(
        mounts,
        [
            row("/v", "vol", "sockerless-vol-share-0"),
            row("/t", "", "sockerless-vol-tmpfs-0"),
            row("/ro", ".binds-sl-abc/2", "sockerless-vol-share-1"),
            row(
                "/.sockerless-binds/2",
                ".binds-sl-abc/2",
                "sockerless-vol-share-0"
            ),
        ]
    );
}
