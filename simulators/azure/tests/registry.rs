//! The registry: ACR token flows and OCI distribution.

mod common;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn registry_auth_and_distribution() {
    let sim = Sim::start(fast_config()).await;
    let host = sim.sim.as_ref().expect("sim").registry_host();
    let http = &sim.http;
    let base = &sim.base;
    // Anonymous: 401 with a Bearer challenge naming the token endpoint.
    let r = http.get(format!("{base}/v2/")).send().await.expect("get");
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"]
        .to_str()
        .expect("str")
        .to_string();
    assert!(
        challenge.starts_with(&format!(
            "Bearer realm=\"{base}/oauth2/token\",service=\"{host}\""
        )),
        "{challenge}"
    );
    // AAD token → refresh token → access token.
    let r = http
        .post(format!("{base}/oauth2/exchange"))
        .form(&[
            ("grant_type", "access_token"),
            ("service", host.as_str()),
            ("access_token", sim.arm_token.as_str()),
        ])
        .send()
        .await
        .expect("exchange");
    assert_eq!(r.status(), 200);
    let refresh = r.json::<Value>().await.expect("json")["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();
    let r = http
        .post(format!("{base}/oauth2/exchange"))
        .form(&[
            ("grant_type", "access_token"),
            ("service", host.as_str()),
            ("access_token", "forged"),
        ])
        .send()
        .await
        .expect("exchange");
    assert_eq!(r.status(), 401);
    let r = http
        .post(format!("{base}/oauth2/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("service", host.as_str()),
            ("scope", "repository:app:pull,push"),
            ("refresh_token", refresh.as_str()),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), 200);
    let access = r.json::<Value>().await.expect("json")["access_token"]
        .as_str()
        .expect("access")
        .to_string();
    // A refresh token is not an access token.
    assert_eq!(
        http.get(format!("{base}/v2/"))
            .bearer_auth(&refresh)
            .send()
            .await
            .expect("get")
            .status(),
        401
    );
    assert_eq!(
        http.get(format!("{base}/v2/"))
            .bearer_auth(&access)
            .send()
            .await
            .expect("get")
            .status(),
        200
    );
    // docker-style GET /oauth2/token with basic auth (admin, or null GUID + refresh token).
    let r = http
        .get(format!(
            "{base}/oauth2/token?service={host}&scope=repository:app:pull"
        ))
        .basic_auth("sim", Some("sim-registry-password"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    let r = http
        .get(format!("{base}/oauth2/token?service={host}"))
        .basic_auth("00000000-0000-0000-0000-000000000000", Some(&refresh))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    let r = http
        .get(format!("{base}/oauth2/token?service={host}"))
        .basic_auth("sim", Some("wrong"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 401);

    // Blobs: monolithic, HEAD/GET, mount, wrong digest.
    let blob = b"layer-bytes".to_vec();
    let digest = format!("sha256:{}", sha256_hex(&blob));
    let r = http
        .post(format!("{base}/v2/app/blobs/uploads/?digest={digest}"))
        .bearer_auth(&access)
        .body(blob.clone())
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["docker-content-digest"], digest.as_str());
    let r = http
        .head(format!("{base}/v2/app/blobs/{digest}"))
        .bearer_auth(&access)
        .send()
        .await
        .expect("head");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-length"],
        blob.len().to_string().as_str()
    );
    let r = http
        .get(format!("{base}/v2/app/blobs/{digest}"))
        .bearer_auth(&access)
        .send()
        .await
        .expect("get");
    assert_eq!(r.bytes().await.expect("bytes").to_vec(), blob);
    assert_eq!(
        http.head(format!("{base}/v2/other/blobs/{digest}"))
            .bearer_auth(&access)
            .send()
            .await
            .expect("head")
            .status(),
        404
    );
    let r = http
        .post(format!(
            "{base}/v2/other/blobs/uploads/?mount={digest}&from=app"
        ))
        .bearer_auth(&access)
        .send()
        .await
        .expect("mount");
    assert_eq!(r.status(), 201);
    assert_eq!(
        http.head(format!("{base}/v2/other/blobs/{digest}"))
            .bearer_auth(&access)
            .send()
            .await
            .expect("head")
            .status(),
        200
    );
    let r = http
        .post(format!(
            "{base}/v2/app/blobs/uploads/?digest=sha256:{}",
            "0".repeat(64)
        ))
        .bearer_auth(&access)
        .body("x")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 400);
    let r = http
        .get(format!("{base}/v2/app/blobs/uploads/00000000-dead"))
        .bearer_auth(&access)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 404);

