//! The index of the emulated blob endpoint: which blobs exist, their
//! length, ETag, time and metadata, and the blocks uploaded for a blob not
//! yet committed. The bytes are files under the data dir (`data/` for
//! blobs, `blocks/` for uncommitted blocks, `tmp/` for writes in progress);
//! a blob is renamed into place whole, so a reader never sees half a PUT.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

/// Most blobs kept; the oldest is dropped (with its file) past it. Source
/// blobs go when their run ends and log blobs with their run, so only
/// uploads never built pile up to here.
pub const MAX_BLOBS: usize = 2_000;
/// Most blobs with uncommitted blocks at once; the oldest set is dropped.
pub const MAX_PENDING: usize = 64;

/// One blob.
#[derive(Debug, Clone)]
pub struct BlobEntry {
    /// Its file.
    pub path: PathBuf,
    /// Bytes.
    pub len: u64,
    /// Quoted ETag.
    pub etag: String,
    /// Last write.
    pub last_modified: DateTime<Utc>,
    /// `x-ms-meta-*` metadata (name as given).
    pub metadata: BTreeMap<String, String>,
    seq: u64,
}

/// Blocks uploaded for one blob, by decoded-hex ID.
#[derive(Debug, Default)]
struct Pending {
    blocks: HashMap<String, u64>,
    seq: u64,
}

/// The blob index.
#[derive(Debug)]
pub struct BlobStore {
    root: PathBuf,
    blobs: HashMap<String, BlobEntry>,
    pending: HashMap<String, Pending>,
    seq: u64,
}

fn etag() -> String {
    format!(
        "\"0x{}\"",
        uuid::Uuid::new_v4()
            .simple()
            .to_string()
            .to_ascii_uppercase()
            .get(..15)
            .unwrap_or_default()
    )
}

impl BlobStore {
    /// An empty store with its files under `root` (an earlier emulator's
    /// are removed: their index went with it).
    pub fn new(root: PathBuf) -> Self {
        let _ = std::fs::remove_dir_all(&root);
        for sub in ["data", "blocks", "tmp"] {
            if let Err(e) = std::fs::create_dir_all(root.join(sub)) {
                tracing::warn!(path = %root.display(), error = %e, "cannot create the blob directory");
            }
        }
        BlobStore {
            root,
            blobs: HashMap::new(),
            pending: HashMap::new(),
            seq: 0,
        }
    }

    /// Removes every file (the emulator stops).
    pub fn remove_files(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
        self.blobs.clear();
        self.pending.clear();
    }

    /// Where blob `account/container/path` lives; `Err` for a name that
    /// would leave the data dir.
    pub fn blob_path(&self, account: &str, container: &str, path: &str) -> Result<PathBuf, String> {
        let mut parts = vec![account, container];
        parts.extend(path.split('/'));
        crate::util::confined(&self.root.join("data"), &parts)
    }

    /// A fresh file name for a write in progress.
    pub fn tmp_path(&self) -> PathBuf {
        self.root.join("tmp").join(uuid::Uuid::new_v4().to_string())
    }

    /// The directory of `key`'s uncommitted blocks.
    pub fn blocks_dir(&self, key: &str) -> PathBuf {
        self.root
            .join("blocks")
            .join(crate::registry::store::digest_of(key.as_bytes()).trim_start_matches("sha256:"))
    }

    /// A blob.
    pub fn get(&self, key: &str) -> Option<&BlobEntry> {
        self.blobs.get(key)
    }

    /// Records blob `key` (its file already in place), replacing an older
    /// one and dropping its uncommitted blocks. Returns files to delete: the
    /// blocks' directory and any blob dropped to stay within [`MAX_BLOBS`].
    pub fn put(
        &mut self,
        key: &str,
        path: PathBuf,
        len: u64,
        metadata: BTreeMap<String, String>,
    ) -> (BlobEntry, Vec<PathBuf>) {
        self.seq += 1;
        let entry = BlobEntry {
            path,
            len,
            etag: etag(),
            last_modified: Utc::now(),
            metadata,
            seq: self.seq,
        };
        self.blobs.insert(key.to_string(), entry.clone());
        let mut gone = Vec::new();
        if self.pending.remove(key).is_some() {
            gone.push(self.blocks_dir(key));
        }
        while self.blobs.len() > MAX_BLOBS {
            let Some(oldest) = self
                .blobs
                .iter()
                .min_by_key(|(_, e)| e.seq)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(e) = self.blobs.remove(&oldest) {
                gone.push(e.path);
            }
        }
        (entry, gone)
    }

