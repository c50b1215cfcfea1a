//! Every v1.44 model against the vendored swagger
//! (`specs/docker/engine-api-v1.44.yaml`): each carries every property its
//! schema names and no key the schema does not name (but its `EXTRA`), each
//! default serializes to an object whose values have the schema's JSON
//! types, and every `impl Model` of the module is checked here.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_json::Value;

use super::containers::{
    ContainerInspect, ContainerState, ContainerSummary, GraphDriverData, SummaryHostConfig,
    SummaryNetworkSettings,
};
use super::exec::{ExecInspect, ProcessConfig};
use super::host_config::{ContainerConfig, HostConfig, LogConfig, RestartPolicy};
use super::images::{ImageInspect, ImageMetadata, ImageSummary, RootFs};
use super::info::{Commit, PluginsInfo, RegistryServiceConfig, Runtime, SwarmInfo, SystemInfo};
use super::networks::{ConfigReference, EndpointSettings, Ipam, Network, NetworkSettings};
use super::system::{
    CreateImageInfo, EventMessage, IdResponse, SystemDataUsage, SystemVersion, VersionPlatform,
};
use super::volumes::{Volume, VolumeListResponse, VolumeUsageData};
use super::{Model, to_object};

/// The swagger as JSON (`SOCKERLESS_SPECS_DIR` overrides `specs/`, as the
/// backend's spec-walk tests do).
static SWAGGER: LazyLock<Value> = LazyLock::new(|| {
    let path = std::env::var("SOCKERLESS_SPECS_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../specs")
        })
        .join("docker/engine-api-v1.44.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("swagger yaml");
    yaml_to_json(yaml)
});

/// YAML to JSON, numeric keys (`responses: 200:`) as strings.
fn yaml_to_json(yaml: serde_yaml::Value) -> Value {
    match yaml {
        serde_yaml::Value::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        serde_yaml::Value::String(s) => s,
                        other => serde_yaml::to_string(&other)
                            .expect("key")
                            .trim()
                            .to_owned(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        serde_yaml::Value::Sequence(seq) => {
            Value::Array(seq.into_iter().map(yaml_to_json).collect())
        }
        other => serde_json::to_value(other).expect("scalar"),
    }
}

/// The schema at `pointer`, `$ref`s followed.
fn schema(pointer: &str) -> &'static Value {
    let found = SWAGGER
        .pointer(pointer)
        .unwrap_or_else(|| panic!("{pointer} is not in the swagger"));
    follow(found)
}

fn follow(schema: &'static Value) -> &'static Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => follow(
            SWAGGER
                .pointer(reference.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("{reference} is not in the swagger")),
        ),
        None => schema,
    }
}

/// A schema's properties (those of its `allOf` parts included) with each one's JSON type.
fn properties(schema: &'static Value) -> Vec<(String, Option<&'static str>)> {
    let mut out = Vec::new();
    for part in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.extend(properties(follow(part)));
    }
    for (name, property) in schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        out.push((name.clone(), json_type(property)));
    }
    out
}

/// The JSON type a property's schema says, when it says one.
fn json_type(property: &'static Value) -> Option<&'static str> {
    let property = follow(property);
    if let Some(t) = property.get("type").and_then(Value::as_str) {
        return Some(t);
    }
    if property.get("properties").is_some() {
        return Some("object");
    }
    let parts = property.get("allOf").and_then(Value::as_array)?;
    parts.iter().find_map(json_type)
}

fn has_type(value: &Value, t: &str) -> bool {
    match t {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    }
}

/// The keys a derived `Deserialize` knows for `T`: its serialized names, every field's.
fn field_names<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    struct Grab<'a>(&'a mut &'static [&'static str]);
    impl<'de> Deserializer<'de> for Grab<'_> {
        type Error = de::value::Error;
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("fields taken"))
        }
        fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Grab(&mut fields));
    fields
}

