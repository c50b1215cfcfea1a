//! Images through the `Backend` methods against a stub registry on loopback.

use std::sync::Arc;

use futures_util::StreamExt;
use serde_json::json;
use sha2::{Digest, Sha256};
use sockerless_api::docker::CreateImageInfo;
use sockerless_api::{
    ApiError, Backend, Filters, ListImagesOptions, PullImageOptions, RemoveImageOptions,
};
use sockerless_azure::pipeline::AzureOptions;
use sockerless_azure::test_support::{StaticCredential, Stub, StubReply};

use super::*;
use crate::config::Config;
use crate::networks::tests::put_container;

fn sha(data: &str) -> String {
    format!("sha256:{:x}", Sha256::digest(data.as_bytes()))
}

fn config_json(arch: &str, label: &str, created: &str) -> String {
    json!({
        "architecture": arch, "os": "linux", "created": created,
        "config": {"Cmd": ["serve"], "Env": ["PATH=/bin"], "Labels": {"tier": label},
                   "ExposedPorts": {"80/tcp": {}}, "StopSignal": "SIGTERM"},
        "rootfs": {"type": "layers", "diff_ids": [sha(&format!("layer-{arch}"))]}
    })
    .to_string()
}

fn manifest_json(config: &str, arch: &str) -> String {
    json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha(&format!("gz-{arch}")), "size": 1000}]
    })
    .to_string()
}

struct Registry {
    stub: Stub,
    host: String,
}

/// `team/app:v1` is an index (amd64 + arm64); `team/web:v2` a plain manifest.
/// `/v2/` asks for Basic auth, as a private registry does.
async fn registry() -> Registry {
    let amd = config_json("amd64", "app", "2024-01-02T03:04:05Z");
    let arm = config_json("arm64", "app", "2024-01-02T03:04:05Z");
    let web = config_json("amd64", "web", "2025-06-01T00:00:00Z");
    let (m_amd, m_arm, m_web) = (
        manifest_json(&amd, "amd64"),
        manifest_json(&arm, "arm64"),
        manifest_json(&web, "amd64"),
    );
    let index = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(&m_arm), "size": m_arm.len(), "platform": {"architecture": "arm64", "os": "linux"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(&m_amd), "size": m_amd.len(), "platform": {"architecture": "amd64", "os": "linux"}}
        ]
    })
    .to_string();
    let stub = Stub::start(move |_, method, path, _| {
        let manifest = |body: &str, kind: &str| {
            StubReply::json(200, body)
                .header("content-type", kind.to_owned())
                .header("docker-content-digest", sha(body))
        };
        const IMG: &str = "application/vnd.oci.image.manifest.v1+json";
        match (method, path) {
            ("GET", "/v2/") => {
                StubReply::json(401, "{}").header("www-authenticate", r#"Basic realm="stub""#)
            }
            ("GET", "/v2/team/app/manifests/v1") => {
                manifest(&index, "application/vnd.oci.image.index.v1+json")
            }
            ("GET", p) if p == format!("/v2/team/app/manifests/{}", sha(&m_amd)) => {
                manifest(&m_amd, IMG)
            }
            ("GET", p) if p == format!("/v2/team/app/manifests/{}", sha(&m_arm)) => {
                manifest(&m_arm, IMG)
            }
            ("GET", "/v2/team/web/manifests/v2") => manifest(&m_web, IMG),
            ("GET", "/v2/team/private/manifests/v1") => StubReply::json(
                401,
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
            ),
            ("GET", p) if p.ends_with(&sha(&amd)) => StubReply::json(200, &amd),
            ("GET", p) if p.ends_with(&sha(&arm)) => StubReply::json(200, &arm),
            ("GET", p) if p.ends_with(&sha(&web)) => StubReply::json(200, &web),
            _ => StubReply::json(
                404,
                r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
            ),
        }
    })
    .await;
    let host = format!("127.0.0.1:{}", stub.base.port().unwrap_or_default());
    Registry { stub, host }
}

