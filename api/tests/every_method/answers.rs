//! The canned answer of every operation, as JSON: the fake backend returns
//! it (deserialized to the method's type) and the test expects it back.
//!
//! Streams are arrays of items; byte streams are strings; output streams
//! are `{"tty": bool, "out": [[stream byte, text], ...]}` (the fake adds
//! its stdin, echoed, to the end).

use serde_json::{Value, json};
use sockerless_api::docker::{
    ChangeType, ContainerCreateResponse, DistributionInspect, FilesystemChange, IdResponse,
    ImageSummary, NetworkCreateResponse, OciDescriptor, Volume,
};
use sockerless_api::{BackendInfo, Capabilities};

fn v(x: impl serde::Serialize) -> Value {
    serde_json::to_value(x).expect("answer serializes")
}

fn volume(name: &str) -> Value {
    let mut volume = v(Volume {
        name: name.into(),
        driver: "local".into(),
        ..Default::default()
    });
    // Docker's model requires `Scope` on input but skips it when unset on output.
    volume["Scope"] = json!("local");
    volume
}

/// What `op` answers; `Value::Null` for the operations answering `()`.
pub fn answer(op: &str) -> Value {
    match op {
        "capabilities" => v(BackendInfo {
            backend: "fake".into(),
            version: "1.2.3".into(),
            capabilities: Capabilities {
                exec: true,
                attach: false,
                logs: true,
                logs_follow: false,
                volumes: true,
                networks: false,
                health_checks: true,
                image_pull: false,
                image_load: true,
                max_timeout_seconds: 77,
                agent_required: false,
            },
        }),
        "system_info" => json!({"ID": "sys-1", "Containers": 3}),
        "system_version" => json!({"Version": "9.9.9", "ApiVersion": "1.44"}),
        "auth" => json!({"Status": "Login Succeeded", "IdentityToken": "t"}),
        "events" => json!([{"Action": "start"}, {"Action": "die"}]),
        "container_create" => v(ContainerCreateResponse {
            id: "c-new".into(),
            warnings: vec!["w".into()],
        }),
        "container_inspect" => json!({"Id": "c-1", "Name": "/web"}),
        "container_list" => json!([{"Id": "c-1"}, {"Id": "c-2"}]),
        "container_logs" => json!({"tty": false, "out": [[1, "out\n"], [2, "err\n"]]}),
        "container_wait" => json!({"StatusCode": 7}),
        "container_attach" => json!({"tty": true, "out": [[1, "attached "]]}),
        "container_archive_stat" => json!({
            "name": "f", "size": 5, "mode": 420, "mtime": "2026-01-01T00:00:00Z", "linkTarget": "l"
        }),
        "container_archive_get" => json!({
            "stat": {"name": "d", "size": 9, "mode": 493, "mtime": "2026-01-02T00:00:00Z", "linkTarget": ""},
            "bytes": "tar bytes"
        }),
        "container_top" => json!({"Titles": ["PID", "CMD"], "Processes": [["1", "sh"]]}),
        "container_stats" => json!([{"read": "a"}, {"read": "b", "num_procs": 2}]),
        "container_export" => json!("rootfs tar"),
        "container_update" => json!({"Warnings": ["updated"]}),
        "container_prune" => json!({"ContainersDeleted": ["c-9"], "SpaceReclaimed": 12}),
        "container_changes" => v(vec![FilesystemChange {
            path: "/etc/x".into(),
            kind: ChangeType::_1,
        }]),
        "container_commit" => v(IdResponse {
            id: "sha256:commit".into(),
        }),
        "exec_create" => v(IdResponse { id: "e-1".into() }),
        "exec_start" => json!({"tty": false, "out": [[1, "exec "], [2, "warn "]]}),
        "exec_inspect" => json!({"ID": "e-1", "Running": true, "ExitCode": 3}),
        "image_pull" => json!([{"status": "Pulling"}, {"status": "Done"}]),
        "image_inspect" => json!({"Id": "sha256:img", "RepoTags": ["a:b"]}),
        "image_list" => v(vec![ImageSummary {
            id: "sha256:img".into(),
            repo_tags: vec!["a:b".into()],
            size: 42,
            ..Default::default()
        }]),
        "image_load" => json!([{"status": "Loaded"}]),
        "image_remove" => json!([{"Untagged": "a:b"}, {"Deleted": "sha256:img"}]),
        "image_prune" => json!({"ImagesDeleted": [{"Deleted": "sha256:old"}], "SpaceReclaimed": 5}),
        "image_save" => json!("saved tarball"),
        "image_push" => json!([
            {"status": "Pushing"},
            {"status": "Pushed", "aux": {"Tag": "1", "Digest": "sha256:d", "Size": 3}}
        ]),
        "image_import" => json!([{"status": "Imported"}]),
        "image_build" => json!([
            {"stream": "Step 1/2 : FROM busybox\n"},
            {"aux": {"ID": "sha256:built"}},
            {"errorDetail": {"code": 1, "message": "RUN failed"}}
        ]),
        "distribution_inspect" => v(DistributionInspect {
            descriptor: OciDescriptor {
                digest: Some("sha256:dist".into()),
                ..Default::default()
            },
            platforms: Vec::new(),
        }),
        "network_create" => v(NetworkCreateResponse {
            id: "n-1".into(),
            warning: "careful".into(),
        }),
        "network_list" => json!([{"Id": "n-1", "Name": "net"}]),
        "network_inspect" => json!({"Id": "n-1", "Name": "net", "Scope": "local"}),
        "network_prune" => json!({"NetworksDeleted": ["n-2"]}),
        "volume_create" => volume("v-1"),
        "volume_list" => json!({"Volumes": [volume("v-1")], "Warnings": []}),
        "volume_inspect" => volume("v-1"),
        "volume_prune" => json!({"VolumesDeleted": ["v-2"], "SpaceReclaimed": 8}),
        _ => Value::Null,
    }
}
