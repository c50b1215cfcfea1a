//! Request bodies checked against the vendored 2025-01-01 swagger: the spec
//! files are embedded, their `$ref`s inlined into self-contained JSON Schemas
//! (compiled once), and a body is validated against its operation's body
//! parameter, then stripped of what Microsoft.App does not store.
//!
//! Unknown properties are dropped, not refused: Microsoft.App deserializes a
//! request into its own model and ignores members it does not know (a
//! `2025-02-02-preview` body with `resources.gpu` sent at 2025-01-01 is
//! accepted without the field; the 400 "Unknown properties … are not
//! supported" seen in the wild came from preview api-versions' strict
//! models). `readOnly` properties sent by a client are ignored the same way.

use std::collections::HashMap;
use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use serde_json::{Map, Value};

use super::ArmError;

/// Where the Container Apps files sit in the specs repository layout, so
/// their relative `$ref`s to common-types resolve as written.
const APP_DIR: &str = "azure/app/resource-manager/Microsoft.App/ContainerApps/stable/2025-01-01";

/// ACR Tasks' spec (self-contained: no `$ref` leaves the file).
const ACR_TASKS_FILE: &str = "azure/acr-tasks-2019-06-01-preview/containerregistry_build.json";

/// The spec files the validated operations need, by repository path.
const FILES: &[(&str, &str)] = &[
    (
        "azure/app/resource-manager/Microsoft.App/ContainerApps/stable/2025-01-01/Jobs.json",
        include_str!("../../../../specs/azure/containerapps-2025-01-01/Jobs.json"),
    ),
    (
        "azure/app/resource-manager/Microsoft.App/ContainerApps/stable/2025-01-01/CommonDefinitions.json",
        include_str!("../../../../specs/azure/containerapps-2025-01-01/CommonDefinitions.json"),
    ),
    (
        "azure/app/resource-manager/Microsoft.App/ContainerApps/stable/2025-01-01/ManagedEnvironmentsStorages.json",
        include_str!(
            "../../../../specs/azure/containerapps-2025-01-01/ManagedEnvironmentsStorages.json"
        ),
    ),
    (
        ACR_TASKS_FILE,
        include_str!(
            "../../../../specs/azure/acr-tasks-2019-06-01-preview/containerregistry_build.json"
        ),
    ),
    (
        "azure/common-types/resource-management/v3/types.json",
        include_str!("../../../../specs/azure/common-types/resource-management/v3/types.json"),
    ),
    (
        "azure/common-types/resource-management/v3/managedidentity.json",
        include_str!(
            "../../../../specs/azure/common-types/resource-management/v3/managedidentity.json"
        ),
    ),
    (
        "azure/common-types/resource-management/v5/types.json",
        include_str!("../../../../specs/azure/common-types/resource-management/v5/types.json"),
    ),
];

/// A request body with a schema in the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Body {
    /// `Jobs_CreateOrUpdate`: `Job`.
    Job,
    /// `Jobs_Update`: `JobPatchProperties`.
    JobPatch,
    /// `Jobs_Start`: `JobExecutionTemplate`.
    JobStart,
    /// `ManagedEnvironmentsStorages_CreateOrUpdate`: `ManagedEnvironmentStorage`.
    Storage,
    /// `Registries_ScheduleRun` of a quick build: `DockerBuildRequest`.
    DockerBuild,
}

impl Body {
    /// Every validated body.
    pub const ALL: [Body; 5] = [
        Body::Job,
        Body::JobPatch,
        Body::JobStart,
        Body::Storage,
        Body::DockerBuild,
    ];

    /// The spec file (repository path) and definition of the body.
    fn file_and_definition(self) -> (String, &'static str) {
        let app = |f: &str| format!("{APP_DIR}/{f}");
        match self {
            Body::Job => (app("Jobs.json"), "Job"),
            Body::JobPatch => (app("Jobs.json"), "JobPatchProperties"),
            Body::JobStart => (app("Jobs.json"), "JobExecutionTemplate"),
            Body::Storage => (
                app("ManagedEnvironmentsStorages.json"),
                "ManagedEnvironmentStorage",
            ),
            Body::DockerBuild => (ACR_TASKS_FILE.to_string(), "DockerBuildRequest"),
        }
    }
}

/// One compiled body schema: the inlined JSON Schema and its validator.
struct Compiled {
    schema: Value,
    validator: jsonschema::Validator,
}

/// Errors of building the schemas from the embedded files (a broken build,
/// never a request's fault).
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// An embedded file is not JSON.
    #[error("spec file {0} does not parse: {1}")]
    Parse(String, serde_json::Error),
    /// A `$ref` names a file or pointer that is not there.
    #[error("unresolved $ref {0}")]
    Unresolved(String),
    /// The inlined schema does not compile.
    #[error("schema of {0:?} does not compile: {1}")]
    Compile(Body, String),
}