async fn backend(dir: &tempfile::TempDir) -> AcaBackend {
    let mut config = Config::new("sub", "rg", "env", "eastus");
    config.data_dir = dir.path().to_owned();
    config.arm_endpoint = url::Url::parse("http://127.0.0.1:9/").expect("url");
    AcaBackend::with_credential(config, Arc::new(StaticCredential), AzureOptions::default())
        .await
        .expect("backend")
}

fn login() -> Option<AuthConfig> {
    Some(AuthConfig {
        username: Some("user".into()),
        password: Some("pass".into()),
        serveraddress: None,
    })
}

async fn pull_with(
    b: &AcaBackend,
    image: &str,
    platform: Option<&str>,
) -> Result<Vec<CreateImageInfo>> {
    let opts = PullImageOptions {
        from_image: image.to_owned(),
        tag: None,
        platform: platform.map(str::to_owned),
    };
    let mut stream = b.image_pull(opts, login()).await?;
    let mut out = Vec::new();
    while let Some(item) = stream.next().await {
        out.push(item?);
    }
    Ok(out)
}

fn filters(pairs: &[(&str, &str)]) -> ListImagesOptions {
    let filters: Filters = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), vec![(*v).to_owned()]))
        .collect();
    ListImagesOptions {
        filters,
        ..Default::default()
    }
}

#[tokio::test]
async fn private_index_pull_keeps_the_login_for_aca() {
    let reg = registry().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&dir).await;
    let app = format!("{}/team/app:v1", reg.host);
    let messages = pull_with(&b, &app, None).await.expect("pull");
    let statuses: Vec<String> = messages.iter().filter_map(|m| m.status.clone()).collect();
    assert_eq!(statuses[0], "Pulling from team/app");
    assert!(statuses.contains(&"Pulling fs layer".to_owned()));
    assert_eq!(
        statuses.last().map(String::as_str),
        Some(format!("Status: Downloaded newer image for {app}").as_str())
    );
    assert!(
        reg.stub
            .auth_headers()
            .iter()
            .any(|h| h == "Basic dXNlcjpwYXNz"),
        "the login was used: {:?}",
        reg.stub.auth_headers()
    );

    let resolved = resolve(&b, &app).await.expect("resolve");
    assert_eq!(resolved.config.cmd, Some(vec!["serve".to_owned()]));
    assert_eq!(resolved.config.stop_signal.as_deref(), Some("SIGTERM"));
    assert_eq!(
        resolved.config.exposed_ports,
        Some(vec!["80/tcp".to_owned()])
    );
    let digest = resolved.digest.clone().expect("digest");
    assert_eq!(
        resolved.pull_reference,
        format!("{}/team/app@{digest}", reg.host)
    );
    let credential = resolved
        .registry_credential
        .clone()
        .expect("credential kept");
    assert_eq!(
        (
            credential.server.as_str(),
            credential.username.as_str(),
            credential.password.as_str()
        ),
        (reg.host.as_str(), "user", "pass")
    );
    assert!(
        !format!("{credential:?}").contains("pass\""),
        "Debug redacts the password"
    );
    // At rest the password is sealed: neither the database nor its WAL
    // holds it in clear.
    let mut at_rest = Vec::new();
    for name in ["state.db", "state.db-wal"] {
        at_rest.extend(std::fs::read(dir.path().join(name)).unwrap_or_default());
    }
    let text = String::from_utf8_lossy(&at_rest);
    assert!(
        text.contains("sealed:v1:"),
        "the credential is stored sealed"
    );
    assert!(!text.contains("\"password\":\"pass\""), "password in clear");

    let inspect = b.image_inspect(&app).await.expect("inspect");
    assert_eq!(
        inspect.architecture.as_deref(),
        Some("amd64"),
        "linux/amd64 chosen from the index"
    );
    assert_eq!(inspect.created.as_deref(), Some("2024-01-02T03:04:05Z"));
    assert_eq!(inspect.size, Some(1000));

    // Another platform on request: a different image under the same tag.
    pull_with(&b, &app, Some("linux/arm64"))
        .await
        .expect("pull arm64");
    let inspect = b.image_inspect(&app).await.expect("inspect");
    assert_eq!(inspect.architecture.as_deref(), Some("arm64"));
    let err = pull_with(&b, &app, Some("linux"))
        .await
        .expect_err("bad platform");
    assert_eq!(
        err.kind(),
        sockerless_api::ErrorKind::InvalidParameter,
        "{err:?}"
    );
}

