//! Pulls `busybox` through the `docker.io` mirror from the real test registry
//! (`SOCKERLESS_TEST_REGISTRY`, e.g. 127.0.0.1:5000; CI sets it), then
//! inspect, resolve, list, tag and remove. Skips when the variable is unset.

use std::sync::Arc;

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use sockerless_api::docker::CreateImageInfo;
use sockerless_api::{ApiError, Backend, ListImagesOptions, PullImageOptions, RemoveImageOptions};
use sockerless_azure::pipeline::AzureOptions;
use sockerless_backend_aca::config::SecretString;
use sockerless_backend_aca::{AcaBackend, Config};

/// Never asked: the mirror is read anonymously.
#[derive(Debug)]
struct NoCredential;

#[async_trait]
impl TokenCredential for NoCredential {
    async fn get_token(
        &self,
        _: &[&str],
        _: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        Err(azure_core::Error::with_message(
            azure_core::error::ErrorKind::Credential,
            "no credential in this test",
        ))
    }
}

fn registry() -> String {
    std::env::var("SOCKERLESS_TEST_REGISTRY")
        .ok()
        .filter(|r| !r.is_empty())
        .expect("SOCKERLESS_TEST_REGISTRY (the test registry) is not set: run through `cargo xtask test`")
}

async fn backend(registry: &str, dir: &tempfile::TempDir) -> AcaBackend {
    let mut config = Config::new("sub", "rg", "env", "eastus");
    config.data_dir = dir.path().to_owned();
    config.arm_endpoint = url::Url::parse("http://127.0.0.1:9/").expect("url");
    config.registry_mirrors.insert(
        "docker.io".to_owned(),
        url::Url::parse(&format!("http://{registry}")).expect("mirror url"),
    );
    AcaBackend::with_credential(config, Arc::new(NoCredential), AzureOptions::default())
        .await
        .expect("backend")
}

async fn pull(b: &AcaBackend, image: &str) -> Result<Vec<CreateImageInfo>, ApiError> {
    let opts = PullImageOptions {
        from_image: image.to_owned(),
        ..Default::default()
    };
    let mut stream = b.image_pull(opts, None).await?;
    let mut out = Vec::new();
    while let Some(item) = stream.next().await {
        out.push(item?);
    }
    Ok(out)
}

fn statuses(messages: &[CreateImageInfo]) -> Vec<String> {
    messages.iter().filter_map(|m| m.status.clone()).collect()
}

/// The busybox config blob's digest and SHA-256, read from the registry directly.
async fn config_digest(registry: &str) -> (String, String) {
    let client = reqwest::Client::new();
    let manifest: serde_json::Value = client
        .get(format!("http://{registry}/v2/library/busybox/manifests/latest"))
        .header(
            "accept",
            "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json",
        )
        .send()
        .await
        .expect("manifest")
        .json()
        .await
        .expect("manifest json");
    let digest = manifest["config"]["digest"]
        .as_str()
        .expect("config digest")
        .to_owned();
    let blob = client
        .get(format!(
            "http://{registry}/v2/library/busybox/blobs/{digest}"
        ))
        .send()
        .await
        .expect("blob")
        .bytes()
        .await
        .expect("blob bytes");
    let sha = format!("sha256:{:x}", Sha256::digest(&blob));
    (digest, sha)
}

