//! Secrets at rest: registry passwords kept in the database are sealed
//! (ChaCha20-Poly1305) with a key that is not in the database, so a copy of
//! `state.db` (a backup, a support bundle) does not carry them in clear.
//!
//! The key comes from `SOCKERLESS_ACA_STATE_KEY` (base64 of 32 bytes) or from
//! `state.key` beside the database, created 0600 with random bytes on first
//! use.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use super::StoreError;

/// Environment variable that supplies the key instead of the key file.
pub const KEY_ENV: &str = "SOCKERLESS_ACA_STATE_KEY";
/// Key file beside the database.
pub const KEY_FILE: &str = "state.key";
/// Prefix of a sealed value (a value without it is a legacy plain one).
const PREFIX: &str = "sealed:v1:";
const KEY_LEN: usize = 32;

/// The sealing key.
pub struct SealKey {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(<redacted>)")
    }
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> StoreError {
    move |source| StoreError::Io { context, source }
}

fn invalid(context: String, message: &str) -> StoreError {
    StoreError::Io {
        context,
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, message.to_owned()),
    }
}

impl SealKey {
    /// The key from `env_value` (the variable's value, if set), else from
    /// `dir/state.key`, created on first use.
    pub fn load(dir: &Path, env_value: Option<String>) -> Result<Self, StoreError> {
        let bytes = match env_value.filter(|v| !v.trim().is_empty()) {
            Some(b64) => STANDARD
                .decode(b64.trim())
                .map_err(|_| invalid(KEY_ENV.into(), "not base64"))?,
            None => Self::key_file(&dir.join(KEY_FILE))?,
        };
        Self::from_bytes(&bytes)
            .ok_or_else(|| invalid(KEY_ENV.into(), "the state key must be 32 bytes"))
    }

    fn key_file(path: &Path) -> Result<Vec<u8>, StoreError> {
        match std::fs::read(path) {
            Ok(bytes) => return Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(format!("read {}", path.display()))(e)),
        }
        let mut bytes = vec![0u8; KEY_LEN];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| invalid("random state key".into(), "no randomness"))?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(io(format!("create {}", path.display())))?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .map_err(io(format!("write {}", path.display())))?;
        Ok(bytes)
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != KEY_LEN {
            return None;
        }
        let key = UnboundKey::new(&CHACHA20_POLY1305, bytes).ok()?;
        Some(SealKey {
            key: LessSafeKey::new(key),
            rng: SystemRandom::new(),
        })
    }

    /// `plain` sealed, bound to `context` (e.g. the registry it logs into).
    pub fn seal(&self, context: &str, plain: &str) -> Result<String, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| invalid("seal".into(), "no randomness"))?;
        let mut data = plain.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut data,
            )
            .map_err(|_| invalid("seal".into(), "sealing failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
    }

    /// The plain value of `stored`: opened when sealed, as is when it is a
    /// legacy plain value. `None` when it does not open with this key.
    pub fn open(&self, context: &str, stored: &str) -> Option<String> {
        let Some(b64) = stored.strip_prefix(PREFIX) else {
            return Some(stored.to_owned());
        };
        let raw = STANDARD.decode(b64).ok()?;
        if raw.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = sealed.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut data)
            .ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_with_the_key_and_context_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = SealKey::load(dir.path(), None).expect("key");
        let sealed = key.seal("reg.example", "hunter2").expect("seal");
        assert!(sealed.starts_with(PREFIX) && !sealed.contains("hunter2"));
        assert_ne!(sealed, key.seal("reg.example", "hunter2").expect("seal"));
        assert_eq!(key.open("reg.example", &sealed).as_deref(), Some("hunter2"));
        assert_eq!(key.open("other.example", &sealed), None);
        assert_eq!(key.open("reg.example", "legacy").as_deref(), Some("legacy"));
        // The same file gives the same key; another key does not open it.
        let again = SealKey::load(dir.path(), None).expect("key again");
        assert_eq!(
            again.open("reg.example", &sealed).as_deref(),
            Some("hunter2")
        );
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(dir.path().join(KEY_FILE))
                .expect("key file")
                .permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        let other = SealKey::load(dir.path(), Some(STANDARD.encode([7u8; 32]))).expect("env key");
        assert_eq!(other.open("reg.example", &sealed), None);
        assert!(SealKey::load(dir.path(), Some("c2hvcnQ=".into())).is_err());
    }
}