#[tokio::test]
async fn list_filters_and_remove_conflicts() {
    let reg = registry().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&dir).await;
    let app = format!("{}/team/app:v1", reg.host);
    let web = format!("{}/team/web:v2", reg.host);
    pull_with(&b, &app, None).await.expect("pull app");
    pull_with(&b, &web, None).await.expect("pull web");

    let all = b
        .image_list(ListImagesOptions::default())
        .await
        .expect("list");
    assert_eq!(all.len(), 2);
    let one = |o| async {
        b.image_list(o)
            .await
            .expect("list")
            .into_iter()
            .flat_map(|i| i.repo_tags)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        one(filters(&[("label", "tier=web")])).await,
        std::slice::from_ref(&web)
    );
    assert_eq!(
        one(filters(&[("reference", &format!("{}/team/a*", reg.host))])).await,
        std::slice::from_ref(&app)
    );
    assert_eq!(
        one(filters(&[("before", &web)])).await,
        std::slice::from_ref(&app)
    );
    assert_eq!(
        one(filters(&[("since", &app)])).await,
        std::slice::from_ref(&web)
    );
    assert!(one(filters(&[("dangling", "true")])).await.is_empty());
    let err = b
        .image_list(filters(&[("before", "nothing:here")]))
        .await
        .expect_err("unknown image");
    assert!(matches!(err, ApiError::NotFound(_)));

    let web_id = resolve(&b, &web).await.expect("resolve").id;
    put_container(
        &b,
        &"e".repeat(64),
        "svc",
        "running",
        json!({"body": {"Image": web}, "image_id": web_id}),
    )
    .await;
    let err = b
        .image_remove(&web, RemoveImageOptions::default())
        .await
        .expect_err("in use");
    assert!(
        matches!(err, ApiError::Conflict(ref m) if m.contains("is using its referenced image")),
        "{err:?}"
    );
    let err = b
        .image_remove(&web_id, RemoveImageOptions::default())
        .await
        .expect_err("in use");
    assert!(
        matches!(err, ApiError::Conflict(ref m) if m.contains("running container")),
        "{err:?}"
    );
    let forced = b
        .image_remove(
            &web,
            RemoveImageOptions {
                force: true,
                noprune: false,
            },
        )
        .await
        .expect("forced");
    assert_eq!(forced.last().and_then(|i| i.deleted.clone()), Some(web_id));

    b.image_tag(&app, "local/app", None)
        .await
        .expect("tag defaults to latest");
    let app_id = resolve(&b, "local/app:latest").await.expect("tagged").id;
    // A reference filter lists only the names it matched, not the image's others.
    assert_eq!(
        one(filters(&[("reference", "local/app")])).await,
        ["local/app:latest".to_owned()]
    );
    let digests = b
        .image_list(filters(&[("reference", "local/app")]))
        .await
        .expect("list")
        .into_iter()
        .flat_map(|i| i.repo_digests)
        .collect::<Vec<_>>();
    assert!(digests.is_empty(), "{digests:?}");
    let err = b
        .image_remove(&app_id[7..], RemoveImageOptions::default())
        .await
        .expect_err("two names");
    assert!(
        matches!(err, ApiError::Conflict(ref m) if m.contains("referenced in multiple repositories")),
        "{err:?}"
    );
    let err = b
        .image_tag(&app, "Bad/Name", None)
        .await
        .expect_err("bad repo");
    assert!(matches!(err, ApiError::InvalidParameter(_)));
    let err = b
        .image_tag("missing", "x", None)
        .await
        .expect_err("missing source");
    assert_eq!(
        err,
        ApiError::NotFound("No such image: missing:latest".into())
    );
    let removed = b
        .image_remove(
            &app_id,
            RemoveImageOptions {
                force: true,
                noprune: false,
            },
        )
        .await
        .expect("by id");
    assert_eq!(
        removed.iter().filter(|i| i.untagged.is_some()).count(),
        3,
        "{removed:?}"
    );
    assert!(
        b.image_list(ListImagesOptions::default())
            .await
            .expect("list")
            .is_empty()
    );
}

