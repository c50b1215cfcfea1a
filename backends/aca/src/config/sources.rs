//! Parsing the configuration's sources: numbers and URLs as given, the
//! YAML file, the `SOCKERLESS_ACA_*` environment layer; the variable and
//! flag naming each key.

use std::collections::BTreeMap;
use std::path::Path;

use figment::Figment;
use figment::providers::{Format, Yaml};
use serde::Deserialize;
use url::Url;

use super::{ALL_KEYS, ConfigError, ENV_PREFIX};

/// The process environment as UTF-8 pairs (variables that are not UTF-8 are skipped).
pub fn process_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// The environment variable of a key, e.g. `SOCKERLESS_ACA_SUBSCRIPTION_ID`.
pub fn env_var_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
}

/// The flag of a key, e.g. `--subscription-id`.
pub fn flag_name(key: &str) -> String {
    match key {
        "registry_mirrors" => "--registry-mirror".to_owned(),
        _ => format!("--{}", key.replace('_', "-")),
    }
}

/// A number given as a number (YAML) or a string (environment, flags).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Number {
    Int(u64),
    Text(String),
}

pub(super) fn parse_number(
    key: &str,
    value: Option<Number>,
    default: u64,
) -> Result<u64, ConfigError> {
    match value {
        None => Ok(default),
        Some(Number::Int(n)) => Ok(n),
        Some(Number::Text(t)) if t.trim().is_empty() => Ok(default),
        Some(Number::Text(t)) => t.trim().parse().map_err(|_| {
            ConfigError::Invalid(format!("{key}: {t:?} is not a non-negative integer"))
        }),
    }
}

pub(super) fn parse_url(key: &str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value)
        .map_err(|e| ConfigError::Invalid(format!("{key}: {value:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::Invalid(format!(
            "{key}: {value:?} must be an http(s) URL"
        )));
    }
    Ok(url)
}

/// Parses `host=url,host=url` (the environment form of `registry_mirrors`).
pub fn parse_mirror_list(value: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut out = BTreeMap::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (host, url) = item.split_once('=').ok_or_else(|| {
            ConfigError::Invalid(format!("registry_mirrors: {item:?} is not HOST=URL"))
        })?;
        out.insert(host.trim().to_owned(), url.trim().to_owned());
    }
    Ok(out)
}

/// The YAML file, focused on its `aca:` section when it has one.
pub(super) fn file_provider(path: &Path) -> Result<Figment, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::Invalid(format!("cannot read config file {}: {e}", path.display()))
    })?;
    let file = Figment::from(Yaml::string(&text));
    Ok(if file.find_value("aca").is_ok() {
        file.focus("aca")
    } else {
        file
    })
}

pub(super) fn env_layer<I, K, V>(
    env: I,
) -> Result<BTreeMap<&'static str, serde_json::Value>, ConfigError>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let vars: BTreeMap<String, String> = env
        .into_iter()
        .filter(|(k, _)| k.as_ref().starts_with(ENV_PREFIX))
        .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()))
        .collect();
    let mut layer = BTreeMap::new();
    for key in ALL_KEYS {
        let Some(value) = vars.get(&env_var_name(key)) else {
            continue;
        };
        let json = if key == "registry_mirrors" {
            serde_json::to_value(parse_mirror_list(value)?)
                .map_err(|e| ConfigError::Invalid(e.to_string()))?
        } else {
            serde_json::Value::String(value.clone())
        };
        layer.insert(key, json);
    }
    Ok(layer)
}
