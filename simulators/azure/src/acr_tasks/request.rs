//! A `DockerBuildRequest` as the emulator runs it: read from a body the
//! spec's schema accepted, with ACR's defaults, and the names it carries
//! (image names relative to the registry, the platform, the source).

use serde_json::Value;

/// A registry credential for the build's `FROM` images.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryLogin {
    /// Login server.
    pub server: String,
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// A `repo:tag` in the emulator's registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageName {
    /// Repository.
    pub repository: String,
    /// Tag (`latest` when the name has none).
    pub tag: String,
}

/// What a run builds.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildRequest {
    /// Dockerfile path in the context.
    pub dockerfile: String,
    /// Names to push, as given (checked when the run pushes).
    pub image_names: Vec<String>,
    /// Push after building (default true).
    pub push: bool,
    /// Build without the cache.
    pub no_cache: bool,
    /// Build stage.
    pub target: Option<String>,
    /// Build arguments (name, value, secret).
    pub arguments: Vec<(String, String, bool)>,
    /// Seconds before the run times out.
    pub timeout_secs: u64,
    /// The spec's `platform` object, as sent.
    pub platform: Value,
    /// `sourceLocation`.
    pub source: String,
    /// `isArchiveEnabled`.
    pub archive: bool,
    /// `credentials.customRegistries` with opaque (plain) secrets.
    pub logins: Vec<RegistryLogin>,
}

/// ACR's default run timeout.
pub const DEFAULT_TIMEOUT_SECS: u64 = 3600;

fn opaque(secret: &Value) -> Option<String> {
    // A `Vaultsecret` would name a Key Vault the emulator does not have.
    let kind = secret["type"].as_str().unwrap_or("Opaque");
    kind.eq_ignore_ascii_case("Opaque")
        .then(|| secret["value"].as_str().map(str::to_string))?
}

