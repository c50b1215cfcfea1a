//! What the store keeps per image reference, and lookups by name or ID.
//!
//! One `images` row per reference (`docker.io/library/busybox:latest`); its
//! `config` column holds a [`StoredImage`] (the OCI config plus what inspect,
//! list and `resolve` need). Several tags of one image are several rows with
//! the same `id`. Registry credentials given at pull time for a private
//! registry are kept here so that `resolve` can hand them to ACA: their
//! passwords are sealed with the store's key (not in the database), and the
//! data directory and database are private to the daemon.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sockerless_api::ApiError;

use super::reference::{ImageRef, looks_like_id};
use crate::AcaBackend;
use crate::store::{ImageRecord, records};

/// A registry login kept with an image (serialised into the store only).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredCredential {
    /// Registry host the login is for.
    pub server: String,
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: String,
}

impl std::fmt::Debug for StoredCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredCredential")
            .field("server", &self.server)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The `config` column of an image row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredImage {
    /// `sha256:<config digest>`.
    pub id: String,
    /// The OCI image config JSON.
    pub config: Value,
    /// Sum of the manifest's layer sizes.
    pub size: i64,
    /// Registry + repository ACA pulls from (mirror applied), e.g.
    /// `127.0.0.1:5000/library/busybox`.
    pub source: String,
    /// Login for `source`'s registry, when the pull was authenticated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<StoredCredential>,
    /// Whether this row's repository is where the image was pulled from
    /// (only those show in RepoDigests).
    #[serde(default)]
    pub pulled: bool,
    /// When this reference was last tagged, nanoseconds since the epoch.
    #[serde(default)]
    pub tagged_at: i64,
}

/// An image row with its decoded [`StoredImage`].
#[derive(Debug, Clone, PartialEq)]
pub struct ImageEntry {
    /// The row's reference, parsed.
    pub reference: ImageRef,
    /// Manifest digest (may be empty when unknown).
    pub digest: String,
    /// The decoded config column.
    pub image: StoredImage,
    /// When it was pulled, nanoseconds since the epoch.
    pub created_at: i64,
}

impl ImageEntry {
    /// Decodes a row; `None` for rows this version cannot read.
    pub fn from_record(record: &ImageRecord) -> Option<Self> {
        let reference = ImageRef::parse_loose(&record.reference).ok()?;
        let image: StoredImage = serde_json::from_value(record.config.clone()).ok()?;
        Some(Self {
            reference,
            digest: record.digest.clone(),
            image,
            created_at: record.created_at,
        })
    }

    /// Encodes as a row.
    pub fn to_record(&self) -> Result<ImageRecord, ApiError> {
        Ok(ImageRecord {
            reference: self.reference.canonical(),
            digest: self.digest.clone(),
            config: serde_json::to_value(&self.image)
                .map_err(|e| ApiError::Internal(format!("encode image record: {e}")))?,
            created_at: self.created_at,
        })
    }

    /// Whether the row is a tag (not a digest-only reference).
    pub fn is_tag(&self) -> bool {
        self.reference.tag.is_some()
    }
}

/// Every readable image row.
pub async fn all(backend: &AcaBackend) -> Result<Vec<ImageEntry>, ApiError> {
    let records = backend.store().call(|c| records::list_images(c)).await?;
    Ok(records.iter().filter_map(|r| decode(backend, r)).collect())
}

/// A row decoded, its credential's password unsealed (a password that no
/// longer opens, e.g. after the state key changed, drops the credential:
/// the next pull with a login stores it again).
fn decode(backend: &AcaBackend, record: &ImageRecord) -> Option<ImageEntry> {
    let mut entry = ImageEntry::from_record(record)?;
    if let Some(cred) = entry.image.credential.take() {
        entry.image.credential = backend
            .store()
            .unseal(&cred.server, &cred.password)
            .map(|password| StoredCredential { password, ..cred });
    }
    Some(entry)
}

