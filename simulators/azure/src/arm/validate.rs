//! Request validation of jobs against the 2025-01-01 contract and the rules
//! Azure enforces beyond the schema (names, CPU/memory pairs, tags).

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::ArmError;

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

/// Volume names are DNS labels, as Kubernetes (under Container Apps)
/// requires: lowercase letters, digits and '-', alphanumeric at both ends,
/// at most 63 characters. The emulator names host directories after them.
pub fn validate_volume_name(name: &str) -> V {
    let ok = (1..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "Invalid volume name '{name}': a volume name must consist of lower case alphanumeric characters or '-', start and end with an alphanumeric character, and be at most 63 characters."
        )))
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

/// Memory in GiB from an ACA memory string (`0.5Gi`, `1Gi`, `512Mi`, `2G`).
pub fn parse_memory_gi(s: &str) -> Option<f64> {
    let s = s.trim();
    let (num, factor) = if let Some(n) = s.strip_suffix("Gi") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix("Mi") {
        (n, 1.0 / 1024.0)
    } else if let Some(n) = s.strip_suffix('G') {
        (n, 1e9 / 1073741824.0)
    } else {
        return None;
    };
    let v: f64 = num.trim().parse().ok()?;
    (v.is_finite() && v > 0.0).then_some(v * factor)
}

/// Whether (cpu, memory GiB) is an allowed consumption-profile pair:
/// cpu 0.25..=2.0 in steps of 0.25 with memory = 2 × cpu.
pub fn is_consumption_pair(cpu: f64, mem_gi: f64) -> bool {
    let quarters = cpu * 4.0;
    (quarters - quarters.round()).abs() < 1e-6
        && (1.0..=8.0).contains(&quarters.round())
        && (mem_gi - 2.0 * cpu).abs() < 1e-3
}

fn opt_str<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<Option<&'a str>, ArmError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(content(format!("'{at}.{key}' must be a string."))),
    }
}

fn req_str<'a>(obj: &'a Map<String, Value>, key: &str, at: &str) -> Result<&'a str, ArmError> {
    match opt_str(obj, key, at)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(invalid(format!("The property '{at}.{key}' is required."))),
    }
}

fn array<'a>(v: Option<&'a Value>, at: &str) -> Result<&'a [Value], ArmError> {
    match v {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(content(format!("'{at}' must be an array."))),
    }
}

fn object<'a>(v: &'a Value, at: &str) -> Result<&'a Map<String, Value>, ArmError> {
    v.as_object()
        .ok_or_else(|| content(format!("'{at}' must be an object.")))
}

fn enum_value(
    obj: &Map<String, Value>,
    key: &str,
    at: &str,
    allowed: &[&str],
    required: bool,
) -> V {
    match opt_str(obj, key, at)? {
        None if required => Err(invalid(format!("The property '{at}.{key}' is required."))),
        None => Ok(()),
        Some(s) if allowed.contains(&s) => Ok(()),
        Some(s) => Err(invalid(format!(
            "The value '{s}' of '{at}.{key}' is not valid. Allowed values: {}.",
            allowed.join(", ")
        ))),
    }
}

/// Facts about the environment that validation needs.
pub struct EnvFacts {
    /// Names of the environment's storages.
    pub storages: HashSet<String>,
    /// Names of the environment's workload profiles.
    pub workload_profiles: HashSet<String>,
}

/// Resources of one container: (cpu, memory GiB), defaulting to 0.5 / 1Gi.
fn container_resources(c: &Map<String, Value>, at: &str) -> Result<(f64, f64), ArmError> {
    let Some(r) = c.get("resources").filter(|r| !r.is_null()) else {
        return Ok((0.5, 1.0));
    };
    let r = object(r, &format!("{at}.resources"))?;
    let cpu = match r.get("cpu") {
        None | Some(Value::Null) => 0.5,
        Some(v) => v
            .as_f64()
            .ok_or_else(|| content(format!("'{at}.resources.cpu' must be a number.")))?,
    };
    let mem = match opt_str(r, "memory", &format!("{at}.resources"))? {
        None => 1.0,
        Some(m) => parse_memory_gi(m)
            .ok_or_else(|| invalid(format!("The memory value '{m}' of '{at}' is not valid.")))?,
    };
    Ok((cpu, mem))
}

fn resource_error(cpu: f64, mem: f64) -> ArmError {
    invalid(format!(
        "The total requested CPU and memory resources for this application (CPU: {cpu}, memory: {mem}Gi) is invalid. Total CPU and memory for all containers defined in a Container App Job must add up to one of the following CPU - Memory combinations: [cpu: 0.25, memory: 0.5Gi]; [cpu: 0.5, memory: 1.0Gi]; [cpu: 0.75, memory: 1.5Gi]; [cpu: 1.0, memory: 2.0Gi]; [cpu: 1.25, memory: 2.5Gi]; [cpu: 1.5, memory: 3.0Gi]; [cpu: 1.75, memory: 3.5Gi]; [cpu: 2.0, memory: 4.0Gi]"
    ))
}

