//! Translation of a Docker container into an ACA Job (pure: no I/O).
//!
//! The job runs one replica: an init container from the agent image copies
//! the static agent into an `EmptyDir` volume at `/.sockerless`; the main
//! container runs the user's image with `/.sockerless/sockerless-agent -- argv`.
//! The agent token reaches the container only as a `secretRef`.

use std::collections::BTreeMap;

use sockerless_api::ApiError;
use sockerless_api::docker::ContainerCreateBody;
use sockerless_azure::models::{
    Container, ContainerResources, EnvironmentVar, Job, JobConfiguration, JobProperties,
    JobTemplate, ManualTriggerConfig, RegistryCredentials, Secret, StorageType, TriggerType,
    Volume, VolumeMount,
};

use crate::containers::merge::command_line;
use crate::images::{RegistryCredential, ResolvedImage};

/// Mount point of the agent volume in every container of the job.
pub const AGENT_DIR: &str = "/.sockerless";
/// Name of the agent volume.
pub const AGENT_VOLUME: &str = "sockerless-agent";
/// Name of the secret holding the agent token.
pub const AGENT_TOKEN_SECRET: &str = "sockerless-agent-token";
/// Name of the secret holding the registry password.
pub const REGISTRY_SECRET: &str = "sockerless-registry-password";
/// Name of the secret holding the password of the agent image's registry,
/// when that registry differs from the user image's.
pub const AGENT_REGISTRY_SECRET: &str = "sockerless-agent-registry-password";
/// Name of the secret (and secret volume) holding the CA agents trust.
pub const AGENT_CA_SECRET: &str = "sockerless-agent-ca";
/// Mount point of the CA volume in the main container.
pub const AGENT_CA_DIR: &str = "/.sockerless-ca";
/// File name of the CA inside [`AGENT_CA_DIR`].
pub const AGENT_CA_FILE: &str = "ca.pem";
/// Name of the main container.
pub const MAIN_CONTAINER: &str = "main";
/// Name of the init container.
pub const INIT_CONTAINER: &str = "sockerless-agent-install";
/// Label overriding `replicaTimeout` (seconds) for one container.
pub const REPLICA_TIMEOUT_LABEL: &str = "sockerless.aca.replica-timeout";
/// Tag naming the manager of the job.
pub const TAG_MANAGED_BY: &str = "managed-by";
/// Tag holding the backend instance ID.
pub const TAG_INSTANCE: &str = "sockerless-instance";
/// Tag holding the container ID.
pub const TAG_CONTAINER: &str = "sockerless-container";
/// Largest CPU of a Consumption replica (memory is twice this in GiB).
pub const MAX_CPU: f64 = 2.0;
/// Longest the agent holds the process back for its first peers (names, relays).
pub const AWAIT_PEERS_SECS: u64 = 10;
/// CPU when neither `--cpus` nor `--memory` is given.
pub const DEFAULT_CPU: f64 = 0.5;

/// What the template needs besides the container and its image.
#[derive(Debug, Clone)]
pub struct TemplateSettings {
    /// Azure region.
    pub location: String,
    /// ARM ID of the managed environment.
    pub environment_id: String,
    /// Image holding `/sockerless-agent`.
    pub agent_image: String,
    /// Login ACA needs to pull the agent image (a private registry).
    pub agent_registry_credential: Option<RegistryCredential>,
    /// URL the agent dials (`ws://` or `wss://`).
    pub callback_url: String,
    /// PEM CA the agent trusts for `wss://` besides the public roots
    /// (`agent_tls_ca`): a secret mounted as a file, `SOCKERLESS_CA_FILE`.
    pub agent_ca_pem: Option<String>,
    /// Default `replicaTimeout`, seconds.
    pub replica_timeout_secs: u64,
    /// How long the agent keeps the execution after the process exits,
    /// waiting for a restart (`linger_secs`; 0: it exits at once).
    pub linger_secs: u64,
    /// Seconds between the agent's pings to the backend (`agent_ping_secs`).
    pub ping_secs: u64,
    /// Longest silence of the backend before the agent drops the link and
    /// dials again (`agent_liveness_timeout_secs`).
    pub liveness_timeout_secs: u64,
    /// This backend's instance ID (a tag).
    pub instance_id: String,
}

/// The container being started.
#[derive(Debug, Clone, Copy)]
pub struct ContainerSpec<'a> {
    /// 64-hex ID.
    pub id: &'a str,
    /// The merged Docker config.
    pub config: &'a ContainerCreateBody,
    /// The agent token of this start (plain; it goes into a secret only).
    pub agent_token: &'a str,
}

/// A Consumption-profile CPU/memory pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResourcePair {
    /// vCPUs (multiple of 0.25).
    pub cpu: f64,
    /// GiB (twice the CPU).
    pub memory_gib: f64,
}

