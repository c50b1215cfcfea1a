//! The archive layout of `docker save` (pure parts).

use bytes::Bytes;
use serde_json::Value;
use sockerless_azure::registry::blobs::parse_manifest;

use super::*;

fn desc(digest: &str, size: i64) -> OciDescriptor {
    OciDescriptor {
        media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
        digest: digest.into(),
        size,
        ..Default::default()
    }
}

fn item() -> SaveItem {
    let manifest = parse_manifest(Bytes::from_static(
        br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#,
    ))
    .expect("manifest");
    SaveItem {
        tags: vec!["busybox:latest".into()],
        names: vec!["docker.io/library/busybox:latest".into()],
        manifest,
        config: desc("sha256:cc", 10),
        layers: vec![desc("sha256:aa", 5), desc("sha256:bb", 7)],
    }
}

#[test]
fn manifest_json_names_blobs_for_both_loaders() {
    let files = metadata(&[item()]);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["index.json", "manifest.json", "oci-layout", "repositories"]
    );
    let manifest: Value = serde_json::from_slice(&files[1].1).expect("json");
    assert_eq!(manifest[0]["Config"], "blobs/sha256/cc");
    assert_eq!(manifest[0]["RepoTags"][0], "busybox:latest");
    assert_eq!(manifest[0]["Layers"][1], "blobs/sha256/bb");
    let index: Value = serde_json::from_slice(&files[0].1).expect("json");
    let entry = &index["manifests"][0];
    assert_eq!(entry["digest"], item().manifest.digest);
    assert_eq!(
        entry["annotations"]["io.containerd.image.name"],
        "docker.io/library/busybox:latest"
    );
    assert_eq!(
        entry["annotations"]["org.opencontainers.image.ref.name"],
        "latest"
    );
    let repositories: Value = serde_json::from_slice(&files[3].1).expect("json");
    assert_eq!(repositories["busybox"]["latest"], "bb");
}

#[test]
fn an_image_named_by_id_has_no_tags() {
    let mut untagged = item();
    untagged.tags.clear();
    untagged.names.clear();
    let files = metadata(&[untagged]);
    let manifest: Value = serde_json::from_slice(&files[1].1).expect("json");
    assert_eq!(manifest[0]["RepoTags"], serde_json::json!([]));
    let index: Value = serde_json::from_slice(&files[0].1).expect("json");
    assert!(index["manifests"][0].get("annotations").is_none());
}

#[test]
fn headers_and_padding_make_a_readable_tar() {
    let mut out = Vec::new();
    for (path, data) in [
        ("blobs/sha256/aa", &b"hello"[..]),
        ("index.json", &b"{}"[..]),
    ] {
        out.extend_from_slice(&file_header(path, data.len() as u64).expect("header"));
        out.extend_from_slice(data);
        out.extend(std::iter::repeat_n(0u8, padding(data.len() as u64)));
    }
    out.extend_from_slice(&[0u8; 1024]);
    assert_eq!(out.len() % 512, 0);
    let mut archive = tar::Archive::new(&out[..]);
    let mut seen = Vec::new();
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let mut data = String::new();
        std::io::Read::read_to_string(&mut entry, &mut data).expect("read");
        seen.push((entry.path().expect("path").display().to_string(), data));
    }
    assert_eq!(
        seen,
        [
            ("blobs/sha256/aa".to_owned(), "hello".to_owned()),
            ("index.json".to_owned(), "{}".to_owned())
        ]
    );
    assert_eq!(padding(512), 0);
    assert_eq!(padding(513), 511);
}

#[test]
fn our_load_reads_the_layout() {
    let mut out = Vec::new();
    let config = br#"{"rootfs":{"type":"layers","diff_ids":[]}}"#;
    let mut it = item();
    it.layers = vec![desc("sha256:aa", 5)];
    let mut add = |path: &str, data: &[u8]| {
        out.extend_from_slice(&file_header(path, data.len() as u64).expect("header"));
        out.extend_from_slice(data);
        out.extend(std::iter::repeat_n(0u8, padding(data.len() as u64)));
    };
    add("blobs/sha256/aa", b"layer");
    add("blobs/sha256/cc", config);
    for (path, data) in metadata(&[it]) {
        add(&path, &data);
    }
    out.extend_from_slice(&[0u8; 1024]);
    let images = crate::images::load::read_tarball(Bytes::from(out)).expect("loads");
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].tags, ["busybox:latest"]);
    assert_eq!(&images[0].layers[0].0[..], b"layer");
}