/// Saves a row, its credential's password sealed.
pub async fn put(backend: &AcaBackend, entry: &ImageEntry) -> Result<(), ApiError> {
    let mut entry = entry.clone();
    if let Some(cred) = entry.image.credential.as_mut() {
        cred.password = backend.store().seal(&cred.server, &cred.password)?;
    }
    let record = entry.to_record()?;
    backend
        .store()
        .call(move |c| records::put_image(c, &record))
        .await?;
    Ok(())
}

/// Deletes a row by canonical reference.
pub async fn delete(backend: &AcaBackend, reference: &str) -> Result<bool, ApiError> {
    let reference = reference.to_owned();
    Ok(backend
        .store()
        .call(move |c| records::delete_image(c, &reference))
        .await?)
}

/// What the user named, found in the store.
#[derive(Debug, Clone)]
pub struct Found {
    /// The row that matched (for a name) or a row of the image (for an ID).
    pub entry: ImageEntry,
    /// Whether the user named it by ID (or ID prefix) rather than by reference.
    pub by_id: bool,
}

/// Finds `name` (reference, `name@digest`, full ID or ID prefix) like Docker:
/// references first, then IDs. `NotFound` says `No such image: <name>`.
pub async fn find(backend: &AcaBackend, name: &str) -> Result<Found, ApiError> {
    // The common case (a tag that is stored) is one keyed read.
    if let Ok(wanted) = ImageRef::parse(name) {
        let key = wanted.canonical();
        let row = backend
            .store()
            .call(move |c| records::get_image(c, &key))
            .await?;
        if let Some(entry) = row.as_ref().and_then(|r| decode(backend, r)) {
            return Ok(Found {
                entry,
                by_id: false,
            });
        }
    }
    let entries = all(backend).await?;
    find_in(&entries, name).cloned_found()
}

/// [`find`] over rows already read.
pub fn find_in<'a>(entries: &'a [ImageEntry], name: &str) -> FindResult<'a> {
    if let Ok(wanted) = ImageRef::parse(name) {
        let canonical = wanted.canonical();
        if let Some(e) = entries
            .iter()
            .find(|e| e.reference.canonical() == canonical)
        {
            return FindResult::Found(e, false);
        }
        if let Some(digest) = &wanted.digest {
            let repo = wanted.repository();
            if let Some(e) = entries
                .iter()
                .find(|e| &e.digest == digest && e.reference.repository() == repo)
            {
                return FindResult::Found(e, false);
            }
        }
    }
    if let Some(hex) = looks_like_id(name) {
        let full = format!("sha256:{hex}");
        let mut matches = entries.iter().filter(|e| e.image.id.starts_with(&full));
        if let Some(first) = matches.next() {
            if matches.any(|e| e.image.id != first.image.id) {
                return FindResult::Ambiguous(name.to_owned());
            }
            return FindResult::Found(first, true);
        }
    }
    FindResult::Missing(not_found_name(name))
}

/// The outcome of [`find_in`].
#[derive(Debug)]
pub enum FindResult<'a> {
    /// Found (by ID when the flag is set).
    Found(&'a ImageEntry, bool),
    /// An ID prefix matching several images.
    Ambiguous(String),
    /// Nothing; the name as Docker's message shows it.
    Missing(String),
}

impl FindResult<'_> {
    /// As a `Result`, with Docker's messages.
    pub fn cloned_found(self) -> Result<Found, ApiError> {
        match self {
            FindResult::Found(entry, by_id) => Ok(Found {
                entry: entry.clone(),
                by_id,
            }),
            FindResult::Ambiguous(name) => Err(ApiError::InvalidParameter(format!(
                "multiple IDs found with provided prefix: {name}"
            ))),
            FindResult::Missing(name) => Err(ApiError::NotFound(format!("No such image: {name}"))),
        }
    }
}

/// Docker's `No such image` shows a reference with its default tag
/// (`busybox:latest`) and anything else as typed.
fn not_found_name(name: &str) -> String {
    match ImageRef::parse(name) {
        Ok(r) if looks_like_id(name).is_none() => r.familiar(),
        _ => name.to_owned(),
    }
}