#[tokio::test]
#[ignore = "needs SOCKERLESS_TEST_REGISTRY (cargo xtask test)"]
async fn pull_inspect_resolve_list_tag_remove_busybox() {
    let registry = registry();
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&registry, &dir).await;

    let messages = pull(&b, "busybox").await.expect("pull");
    let s = statuses(&messages);
    assert_eq!(
        s.first().map(String::as_str),
        Some("Pulling from library/busybox"),
        "{s:?}"
    );
    assert_eq!(messages[0].id.as_deref(), Some("latest"));
    assert!(s.iter().any(|m| m == "Pulling fs layer"), "{s:?}");
    assert!(s.iter().any(|m| m == "Pull complete"), "{s:?}");
    let digest_line = s
        .iter()
        .find(|m| m.starts_with("Digest: sha256:"))
        .expect("digest line");
    let digest = digest_line.trim_start_matches("Digest: ").to_owned();
    assert_eq!(
        s.last().map(String::as_str),
        Some("Status: Downloaded newer image for busybox:latest")
    );

    let (config_digest, blob_sha) = config_digest(&registry).await;
    assert_eq!(
        config_digest, blob_sha,
        "the registry serves the blob it names"
    );
    let inspect = b.image_inspect("busybox").await.expect("inspect");
    assert_eq!(inspect.id.as_deref(), Some(blob_sha.as_str()));
    let cmd = inspect.config.as_ref().and_then(|c| c.cmd.clone());
    assert_eq!(cmd, Some(vec!["sh".to_owned()]));
    assert_eq!(inspect.repo_tags, Some(vec!["busybox:latest".to_owned()]));
    assert_eq!(
        inspect.repo_digests,
        Some(vec![format!("busybox@{digest}")])
    );
    assert_eq!(inspect.os.as_deref(), Some("linux"));
    assert!(inspect.size.is_some_and(|s| s > 0));
    assert!(
        inspect
            .root_fs
            .and_then(|r| r.layers)
            .is_some_and(|l| !l.is_empty())
    );
    let by_id = b
        .image_inspect(&blob_sha[7..19])
        .await
        .expect("inspect by ID prefix");
    assert_eq!(by_id.id, inspect.id);

    let resolved = sockerless_backend_aca::images::resolve(&b, "busybox")
        .await
        .expect("resolve");
    assert_eq!(
        resolved.pull_reference,
        format!("{registry}/library/busybox@{digest}")
    );
    assert_eq!(resolved.reference, "docker.io/library/busybox:latest");
    assert_eq!(resolved.id, blob_sha);
    assert!(resolved.registry_credential.is_none());
    let by_id = sockerless_backend_aca::images::resolve(&b, &blob_sha)
        .await
        .expect("resolve by ID");
    assert_eq!(by_id.pull_reference, resolved.pull_reference);

    let again = statuses(
        &pull(&b, "docker.io/library/busybox:latest")
            .await
            .expect("pull again"),
    );
    assert_eq!(
        again.last().map(String::as_str),
        Some("Status: Image is up to date for busybox:latest")
    );
    assert!(!again.iter().any(|m| m == "Pull complete"), "{again:?}");

    b.image_tag("busybox", "myapp", Some("v1"))
        .await
        .expect("tag");
    let list = b
        .image_list(ListImagesOptions::default())
        .await
        .expect("list");
    assert_eq!(list.len(), 1, "one image under two names");
    assert_eq!(
        list[0].repo_tags,
        vec!["busybox:latest".to_owned(), "myapp:v1".to_owned()]
    );
    assert_eq!(list[0].id, blob_sha);
    let tagged = sockerless_backend_aca::images::resolve(&b, "myapp:v1")
        .await
        .expect("resolve tag");
    assert_eq!(
        tagged.pull_reference, resolved.pull_reference,
        "a new tag still pulls from the source"
    );

    let removed = b
        .image_remove("myapp:v1", RemoveImageOptions::default())
        .await
        .expect("untag");
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].untagged.as_deref(), Some("myapp:v1"));
    let removed = b
        .image_remove("busybox", RemoveImageOptions::default())
        .await
        .expect("remove");
    assert_eq!(
        removed.last().and_then(|r| r.deleted.clone()),
        Some(blob_sha.clone())
    );
    assert!(
        removed
            .iter()
            .any(|r| r.untagged.as_deref() == Some("busybox:latest"))
    );
    assert!(
        b.image_list(ListImagesOptions::default())
            .await
            .expect("list")
            .is_empty()
    );
    let err = sockerless_backend_aca::images::resolve(&b, "busybox")
        .await
        .expect_err("gone");
    assert_eq!(
        err,
        ApiError::NotFound("No such image: busybox:latest".into())
    );

    let err = pull(&b, "no-such-image-here").await.expect_err("missing");
    assert!(
        matches!(err, ApiError::NotFound(ref m) if m.contains("no-such-image-here")),
        "{err:?}"
    );
}

