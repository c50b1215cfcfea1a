//! Docker image references: parsing and normalisation, as Docker's
//! `distribution/reference` does it.
//!
//! `busybox` → `docker.io/library/busybox:latest`; `user/app` →
//! `docker.io/user/app:latest`; `index.docker.io/...` → `docker.io/...`;
//! `localhost:5000/app@sha256:…` keeps its registry and digest.

use std::fmt;

use sockerless_api::ApiError;

/// Docker Hub's canonical registry name.
pub const DOCKER_HUB: &str = "docker.io";
/// Docker Hub's legacy index name, normalised to [`DOCKER_HUB`].
pub const DOCKER_HUB_INDEX: &str = "index.docker.io";
/// Docker Hub's registry API host, also normalised to [`DOCKER_HUB`].
pub const DOCKER_HUB_REGISTRY: &str = "registry-1.docker.io";
/// The tag used when a reference has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";

const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

/// A parsed, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    /// Registry host with optional port, e.g. `docker.io`, `127.0.0.1:5000`.
    pub registry: String,
    /// Repository path, e.g. `library/busybox`.
    pub path: String,
    /// Tag, e.g. `latest`.
    pub tag: Option<String>,
    /// Digest, e.g. `sha256:…`.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses `input`, normalising Docker Hub names and adding `:latest` when
    /// there is neither tag nor digest.
    pub fn parse(input: &str) -> Result<Self, ApiError> {
        let mut r = Self::parse_loose(input)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some(DEFAULT_TAG.to_owned());
        }
        Ok(r)
    }

    /// Parses `input` without adding a default tag (for `reference` filters,
    /// `docker tag`'s repository argument).
    pub fn parse_loose(input: &str) -> Result<Self, ApiError> {
        let invalid =
            |why: &str| ApiError::InvalidParameter(format!("invalid reference format: {why}"));
        if input.is_empty() {
            return Err(invalid("empty reference"));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((name, digest)) => {
                validate_digest(digest).map_err(|w| invalid(&w))?;
                (name, Some(digest.to_owned()))
            }
            None => (input, None),
        };
        // A tag follows the last ':' that comes after the last '/'.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let tag = &rest[last_slash + i + 1..];
                validate_tag(tag).map_err(|w| invalid(&w))?;
                (&rest[..last_slash + i], Some(tag.to_owned()))
            }
            None => (rest, None),
        };
        if name.is_empty() {
            return Err(invalid("empty repository name"));
        }
        if name.len() > MAX_NAME_LEN {
            return Err(invalid(
                "repository name must not be more than 255 characters",
            ));
        }
        let (registry, path) = split_registry(name);
        validate_registry(registry).map_err(|w| invalid(&w))?;
        validate_path(path).map_err(|w| invalid(&w))?;
        let registry = normalise_registry(registry);
        let path = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_owned()
        };
        Ok(Self {
            registry,
            path,
            tag,
            digest,
        })
    }

    /// `registry/path`, e.g. `docker.io/library/busybox`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.registry, self.path)
    }

    /// The repository as Docker shows it: `busybox`, `user/app`, `myreg:5000/app`.
    pub fn familiar_repository(&self) -> String {
        // A first path component that looks like a registry keeps the
        // `docker.io/` prefix, so that the familiar form parses back the same.
        let first = self.path.split('/').next().unwrap_or_default();
        let ambiguous = self.path.contains('/') && split_registry(&self.path).0 == first;
        if self.registry == DOCKER_HUB && !ambiguous {
            self.path
                .strip_prefix("library/")
                .filter(|p| !p.contains('/'))
                .unwrap_or(&self.path)
                .to_owned()
        } else {
            self.repository()
        }
    }

    /// `busybox:latest`, `user/app@sha256:…` (as Docker shows it).
    pub fn familiar(&self) -> String {
        self.with_suffix(self.familiar_repository())
    }

    /// The fully qualified form (the store's key).
    pub fn canonical(&self) -> String {
        self.with_suffix(self.repository())
    }

    /// `familiar_repository@digest` for a manifest digest.
    pub fn familiar_digest(&self, digest: &str) -> String {
        format!("{}@{digest}", self.familiar_repository())
    }

    /// The same repository with `tag` and no digest.
    pub fn with_tag(&self, tag: &str) -> Self {
        Self {
            tag: Some(tag.to_owned()),
            digest: None,
            ..self.clone()
        }
    }

    fn with_suffix(&self, mut out: String) -> String {
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(digest);
        }
        out
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

