//! Copies an image from the engine (`docker save` format) into the
//! emulator's registry, exercising monolithic and chunked blob uploads.

use std::collections::HashMap;
use std::io::Read;

use futures_util::StreamExt;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn digest(data: &[u8]) -> String {
    format!(
        "sha256:{}",
        Sha256::digest(data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

/// Pushes `image` from the engine to `repo:tag` in the registry at `base`.
pub async fn push_from_engine(
    engine: &str,
    image: &str,
    base: &str,
    user: &str,
    password: &str,
    repo: &str,
    tag: &str,
) {
    let docker = sockerless_azure_sim::runner::connect(engine)
        .await
        .expect("engine");
    let mut tarball = Vec::new();
    let mut stream = docker.export_image(image);
    while let Some(chunk) = stream.next().await {
        tarball.extend_from_slice(&chunk.expect("export chunk"));
    }
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    let mut archive = tar::Archive::new(tarball.as_slice());
    for entry in archive.entries().expect("tar") {
        let mut entry = entry.expect("entry");
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path().expect("path").to_string_lossy().to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("read");
        files.insert(path, data);
    }
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).expect("manifest.json");
    let config = files[manifest[0]["Config"].as_str().expect("Config")].clone();
    let layers: Vec<Vec<u8>> = manifest[0]["Layers"]
        .as_array()
        .expect("Layers")
        .iter()
        .map(|l| files[l.as_str().expect("layer")].clone())
        .collect();
    let http = reqwest::Client::new();
    // Config: monolithic upload.
    let cd = digest(&config);
    let r = http
        .post(format!("{base}/v2/{repo}/blobs/uploads/?digest={cd}"))
        .basic_auth(user, Some(password))
        .body(config.clone())
        .send()
        .await
        .expect("config upload");
    assert_eq!(r.status(), 201);
    // Layers: chunked upload (POST, PATCH x2, PUT).
    let mut layer_descs = Vec::new();
    for layer in &layers {
        let ld = digest(layer);
        let r = http
            .post(format!("{base}/v2/{repo}/blobs/uploads/"))
            .basic_auth(user, Some(password))
            .send()
            .await
            .expect("start");
        assert_eq!(r.status(), 202);
        let mut location = r.headers()["location"]
            .to_str()
            .expect("location")
            .to_string();
        let mid = layer.len() / 2;
        for part in [&layer[..mid], &layer[mid..]] {
            let r = http
                .patch(format!("{base}{location}"))
                .basic_auth(user, Some(password))
                .body(part.to_vec())
                .send()
                .await
                .expect("patch");
            assert_eq!(r.status(), 202);
            location = r.headers()["location"]
                .to_str()
                .expect("location")
                .to_string();
        }
        let r = http
            .put(format!("{base}{location}?digest={ld}"))
            .basic_auth(user, Some(password))
            .send()
            .await
            .expect("finish");
        assert_eq!(r.status(), 201);
        layer_descs.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": layer.len()}));
    }
    let m = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
        "layers": layer_descs,
    });
    let r = http
        .put(format!("{base}/v2/{repo}/manifests/{tag}"))
        .basic_auth(user, Some(password))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(serde_json::to_vec(&m).expect("manifest"))
        .send()
        .await
        .expect("manifest put");
    assert_eq!(r.status(), 201);
}