    // Chunked: POST, PATCH, PATCH, status, PUT with the last piece; the blob
    // (larger than one piece of a served body) reads back whole.
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let big_digest = format!("sha256:{}", sha256_hex(&big));
    let r = http
        .post(format!("{base}/v2/app/blobs/uploads/"))
        .bearer_auth(&access)
        .send()
        .await
        .expect("start");
    assert_eq!(r.status(), 202);
    let location = format!(
        "{base}{}",
        r.headers()["location"].to_str().expect("location")
    );
    for piece in [&big[..100_000], &big[100_000..250_000]] {
        let r = http
            .patch(&location)
            .bearer_auth(&access)
            .body(piece.to_vec())
            .send()
            .await
            .expect("patch");
        assert_eq!(r.status(), 202);
    }
    let r = http
        .get(&location)
        .bearer_auth(&access)
        .send()
        .await
        .expect("status");
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["range"], "0-249999");
    let r = http
        .put(format!("{location}?digest={big_digest}"))
        .bearer_auth(&access)
        .body(big[250_000..].to_vec())
        .send()
        .await
        .expect("finish");
    assert_eq!(r.status(), 201);
    let r = http
        .get(format!("{base}/v2/app/blobs/{big_digest}"))
        .bearer_auth(&access)
        .send()
        .await
        .expect("get");
    assert_eq!(r.headers()["content-length"], "300000");
    assert!(r.bytes().await.expect("bytes").to_vec() == big);
    // A chunked upload with the wrong digest is refused and forgotten.
    let r = http
        .post(format!("{base}/v2/app/blobs/uploads/"))
        .bearer_auth(&access)
        .send()
        .await
        .expect("start");
    let location = format!(
        "{base}{}",
        r.headers()["location"].to_str().expect("location")
    );
    let r = http
        .put(format!("{location}?digest={digest}"))
        .bearer_auth(&access)
        .body("not the layer")
        .send()
        .await
        .expect("finish");
    assert_eq!(r.status(), 400);
    let r = http
        .get(&location)
        .bearer_auth(&access)
        .send()
        .await
        .expect("status");
    assert_eq!(r.status(), 404);

    // Manifests: by tag and digest, unknown blob refused, image index, tags, catalog.
    let cfg = b"{}".to_vec();
    let cfg_digest = format!("sha256:{}", sha256_hex(&cfg));
    http.post(format!("{base}/v2/app/blobs/uploads/?digest={cfg_digest}"))
        .bearer_auth(&access)
        .body(cfg.clone())
        .send()
        .await
        .expect("post");
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg_digest, "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest, "size": blob.len()}]});
    let bytes = serde_json::to_vec(&manifest).expect("json");
    let mdigest = format!("sha256:{}", sha256_hex(&bytes));
    let put = |reference: String, body: Vec<u8>, ct: &'static str| {
        http.put(format!("{base}/v2/app/manifests/{reference}"))
            .bearer_auth(&access)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let r = put(
        "v1".into(),
        bytes.clone(),
        "application/vnd.oci.image.manifest.v1+json",
    )
    .await
    .expect("put");
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["docker-content-digest"], mdigest.as_str());
    let r = http
        .get(format!("{base}/v2/app/manifests/v1"))
        .bearer_auth(&access)
        .send()
        .await
        .expect("get");
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(r.bytes().await.expect("bytes").to_vec(), bytes);
    let r = http
        .head(format!("{base}/v2/app/manifests/{mdigest}"))
        .bearer_auth(&access)
        .send()
        .await
        .expect("head");
    assert_eq!(r.status(), 200);
    let mut dangling = manifest.clone();
    dangling["layers"][0]["digest"] = json!(format!("sha256:{}", "1".repeat(64)));
    let r = put(
        "bad".into(),
        serde_json::to_vec(&dangling).expect("json"),
        "application/vnd.oci.image.manifest.v1+json",
    )
    .await
    .expect("put");
    assert_eq!(r.status(), 400);
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": mdigest, "size": bytes.len(), "platform": {"architecture": "amd64", "os": "linux"}}]});
    let r = put(
        "multi".into(),
        serde_json::to_vec(&index).expect("json"),
        "application/vnd.oci.image.index.v1+json",
    )
    .await
    .expect("put");
    assert_eq!(r.status(), 201);
    let r = put("v2".into(), bytes.clone(), "text/plain")
        .await
        .expect("put");
    assert_eq!(
        r.status(),
        201,
        "media type taken from the manifest's mediaType"
    );
    let tags: Value = http
        .get(format!("{base}/v2/app/tags/list"))
        .bearer_auth(&access)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(tags, json!({"name": "app", "tags": ["multi", "v1", "v2"]}));
    let cat: Value = http
        .get(format!("{base}/v2/_catalog"))
        .basic_auth("sim", Some("sim-registry-password"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(cat, json!({"repositories": ["app"]}));
    let cat: Value = http
        .get(format!("{base}/acr/v1/_catalog"))
        .bearer_auth(&access)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(cat, json!({"repositories": ["app"]}));
    assert_eq!(
        http.delete(format!("{base}/v2/app/manifests/v1"))
            .bearer_auth(&access)
            .send()
            .await
            .expect("delete")
            .status(),
        400
    );
    assert_eq!(
        http.delete(format!("{base}/v2/app/manifests/{mdigest}"))
            .bearer_auth(&access)
            .send()
            .await
            .expect("delete")
            .status(),
        202
    );
    assert_eq!(
        http.get(format!("{base}/v2/app/manifests/v1"))
            .bearer_auth(&access)
            .send()
            .await
            .expect("get")
            .status(),
        404
    );
    assert_eq!(
        http.get(format!("{base}/v2/Bad/tags/list"))
            .bearer_auth(&access)
            .send()
            .await
            .expect("get")
            .status(),
        400
    );
    sim.shutdown().await;
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
