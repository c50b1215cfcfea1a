//! Registry mirrors (`registry_mirrors`): which registry a reference is
//! really read from, and over which scheme.
//!
//! Keys are registry hosts as users write them; Docker Hub's three names
//! (`docker.io`, `index.docker.io`, `registry-1.docker.io`) are one registry.
//! A mirror URL's scheme decides plain http vs https for that mirror.
//! Docker Hub without a mirror is read from `registry-1.docker.io`, as
//! dockerd does.

use std::collections::BTreeMap;

use sockerless_azure::registry::is_loopback_registry;
use url::Url;

use super::reference::{DOCKER_HUB_REGISTRY, ImageRef, is_docker_hub};

/// Where a repository is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Registry host (with port) to talk to, e.g. `127.0.0.1:5000`.
    pub registry: String,
    /// Repository path at that registry, e.g. `library/busybox`.
    pub path: String,
    /// Plain http (a `http://` mirror or a loopback registry).
    pub plain_http: bool,
    /// Whether a mirror was applied.
    pub mirrored: bool,
}

impl Source {
    /// `registry/path`, the image name ACA pulls (without tag or digest).
    pub fn repository(&self) -> String {
        format!("{}/{}", self.registry, self.path)
    }
}

/// The mirror for `registry`, if one is configured (Docker Hub's names are one).
pub fn mirror_for<'a>(mirrors: &'a BTreeMap<String, Url>, registry: &str) -> Option<&'a Url> {
    mirrors.get(registry).or_else(|| {
        is_docker_hub(registry)
            .then(|| {
                mirrors
                    .iter()
                    .find(|(k, _)| is_docker_hub(k))
                    .map(|(_, v)| v)
            })
            .flatten()
    })
}

/// The host (with port) of a mirror URL.
pub fn url_host(url: &Url) -> Option<String> {
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

/// Where `reference` is read from, given the configured mirrors. A mirror
/// URL with a path (`http://host/prefix`) puts the repository under it.
pub fn source(mirrors: &BTreeMap<String, Url>, reference: &ImageRef) -> Source {
    if let Some(mirror) = mirror_for(mirrors, &reference.registry)
        && let Some(host) = url_host(mirror)
    {
        let prefix = mirror.path().trim_matches('/');
        let path = if prefix.is_empty() {
            reference.path.clone()
        } else {
            format!("{prefix}/{}", reference.path)
        };
        return Source {
            registry: host,
            path,
            plain_http: mirror.scheme() == "http",
            mirrored: true,
        };
    }
    let registry = if is_docker_hub(&reference.registry) {
        DOCKER_HUB_REGISTRY.to_owned()
    } else {
        reference.registry.clone()
    };
    Source {
        plain_http: is_loopback_registry(&registry),
        registry,
        path: reference.path.clone(),
        mirrored: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mirrors(pairs: &[(&str, &str)]) -> BTreeMap<String, Url> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Url::parse(v).expect("url")))
            .collect()
    }

    fn parse(s: &str) -> ImageRef {
        ImageRef::parse(s).expect("reference")
    }

    #[test]
    fn docker_hub_goes_to_its_mirror_over_the_mirrors_scheme() {
        let m = mirrors(&[("docker.io", "http://127.0.0.1:5000")]);
        let s = source(&m, &parse("busybox"));
        assert_eq!(s.repository(), "127.0.0.1:5000/library/busybox");
        assert!(s.plain_http && s.mirrored);
        let s = source(&m, &parse("index.docker.io/user/app:v1"));
        assert_eq!(s.repository(), "127.0.0.1:5000/user/app");
    }

    #[test]
    fn any_docker_hub_alias_as_key_mirrors_docker_hub() {
        for key in ["index.docker.io", "registry-1.docker.io"] {
            let m = mirrors(&[(key, "https://mirror.example.com/hub/")]);
            let s = source(&m, &parse("busybox"));
            assert_eq!(s.repository(), "mirror.example.com/hub/library/busybox");
            assert!(!s.plain_http);
        }
    }

    #[test]
    fn unmirrored_registries_are_read_directly() {
        let m = mirrors(&[("docker.io", "http://127.0.0.1:5000")]);
        let s = source(&m, &parse("myreg.azurecr.io/app:v1"));
        assert_eq!(s.repository(), "myreg.azurecr.io/app");
        assert!(!s.plain_http && !s.mirrored);
        let s = source(&BTreeMap::new(), &parse("busybox"));
        assert_eq!(s.repository(), "registry-1.docker.io/library/busybox");
        let s = source(&BTreeMap::new(), &parse("localhost:5000/app"));
        assert!(s.plain_http);
    }
}