/// The build a schema-checked `DockerBuildRequest` body asks for.
pub fn parse(body: &Value) -> Result<BuildRequest, String> {
    let platform = body["platform"].clone();
    if !platform["os"]
        .as_str()
        .is_some_and(|os| os.eq_ignore_ascii_case("linux"))
    {
        return Err(format!(
            "The platform OS {} is not emulated: the emulator builds on a Linux engine.",
            platform["os"]
        ));
    }
    let source = body["sourceLocation"]
        .as_str()
        .ok_or("The property 'sourceLocation' is required: the emulator builds uploaded contexts only.")?
        .to_string();
    let arguments = body["arguments"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            (
                a["name"].as_str().unwrap_or_default().to_string(),
                a["value"].as_str().unwrap_or_default().to_string(),
                a["isSecret"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    let logins = body["credentials"]["customRegistries"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(server, c)| {
            Some(RegistryLogin {
                server: server.to_ascii_lowercase(),
                username: opaque(&c["userName"])?,
                password: opaque(&c["password"])?,
            })
        })
        .collect();
    Ok(BuildRequest {
        dockerfile: body["dockerFilePath"]
            .as_str()
            .unwrap_or("Dockerfile")
            .to_string(),
        image_names: body["imageNames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n.as_str().map(str::to_string))
            .collect(),
        push: body["isPushEnabled"].as_bool().unwrap_or(true),
        no_cache: body["noCache"].as_bool().unwrap_or(false),
        target: body["target"]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(str::to_string),
        arguments,
        timeout_secs: body["timeout"].as_u64().unwrap_or(DEFAULT_TIMEOUT_SECS),
        platform,
        source,
        archive: body["isArchiveEnabled"].as_bool().unwrap_or(false),
        logins,
    })
}

/// The engine's `platform` of the spec's object: `os/architecture[/variant]`,
/// lowercased; the architecture defaults to `amd64`.
pub fn platform_string(platform: &Value) -> String {
    let os = platform["os"]
        .as_str()
        .unwrap_or("linux")
        .to_ascii_lowercase();
    let arch = platform["architecture"]
        .as_str()
        .unwrap_or("amd64")
        .to_ascii_lowercase();
    match platform["variant"].as_str() {
        Some(v) => format!("{os}/{arch}/{}", v.to_ascii_lowercase()),
        None => format!("{os}/{arch}"),
    }
}

/// `repo[:tag]` relative to the registry (a prefix naming one of
/// `own_hosts` is dropped, as ACR accepts `myregistry.azurecr.io/app:1`).
pub fn parse_image_name(name: &str, own_hosts: &[String]) -> Result<ImageName, String> {
    let mut rest = name.trim();
    if let Some((host, path)) = rest.split_once('/')
        && own_hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    {
        rest = path;
    }
    let (repository, tag) = match rest.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, t),
        _ => (rest, "latest"),
    };
    if let Some(first) = repository.split('/').next()
        && repository.contains('/')
        && (first.contains('.') || first.contains(':') || first == "localhost")
    {
        return Err(format!(
            "invalid image name '{name}': images are pushed to this registry only, not to '{first}'"
        ));
    }
    if !crate::registry::store::valid_repo_name(repository) {
        return Err(format!(
            "invalid image name '{name}': '{repository}' is not a valid repository name"
        ));
    }
    if !crate::registry::store::valid_tag(tag) {
        return Err(format!(
            "invalid image name '{name}': '{tag}' is not a valid tag"
        ));
    }
    Ok(ImageName {
        repository: repository.to_string(),
        tag: tag.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_request_gets_acr_defaults() {
        let r = parse(&json!({
            "type": "DockerBuildRequest", "dockerFilePath": "Dockerfile",
            "platform": {"os": "Linux"}, "sourceLocation": "source/x.tar.gz",
            "arguments": [{"name": "X", "value": "y"}, {"name": "S", "value": "z", "isSecret": true}],
            "credentials": {"customRegistries": {"Other.io": {
                "userName": {"type": "Opaque", "value": "u"}, "password": {"value": "p"}},
                "vault.io": {"userName": {"type": "Vaultsecret", "value": "https://kv"}, "password": {"value": "p"}}}}
        }))
        .expect("parsed");
        assert!(r.push && !r.no_cache && r.target.is_none());
        assert_eq!(r.timeout_secs, DEFAULT_TIMEOUT_SECS);
        assert_eq!(r.arguments[1], ("S".into(), "z".into(), true));
        assert_eq!(
            r.logins,
            vec![RegistryLogin {
                server: "other.io".into(),
                username: "u".into(),
                password: "p".into()
            }]
        );
        assert!(parse(&json!({"dockerFilePath": "D", "platform": {"os": "Windows"}, "sourceLocation": "s"})).is_err());
        assert!(parse(&json!({"dockerFilePath": "D", "platform": {"os": "Linux"}})).is_err());
    }

    #[test]
    fn platforms_as_the_engine_reads_them() {
        assert_eq!(platform_string(&json!({"os": "Linux"})), "linux/amd64");
        assert_eq!(
            platform_string(&json!({"os": "Linux", "architecture": "arm", "variant": "v7"})),
            "linux/arm/v7"
        );
    }

    #[test]
    fn image_names_are_relative_to_the_registry() {
        let own = vec![
            "127.0.0.1:5000".to_string(),
            "sockerlesssim.azurecr.io".to_string(),
        ];
        let n = |s: &str| parse_image_name(s, &own).map(|i| format!("{}:{}", i.repository, i.tag));
        assert_eq!(n("app:1"), Ok("app:1".into()));
        assert_eq!(n("team/app"), Ok("team/app:latest".into()));
        assert_eq!(n("127.0.0.1:5000/app:2"), Ok("app:2".into()));
        assert_eq!(n("SockerlessSim.azurecr.io/app"), Ok("app:latest".into()));
        assert!(n("docker.io/library/app:1").is_err());
        assert!(n("App:1").is_err());
        assert!(n("app:.bad").is_err());
        assert!(n("").is_err());
    }
}
