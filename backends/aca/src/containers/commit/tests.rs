//! The committed image's config (pure).

use serde_json::json;

use super::*;

fn opts(changes: &[&str]) -> CommitOptions {
    CommitOptions {
        container: "c".into(),
        comment: Some("a note".into()),
        author: Some("me".into()),
        changes: changes.iter().map(|c| (*c).to_owned()).collect(),
        ..Default::default()
    }
}

#[test]
fn container_config_then_body_then_changes() {
    let base = json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:base"]},
        "history": [{"created_by": "base"}],
    });
    let container = ContainerConfig {
        hostname: Some("abc".into()),
        image: Some("busybox".into()),
        cmd: Some(vec!["sh".into(), "-c".into(), "echo hi > /x".into()]),
        env: Some(vec!["PATH=/bin".into()]),
        working_dir: Some("/w".into()),
        ..Default::default()
    };
    let body = ContainerConfig {
        working_dir: Some("/override".into()),
        ..Default::default()
    };
    let config = commit_config(
        &base,
        &container,
        Some(&body),
        &opts(&["ENV A=1"]),
        "sha256:new",
        "2026-01-01T00:00:00Z",
    )
    .expect("config");
    assert_eq!(config["config"]["Cmd"], json!(["sh", "-c", "echo hi > /x"]));
    assert_eq!(config["config"]["WorkingDir"], "/override");
    assert_eq!(config["config"]["Env"], json!(["PATH=/bin", "A=1"]));
    assert!(config["config"].get("Hostname").is_none());
    assert!(config["config"].get("Image").is_none());
    assert_eq!(
        config["rootfs"]["diff_ids"],
        json!(["sha256:base", "sha256:new"])
    );
    assert_eq!(config["history"][1]["created_by"], "sh -c echo hi > /x");
    assert_eq!(config["history"][1]["comment"], "a note");
    assert_eq!(config["author"], "me");
    assert_eq!(config["architecture"], "amd64");
    assert_eq!(config["created"], "2026-01-01T00:00:00Z");
}

#[test]
fn a_bad_change_refuses_the_commit() {
    let refused = commit_config(
        &json!({}),
        &ContainerConfig::default(),
        None,
        &opts(&["RUN true"]),
        "sha256:new",
        "now",
    );
    assert!(refused.is_err());
}

#[test]
fn names() {
    assert!(commit_name(None, None).expect("none").is_none());
    let r = commit_name(Some("img"), Some("1"))
        .expect("ok")
        .expect("some");
    assert_eq!(r.familiar(), "img:1");
    let r = commit_name(Some("reg:5000/img:2"), None)
        .expect("ok")
        .expect("some");
    assert_eq!(r.familiar(), "reg:5000/img:2");
}
