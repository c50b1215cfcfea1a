//! Content-addressed storage of the registry.

use std::collections::{BTreeMap, BTreeSet, HashMap};

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

/// An upload in progress.
#[derive(Debug)]
pub struct Upload {
    /// Target repository.
    pub repo: String,
    /// Bytes received so far.
    pub data: Vec<u8>,
}

/// Registry contents.
#[derive(Debug, Default)]
pub struct RegistryStore {
    /// Blob bytes by digest.
    pub blobs: HashMap<String, Bytes>,
    /// Repositories by name.
    pub repos: BTreeMap<String, Repo>,
    /// Uploads by session ID.
    pub uploads: HashMap<String, Upload>,
}

/// `sha256:<hex>` of bytes.
pub fn digest_of(data: &[u8]) -> String {
    let hash = Sha256::digest(data);
    let mut s = String::with_capacity(71);
    s.push_str("sha256:");
    for b in hash {
        s.push_str(&format!("{b:02x}"));
    }
    s
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
}