struct Inliner {
    docs: HashMap<String, Value>,
}

impl Inliner {
    fn new() -> Result<Self, SchemaError> {
        let mut docs = HashMap::new();
        for (path, text) in FILES {
            let v = serde_json::from_str(text)
                .map_err(|e| SchemaError::Parse((*path).to_string(), e))?;
            docs.insert((*path).to_string(), v);
        }
        Ok(Inliner { docs })
    }

    fn resolve(&self, file: &str, r: &str) -> Result<(String, Value), SchemaError> {
        let (rel, pointer) = r.split_once('#').unwrap_or((r, ""));
        let target = if rel.is_empty() {
            file.to_string()
        } else {
            let dir = file.rsplit_once('/').map_or("", |(d, _)| d);
            crate::util::normalize_path(&format!("{dir}/{rel}"))
        };
        let v = self
            .docs
            .get(&target)
            .and_then(|d| d.pointer(pointer))
            .ok_or_else(|| SchemaError::Unresolved(format!("{r} (from {file})")))?;
        Ok((target, v.clone()))
    }

    /// `v` with every `$ref` replaced by its target; a reference back into
    /// its own chain becomes `{}` (no Container Apps type is recursive, so
    /// this only guards the walk).
    fn inline(&self, file: &str, v: &Value, stack: &mut Vec<String>) -> Result<Value, SchemaError> {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    let (target, resolved) = self.resolve(file, r)?;
                    let key = format!("{target}#{}", r.split_once('#').map_or("", |x| x.1));
                    if stack.contains(&key) || stack.len() > 40 {
                        return Ok(Value::Object(Map::new()));
                    }
                    stack.push(key);
                    let out = self.inline(&target, &resolved, stack);
                    stack.pop();
                    return out;
                }
                let mut out = Map::new();
                for (k, val) in map {
                    if k == "example" || k == "x-ms-examples" {
                        continue;
                    }
                    out.insert(k.clone(), self.inline(file, val, stack)?);
                }
                Ok(Value::Object(out))
            }
            Value::Array(a) => a
                .iter()
                .map(|x| self.inline(file, x, stack))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            other => Ok(other.clone()),
        }
    }
}

fn compile_all() -> Result<HashMap<Body, Compiled>, SchemaError> {
    let inliner = Inliner::new()?;
    let mut out = HashMap::new();
    for body in Body::ALL {
        let (file, def) = body.file_and_definition();
        let (_, definition) = inliner.resolve(&file, &format!("#/definitions/{def}"))?;
        let schema = inliner.inline(&file, &definition, &mut Vec::new())?;
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .should_validate_formats(false)
            .build(&schema)
            .map_err(|e| SchemaError::Compile(body, e.to_string()))?;
        out.insert(body, Compiled { schema, validator });
    }
    Ok(out)
}

fn compiled() -> Result<&'static HashMap<Body, Compiled>, ArmError> {
    static SCHEMAS: OnceLock<Result<HashMap<Body, Compiled>, String>> = OnceLock::new();
    SCHEMAS
        .get_or_init(|| compile_all().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| {
            tracing::error!(error = %e, "request schemas unavailable");
            ArmError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "The request schemas could not be loaded.",
            )
        })
}

/// The inlined JSON Schema of a body (for tests and tools walking the spec).
pub fn schema_of(body: Body) -> Result<&'static Value, ArmError> {
    Ok(&compiled()?[&body].schema)
}

/// `value` without null members: ARM's deserializers read an explicit null
/// as an absent property, so a null required property is a missing one.
fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// A JSON pointer (`/properties/template/containers/0`) as ARM writes paths
/// (`properties.template.containers[0]`).
fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    out
}

fn joined(path: &str, property: &str) -> String {
    if path.is_empty() {
        property.to_string()
    } else {
        format!("{path}.{property}")
    }
}

/// The ARM error for the first schema violation. A value of the wrong JSON
/// type cannot be deserialized (`InvalidRequestContent`, worded as ARM's
/// deserializer words it); a missing required property, a value outside an
/// enum or a bound is `InvalidParameterValue` naming the property.
fn arm_error(e: &jsonschema::ValidationError<'_>) -> ArmError {
    let path = dotted(e.instance_path().as_str());
    let invalid = |m: String| ArmError::bad_request("InvalidParameterValue", m);
    match e.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            invalid(format!(
                "The property '{}' is required.",
                joined(&path, name)
            ))
        }
        ValidationErrorKind::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(t) => t.to_string(),
                TypeKind::Multiple(set) => format!("{set:?}"),
            };
            ArmError::bad_request(
                "InvalidRequestContent",
                format!(
                    "The request content was invalid and could not be deserialized: 'Error converting value {} to type '{expected}'. Path '{path}'.'.",
                    e.instance()
                ),
            )
        }
        ValidationErrorKind::Enum { options } => {
            let allowed: Vec<String> = options
                .as_array()
                .into_iter()
                .flatten()
                .map(|o| o.as_str().map_or_else(|| o.to_string(), str::to_string))
                .collect();
            invalid(format!(
                "The value {} of '{path}' is not valid. Allowed values: {}.",
                e.instance(),
                allowed.join(", ")
            ))
        }
        _ => invalid(format!(
            "The value {} of '{path}' is not valid: {e}.",
            e.instance()
        )),
    }
}