    /// Grows blob `key` by `added` bytes (a log being written).
    pub fn grow(&mut self, key: &str, added: u64) {
        if let Some(e) = self.blobs.get_mut(key) {
            e.len += added;
            e.last_modified = Utc::now();
            e.etag = etag();
        }
    }

    /// Sets a metadata value of blob `key`.
    pub fn set_metadata(&mut self, key: &str, name: &str, value: &str) {
        if let Some(e) = self.blobs.get_mut(key) {
            e.metadata.insert(name.to_string(), value.to_string());
            e.etag = etag();
        }
    }

    /// Forgets blob `key`, returning its file to delete.
    pub fn remove(&mut self, key: &str) -> Option<PathBuf> {
        self.blobs.remove(key).map(|e| e.path)
    }

    /// Records an uploaded block; returns directories of block sets dropped
    /// to stay within [`MAX_PENDING`].
    pub fn add_block(&mut self, key: &str, id: &str, len: u64) -> Vec<PathBuf> {
        self.seq += 1;
        let seq = self.seq;
        let p = self.pending.entry(key.to_string()).or_default();
        p.blocks.insert(id.to_string(), len);
        p.seq = seq;
        let mut gone = Vec::new();
        while self.pending.len() > MAX_PENDING {
            let Some(oldest) = self
                .pending
                .iter()
                .min_by_key(|(_, p)| p.seq)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.pending.remove(&oldest);
            gone.push(self.blocks_dir(&oldest));
        }
        gone
    }

    /// The files of blocks `ids` of `key`, in order; `Err` names the first
    /// block that was never uploaded.
    pub fn block_files(&self, key: &str, ids: &[String]) -> Result<Vec<PathBuf>, String> {
        let dir = self.blocks_dir(key);
        let p = self.pending.get(key);
        ids.iter()
            .map(|id| match super::blocks::block_file_name(id) {
                Some(f) if p.is_some_and(|p| p.blocks.contains_key(&f)) => Ok(dir.join(f)),
                _ => Err(id.clone()),
            })
            .collect()
    }
}

/// Deletes files and directories (off the caller's lock).
pub fn delete_all(paths: Vec<PathBuf>) {
    for p in paths {
        let _ = if Path::new(&p).is_dir() {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committing_drops_blocks_and_the_oldest_blob_goes_past_the_bound() {
        let dir = std::env::temp_dir().join(format!("blob-store-{}", uuid::Uuid::new_v4()));
        let mut s = BlobStore::new(dir.clone());
        assert!(s.blob_path("a", "c", "x/../y").is_err());
        assert_eq!(s.blob_path("a", "c", "x/y"), Ok(dir.join("data/a/c/x/y")));
        s.add_block("a/c/x", "414141", 3);
        assert_eq!(
            s.block_files("a/c/x", &["QUFB".into()]),
            Ok(vec![s.blocks_dir("a/c/x").join("414141")])
        );
        assert_eq!(s.block_files("a/c/x", &["QkJC".into()]), Err("QkJC".into()));
        let (_, gone) = s.put("a/c/x", dir.join("x"), 3, BTreeMap::new());
        assert_eq!(gone, vec![s.blocks_dir("a/c/x")]);
        s.grow("a/c/x", 4);
        s.set_metadata("a/c/x", "Complete", "successful");
        let e = s.get("a/c/x").cloned().expect("blob");
        assert_eq!(
            (e.len, e.metadata.get("Complete").map(String::as_str)),
            (7, Some("successful"))
        );
        for i in 0..MAX_BLOBS {
            s.put(
                &format!("a/c/{i}"),
                dir.join(i.to_string()),
                0,
                BTreeMap::new(),
            );
        }
        assert!(s.get("a/c/x").is_none(), "the oldest blob stays");
        assert!(s.get("a/c/0").is_some());
        s.remove_files();
        assert!(!dir.exists());
    }
}