/// Checks one model; returns its type name for the coverage check.
fn check<T: Model + for<'de> Deserialize<'de>>() -> &'static str {
    let name = std::any::type_name::<T>()
        .rsplit("::")
        .next()
        .unwrap_or_default();
    let schema = schema(T::SWAGGER);
    let spec = properties(schema);
    let fields: BTreeSet<&str> = field_names::<T>().iter().copied().collect();
    assert!(!fields.is_empty(), "{name}: no fields found");
    for (property, _) in &spec {
        assert!(
            fields.contains(property.as_str()),
            "{name} lacks {property}, named by {}",
            T::SWAGGER
        );
    }
    let named: BTreeSet<&str> = spec.iter().map(|(p, _)| p.as_str()).collect();
    for field in &fields {
        assert!(
            named.contains(field) || T::EXTRA.contains(field),
            "{name}.{field} is not in {} (list it in EXTRA if dockerd sends it)",
            T::SWAGGER
        );
    }
    for extra in T::EXTRA {
        assert!(fields.contains(extra), "{name}: EXTRA {extra} is no field");
        assert!(
            !named.contains(extra),
            "{name}: EXTRA {extra} is in the swagger"
        );
    }
    let defaults = to_object(&T::default());
    for (key, value) in &defaults {
        let Some((_, Some(t))) = spec.iter().find(|(p, _)| p == key) else {
            continue;
        };
        assert!(
            value.is_null() || has_type(value, t),
            "{name}.{key}: default {value} is not a JSON {t}"
        );
    }
    name
}

#[test]
fn every_model_carries_its_swagger_schemas_properties() {
    let checked: BTreeSet<&str> = [
        check::<ContainerInspect>(),
        check::<ContainerState>(),
        check::<ContainerSummary>(),
        check::<GraphDriverData>(),
        check::<SummaryHostConfig>(),
        check::<SummaryNetworkSettings>(),
        check::<ExecInspect>(),
        check::<ProcessConfig>(),
        check::<ContainerConfig>(),
        check::<HostConfig>(),
        check::<LogConfig>(),
        check::<RestartPolicy>(),
        check::<ImageInspect>(),
        check::<ImageMetadata>(),
        check::<ImageSummary>(),
        check::<RootFs>(),
        check::<Commit>(),
        check::<PluginsInfo>(),
        check::<RegistryServiceConfig>(),
        check::<Runtime>(),
        check::<SwarmInfo>(),
        check::<SystemInfo>(),
        check::<ConfigReference>(),
        check::<EndpointSettings>(),
        check::<Ipam>(),
        check::<Network>(),
        check::<NetworkSettings>(),
        check::<CreateImageInfo>(),
        check::<EventMessage>(),
        check::<IdResponse>(),
        check::<SystemDataUsage>(),
        check::<SystemVersion>(),
        check::<VersionPlatform>(),
        check::<Volume>(),
        check::<VolumeListResponse>(),
        check::<VolumeUsageData>(),
    ]
    .into_iter()
    .collect();
    let sources = [
        include_str!("containers.rs"),
        include_str!("exec.rs"),
        include_str!("host_config.rs"),
        include_str!("images.rs"),
        include_str!("info.rs"),
        include_str!("networks.rs"),
        include_str!("system.rs"),
        include_str!("volumes.rs"),
    ];
    let declared: BTreeSet<&str> = sources
        .iter()
        .flat_map(|source| source.lines())
        .filter_map(|line| line.strip_prefix("impl Model for "))
        .filter_map(|rest| rest.split_whitespace().next())
        .collect();
    assert_eq!(
        declared, checked,
        "every model is checked against the swagger"
    );
}

#[test]
fn the_property_walk_sees_all_of_and_refs() {
    let host_config = properties(schema(HostConfig::SWAGGER));
    // `Memory` comes from `Resources`, through `allOf` and a `$ref`.
    assert!(
        host_config
            .iter()
            .any(|(p, t)| p == "Memory" && *t == Some("integer"))
    );
    assert!(
        host_config
            .iter()
            .any(|(p, t)| p == "RestartPolicy" && *t == Some("object"))
    );
    assert_eq!(
        field_names::<RestartPolicy>(),
        ["Name", "MaximumRetryCount"]
    );
}

#[test]
fn a_drifted_model_is_caught() {
    #[derive(Default, serde::Serialize, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Partial {
        name: String,
    }
    impl Model for Partial {
        const SWAGGER: &'static str = "/definitions/RestartPolicy";
    }
    let missing = std::panic::catch_unwind(check::<Partial>);
    assert!(missing.is_err(), "MaximumRetryCount is missing");

    #[derive(Default, serde::Serialize, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct WrongType {
        name: i64,
        maximum_retry_count: i64,
    }
    impl Model for WrongType {
        const SWAGGER: &'static str = "/definitions/RestartPolicy";
    }
    let wrong = std::panic::catch_unwind(check::<WrongType>);
    assert!(wrong.is_err(), "Name is a string");
}