#[tokio::test]
async fn missing_images_are_404_before_any_progress() {
    let reg = registry().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&dir).await;
    let err = pull_with(&b, &format!("{}/team/none:v1", reg.host), None)
        .await
        .expect_err("missing");
    // dockerd's wording for the registry's MANIFEST_UNKNOWN, then for a 401.
    assert_eq!(
        err,
        ApiError::NotFound(format!(
            "manifest for {}/team/none:v1 not found: manifest unknown: manifest unknown",
            reg.host
        ))
    );
    let err = pull_with(&b, &format!("{}/team/private:v1", reg.host), None)
        .await
        .expect_err("refused");
    assert_eq!(
        err,
        ApiError::NotFound(format!(
            "pull access denied for {}/team/private, repository does not exist or may require 'docker login': denied: requested access to the resource is denied",
            reg.host
        ))
    );
    let err = pull_with(&b, "Invalid Name", None)
        .await
        .expect_err("invalid");
    assert!(matches!(err, ApiError::InvalidParameter(_)));
    let err = resolve(&b, "busybox").await.expect_err("not pulled");
    assert_eq!(
        err,
        ApiError::NotFound("No such image: busybox:latest".into())
    );
}

#[tokio::test]
async fn login_is_checked_against_the_registry() {
    let stub = Stub::start(|_, _, path, n| match (path, n) {
        ("/v2/", 0 | 2) => {
            StubReply::json(401, "{}").header("www-authenticate", r#"Basic realm="r""#)
        }
        ("/v2/", 1) => StubReply::json(200, "{}"),
        _ => StubReply::json(401, "{}"),
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&dir).await;
    let server = format!("http://127.0.0.1:{}", stub.base.port().unwrap_or_default());
    let mut config = login().expect("login");
    config.serveraddress = Some(server.clone());
    let ok = b.auth(config.clone()).await.expect("login ok");
    assert_eq!(ok.status, "Login Succeeded");
    assert_eq!(stub.auth_headers()[1], "Basic dXNlcjpwYXNz");
    let err = b.auth(config).await.expect_err("refused");
    assert_eq!(
        err,
        ApiError::InvalidParameter(format!(
            "login attempt to {server}/v2/ failed with status: 401 Unauthorized"
        ))
    );
}

/// A `docker save` tarball (legacy layout) of one image with one layer.
pub(crate) fn saved_tarball(tags: &[&str]) -> Vec<u8> {
    let mut layer = tar::Builder::new(Vec::new());
    let body = b"hello from a loaded layer\n";
    let mut header = tar::Header::new_gnu();
    header.set_size(body.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    layer
        .append_data(&mut header, "hello.txt", &body[..])
        .expect("layer file");
    let layer = layer.into_inner().expect("layer tar");
    let config = json!({
        "architecture": "amd64", "os": "linux", "created": "2025-01-01T00:00:00Z",
        "config": {"Cmd": ["cat", "/hello.txt"]},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{:x}", Sha256::digest(&layer))]}
    })
    .to_string();
    let manifest =
        json!([{"Config": "cfg.json", "RepoTags": tags, "Layers": ["abc/layer.tar"]}]).to_string();
    let mut outer = tar::Builder::new(Vec::new());
    for (path, data) in [
        ("manifest.json", manifest.as_bytes()),
        ("cfg.json", config.as_bytes()),
        ("abc/layer.tar", &layer[..]),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        outer.append_data(&mut header, path, data).expect("append");
    }
    outer.into_inner().expect("tarball")
}

fn byte_stream(data: Vec<u8>) -> sockerless_api::ByteStream {
    Box::pin(futures_util::stream::iter([Ok(bytes::Bytes::from(data))]))
}

#[tokio::test]
async fn load_needs_a_registry_and_a_valid_tarball() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&dir).await;
    let Err(err) = b
        .image_load(byte_stream(saved_tarball(&["x:1"])), false)
        .await
    else {
        panic!("load without registry_server must fail");
    };
    assert!(
        matches!(err, ApiError::NotImplemented(ref m) if m.contains("registry_server")),
        "{err:?}"
    );

    let images = load::read_tarball(saved_tarball(&["mini:v1"]).into()).expect("read");
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].tags, ["mini:v1"]);
    // The layer read out of the tarball (a slice of it) is the layer tar,
    // and the config is the config: their digests match its diff ID.
    let config: serde_json::Value = serde_json::from_slice(&images[0].config).expect("config");
    assert_eq!(
        config["rootfs"]["diff_ids"][0],
        format!("sha256:{:x}", Sha256::digest(&images[0].layers[0].0))
    );
    assert_eq!(
        images[0].layers[0].1,
        "application/vnd.oci.image.layer.v1.tar"
    );
    for junk in [
        b"not a tar".to_vec(),
        Vec::new(),
        saved_tarball(&[])[..600].to_vec(),
    ] {
        let err = load::read_tarball(junk.into()).expect_err("junk");
        assert!(matches!(err, ApiError::InvalidParameter(_)), "{err:?}");
    }
}

