//! Pushing a built image into the emulator's registry, as ACR's push step
//! does: the image is read from the engine (`GET /images/{name}/get`, a
//! `docker save` archive streamed to a file), its config and layers are
//! written to the registry's blob files while hashed, and an OCI manifest
//! naming them is stored under each tag. The config's digest is the
//! engine's image ID; layers stay uncompressed (OCI `layer.v1.tar`), so
//! their digests are the config's `diff_ids`.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use bollard::Docker;
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::request::ImageName;
use crate::state::AppState;

/// The manifest media type pushed.
pub const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// A blob of the archive, hashed and in a file of the registry.
#[derive(Debug, Clone)]
struct Piece {
    digest: String,
    len: u64,
    file: PathBuf,
}

/// What the archive holds for the image.
#[derive(Debug)]
struct Exported {
    config: Piece,
    layers: Vec<Piece>,
    spare: Vec<PathBuf>,
}

struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    len: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn hex(hash: &[u8]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads a `docker save` archive (the classic layout or the OCI one of
/// engines from 25 on; both carry `manifest.json`), writing each file
/// entry to `work` while hashing it.
fn unpack(archive: &Path, work: &Path) -> Result<Exported, String> {
    let err = |e: std::io::Error| format!("reading the image archive: {e}");
    let mut tar = tar::Archive::new(std::fs::File::open(archive).map_err(err)?);
    let mut pieces: HashMap<String, Piece> = HashMap::new();
    let mut links: HashMap<String, String> = HashMap::new();
    let mut manifest = String::new();
    for entry in tar.entries().map_err(err)? {
        let mut entry = entry.map_err(err)?;
        let name = entry
            .path()
            .map_err(err)?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        let kind = entry.header().entry_type();
        if kind.is_symlink() {
            if let Ok(Some(target)) = entry.link_name() {
                let dir = name.rsplit_once('/').map_or("", |(d, _)| d);
                let joined = if dir.is_empty() {
                    target.to_string_lossy().to_string()
                } else {
                    format!("{dir}/{}", target.to_string_lossy())
                };
                links.insert(name, crate::util::normalize_path(&joined));
            }
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        if name == "manifest.json" {
            entry
                .by_ref()
                .take(1 << 20)
                .read_to_string(&mut manifest)
                .map_err(err)?;
            continue;
        }
        let file = work.join(uuid::Uuid::new_v4().to_string());
        let mut out = Hashing {
            inner: std::fs::File::create(&file).map_err(err)?,
            hasher: Sha256::new(),
            len: 0,
        };
        std::io::copy(&mut entry, &mut out).map_err(err)?;
        out.flush().map_err(err)?;
        let digest = format!("sha256:{}", hex(out.hasher.finalize().as_slice()));
        pieces.insert(
            name,
            Piece {
                digest,
                len: out.len,
                file,
            },
        );
    }
    let parsed: serde_json::Value = serde_json::from_str(&manifest)
        .map_err(|e| format!("the image archive has no readable manifest.json: {e}"))?;
    let image = &parsed[0];
    let find = |name: &str| -> Result<Piece, String> {
        let name = links.get(name).map_or(name, String::as_str);
        pieces
            .get(name)
            .cloned()
            .ok_or_else(|| format!("the image archive lacks {name}"))
    };
    let config = find(image["Config"].as_str().unwrap_or_default())?;
    let layers = image["Layers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| find(l.as_str().unwrap_or_default()))
        .collect::<Result<Vec<_>, _>>()?;
    let used: Vec<&PathBuf> = std::iter::once(&config.file)
        .chain(layers.iter().map(|l| &l.file))
        .collect();
    let spare = pieces
        .values()
        .map(|p| p.file.clone())
        .filter(|f| !used.contains(&f))
        .collect();
    Ok(Exported {
        config,
        layers,
        spare,
    })
}

/// The OCI manifest of an exported image.
fn manifest_of(e: &Exported) -> Bytes {
    let layers: Vec<serde_json::Value> = e
        .layers
        .iter()
        .map(|l| json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": l.digest, "size": l.len}))
        .collect();
    Bytes::from(
        json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": e.config.digest, "size": e.config.len},
            "layers": layers,
        })
        .to_string(),
    )
}

/// One pushed name: its manifest digest and size.
pub struct Pushed {
    /// The name.
    pub name: ImageName,
    /// Manifest digest.
    pub digest: String,
    /// Manifest bytes.
    pub size: usize,
}

/// Pushes engine image `image` to the registry under `names`.
pub async fn push(
    state: &AppState,
    docker: &Docker,
    image: &str,
    names: &[ImageName],
) -> Result<Vec<Pushed>, String> {
    let (archive, work) = {
        let reg = state.registry();
        (
            reg.upload_path(&uuid::Uuid::new_v4().to_string()),
            reg.upload_path(""),
        )
    };
    let saved = save(docker, image, &archive).await;
    let unpacked = match saved {
        Ok(()) => {
            let a = archive.clone();
            tokio::task::spawn_blocking(move || unpack(&a, &work))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r)
        }
        Err(e) => Err(e),
    };
    let _ = tokio::fs::remove_file(&archive).await;
    let exported = unpacked?;
    let targets: Vec<(PathBuf, PathBuf)> = {
        let reg = state.registry();
        std::iter::once(&exported.config)
            .chain(&exported.layers)
            .map(|p| (p.file.clone(), reg.blob_path(&p.digest)))
            .collect()
    };
    let spare = exported.spare.clone();
    // Content-addressed: a blob already there has these very bytes.
    tokio::task::spawn_blocking(move || {
        for (from, to) in targets {
            std::fs::rename(&from, &to)?;
        }
        for f in spare {
            let _ = std::fs::remove_file(f);
        }
        Ok::<(), std::io::Error>(())
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("storing the image's blobs: {e}"))?;
    let manifest = manifest_of(&exported);
    let mut reg = state.registry();
    Ok(names
        .iter()
        .map(|n| {
            for p in std::iter::once(&exported.config).chain(&exported.layers) {
                reg.link_blob(&n.repository, &p.digest, p.len);
            }
            let digest = reg.put_manifest(&n.repository, &n.tag, MANIFEST_TYPE, manifest.clone());
            Pushed {
                name: n.clone(),
                digest,
                size: manifest.len(),
            }
        })
        .collect())
}

/// Streams `docker save` of `image` to `path`.
async fn save(docker: &Docker, image: &str, path: &Path) -> Result<(), String> {
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| e.to_string())?;
    let mut stream = docker.export_image(image);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| format!("reading the image from the engine: {e}"))?;
        file.write_all(&chunk).await.map_err(|e| e.to_string())?;
    }
    file.flush().await.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data).expect("append");
    }

    #[test]
    fn a_saved_image_becomes_config_and_layers_by_digest() {
        let dir = std::env::temp_dir().join(format!("push-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let mut b = tar::Builder::new(Vec::new());
        add(&mut b, "blobs/sha256/aa", b"layer-one");
        add(&mut b, "blobs/sha256/cc", b"{\"config\":1}");
        add(&mut b, "index.json", b"{}");
        add(
            &mut b,
            "manifest.json",
            br#"[{"Config":"blobs/sha256/cc","RepoTags":["t:1"],"Layers":["blobs/sha256/aa"]}]"#,
        );
        std::fs::write(dir.join("a.tar"), b.into_inner().expect("tar")).expect("write");
        let e = unpack(&dir.join("a.tar"), &dir).expect("unpacked");
        assert_eq!(
            e.config.digest,
            crate::registry::store::digest_of(b"{\"config\":1}")
        );
        assert_eq!(e.layers.len(), 1);
        assert_eq!(e.layers[0].len, 9);
        assert_eq!(e.spare.len(), 1, "index.json is not part of the image");
        let m: serde_json::Value = serde_json::from_slice(&manifest_of(&e)).expect("json");
        assert_eq!(m["config"]["digest"], json!(e.config.digest));
        assert_eq!(
            m["layers"][0]["mediaType"],
            "application/vnd.oci.image.layer.v1.tar"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