impl ResourcePair {
    /// ACA's memory string, e.g. `1.0Gi`.
    pub fn memory(&self) -> String {
        format!("{:.1}Gi", self.memory_gib)
    }
}

/// The smallest pair holding `--cpus` (`nano_cpus`) and `--memory` (bytes);
/// 0.5 CPU / 1.0Gi when neither is given.
pub fn resources_for(
    nano_cpus: Option<i64>,
    memory: Option<i64>,
) -> Result<ResourcePair, ApiError> {
    let cpus = nano_cpus.filter(|n| *n > 0).map(|n| n as f64 / 1e9);
    let mem_gib = memory
        .filter(|m| *m > 0)
        .map(|m| m as f64 / (1024.0 * 1024.0 * 1024.0));
    let needed = match (cpus, mem_gib) {
        (None, None) => DEFAULT_CPU,
        (c, m) => c.unwrap_or(0.0).max(m.unwrap_or(0.0) / 2.0),
    };
    let cpu = ((needed * 4.0 - 1e-9).ceil() / 4.0).max(0.25);
    if cpu > MAX_CPU {
        return Err(ApiError::InvalidParameter(format!(
            "requested resources (cpus {:.2}, memory {:.2}GiB) exceed the largest Azure Container Apps \
             consumption replica ({MAX_CPU} CPU / {}Gi)",
            cpus.unwrap_or(0.0),
            mem_gib.unwrap_or(0.0),
            MAX_CPU * 2.0
        )));
    }
    Ok(ResourcePair {
        cpu,
        memory_gib: cpu * 2.0,
    })
}

/// `replicaTimeout` for a container: its label, or the configured default.
pub fn replica_timeout(config: &ContainerCreateBody, default: u64) -> Result<i64, ApiError> {
    let label = config
        .labels
        .as_ref()
        .and_then(|l| l.get(REPLICA_TIMEOUT_LABEL));
    let secs = match label {
        None => default,
        Some(v) => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                ApiError::InvalidParameter(format!(
                    "label {REPLICA_TIMEOUT_LABEL}={v:?}: expected a positive number of seconds"
                ))
            })?,
    };
    i64::try_from(secs)
        .map_err(|_| ApiError::InvalidParameter(format!("replica timeout {secs} is too large")))
}

fn env(name: &str, value: impl Into<String>) -> EnvironmentVar {
    EnvironmentVar {
        name: Some(name.to_owned()),
        value: Some(value.into()),
        secret_ref: None,
    }
}

fn flag(v: Option<bool>) -> &'static str {
    if v.unwrap_or(false) { "true" } else { "false" }
}

