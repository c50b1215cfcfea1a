//! What a build asks ACR Tasks for (pure): the names pushed into
//! `registry_server`, the platform, and the `DockerBuildRequest`.

use sockerless_api::{ApiError, BuildImageOptions, Result};
use sockerless_azure::acr_tasks::{
    CustomRegistryLogin, DockerBuildRequest, OpaqueSecret, RunArgument, RunCredentials, RunPlatform,
};
use sockerless_azure::registry::PlatformSpec;

use crate::images::reference::ImageRef;

/// Seconds a build may take in ACR Tasks (its default, eight hours, is
/// more than any client waits).
pub const BUILD_TIMEOUT_SECS: u32 = 3600;

/// Where the image lands: each name the client gave, and the repository
/// and tag in `registry_server` it is pushed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The client's name (`None`: an unnamed build, kept by its digest).
    pub name: Option<ImageRef>,
    /// Repository path in `registry_server`.
    pub path: String,
    /// Tag in that repository.
    pub tag: String,
}

impl Destination {
    /// `path:tag`, as ACR Tasks' `imageNames` say it.
    pub fn image_name(&self) -> String {
        format!("{}:{}", self.path, self.tag)
    }
}

/// The destinations of `tags`; an unnamed build goes to
/// `sockerless/built:<unique>` so that ACR Tasks has a name to push.
pub fn destinations(tags: &[String], unique: &str) -> Result<Vec<Destination>> {
    if tags.is_empty() {
        return Ok(vec![Destination {
            name: None,
            path: "sockerless/built".to_owned(),
            tag: unique.to_owned(),
        }]);
    }
    let mut out: Vec<Destination> = Vec::new();
    for tag in tags {
        let name = ImageRef::parse(tag)?;
        if name.digest.is_some() {
            return Err(ApiError::InvalidParameter(format!(
                "invalid reference format: a build's tag cannot have a digest: {tag}"
            )));
        }
        let dest = Destination {
            path: name.path.clone(),
            tag: name.tag.clone().unwrap_or_else(|| "latest".to_owned()),
            name: Some(name),
        };
        if !out.contains(&dest) {
            out.push(dest);
        }
    }
    Ok(out)
}

/// The platform built for: `platform`, else linux/amd64 (what ACA runs).
pub fn run_platform(platform: Option<&str>) -> Result<RunPlatform> {
    let spec = match platform.filter(|p| !p.is_empty()) {
        Some(p) => PlatformSpec::parse(p).map_err(|e| ApiError::InvalidParameter(e.to_string()))?,
        None => PlatformSpec::default(),
    };
    let os = match spec.os.as_str() {
        "linux" => "Linux",
        "windows" => "Windows",
        other => {
            return Err(ApiError::InvalidParameter(format!(
                "ACR Tasks builds for linux or windows, not {other:?}"
            )));
        }
    };
    Ok(RunPlatform {
        os: os.to_owned(),
        architecture: Some(spec.architecture),
        variant: spec.variant,
    })
}

/// The registry server a login of `X-Registry-Config` is for, as ACR
/// Tasks names it (Docker Hub's index URL is `docker.io`).
pub fn login_server(key: &str) -> String {
    let host = key
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default();
    match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_owned(),
        other => other.to_owned(),
    }
}

/// The `DockerBuildRequest` of a build (pure).
pub fn build_request(
    opts: &BuildImageOptions,
    destinations: &[Destination],
    source_location: &str,
) -> Result<DockerBuildRequest> {
    let logins: std::collections::BTreeMap<String, CustomRegistryLogin> = opts
        .registry_config
        .iter()
        .filter_map(|(server, login)| {
            Some((
                login_server(server),
                CustomRegistryLogin {
                    user_name: OpaqueSecret::new(login.username.clone()?),
                    password: OpaqueSecret::new(login.password.clone()?),
                },
            ))
        })
        .collect();
    Ok(DockerBuildRequest {
        image_names: destinations.iter().map(Destination::image_name).collect(),
        is_push_enabled: true,
        no_cache: opts.no_cache,
        docker_file_path: opts.dockerfile.clone(),
        target: opts.target.clone().filter(|t| !t.is_empty()),
        arguments: opts
            .build_args
            .iter()
            .map(|(name, value)| RunArgument {
                name: name.clone(),
                value: value.clone(),
                is_secret: false,
            })
            .collect(),
        timeout: BUILD_TIMEOUT_SECS,
        platform: run_platform(opts.platform.as_deref())?,
        source_location: source_location.to_owned(),
        credentials: (!logins.is_empty()).then_some(RunCredentials {
            custom_registries: logins,
        }),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use sockerless_api::docker::AuthConfig;

    use super::*;

    #[test]
    fn names_go_to_their_path_in_the_registry() {
        let d = destinations(&["app:1".into(), "app".into(), "app:1".into()], "x").expect("names");
        assert_eq!(d.len(), 2, "a repeated name is pushed once");
        assert_eq!(d[0].image_name(), "library/app:1");
        assert_eq!(d[1].image_name(), "library/app:latest");
        let unnamed = destinations(&[], "abc").expect("unnamed");
        assert_eq!(unnamed[0].image_name(), "sockerless/built:abc");
        assert!(unnamed[0].name.is_none());
        let err = destinations(&["app@sha256:".to_owned() + &"a".repeat(64)], "x");
        assert!(err.is_err());
        assert!(destinations(&["Bad Name".into()], "x").is_err());
    }

    #[test]
    fn the_request_carries_every_option() {
        let opts = BuildImageOptions {
            tags: vec!["app:1".into()],
            dockerfile: "sub/Dockerfile".into(),
            build_args: BTreeMap::from([("X".into(), "y".into())]),
            target: Some("final".into()),
            no_cache: true,
            platform: Some("linux/arm64/v8".into()),
            registry_config: BTreeMap::from([(
                "https://index.docker.io/v1/".to_owned(),
                AuthConfig {
                    username: Some("u".into()),
                    password: Some("p".into()),
                    ..Default::default()
                },
            )]),
            ..Default::default()
        };
        let d = destinations(&opts.tags, "x").expect("names");
        let r = build_request(&opts, &d, "source/1.tar.gz").expect("request");
        assert_eq!(r.image_names, ["library/app:1"]);
        assert_eq!(r.docker_file_path, "sub/Dockerfile");
        assert_eq!(r.target.as_deref(), Some("final"));
        assert!(r.no_cache && r.is_push_enabled);
        assert_eq!(r.arguments[0].name, "X");
        assert_eq!(r.platform.os, "Linux");
        assert_eq!(r.platform.architecture.as_deref(), Some("arm64"));
        assert_eq!(r.platform.variant.as_deref(), Some("v8"));
        let logins = r.credentials.expect("logins").custom_registries;
        assert!(logins.contains_key("docker.io"));
        assert_eq!(r.source_location, "source/1.tar.gz");
    }

    #[test]
    fn platforms_default_to_linux_amd64_and_others_are_refused() {
        let p = run_platform(None).expect("default");
        assert_eq!(
            (p.os.as_str(), p.architecture.as_deref()),
            ("Linux", Some("amd64"))
        );
        assert!(run_platform(Some("darwin/arm64")).is_err());
        assert!(run_platform(Some("linux")).is_err());
    }
}