/// Validates a list of containers: names, images, env, resources, mounts.
fn validate_containers(
    list: &[Value],
    at: &str,
    secrets: &HashSet<String>,
    volumes: Option<&HashSet<String>>,
    sum_resources: bool,
) -> V {
    let mut names = HashSet::new();
    let (mut cpu, mut mem) = (0.0, 0.0);
    for (i, c) in list.iter().enumerate() {
        let at = format!("{at}[{i}]");
        let c = object(c, &at)?;
        let name = req_str(c, "name", &at)?;
        if !names.insert(name.to_string()) {
            return Err(invalid(format!(
                "Container name '{name}' is used more than once."
            )));
        }
        req_str(c, "image", &at)?;
        for key in ["command", "args"] {
            for v in array(c.get(key), &format!("{at}.{key}"))? {
                if !v.is_string() {
                    return Err(content(format!(
                        "'{at}.{key}' must be an array of strings."
                    )));
                }
            }
        }
        for (j, e) in array(c.get("env"), &format!("{at}.env"))?
            .iter()
            .enumerate()
        {
            let eat = format!("{at}.env[{j}]");
            let e = object(e, &eat)?;
            let n = req_str(e, "name", &eat)?;
            let value = opt_str(e, "value", &eat)?;
            match opt_str(e, "secretRef", &eat)? {
                Some(r) if value.is_some() => {
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
        if sum_resources {
            cpu += c_cpu;
            mem += c_mem;
        } else if c.get("resources").is_some_and(|r| !r.is_null())
            && !is_consumption_pair(c_cpu, c_mem)
        {
            return Err(resource_error(c_cpu, c_mem));
        }
        if let Some(volumes) = volumes {
            for (j, m) in array(c.get("volumeMounts"), &format!("{at}.volumeMounts"))?
                .iter()
                .enumerate()
            {
                let mat = format!("{at}.volumeMounts[{j}]");
                let m = object(m, &mat)?;
                let vname = req_str(m, "volumeName", &mat)?;
                let path = req_str(m, "mountPath", &mat)?;
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
    if sum_resources && !list.is_empty() && !is_consumption_pair(cpu, mem) {
        return Err(resource_error(cpu, mem));
    }
    Ok(())
}

/// Names of `configuration.secrets`, validating each secret.
fn secret_names(config: &Map<String, Value>) -> Result<HashSet<String>, ArmError> {
    let mut out = HashSet::new();
    for (i, s) in array(config.get("secrets"), "properties.configuration.secrets")?
        .iter()
        .enumerate()
    {
        let at = format!("properties.configuration.secrets[{i}]");
        let s = object(s, &at)?;
        let name = req_str(s, "name", &at)?;
        let ok = name.len() <= 253
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !ok {
            return Err(invalid(format!(
                "Invalid secret name '{name}'. A secret name must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character."
            )));
        }
        if opt_str(s, "value", &at)?.is_none() && opt_str(s, "keyVaultUrl", &at)?.is_none() {
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

/// Validates the `properties` of a job (after defaults and merges).
pub fn validate_job_properties(props: &Value, env: &EnvFacts) -> V {
    let props = object(props, "properties")?;
    req_str(props, "environmentId", "properties")?;
    if let Some(profile) = opt_str(props, "workloadProfileName", "properties")?
        && !env.workload_profiles.contains(profile)
    {
        return Err(invalid(format!(
            "The workload profile '{profile}' does not exist in the managed environment."
        )));
    }
    let Some(config) = props.get("configuration").filter(|c| !c.is_null()) else {
        return Err(invalid(
            "The property 'properties.configuration' is required.",
        ));
    };
    let config = object(config, "properties.configuration")?;
    let at = "properties.configuration";
    enum_value(
        config,
        "triggerType",
        at,
        &["Schedule", "Event", "Manual"],
        true,
    )?;
    match config.get("replicaTimeout") {
        Some(v)
            if v.as_i64()
                .is_some_and(|t| t > 0 && t <= i64::from(i32::MAX)) => {}
        Some(Value::Null) | None => {
            return Err(invalid(
                "The property 'properties.configuration.replicaTimeout' is required.",
            ));
        }
        Some(v) => {
            return Err(invalid(format!(
                "replicaTimeout '{v}' must be a positive integer number of seconds."
            )));
        }
    }
    if let Some(v) = config.get("replicaRetryLimit").filter(|v| !v.is_null())
        && v.as_i64().is_none_or(|r| r < 0)
    {
        return Err(invalid(format!(
            "replicaRetryLimit '{v}' must be a non-negative integer."
        )));
    }
    match config.get("triggerType").and_then(Value::as_str) {
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
    for (i, s) in array(
        config.get("identitySettings"),
        "properties.configuration.identitySettings",
    )?
    .iter()
    .enumerate()
    {
        let at = format!("properties.configuration.identitySettings[{i}]");
        let s = object(s, &at)?;
        req_str(s, "identity", &at)?;
        enum_value(s, "lifecycle", &at, &["Init", "Main", "None", "All"], false)?;
    }
    let secrets = secret_names(config)?;
    for (i, r) in array(
        config.get("registries"),
        "properties.configuration.registries",
    )?
    .iter()
    .enumerate()
    {
        let at = format!("properties.configuration.registries[{i}]");
        let r = object(r, &at)?;
        req_str(r, "server", &at)?;
        if let Some(p) = opt_str(r, "passwordSecretRef", &at)?
            && !secrets.contains(p)
        {
            return Err(invalid(format!(
                "Registry password secret reference '{p}' is not defined in configuration.secrets."
            )));
        }
        if opt_str(r, "passwordSecretRef", &at)?.is_none() && opt_str(r, "identity", &at)?.is_none()
        {
            return Err(invalid(format!(
                "Registry '{at}' needs 'passwordSecretRef' or 'identity'."
            )));
        }
    }
    let Some(template) = props.get("template").filter(|t| !t.is_null()) else {
        return Err(invalid("The property 'properties.template' is required."));
    };
    let template = object(template, "properties.template")?;
    let mut volumes = HashSet::new();
    for (i, v) in array(template.get("volumes"), "properties.template.volumes")?
        .iter()
        .enumerate()
    {
        let at = format!("properties.template.volumes[{i}]");
        let v = object(v, &at)?;
        let name = req_str(v, "name", &at)?;
        validate_volume_name(name)?;
        enum_value(
            v,
            "storageType",
            &at,
            &["AzureFile", "EmptyDir", "Secret", "NfsAzureFile"],
            false,
        )?;
        let kind = opt_str(v, "storageType", &at)?.unwrap_or("AzureFile");
        if matches!(kind, "AzureFile" | "NfsAzureFile") {
            let storage = req_str(v, "storageName", &at)?;
            if !env.storages.contains(storage) {
                return Err(invalid(format!(
                    "Volume '{name}' references storage '{storage}', which does not exist in the managed environment."
                )));
            }
        }
        for (j, item) in array(v.get("secrets"), &format!("{at}.secrets"))?
            .iter()
            .enumerate()
        {
            let iat = format!("{at}.secrets[{j}]");
            let r = req_str(object(item, &iat)?, "secretRef", &iat)?;
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
    let containers = array(template.get("containers"), "properties.template.containers")?;
    if containers.is_empty() {
        return Err(invalid(
            "The property 'properties.template.containers' must contain at least one container.",
        ));
    }
    validate_containers(
        containers,
        "properties.template.containers",
        &secrets,
        Some(&volumes),
        true,
    )?;
    validate_containers(
        array(
            template.get("initContainers"),
            "properties.template.initContainers",
        )?,
        "properties.template.initContainers",
        &secrets,
        Some(&volumes),
        false,
    )?;
    Ok(())
}

/// Validates a `JobExecutionTemplate` start override against the job's secrets.
pub fn validate_execution_template(template: &Value, job_props: &Value) -> V {
    let t = object(template, "template")?;
    let secrets = match job_props.get("configuration").and_then(Value::as_object) {
        Some(c) => secret_names(c)?,
        None => HashSet::new(),
    };
    let containers = array(t.get("containers"), "template.containers")?;
    validate_containers(containers, "template.containers", &secrets, None, true)?;
    validate_containers(
        array(t.get("initContainers"), "template.initContainers")?,
        "template.initContainers",
        &secrets,
        None,
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
    }

    #[test]
    fn pairs() {
        assert!(is_consumption_pair(0.25, 0.5));
        assert!(is_consumption_pair(2.0, 4.0));
        assert!(is_consumption_pair(0.75, parse_memory_gi("1.5Gi").unwrap()));
        assert!(is_consumption_pair(0.25, parse_memory_gi("512Mi").unwrap()));
        assert!(!is_consumption_pair(0.2, parse_memory_gi("100Mi").unwrap()));
        assert!(!is_consumption_pair(2.25, 4.5));
        assert!(!is_consumption_pair(0.5, 2.0));
        assert_eq!(parse_memory_gi("1Ti"), None);
        assert_eq!(parse_memory_gi("-1Gi"), None);
    }
}