/// The main container's environment: the user's, `HOSTNAME`, then the agent's.
fn main_env(
    spec: &ContainerSpec<'_>,
    settings: &TemplateSettings,
) -> Result<Vec<EnvironmentVar>, ApiError> {
    let c = spec.config;
    let mut vars: Vec<EnvironmentVar> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for entry in c.env.iter().flatten() {
        // `KEY` without `=` passes the client's value in Docker; the CLI has
        // already expanded it, so a bare key here has nothing to pass.
        let Some((k, v)) = entry.split_once('=') else {
            continue;
        };
        if k.is_empty() || k.starts_with("SOCKERLESS_") {
            continue;
        }
        if seen.insert(k.to_owned()) {
            vars.push(env(k, v));
        }
    }
    // Docker's host name: `Hostname`, else the short ID; the agent writes
    // it to /etc/hostname and sets it where the platform lets it.
    let host = c
        .hostname
        .clone()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| spec.id.chars().take(12).collect());
    if !seen.contains("HOSTNAME") {
        vars.push(env("HOSTNAME", host.clone()));
    }
    vars.push(env("SOCKERLESS_HOSTNAME", host));
    if let Some((key, json)) = crate::containers::ulimits::env(c) {
        vars.push(env(key, json));
    }
    // --dns, --dns-search, --dns-option: the agent writes /etc/resolv.conf.
    let host_config = c.host_config.as_ref();
    if let Some(groups) = host_config
        .and_then(|h| h.group_add.as_ref())
        .filter(|g| !g.is_empty())
    {
        vars.push(env(
            "SOCKERLESS_GROUP_ADD",
            serde_json::to_string(groups).unwrap_or_default(),
        ));
    }
    for (key, list) in [
        ("SOCKERLESS_DNS", host_config.and_then(|h| h.dns.as_ref())),
        (
            "SOCKERLESS_DNS_SEARCH",
            host_config.and_then(|h| h.dns_search.as_ref()),
        ),
        (
            "SOCKERLESS_DNS_OPTIONS",
            host_config.and_then(|h| h.dns_options.as_ref()),
        ),
    ] {
        if let Some(list) = list.filter(|l| !l.is_empty()) {
            vars.push(env(key, serde_json::to_string(list).unwrap_or_default()));
        }
    }
    if let Some(domain) = c.domainname.clone().filter(|d| !d.is_empty()) {
        vars.push(env("SOCKERLESS_DOMAINNAME", domain));
    }
    vars.push(env(
        "SOCKERLESS_CALLBACK_URL",
        settings.callback_url.clone(),
    ));
    vars.push(env("SOCKERLESS_CONTAINER_ID", spec.id));
    vars.push(env("SOCKERLESS_PING_SECS", settings.ping_secs.to_string()));
    vars.push(env(
        "SOCKERLESS_LIVENESS_TIMEOUT_SECS",
        settings.liveness_timeout_secs.to_string(),
    ));
    if settings.agent_ca_pem.is_some() {
        vars.push(env(
            "SOCKERLESS_CA_FILE",
            format!("{AGENT_CA_DIR}/{AGENT_CA_FILE}"),
        ));
    }
    vars.push(env("SOCKERLESS_TTY", flag(c.tty)));
    vars.push(env("SOCKERLESS_OPEN_STDIN", flag(c.open_stdin)));
    let isolated = c
        .host_config
        .as_ref()
        .and_then(|h| h.network_mode.as_deref())
        == Some("none");
    if !isolated {
        // `/etc/hosts` and the relay listeners are in place before the process starts.
        vars.push(env(
            "SOCKERLESS_AWAIT_PEERS_SECS",
            AWAIT_PEERS_SECS.to_string(),
        ));
    }
    let auto_remove = c.host_config.as_ref().and_then(|h| h.auto_remove) == Some(true);
    // An AutoRemove container is removed at its exit: nothing could restart it.
    if settings.linger_secs > 0 && !auto_remove {
        vars.push(env(
            "SOCKERLESS_LINGER_SECS",
            settings.linger_secs.to_string(),
        ));
    }
    if let Some(dir) = c.working_dir.as_deref().filter(|d| !d.is_empty()) {
        vars.push(env("SOCKERLESS_WORKDIR", dir));
    }
    if let Some(user) = c.user.as_deref().filter(|u| !u.is_empty()) {
        vars.push(env("SOCKERLESS_USER", user));
    }
    if let Some(hc) = &c.healthcheck {
        let disabled = hc
            .test
            .as_deref()
            .is_some_and(|t| t.first().is_some_and(|s| s == "NONE"));
        if !disabled && hc.test.as_ref().is_some_and(|t| !t.is_empty()) {
            let json = serde_json::to_string(hc)
                .map_err(|e| ApiError::Internal(format!("cannot encode healthcheck: {e}")))?;
            vars.push(env("SOCKERLESS_HEALTHCHECK", json));
        }
    }
    vars.push(EnvironmentVar {
        name: Some("SOCKERLESS_AGENT_TOKEN".to_owned()),
        value: None,
        secret_ref: Some(AGENT_TOKEN_SECRET.to_owned()),
    });
    Ok(vars)
}

