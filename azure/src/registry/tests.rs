//! Registry client against a local stub registry (plain http on loopback).

use super::*;
use crate::test_support::{StaticCredential, Stub, StubReply};
use sha2::{Digest, Sha256};

fn sha(data: &str) -> String {
    format!(
        "sha256:{}",
        Sha256::digest(data.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

const CONFIG: &str = r#"{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/bin/app"],"Cmd":["serve"],"Env":["PATH=/bin"]},"rootfs":{"type":"layers","diff_ids":[]}}"#;

fn manifest() -> String {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[]}}"#,
        sha(CONFIG),
        CONFIG.len()
    )
}

fn registry_stub(
    repo: &'static str,
) -> impl Fn(&Url, &str, &str, usize) -> StubReply + Send + Sync + 'static {
    move |_, method, path, _| {
        let manifest = manifest();
        match (method, path) {
            ("POST", "/oauth2/exchange") => {
                StubReply::json(200, r#"{"refresh_token":"refresh-1"}"#)
            }
            ("POST", "/oauth2/token") => StubReply::json(200, r#"{"access_token":"access-1"}"#),
            ("GET", "/v2/") => StubReply::json(200, "{}"),
            ("GET", p)
                if p == format!("/v2/{repo}/manifests/v1")
                    || p == format!("/v2/{repo}/manifests/latest") =>
            {
                StubReply::json(200, &manifest)
                    .header("content-type", "application/vnd.oci.image.manifest.v1+json")
                    .header("docker-content-digest", sha(&manifest))
            }
            ("GET", p) if p == format!("/v2/{repo}/blobs/{}", sha(CONFIG)) => {
                StubReply::json(200, CONFIG)
            }
            _ => StubReply::json(
                404,
                r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
            ),
        }
    }
}

fn host(stub: &Stub) -> String {
    format!(
        "{}:{}",
        stub.base.host_str().unwrap_or_default(),
        stub.base.port().unwrap_or_default()
    )
}

#[tokio::test]
async fn acr_token_exchange_then_manifest_and_config() {
    let stub = Stub::start(registry_stub("app")).await;
    let registry = host(&stub);
    let client = RegistryClient::new(
        RegistrySettings {
            server: Some(registry.clone()),
            ..Default::default()
        },
        Arc::new(StaticCredential),
        &AzureOptions::default(),
    );
    let pulled = client
        .pull_config(&format!("{registry}/app:v1"))
        .await
        .expect("pull");
    assert_eq!(pulled.config["config"]["Cmd"][0], "serve");
    assert_eq!(pulled.digest, sha(&manifest()));
    assert_eq!(pulled.reference, format!("{registry}/app:v1"));
    let calls = stub.calls();
    assert_eq!(&calls[..2], ["POST /oauth2/exchange", "POST /oauth2/token"]);
    let auths = stub.auth_headers();
    let manifest_call = calls
        .iter()
        .position(|c| c.contains("/manifests/"))
        .expect("manifest fetched");
    assert_eq!(auths[manifest_call], "Bearer access-1");
}

#[tokio::test]
async fn mirror_is_used_anonymously_for_docker_hub() {
    let stub = Stub::start(registry_stub("library/busybox")).await;
    let mut mirrors = BTreeMap::new();
    mirrors.insert("docker.io".to_owned(), stub.base.clone());
    let client = RegistryClient::new(
        RegistrySettings {
            mirrors,
            ..Default::default()
        },
        Arc::new(StaticCredential),
        &AzureOptions::default(),
    );
    let pulled = client
        .pull_config("busybox")
        .await
        .expect("pull through mirror");
    assert_eq!(pulled.reference, "docker.io/library/busybox:latest");
    assert!(stub.calls().iter().all(|c| !c.contains("oauth2")));
    assert!(stub.auth_headers().iter().all(String::is_empty));

    let err = client
        .pull_config("busybox:nope")
        .await
        .expect_err("unknown tag");
    assert!(
        err.is_not_found() && err.message().starts_with("No such image: busybox:nope"),
        "{err:?}"
    );
    let err = client
        .pull_config("UPPER/Case:bad tag")
        .await
        .expect_err("invalid");
    assert!(err.kind() == crate::ErrorKind::InvalidInput, "{err:?}");
}

#[test]
fn loopback_registries_are_recognised() {
    for yes in [
        "127.0.0.1:5000",
        "localhost:5000",
        "[::1]:5000",
        "127.0.0.2",
    ] {
        assert!(is_loopback_registry(yes), "{yes}");
    }
    for no in ["myreg.azurecr.io", "10.0.0.1:5000", "docker.io"] {
        assert!(!is_loopback_registry(no), "{no}");
    }
    assert!(is_acr("myreg.azurecr.io") && !is_acr("ghcr.io"));
}
