//! Turns swagger 2.0 definitions into self-contained JSON Schemas by inlining
//! every `$ref` (across files, paths resolved lexically so the spec folder's
//! symlink layout works), then validates with the `jsonschema` crate.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value};

fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The Container Apps files sit flat in `azure/containerapps-2025-01-01/`; their
/// `$ref`s are relative to the repository layout
/// `azure/app/resource-manager/Microsoft.App/ContainerApps/stable/2025-01-01/`
/// (a symlink in shared/, which copies may turn into a plain file). Paths are
/// resolved in the repository layout and read from the flat folder.
pub fn physical(virtual_path: &Path) -> PathBuf {
    let layout = normalize(
        &super::specs_dir()
            .join("azure/app/resource-manager/Microsoft.App/ContainerApps/stable/2025-01-01"),
    );
    match virtual_path.strip_prefix(&layout) {
        Ok(rest) => {
            normalize(&super::specs_dir().join("azure/containerapps-2025-01-01")).join(rest)
        }
        Err(_) => virtual_path.to_path_buf(),
    }
}

pub struct Swagger {
    files: HashMap<PathBuf, Value>,
}

impl Swagger {
    pub fn new() -> Self {
        Swagger {
            files: HashMap::new(),
        }
    }

    fn load(&mut self, path: &Path) -> Value {
        let path = normalize(path);
        if let Some(v) = self.files.get(&path) {
            return v.clone();
        }
        let text = std::fs::read_to_string(physical(&path))
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let v: Value = serde_json::from_str(&text).expect("spec json");
        self.files.insert(path, v.clone());
        v
    }

    fn resolve(&mut self, file: &Path, r: &str) -> (PathBuf, Value) {
        let (rel, pointer) = r.split_once('#').unwrap_or((r, ""));
        let target = if rel.is_empty() {
            file.to_path_buf()
        } else {
            normalize(&file.parent().expect("parent").join(rel))
        };
        let doc = self.load(&target);
        let v = doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("unresolved $ref {r} from {}", file.display()))
            .clone();
        (target, v)
    }

    fn inline(&mut self, file: &Path, v: &Value, stack: &mut Vec<String>) -> Value {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    let (target, resolved) = self.resolve(file, r);
                    let key = format!(
                        "{}{}",
                        target.display(),
                        r.split_once('#').map(|x| x.1).unwrap_or("")
                    );
                    if stack.contains(&key) || stack.len() > 40 {
                        return Value::Object(Map::new());
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
                    // Swagger's "x-nullable" values may be null.
                    out.insert(k.clone(), self.inline(file, val, stack));
                }
                if map.get("x-nullable") == Some(&Value::Bool(true))
                    && let Some(Value::String(t)) = map.get("type")
                {
                    out.insert("type".into(), serde_json::json!([t, "null"]));
                }
                Value::Object(out)
            }
            Value::Array(a) => {
                Value::Array(a.iter().map(|x| self.inline(file, x, stack)).collect())
            }
            other => other.clone(),
        }
    }

    /// The inlined schema of a response of an operation in a swagger file.
    pub fn response_schema(
        &mut self,
        file: &Path,
        path: &str,
        method: &str,
        status: &str,
    ) -> Option<Value> {
        let doc = self.load(file);
        let resp = doc
            .pointer(&format!(
                "/paths/{}/{method}/responses/{status}",
                escape(path)
            ))?
            .clone();
        let schema = resp.get("schema")?.clone();
        Some(self.inline(file, &schema, &mut Vec::new()))
    }

    /// The inlined schema of a definition.
    pub fn definition(&mut self, file: &Path, name: &str) -> Value {
        let doc = self.load(file);
        let d = doc
            .pointer(&format!("/definitions/{name}"))
            .expect("definition")
            .clone();
        self.inline(file, &d, &mut Vec::new())
    }
}

fn escape(path: &str) -> String {
    path.replace('~', "~0").replace('/', "~1")
}

/// Validation errors of `instance` against `schema` (empty when valid).
pub fn errors(schema: &Value, instance: &Value) -> Vec<String> {
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(false)
        .build(schema)
        .expect("schema compiles");
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}