/// The ACA Job running `spec` from `image`.
pub fn job_for(
    spec: &ContainerSpec<'_>,
    image: &ResolvedImage,
    settings: &TemplateSettings,
) -> Result<Job, ApiError> {
    let c = spec.config;
    let host = c.host_config.as_ref();
    let resources = resources_for(host.and_then(|h| h.nano_cpus), host.and_then(|h| h.memory))?;
    let mut args = vec!["--".to_owned()];
    args.extend(command_line(c)?);
    let agent_mount = VolumeMount {
        volume_name: Some(AGENT_VOLUME.to_owned()),
        mount_path: Some(AGENT_DIR.to_owned()),
        sub_path: None,
    };
    let init = Container {
        image: Some(settings.agent_image.clone()),
        name: Some(INIT_CONTAINER.to_owned()),
        command: Some(vec!["/sockerless-agent".to_owned()]),
        args: Some(vec!["--install".to_owned(), AGENT_DIR.to_owned()]),
        volume_mounts: Some(vec![agent_mount.clone()]),
        ..Default::default()
    };
    let mut main_mounts = vec![agent_mount];
    let mut volumes = vec![Volume {
        name: Some(AGENT_VOLUME.to_owned()),
        storage_type: Some(StorageType::EmptyDir),
        ..Default::default()
    }];
    if settings.agent_ca_pem.is_some() {
        main_mounts.push(VolumeMount {
            volume_name: Some(AGENT_CA_SECRET.to_owned()),
            mount_path: Some(AGENT_CA_DIR.to_owned()),
            sub_path: None,
        });
        volumes.push(Volume {
            name: Some(AGENT_CA_SECRET.to_owned()),
            storage_type: Some(StorageType::Secret),
            secrets: Some(vec![serde_json::json!({
                "secretRef": AGENT_CA_SECRET,
                "path": AGENT_CA_FILE,
            })]),
            ..Default::default()
        });
    }
    let main = Container {
        image: Some(image.pull_reference.clone()),
        name: Some(MAIN_CONTAINER.to_owned()),
        command: Some(vec![format!("{AGENT_DIR}/sockerless-agent")]),
        args: Some(args),
        env: Some(main_env(spec, settings)?),
        resources: Some(ContainerResources {
            cpu: Some(resources.cpu),
            memory: Some(resources.memory()),
            ephemeral_storage: None,
        }),
        volume_mounts: Some(main_mounts),
        probes: None,
    };
    let mut secrets = vec![Secret {
        name: Some(AGENT_TOKEN_SECRET.to_owned()),
        value: Some(spec.agent_token.to_owned()),
        ..Default::default()
    }];
    if let Some(pem) = &settings.agent_ca_pem {
        secrets.push(Secret {
            name: Some(AGENT_CA_SECRET.to_owned()),
            value: Some(pem.clone()),
            ..Default::default()
        });
    }
    let registries = registry_logins(image, settings, &mut secrets);
    let tags = BTreeMap::from([
        (TAG_MANAGED_BY.to_owned(), "sockerless".to_owned()),
        (TAG_INSTANCE.to_owned(), settings.instance_id.clone()),
        (TAG_CONTAINER.to_owned(), spec.id.to_owned()),
    ]);
    Ok(Job {
        location: Some(settings.location.clone()),
        tags: Some(tags),
        properties: Some(JobProperties {
            environment_id: Some(settings.environment_id.clone()),
            configuration: Some(JobConfiguration {
                secrets: Some(secrets),
                trigger_type: TriggerType::Manual,
                replica_timeout: replica_timeout(c, settings.replica_timeout_secs)?,
                replica_retry_limit: Some(0),
                manual_trigger_config: Some(ManualTriggerConfig {
                    replica_completion_count: Some(1),
                    parallelism: Some(1),
                }),
                registries,
                ..Default::default()
            }),
            template: Some(JobTemplate {
                init_containers: Some(vec![init]),
                containers: Some(vec![main]),
                volumes: Some(volumes),
            }),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// Whether `c` is the container running the agent (the main one; the init
/// container that copies the agent in does not carry the container's ID).
fn runs_agent(c: &Container) -> bool {
    c.env
        .iter()
        .flatten()
        .any(|v| v.name.as_deref() == Some("SOCKERLESS_CONTAINER_ID"))
}

/// A numeric variable of the agent's container of `job`.
pub fn agent_env_u64(job: &Job, name: &str) -> Option<u64> {
    job.properties
        .as_ref()?
        .template
        .as_ref()?
        .containers
        .as_ref()?
        .iter()
        .find(|c| runs_agent(c))?
        .env
        .as_ref()?
        .iter()
        .find(|v| v.name.as_deref() == Some(name))?
        .value
        .as_deref()?
        .parse()
        .ok()
}

/// Sets `vars` in the agent's container of `job`, replacing values set before.
pub fn set_agent_env(job: &mut Job, vars: &[(&str, String)]) {
    let containers = job
        .properties
        .as_mut()
        .and_then(|p| p.template.as_mut())
        .and_then(|t| t.containers.as_mut());
    for c in containers.into_iter().flatten().filter(|c| runs_agent(c)) {
        let Some(current) = c.env.as_mut() else {
            continue;
        };
        current.retain(|v| !vars.iter().any(|(k, _)| v.name.as_deref() == Some(*k)));
        current.extend(vars.iter().map(|(name, value)| env(name, value.clone())));
    }
}

#[cfg(test)]
mod tests;

/// `configuration.registries` for the user image and the agent image, each
/// registry once, with its password as a secret.
fn registry_logins(
    image: &ResolvedImage,
    settings: &TemplateSettings,
    secrets: &mut Vec<Secret>,
) -> Option<Vec<RegistryCredentials>> {
    let logins = [
        (image.registry_credential.as_ref(), REGISTRY_SECRET),
        (
            settings.agent_registry_credential.as_ref(),
            AGENT_REGISTRY_SECRET,
        ),
    ];
    let mut registries: Vec<RegistryCredentials> = Vec::new();
    for (cred, secret) in logins {
        let Some(cred) = cred else { continue };
        if registries
            .iter()
            .any(|r| r.server.as_deref() == Some(cred.server.as_str()))
        {
            continue;
        }
        secrets.push(Secret {
            name: Some(secret.to_owned()),
            value: Some(cred.password.clone()),
            ..Default::default()
        });
        registries.push(RegistryCredentials {
            server: Some(cred.server.clone()),
            username: Some(cred.username.clone()),
            password_secret_ref: Some(secret.to_owned()),
            identity: None,
        });
    }
    (!registries.is_empty()).then_some(registries)
}
