//! Tests of the agent image: its layers, config and push.

use std::io::Read;

use super::*;

const FAKE_AGENT: &[u8] = b"\x7fELF not really an agent, but bytes to carry";

fn unpack(layer: &[u8]) -> Vec<u8> {
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(layer)
        .read_to_end(&mut tar)
        .expect("layer is gzip");
    tar
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).expect("valid JSON")
}

#[test]
fn layer_holds_only_the_agent_executable_as_root() {
    let image = AgentImage::build(FAKE_AGENT).expect("build");
    let tar = unpack(image.layer());
    let mut archive = tar::Archive::new(tar.as_slice());
    let mut entries: Vec<(String, u32, u64, u64, u64, Vec<u8>)> = Vec::new();
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let header = entry.header().clone();
        let path = entry.path().expect("path").to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("data");
        entries.push((
            path,
            header.mode().expect("mode"),
            header.uid().expect("uid"),
            header.gid().expect("gid"),
            header.mtime().expect("mtime"),
            data,
        ));
    }
    assert_eq!(
        entries,
        vec![(
            "sockerless-agent".to_owned(),
            0o755,
            0,
            0,
            0,
            FAKE_AGENT.to_vec()
        )]
    );
    assert_eq!(image.diff_id(), sha256_digest(&tar));
}

#[test]
fn config_and_manifest_agree_with_the_blobs() {
    let image = AgentImage::build(FAKE_AGENT).expect("build");
    let config = json(image.config_json());
    assert_eq!(config["os"], "linux");
    assert_eq!(config["architecture"], "amd64");
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["/sockerless-agent"])
    );
    assert_eq!(config["rootfs"]["type"], "layers");
    assert_eq!(
        config["rootfs"]["diff_ids"],
        serde_json::json!([image.diff_id()])
    );

    let manifest = json(image.manifest_json());
    assert_eq!(manifest["schemaVersion"], 2);
    assert_eq!(manifest["mediaType"], OCI_IMAGE_MEDIA_TYPE);
    assert_eq!(manifest["config"]["mediaType"], IMAGE_CONFIG_MEDIA_TYPE);
    assert_eq!(manifest["config"]["digest"], image.config_digest());
    assert_eq!(manifest["config"]["size"], image.config_json().len());
    let layers = manifest["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["mediaType"], IMAGE_LAYER_GZIP_MEDIA_TYPE);
    assert_eq!(layers[0]["digest"], image.layer_digest());
    assert_eq!(layers[0]["size"], image.layer().len());
    assert_eq!(
        image.manifest_digest(),
        sha256_digest(image.manifest_json())
    );
    assert_ne!(image.layer_digest(), image.diff_id(), "layer is compressed");
}

#[test]
fn build_is_reproducible_and_follows_the_binary() {
    let a = AgentImage::build(FAKE_AGENT).expect("build");
    let b = AgentImage::build(FAKE_AGENT).expect("build");
    assert_eq!(a.layer(), b.layer());
    assert_eq!(a.manifest_digest(), b.manifest_digest());
    let c = AgentImage::build(b"another agent").expect("build");
    assert_ne!(a.layer_digest(), c.layer_digest());
    assert_ne!(a.manifest_digest(), c.manifest_digest());
}

#[test]
fn digest_format() {
    assert_eq!(
        sha256_digest(b""),
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn from_file_rejects_missing_and_empty_binaries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope");
    assert!(matches!(
        AgentImage::from_file(&missing),
        Err(AgentImageError::ReadBinary { .. })
    ));
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").expect("write");
    assert!(matches!(
        AgentImage::from_file(&empty),
        Err(AgentImageError::EmptyBinary(_))
    ));
    let good = dir.path().join("agent");
    std::fs::write(&good, FAKE_AGENT).expect("write");
    let image = AgentImage::from_file(&good).expect("build");
    assert_eq!(
        image.manifest_digest(),
        AgentImage::build(FAKE_AGENT)
            .expect("build")
            .manifest_digest()
    );
}

#[test]
fn loopback_registries_use_plain_http() {
    for host in [
        "127.0.0.1:5000",
        "127.0.0.1",
        "localhost:5000",
        "LOCALHOST",
        "[::1]:5000",
        "127.1.2.3:80",
    ] {
        assert!(is_loopback_host(host), "{host}");
    }
    for host in [
        "myreg.azurecr.io",
        "10.0.0.1:5000",
        "example.com:443",
        "[2001:db8::1]:5000",
        "localhost.example.com",
    ] {
        assert!(!is_loopback_host(host), "{host}");
    }
}

#[tokio::test]
async fn invalid_reference_is_an_error_not_a_panic() {
    let image = AgentImage::build(FAKE_AGENT).expect("build");
    let err = image
        .push(&PushTarget::new("127.0.0.1:1", "Not Valid", "x"))
        .await
        .expect_err("invalid repository");
    assert!(matches!(err, AgentImageError::Reference { .. }), "{err}");
}

#[tokio::test]
#[ignore = "needs the test registry (SOCKERLESS_TEST_REGISTRY): cargo xtask test"]
async fn push_to_the_test_registry_and_read_it_back() {
    let registry = std::env::var("SOCKERLESS_TEST_REGISTRY")
        .expect("this test needs SOCKERLESS_TEST_REGISTRY (cargo xtask test)");
    // A binary unique to this run, so the blobs are new to the registry.
    let unique = format!(
        "agent-image-test {} {:?}",
        std::process::id(),
        std::time::SystemTime::now()
    );
    let image = AgentImage::build(unique.as_bytes()).expect("build");
    let target = PushTarget::new(&registry, "sockerless/agent-image-test", "test");
    let pushed = image.push(&target).await.expect("push");
    assert_eq!(pushed.digest, image.manifest_digest());
    assert_eq!(
        pushed.reference,
        format!(
            "{registry}/sockerless/agent-image-test@{}",
            image.manifest_digest()
        )
    );
    assert_eq!(
        pushed.tagged,
        format!("{registry}/sockerless/agent-image-test:test")
    );
    // Pushing the same image again is fine (idempotent).
    assert_eq!(image.push(&target).await.expect("push again"), pushed);

    let client = registry_client(&target);
    let by_digest: Reference = pushed.reference.parse().expect("reference");
    let (manifest, digest) = client
        .pull_manifest_raw(
            &by_digest,
            &RegistryAuth::Anonymous,
            &[OCI_IMAGE_MEDIA_TYPE],
        )
        .await
        .expect("pull manifest");
    assert_eq!(digest, image.manifest_digest());
    assert_eq!(manifest.as_ref(), image.manifest_json());

    let mut layer = Vec::new();
    client
        .pull_blob(&by_digest, image.layer_digest().as_str(), &mut layer)
        .await
        .expect("pull layer");
    assert_eq!(layer, image.layer());
    let mut config = Vec::new();
    client
        .pull_blob(&by_digest, image.config_digest().as_str(), &mut config)
        .await
        .expect("pull config");
    assert_eq!(config, image.config_json());

    let tagged: Reference = target.tagged_reference().parse().expect("reference");
    let (_, tag_digest) = client
        .pull_manifest_raw(&tagged, &RegistryAuth::Anonymous, &[OCI_IMAGE_MEDIA_TYPE])
        .await
        .expect("pull by tag");
    assert_eq!(tag_digest, image.manifest_digest(), "the tag points at it");
}