/// Checks `body` against the schema of `kind`; the first violation becomes
/// an ARM 400.
pub fn check(kind: Body, body: &Value) -> Result<(), ArmError> {
    let compiled = &compiled()?[&kind];
    let instance = without_nulls(body);
    // A PATCH is merged into the stored job: what `JobPatchProperties`
    // reuses from `Job` (`JobConfiguration` requires `triggerType` and
    // `replicaTimeout`) may be left out of it. The merged job is then
    // checked as a `Job`, required properties included.
    let mut errors = compiled.validator.iter_errors(&instance).filter(|e| {
        kind != Body::JobPatch || !matches!(e.kind(), ValidationErrorKind::Required { .. })
    });
    match errors.next() {
        None => Ok(()),
        Some(e) => Err(arm_error(&e)),
    }
}

/// The properties a schema declares (its own and those of its `allOf`s),
/// with each one's schema.
fn declared(schema: &Value, out: &mut Map<String, Value>) {
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    for part in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        declared(part, out);
    }
}

/// `value` stripped, in place, of what the schema does not declare and of
/// `readOnly` properties. Maps (`additionalProperties` schemas, e.g. tags or
/// user-assigned identities) keep their keys.
fn prune(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(obj) => {
            let mut props = Map::new();
            declared(schema, &mut props);
            let extra = schema.get("additionalProperties").filter(|a| a.is_object());
            if props.is_empty() {
                if let Some(extra) = extra {
                    for v in obj.values_mut() {
                        prune(extra, v);
                    }
                }
                return;
            }
            obj.retain(|k, _| {
                props
                    .get(k)
                    .is_some_and(|s| s.get("readOnly") != Some(&Value::Bool(true)))
            });
            for (k, v) in obj.iter_mut() {
                if let Some(s) = props.get(k) {
                    prune(s, v);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for v in items {
                    prune(item_schema, v);
                }
            }
        }
        _ => {}
    }
}

/// Validates `body` as `kind` and returns what Microsoft.App keeps of it:
/// unknown and `readOnly` properties dropped.
pub fn accept(kind: Body, body: &Value) -> Result<Value, ArmError> {
    check(kind, body)?;
    let mut kept = body.clone();
    prune(&compiled()?[&kind].schema, &mut kept);
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn all_schemas_compile() {
        for body in Body::ALL {
            assert!(schema_of(body).is_ok(), "{body:?}");
        }
    }

    #[test]
    fn unknown_and_read_only_properties_are_dropped() {
        let body = json!({
            "location": "eastus",
            "bogus": 1,
            "tags": {"keep": "me"},
            "properties": {
                "provisioningState": "Succeeded",
                "configuration": {"triggerType": "Manual", "replicaTimeout": 10},
                "template": {"containers": [{"name": "a", "image": "i", "resources": {"cpu": 0.5, "memory": "1Gi", "gpu": 1}}]}
            }
        });
        let kept = accept(Body::Job, &body).expect("valid");
        assert!(kept.get("bogus").is_none());
        assert_eq!(kept["tags"]["keep"], "me");
        assert!(kept["properties"].get("provisioningState").is_none());
        assert_eq!(
            kept["properties"]["template"]["containers"][0]["resources"],
            json!({"cpu": 0.5, "memory": "1Gi"})
        );
    }

    #[test]
    fn violations_name_the_property() {
        let body =
            json!({"location": "x", "properties": {"configuration": {"triggerType": "Manual"}}});
        let e = check(Body::Job, &body).expect_err("missing replicaTimeout");
        assert_eq!(e.code, "InvalidParameterValue");
        assert!(
            e.message
                .contains("properties.configuration.replicaTimeout"),
            "{}",
            e.message
        );
        let body = json!({"location": "x", "properties": {"configuration": {"triggerType": "Often", "replicaTimeout": 1}}});
        let e = check(Body::Job, &body).expect_err("enum");
        assert!(e.message.contains("Manual"), "{}", e.message);
        let body = json!({"containers": [{"command": "true"}]});
        let e = check(Body::JobStart, &body).expect_err("type");
        assert_eq!(e.code, "InvalidRequestContent");
        assert!(e.message.contains("containers[0].command"), "{}", e.message);
    }
}
