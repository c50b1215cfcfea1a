//! Content-addressed storage of the registry: repositories, tags and
//! manifests in memory; blob bytes (and uploads in progress) in files under
//! the emulator's data directory, as ACR keeps them in storage rather than
//! in the memory of anything that serves them. An all-in-one embedding the
//! emulator would otherwise hold every layer ever loaded or pushed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use sha2::{Digest, Sha256};

/// A stored manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Media type it was pushed with.
    pub media_type: String,
    /// Raw bytes (digests are over these).
    pub body: Bytes,
}

/// One repository.
#[derive(Debug, Default)]
pub struct Repo {
    /// Tag → manifest digest.
    pub tags: BTreeMap<String, String>,
    /// Manifests by digest.
    pub manifests: HashMap<String, Manifest>,
    /// Blobs linked into this repository.
    pub blobs: BTreeSet<String>,
}

/// An upload in progress; its bytes are in [`RegistryStore::upload_path`].
#[derive(Debug)]
pub struct Upload {
    /// Target repository.
    pub repo: String,
    /// Bytes received so far.
    pub len: u64,
}

/// Registry contents.
#[derive(Debug)]
pub struct RegistryStore {
    dir: PathBuf,
    /// Blob sizes by digest; the bytes are in [`RegistryStore::blob_path`].
    pub blobs: HashMap<String, u64>,
    /// Repositories by name.
    pub repos: BTreeMap<String, Repo>,
    /// Uploads by session ID.
    pub uploads: HashMap<String, Upload>,
}

impl RegistryStore {
    /// An empty registry keeping its files under `dir`; files an earlier
    /// emulator left there are removed (the index of them is gone with it).
    pub fn new(dir: PathBuf) -> Self {
        for sub in ["blobs", "uploads"] {
            let path = dir.join(sub);
            let _ = std::fs::remove_dir_all(&path);
            if let Err(e) = std::fs::create_dir_all(&path) {
                tracing::warn!(path = %path.display(), error = %e, "cannot create the registry's directory");
            }
        }
        RegistryStore {
            dir,
            blobs: HashMap::new(),
            repos: BTreeMap::new(),
            uploads: HashMap::new(),
        }
    }

    /// Removes the blob and upload files (the emulator stops: nothing can
    /// find them any more).
    pub fn remove_files(&mut self) {
        for sub in ["blobs", "uploads"] {
            let _ = std::fs::remove_dir_all(self.dir.join(sub));
        }
        self.blobs.clear();
        self.uploads.clear();
    }

    /// The file of blob `digest` (a digest [`is_digest`] accepted: hex only).
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.dir.join("blobs").join(hex)
    }

    /// The file of upload `id` (an ID this registry made).
    pub fn upload_path(&self, id: &str) -> PathBuf {
        self.dir.join("uploads").join(id)
    }
}

impl RegistryStore {
    /// Links a blob already at [`RegistryStore::blob_path`] into `repo`.
    pub fn link_blob(&mut self, repo: &str, digest: &str, len: u64) {
        self.blobs.insert(digest.to_string(), len);
        self.repos
            .entry(repo.to_string())
            .or_default()
            .blobs
            .insert(digest.to_string());
    }

    /// Stores a manifest of `repo` (its blobs linked already) under `tag`;
    /// returns its digest.
    pub fn put_manifest(&mut self, repo: &str, tag: &str, media_type: &str, body: Bytes) -> String {
        let digest = digest_of(&body);
        let r = self.repos.entry(repo.to_string()).or_default();
        r.manifests.insert(
            digest.clone(),
            Manifest {
                media_type: media_type.to_string(),
                body,
            },
        );
        r.tags.insert(tag.to_string(), digest.clone());
        digest
    }
}

/// `sha256:<hex>` of a file's bytes, read in pieces.
pub fn digest_of_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex_digest(hasher.finalize().as_slice()))
}

fn hex_digest(hash: &[u8]) -> String {
    let mut s = String::with_capacity(71);
    s.push_str("sha256:");
    for b in hash {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// `sha256:<hex>` of bytes.
pub fn digest_of(data: &[u8]) -> String {
    hex_digest(Sha256::digest(data).as_slice())
}

/// Whether `d` looks like a digest this registry can verify.
pub fn is_digest(d: &str) -> bool {
    d.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

/// OCI repository name grammar (lowercase path components separated by `/`).
pub fn valid_repo_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && name.split('/').all(|comp| {
            !comp.is_empty()
                && comp.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && comp.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && comp.chars().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_' || c == '-'
                })
        })
}

/// Valid tag grammar.
pub fn valid_tag(tag: &str) -> bool {
    (1..=128).contains(&tag.len())
        && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
}

/// Digests a manifest references (config, layers, or index entries).
pub fn references(manifest: &serde_json::Value) -> (Vec<String>, Vec<String>) {
    let mut blobs = Vec::new();
    let mut manifests = Vec::new();
    if let Some(d) = manifest["config"]["digest"].as_str() {
        blobs.push(d.to_string());
    }
    for l in manifest["layers"].as_array().into_iter().flatten() {
        if let Some(d) = l["digest"].as_str() {
            blobs.push(d.to_string());
        }
    }
    for m in manifest["manifests"].as_array().into_iter().flatten() {
        if let Some(d) = m["digest"].as_str() {
            manifests.push(d.to_string());
        }
    }
    (blobs, manifests)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_digests() {
        assert!(valid_repo_name("library/busybox"));
        assert!(valid_repo_name("a.b_c-d/e"));
        assert!(!valid_repo_name("Library/busybox"));
        assert!(!valid_repo_name("a//b"));
        assert!(!valid_repo_name("-a"));
        assert!(valid_tag("v1.0_x-y"));
        assert!(!valid_tag(".v1"));
        assert_eq!(
            digest_of(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(is_digest(&digest_of(b"x")));
        assert!(!is_digest("sha256:XYZ"));
    }

    #[test]
    fn blobs_and_uploads_are_files_of_the_store() {
        let dir = std::env::temp_dir().join(format!("registry-store-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("blobs")).expect("dir");
        std::fs::write(dir.join("blobs/left-over"), b"old").expect("left-over");
        let store = RegistryStore::new(dir.clone());
        assert!(
            !dir.join("blobs/left-over").exists(),
            "an earlier emulator's blob stays"
        );
        let digest = digest_of(b"layer");
        let path = store.blob_path(&digest);
        assert_eq!(path.parent(), Some(dir.join("blobs").as_path()));
        std::fs::write(&path, b"layer").expect("blob");
        assert_eq!(digest_of_file(&path).expect("digest"), digest);
        assert_eq!(
            store.upload_path("u1").parent(),
            Some(dir.join("uploads").as_path())
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
