//! The rules Azure enforces on jobs beyond the swagger schema (which
//! `schema.rs` checks first): names, CPU/memory per workload profile, tags,
//! and references between secrets, registries, volumes and storages.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::ArmError;

mod resources;

pub use resources::{
    CONSUMPTION_MAX_CPU, CONSUMPTION_ONLY_MAX_CPU, is_consumption_pair, parse_memory_gi,
};
use resources::{Sizing, check_total, container_resources, sizing};

type V = Result<(), ArmError>;

fn invalid(message: impl Into<String>) -> ArmError {
    ArmError::bad_request("InvalidParameterValue", message)
}

fn content(message: impl Into<String>) -> ArmError {
    ArmError::bad_request(
        "InvalidRequestContent",
        format!(
            "The request content was invalid and could not be deserialized: {}",
            message.into()
        ),
    )
}

/// Job (and container app) name rule: 2–32 characters, lowercase letters,
/// digits and '-', starting with a letter, ending alphanumeric, no '--'.
pub fn validate_job_name(name: &str) -> V {
    let ok = (2..=32).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && !name.contains("--");
    if ok {
        Ok(())
    } else {
        Err(ArmError::bad_request(
            "ContainerAppInvalidName",
            format!(
                "Invalid ContainerApp name '{name}'. A name must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character and cannot have '--'. The length must be between 2 and 32 characters."
            ),
        ))
    }
}

/// A lowercase RFC 1123 label, which Kubernetes (under Container Apps)
/// requires of container and volume names; the emulator also names host
/// directories after volumes.
pub fn is_rfc1123_label(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// Azure's answer to a name that is no RFC 1123 label (the wording Azure
/// passes on from Kubernetes' check).
fn label_error(name: &str, at: &str) -> ArmError {
    ArmError::bad_request(
        "ContainerAppInvalidPropertyValue",
        format!(
            "Invalid value: \"{name}\": Invalid Name: Per RFC 1123 name must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?'): {at}."
        ),
    )
}

/// Volume names are RFC 1123 labels.
pub fn validate_volume_name(name: &str) -> V {
    if is_rfc1123_label(name) {
        Ok(())
    } else {
        Err(label_error(name, "template.volumes"))
    }
}

/// ARM tag limits: at most 50 tags, names ≤ 512, values ≤ 256 characters.
pub fn validate_tags(tags: Option<&Value>) -> V {
    let Some(tags) = tags else { return Ok(()) };
    if tags.is_null() {
        return Ok(());
    }
    let Some(map) = tags.as_object() else {
        return Err(content("'tags' must be an object of strings."));
    };
    if map.len() > 50 {
        return Err(ArmError::bad_request(
            "InvalidTagsCount",
            format!(
                "The number of tags ({}) exceeds the maximum of 50.",
                map.len()
            ),
        ));
    }
    for (k, v) in map {
        if k.chars().count() > 512 {
            return Err(ArmError::bad_request(
                "InvalidTagNameLength",
                format!(
                    "The tag name '{}...' exceeds the maximum length of 512 characters.",
                    k.chars().take(32).collect::<String>()
                ),
            ));
        }
        let Some(s) = v.as_str() else {
            return Err(content(format!("the value of tag '{k}' must be a string.")));
        };
        if s.chars().count() > 256 {
            return Err(ArmError::bad_request(
                "InvalidTagValueLength",
                format!("The value of tag '{k}' exceeds the maximum length of 256 characters."),
            ));
        }
    }
    Ok(())
}

/// Facts about the environment that validation needs.
pub struct EnvFacts {
    /// Names of the environment's storages.
    pub storages: HashSet<String>,
    /// The environment's workload profiles, name → `workloadProfileType`;
    /// empty for a Consumption-only environment.
    pub workload_profiles: HashMap<String, String>,
}

fn str_of<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    obj.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn required<'a>(obj: &'a Map<String, Value>, key: &str, at: &str) -> Result<&'a str, ArmError> {
    str_of(obj, key).ok_or_else(|| invalid(format!("The property '{at}.{key}' is required.")))
}

/// The objects of an array property (the schema has checked the types).
fn objects(v: Option<&Value>) -> impl Iterator<Item = &Map<String, Value>> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