#[tokio::test]
#[ignore = "needs SOCKERLESS_TEST_REGISTRY (cargo xtask test)"]
async fn load_pushes_to_the_registry_server() {
    let registry = registry();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::new("sub", "rg", "env", "eastus");
    config.data_dir = dir.path().to_owned();
    config.arm_endpoint = url::Url::parse("http://127.0.0.1:9/").expect("url");
    config.registry_server = Some(registry.clone());
    // The test registry has no auth and ignores a login; with none configured
    // the backend would use ACR's token exchange for its registry_server.
    config.registry_username = Some("loader".to_owned());
    config.registry_password = Some(SecretString::new("unused-password"));
    let b = AcaBackend::with_credential(config, Arc::new(NoCredential), AzureOptions::default())
        .await
        .expect("backend");
    let tarball = saved_tarball("sockerless-test/loaded:v1");
    let stream: sockerless_api::ByteStream = Box::pin(futures_util::stream::iter([Ok(
        bytes::Bytes::from(tarball),
    )]));
    let mut progress = b.image_load(stream, false).await.expect("load");
    let mut statuses = Vec::new();
    while let Some(item) = progress.next().await {
        statuses.extend(item.expect("progress").status);
    }
    assert_eq!(statuses.first().map(String::as_str), Some("Loading layer"));
    assert_eq!(
        statuses.last().map(String::as_str),
        Some("Loaded image: sockerless-test/loaded:v1")
    );
    let inspect = b
        .image_inspect("sockerless-test/loaded:v1")
        .await
        .expect("inspect");
    assert_eq!(
        inspect.config.and_then(|c| c.cmd),
        Some(vec!["cat".to_owned(), "/hello.txt".to_owned()])
    );
    let resolved = sockerless_backend_aca::images::resolve(&b, "sockerless-test/loaded:v1")
        .await
        .expect("resolve");
    let credential = resolved
        .registry_credential
        .clone()
        .expect("registry_server login");
    assert_eq!(
        (credential.server.as_str(), credential.username.as_str()),
        (registry.as_str(), "loader")
    );
    let digest = resolved.digest.expect("digest of the pushed manifest");
    assert_eq!(
        resolved.pull_reference,
        format!("{registry}/sockerless-test/loaded@{digest}")
    );
    // The registry really holds it.
    let status = reqwest::Client::new()
        .get(format!(
            "http://{registry}/v2/sockerless-test/loaded/manifests/{digest}"
        ))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .expect("manifest")
        .status();
    assert_eq!(status.as_u16(), 200);
}

fn saved_tarball(tag: &str) -> Vec<u8> {
    let append = |builder: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, path, data)
            .expect("append");
    };
    let mut layer = tar::Builder::new(Vec::new());
    append(&mut layer, "hello.txt", b"hello from a loaded layer\n");
    let layer = layer.into_inner().expect("layer");
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["cat", "/hello.txt"]},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{:x}", Sha256::digest(&layer))]}
    })
    .to_string();
    let manifest =
        serde_json::json!([{"Config": "cfg.json", "RepoTags": [tag], "Layers": ["l/layer.tar"]}])
            .to_string();
    let mut outer = tar::Builder::new(Vec::new());
    append(&mut outer, "manifest.json", manifest.as_bytes());
    append(&mut outer, "cfg.json", config.as_bytes());
    append(&mut outer, "l/layer.tar", &layer);
    outer.into_inner().expect("tarball")
}