/// Whether `registry` names Docker Hub under any of its names.
pub fn is_docker_hub(registry: &str) -> bool {
    matches!(
        registry,
        DOCKER_HUB | DOCKER_HUB_INDEX | DOCKER_HUB_REGISTRY
    )
}

fn normalise_registry(registry: &str) -> String {
    if registry.is_empty() || is_docker_hub(registry) {
        DOCKER_HUB.to_owned()
    } else {
        registry.to_owned()
    }
}

/// Splits off the registry: the first component is one when it has a `.` or
/// `:` or is `localhost` (Docker's rule).
fn split_registry(name: &str) -> (&str, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first, rest)
        }
        _ => ("", name),
    }
}

fn validate_registry(registry: &str) -> Result<(), String> {
    if registry.is_empty() {
        return Ok(());
    }
    let (host, port) = match registry.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || registry.starts_with('[') => (h, Some(p)),
        _ => (registry, None),
    };
    if let Some(port) = port
        && (port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) || port.len() > 5)
    {
        return Err(format!("invalid registry port in {registry:?}"));
    }
    let host_ok = if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        inner.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !host.is_empty()
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            })
    };
    if host_ok {
        Ok(())
    } else {
        Err(format!("invalid registry host {registry:?}"))
    }
}

fn validate_path(path: &str) -> Result<(), String> {
    for component in path.split('/') {
        if component.is_empty() {
            return Err(format!("empty path component in {path:?}"));
        }
        if component.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err("repository name must be lowercase".to_owned());
        }
        if !valid_path_component(component) {
            return Err(format!("invalid repository name component {component:?}"));
        }
    }
    Ok(())
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn valid_path_component(c: &str) -> bool {
    let bytes = c.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut i = 0;
    let mut need_alnum = true;
    while i < bytes.len() {
        let b = bytes[i];
        if alnum(b) {
            need_alnum = false;
            i += 1;
            continue;
        }
        if need_alnum {
            return false;
        }
        let sep_len = match b {
            b'.' => 1,
            b'_' if bytes.get(i + 1) == Some(&b'_') => 2,
            b'_' => 1,
            b'-' => bytes[i..].iter().take_while(|&&x| x == b'-').count(),
            _ => return false,
        };
        i += sep_len;
        need_alnum = true;
    }
    !need_alnum
}

fn validate_tag(tag: &str) -> Result<(), String> {
    let mut bytes = tag.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !first_ok
        || tag.len() > MAX_TAG_LEN
        || !bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
    {
        return Err(format!("invalid tag {tag:?}"));
    }
    Ok(())
}

/// Checks `algorithm:hex` (sha256 needs 64 lowercase hex digits).
pub fn validate_digest(digest: &str) -> Result<(), String> {
    let Some((algo, hex)) = digest.split_once(':') else {
        return Err(format!("invalid digest {digest:?}"));
    };
    let algo_ok = !algo.is_empty()
        && algo
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b));
    let hex_ok = hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    let sha_ok = algo != "sha256" || (hex.len() == 64 && hex.bytes().all(is_lower_hex));
    if algo_ok && hex_ok && sha_ok {
        Ok(())
    } else {
        Err(format!("invalid digest {digest:?}"))
    }
}

fn is_lower_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

/// Whether `s` could be an image ID or ID prefix (`sha256:` optional, lowercase hex).
pub fn looks_like_id(s: &str) -> Option<&str> {
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    (!hex.is_empty() && hex.len() <= 64 && hex.bytes().all(is_lower_hex)).then_some(hex)
}

#[cfg(test)]
mod tests;