/// Checks one list of containers: RFC 1123 unique names, images, env
/// secret references, volume mounts, and resources. `containers` are summed
/// (they run together); an init container that sets resources is checked on
/// its own, as they run one after another.
fn validate_containers(
    list: &Value,
    at: &str,
    secrets: &HashSet<String>,
    volumes: Option<&HashSet<String>>,
    sizing: Sizing,
    summed: bool,
) -> V {
    let mut names = HashSet::new();
    let (mut cpu, mut mem) = (0.0, 0.0);
    let mut any = false;
    let list_at = at.strip_prefix("properties.").unwrap_or(at);
    for (i, c) in objects(Some(list)).enumerate() {
        let at = format!("{at}[{i}]");
        let name = required(c, "name", &at)?;
        if !is_rfc1123_label(name) {
            return Err(label_error(name, list_at));
        }
        if !names.insert(name.to_string()) {
            return Err(invalid(format!(
                "Container name '{name}' is used more than once."
            )));
        }
        if str_of(c, "image").is_none() {
            return Err(ArmError::bad_request(
                "ContainerAppImageRequired",
                format!(
                    "Container with name '{name}' must have an 'Image' property specified ('{at}.image')."
                ),
            ));
        }
        for (j, e) in objects(c.get("env")).enumerate() {
            let n = required(e, "name", &format!("{at}.env[{j}]"))?;
            match str_of(e, "secretRef") {
                Some(r) if str_of(e, "value").is_some() => {
                    return Err(invalid(format!(
                        "Env var '{n}' has both 'value' and 'secretRef' ('{r}')."
                    )));
                }
                Some(r) if !secrets.contains(r) => {
                    return Err(invalid(format!(
                        "Env var '{n}' references secret '{r}', which is not defined in configuration.secrets."
                    )));
                }
                _ => {}
            }
        }
        let (c_cpu, c_mem) = container_resources(c, &at)?;
        if summed {
            cpu += c_cpu;
            mem += c_mem;
            any = true;
        } else if c.get("resources").is_some_and(Value::is_object) {
            check_total(c_cpu, c_mem, sizing)?;
        }
        if let Some(volumes) = volumes {
            for (j, m) in objects(c.get("volumeMounts")).enumerate() {
                let mat = format!("{at}.volumeMounts[{j}]");
                let vname = required(m, "volumeName", &mat)?;
                let path = required(m, "mountPath", &mat)?;
                if !volumes.contains(vname) {
                    return Err(invalid(format!(
                        "Volume mount references volume '{vname}', which is not defined in template.volumes."
                    )));
                }
                if !path.starts_with('/') {
                    return Err(invalid(format!("Mount path '{path}' must be absolute.")));
                }
            }
        }
    }
    if any {
        check_total(cpu, mem, sizing)?;
    }
    Ok(())
}

/// Names of `configuration.secrets`, validating each secret.
fn secret_names(config: &Map<String, Value>) -> Result<HashSet<String>, ArmError> {
    let mut out = HashSet::new();
    for (i, s) in objects(config.get("secrets")).enumerate() {
        let at = format!("properties.configuration.secrets[{i}]");
        let name = required(s, "name", &at)?;
        let ok = name.len() <= 253
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !ok {
            return Err(ArmError::bad_request(
                "ContainerAppInvalidPropertyValue",
                format!(
                    "Property 'secrets.name' has an invalid value '{name}'. A value must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character."
                ),
            ));
        }
        if str_of(s, "value").is_none() && str_of(s, "keyVaultUrl").is_none() {
            return Err(invalid(format!(
                "Secret '{name}' must have a 'value' or a 'keyVaultUrl'."
            )));
        }
        if !out.insert(name.to_string()) {
            return Err(invalid(format!(
                "Secret name '{name}' is used more than once."
            )));
        }
    }
    Ok(out)
}

/// The trigger rules: a positive timeout, a non-negative retry limit, and
/// the configuration the trigger type needs.
fn validate_trigger(config: &Map<String, Value>) -> V {
    if config
        .get("replicaTimeout")
        .and_then(Value::as_i64)
        .is_none_or(|t| t <= 0)
    {
        return Err(invalid(
            "The property 'properties.configuration.replicaTimeout' must be a positive number of seconds.",
        ));
    }
    if config
        .get("replicaRetryLimit")
        .and_then(Value::as_i64)
        .is_some_and(|r| r < 0)
    {
        return Err(invalid(
            "The property 'properties.configuration.replicaRetryLimit' must not be negative.",
        ));
    }
    match str_of(config, "triggerType") {
        Some("Schedule") => {
            let cron = config
                .get("scheduleTriggerConfig")
                .and_then(|s| s.get("cronExpression"))
                .and_then(Value::as_str);
            if cron.is_none_or(|c| c.split_whitespace().count() != 5) {
                return Err(invalid(
                    "A Schedule trigger needs 'scheduleTriggerConfig.cronExpression' with five fields.",
                ));
            }
        }
        Some("Event") if config.get("eventTriggerConfig").is_none_or(Value::is_null) => {
            return Err(invalid("An Event trigger needs 'eventTriggerConfig'."));
        }
        _ => {}
    }
    Ok(())
}

