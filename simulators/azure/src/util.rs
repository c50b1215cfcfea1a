//! Small helpers: time stamps, random names.

use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};

/// RFC 3339 time with offset, as ARM writes it.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, false)
}

/// Current time as RFC 3339.
pub fn now_rfc3339() -> String {
    rfc3339(Utc::now())
}

/// A fresh credential: 40 characters of `[a-z0-9]` (about 200 bits).
pub fn random_secret() -> String {
    random_suffix(40)
}

/// `path` under `base` from `parts`, each a single plain name: no `/`, no
/// `.`/`..`, not empty, no NUL. Names come from requests (volume, share,
/// account names), so every host path derived from them goes through here.
pub fn confined(base: &Path, parts: &[&str]) -> Result<PathBuf, String> {
    let mut path = base.to_path_buf();
    for part in parts {
        if part.is_empty()
            || *part == "."
            || *part == ".."
            || part.contains('/')
            || part.contains('\0')
        {
            return Err(format!("'{part}' is not a valid name"));
        }
        path.push(part);
    }
    Ok(path)
}

/// `n` random characters from `[a-z0-9]`.
pub fn random_suffix(n: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for b in uuid::Uuid::new_v4().as_bytes() {
            if out.len() == n {
                break;
            }
            out.push(ALPHABET[(*b as usize) % ALPHABET.len()] as char);
        }
    }
    out
}

/// A deterministic draw at `rate` (0 to 1): `acc` accumulates the rate and
/// the draw fires each time it reaches 1, so a rate of 0.25 fires exactly
/// every fourth time (faults that tests can count on).
pub fn draw(acc: &mut f64, rate: f64) -> bool {
    if rate <= 0.0 {
        return false;
    }
    *acc += rate.min(1.0);
    if *acc >= 1.0 - 1e-9 {
        *acc -= 1.0;
        true
    } else {
        false
    }
}

/// A relative `/` path with `.`, `..` and empty parts resolved (pure; `..`
/// past the top is dropped): the names inside a tar or a spec's `$ref`s.
pub fn normalize_path(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            p => out.push(p),
        }
    }
    out.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confined_paths_refuse_every_escape() {
        let base = Path::new("/data");
        assert_eq!(
            confined(base, &["fileshares", "acct", "share"]),
            Ok(PathBuf::from("/data/fileshares/acct/share"))
        );
        for bad in ["..", ".", "", "../x", "a/b", "/etc", "a\0b"] {
            assert!(confined(base, &["replicas", bad]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn secrets_differ() {
        let (a, b) = (random_secret(), random_secret());
        assert_eq!(a.len(), 40);
        assert_ne!(a, b);
    }
}