#[tokio::test]
async fn a_store_failure_mid_pull_ends_the_stream_with_an_error() {
    let reg = registry().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&dir).await;
    let opts = PullImageOptions {
        from_image: format!("{}/team/web:v2", reg.host),
        ..Default::default()
    };
    let mut stream = b.image_pull(opts, login()).await.expect("manifest read");
    let first = stream.next().await.expect("first message").expect("ok");
    assert_eq!(first.status.as_deref(), Some("Pulling from team/web"));
    b.close().await.expect("close the store");
    let mut items = Vec::new();
    while let Some(item) = stream.next().await {
        items.push(item);
    }
    let errors: Vec<&ApiError> = items.iter().filter_map(|i| i.as_ref().err()).collect();
    assert_eq!(errors.len(), 1, "{items:?}");
    assert!(
        errors[0].kind() == sockerless_api::ErrorKind::Internal
            && errors[0].message().contains("closed"),
        "{errors:?}"
    );
    assert!(
        !items
            .iter()
            .any(|i| i.as_ref().ok().and_then(|m| m.status.as_deref()) == Some("Pull complete")),
        "nothing reported complete after the failure: {items:?}"
    );
}

proptest::proptest! {
    #[test]
    fn input_parsers_never_panic(s in "\\PC{0,60}", bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..1200)) {
        let _ = login::parse_challenge(&s);
        let _ = login::registry_host(Some(&s));
        let _ = filters::parse_until(&s);
        let _ = filters::glob_match(&s, &s);
        let _ = filters::glob_match(&s, "docker.io/library/busybox:latest");
        let _ = sockerless_azure::registry::PlatformSpec::parse(&s);
        let _ = load::read_tarball(bytes.clone().into());
        let _ = stored::find_in(&[], &s);
    }
}