/// Validates the `properties` of a job (schema-valid, after defaults and
/// merges) against the rules the schema cannot express.
pub fn validate_job_properties(props: &Value, env: &EnvFacts) -> V {
    let Some(props) = props.as_object() else {
        return Err(invalid("The property 'properties' is required."));
    };
    if str_of(props, "environmentId").is_none() {
        return Err(ArmError::bad_request(
            "InvalidManagedEnvironmentId",
            "Invalid ManagedEnvironmentId value ''. The property 'properties.environmentId' is required.",
        ));
    }
    let sizing = sizing(props, env)?;
    let Some(config) = props.get("configuration").and_then(Value::as_object) else {
        return Err(invalid(
            "The property 'properties.configuration' is required.",
        ));
    };
    validate_trigger(config)?;
    let secrets = secret_names(config)?;
    for (i, r) in objects(config.get("registries")).enumerate() {
        let at = format!("properties.configuration.registries[{i}]");
        required(r, "server", &at)?;
        match (str_of(r, "passwordSecretRef"), str_of(r, "identity")) {
            (Some(p), _) if !secrets.contains(p) => {
                return Err(invalid(format!(
                    "Registry password secret reference '{p}' is not defined in configuration.secrets."
                )));
            }
            (None, None) => {
                return Err(invalid(format!(
                    "Registry '{at}' needs 'passwordSecretRef' or 'identity'."
                )));
            }
            _ => {}
        }
    }
    let Some(template) = props.get("template").and_then(Value::as_object) else {
        return Err(invalid("The property 'properties.template' is required."));
    };
    let mut volumes = HashSet::new();
    for (i, v) in objects(template.get("volumes")).enumerate() {
        let at = format!("properties.template.volumes[{i}]");
        let name = required(v, "name", &at)?;
        validate_volume_name(name)?;
        if matches!(
            str_of(v, "storageType").unwrap_or("AzureFile"),
            "AzureFile" | "NfsAzureFile"
        ) {
            let storage = required(v, "storageName", &at)?;
            if !env.storages.contains(storage) {
                return Err(invalid(format!(
                    "Volume '{name}' references storage '{storage}', which does not exist in the managed environment."
                )));
            }
        }
        for (j, item) in objects(v.get("secrets")).enumerate() {
            let r = required(item, "secretRef", &format!("{at}.secrets[{j}]"))?;
            if !secrets.contains(r) {
                return Err(invalid(format!(
                    "Secret volume '{name}' references secret '{r}', which is not defined."
                )));
            }
        }
        if !volumes.insert(name.to_string()) {
            return Err(invalid(format!(
                "Volume name '{name}' is used more than once."
            )));
        }
    }
    let containers = template.get("containers").unwrap_or(&Value::Null);
    if objects(Some(containers)).next().is_none() {
        return Err(invalid(
            "The property 'properties.template.containers' must contain at least one container.",
        ));
    }
    let at = "properties.template";
    validate_containers(
        containers,
        &format!("{at}.containers"),
        &secrets,
        Some(&volumes),
        sizing,
        true,
    )?;
    validate_containers(
        template.get("initContainers").unwrap_or(&Value::Null),
        &format!("{at}.initContainers"),
        &secrets,
        Some(&volumes),
        sizing,
        false,
    )
}

/// Validates a `JobExecutionTemplate` start override (schema-valid) against
/// the job: names, images, secret references and resources under the job's
/// workload profile.
pub fn validate_execution_template(template: &Value, job_props: &Value, env: &EnvFacts) -> V {
    let empty = Map::new();
    let props = job_props.as_object().unwrap_or(&empty);
    let sizing = sizing(props, env)?;
    let secrets = match props.get("configuration").and_then(Value::as_object) {
        Some(c) => secret_names(c)?,
        None => HashSet::new(),
    };
    let containers = template.get("containers").unwrap_or(&Value::Null);
    if objects(Some(containers)).next().is_none() {
        return Err(invalid(
            "The property 'template.containers' must contain at least one container.",
        ));
    }
    validate_containers(
        containers,
        "template.containers",
        &secrets,
        None,
        sizing,
        true,
    )?;
    validate_containers(
        template.get("initContainers").unwrap_or(&Value::Null),
        "template.initContainers",
        &secrets,
        None,
        sizing,
        false,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["ab", "a1", "my-job-1", &"a".repeat(32)] {
            assert!(validate_job_name(ok).is_ok(), "{ok}");
        }
        for bad in ["a", "1ab", "ab-", "a--b", "Ab", "a_b", &"a".repeat(33), ""] {
            assert_eq!(
                validate_job_name(bad).unwrap_err().code,
                "ContainerAppInvalidName",
                "{bad}"
            );
        }
        for ok in ["a", "1", "main", "a-b-1", &"a".repeat(63)] {
            assert!(is_rfc1123_label(ok), "{ok}");
        }
        for bad in ["", "Main", "-a", "a-", "a.b", "a_b", &"a".repeat(64)] {
            assert!(!is_rfc1123_label(bad), "{bad}");
        }
    }
}
