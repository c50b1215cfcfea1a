//! Every request body of the spec's examples through the emulator's schema
//! validation: each body as written is accepted, and each property the
//! schema marks required (at every level the example reaches) removed in
//! turn is refused with a message naming it. Then the start example's
//! template override against a running emulator: the execution runs the
//! override's containers, not a merge with the job's.

mod common;

use std::path::Path;

use common::*;
use reqwest::Method;
use serde_json::{Map, Value, json};
use sockerless_azure_sim::arm::schema::{self, Body};

/// The validated operations: operationId → (body kind, body parameter).
fn operation(id: &str) -> Option<Body> {
    match id {
        "Jobs_CreateOrUpdate" => Some(Body::Job),
        "Jobs_Update" => Some(Body::JobPatch),
        "Jobs_Start" => Some(Body::JobStart),
        "ManagedEnvironmentsStorages_CreateOrUpdate" => Some(Body::Storage),
        _ => None,
    }
}

fn read_json(p: &Path) -> Value {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Example file name → (body kind, body parameter name), from the specs'
/// `x-ms-examples` of the validated operations.
fn example_operations() -> Vec<(String, Body, String)> {
    let dir = specs_dir().join("azure/containerapps-2025-01-01");
    let mut out = Vec::new();
    for file in ["Jobs.json", "ManagedEnvironmentsStorages.json"] {
        let spec = read_json(&dir.join(file));
        for ops in spec["paths"].as_object().expect("paths").values() {
            for op in ops.as_object().expect("operations").values() {
                let Some(kind) = op["operationId"].as_str().and_then(operation) else {
                    continue;
                };
                let param = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|p| p["in"] == "body")
                    .and_then(|p| p["name"].as_str())
                    .expect("body parameter")
                    .to_string();
                for ex in op["x-ms-examples"].as_object().into_iter().flatten() {
                    let r = ex.1["$ref"].as_str().expect("example $ref");
                    let name = r.rsplit('/').next().expect("file name").to_string();
                    out.push((name, kind, param.clone()));
                }
            }
        }
    }
    out
}

/// (file, kind, body) of every stored example with a body for a validated
/// operation: the 2025-01-01 folder and the preview stand-ins.
fn example_bodies() -> Vec<(String, Body, Value)> {
    let ops = example_operations();
    let base = specs_dir().join("azure/containerapps-2025-01-01");
    let mut out = Vec::new();
    for folder in ["examples", "examples-from-2025-02-02-preview"] {
        let mut files: Vec<_> = std::fs::read_dir(base.join(folder))
            .expect("examples folder")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        files.sort();
        for path in files {
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .to_string();
            let Some((_, kind, param)) = ops.iter().find(|(n, _, _)| *n == name) else {
                continue;
            };
            let ex = read_json(&path);
            if let Some(body) = ex["parameters"].get(param.as_str()) {
                out.push((format!("{folder}/{name}"), *kind, body.clone()));
            }
        }
    }
    out
}

/// The properties a schema declares, with those of its `allOf`s.
fn declared(schema: &Value, out: &mut Map<String, Value>) {
    for (k, v) in schema["properties"].as_object().into_iter().flatten() {
        out.entry(k.clone()).or_insert_with(|| v.clone());
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        declared(part, out);
    }
}

fn required(schema: &Value, out: &mut Vec<String>) {
    for r in schema["required"].as_array().into_iter().flatten() {
        out.extend(r.as_str().map(str::to_string));
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        required(part, out);
    }
}

/// (JSON pointer of an object, required property) for every required
/// property present in `value` at any depth.
fn required_present(schema: &Value, value: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(obj) => {
            let mut req = Vec::new();
            required(schema, &mut req);
            for r in req {
                if obj.contains_key(&r) {
                    out.push((at.to_string(), r));
                }
            }
            let mut props = Map::new();
            declared(schema, &mut props);
            for (k, v) in obj {
                let escaped = k.replace('~', "~0").replace('/', "~1");
                match props.get(k) {
                    Some(s) => required_present(s, v, &format!("{at}/{escaped}"), out),
                    None if schema["additionalProperties"].is_object() => required_present(
                        &schema["additionalProperties"],
                        v,
                        &format!("{at}/{escaped}"),
                        out,
                    ),
                    None => {}
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                required_present(&schema["items"], v, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_example_body_is_accepted_and_each_required_property_is_needed() {
    let bodies = example_bodies();
    let names: Vec<&str> = bodies.iter().map(|(n, _, _)| n.as_str()).collect();
    // The walk found what the folders hold (a broken lookup would find nothing).
    for expected in [
        "examples/Job_CreateorUpdate_EventTrigger.json",
        "examples/ManagedEnvironmentsStorages_CreateOrUpdate.json",
        "examples-from-2025-02-02-preview/Job_CreateorUpdate.json",
        "examples-from-2025-02-02-preview/Job_Start.json",
    ] {
        assert!(names.contains(&expected), "{expected} not in {names:?}");
    }
    let mut removals = 0;
    for (name, kind, body) in &bodies {
        let kept = schema::accept(*kind, body)
            .unwrap_or_else(|e| panic!("{name}: refused: {} {}", e.code, e.message));
        assert!(kept.is_object(), "{name}");
        let mut present = Vec::new();
        required_present(
            schema::schema_of(*kind).expect("schema"),
            body,
            "",
            &mut present,
        );
        if *kind == Body::JobPatch {
            // A patch may leave out what the merged job then needs.
            continue;
        }
        for (at, prop) in present {
            let mut without = body.clone();
            let parent = if at.is_empty() {
                without.as_object_mut()
            } else {
                without.pointer_mut(&at).and_then(Value::as_object_mut)
            };
            parent.expect("parent object").remove(&prop);
            let e = schema::check(*kind, &without)
                .err()
                .unwrap_or_else(|| panic!("{name}: accepted without {at}/{prop}"));
            assert_eq!(e.status, 400, "{name} {at}/{prop}");
            assert!(
                e.message.contains(&prop),
                "{name}: the error for {at}/{prop} does not name it: {}",
                e.message
            );
            removals += 1;
        }
    }
    // location, triggerType, replicaTimeout, identity type and settings...
    assert!(removals >= 6, "only {removals} required properties found");
}

/// A job shaped like the one `backends/aca` sends (agent init container,
/// EmptyDir and Secret volumes, a registry with a secret, consumption pair,
/// `ephemeralStorage` which the spec marks read-only) passes the schema.
#[test]
fn a_backend_shaped_job_is_accepted() {
    let body = json!({
        "location": "eastus",
        "tags": {"sockerless-instance": "abc", "sockerless-container": "0123456789ab"},
        "properties": {
            "environmentId": env_id(SUB, RG, ENV),
            "configuration": {
                "triggerType": "Manual",
                "replicaTimeout": 86400,
                "replicaRetryLimit": 0,
                "manualTriggerConfig": {"replicaCompletionCount": 1, "parallelism": 1},
                "secrets": [{"name": "sockerless-agent-token", "value": "t"}, {"name": "reg-pw", "value": "p"}],
                "registries": [{"server": "example.azurecr.io", "username": "u", "passwordSecretRef": "reg-pw"}]
            },
            "template": {
                "initContainers": [{
                    "name": "sockerless-agent-install", "image": "agent:1",
                    "command": ["/sockerless-agent"], "args": ["--install", "/.sockerless"],
                    "volumeMounts": [{"volumeName": "sockerless-agent", "mountPath": "/.sockerless"}]
                }],
                "containers": [{
                    "name": "main", "image": "busybox", "command": ["/.sockerless/sockerless-agent"], "args": ["--", "true"],
                    "env": [{"name": "SOCKERLESS_AGENT_TOKEN", "secretRef": "sockerless-agent-token"}, {"name": "A", "value": "b"}],
                    "resources": {"cpu": 0.5, "memory": "1.0Gi", "ephemeralStorage": "2Gi"},
                    "volumeMounts": [{"volumeName": "sockerless-agent", "mountPath": "/.sockerless"}, {"volumeName": "data", "mountPath": "/data", "subPath": "v1"}]
                }],
                "volumes": [
                    {"name": "sockerless-agent", "storageType": "EmptyDir"},
                    {"name": "data", "storageType": "AzureFile", "storageName": "vols", "mountOptions": "uid=0"},
                    {"name": "ca", "storageType": "Secret", "secrets": [{"secretRef": "reg-pw", "path": "ca.pem"}]}
                ]
            }
        }
    });
    let kept = schema::accept(Body::Job, &body).expect("accepted");
    let resources = &kept["properties"]["template"]["containers"][0]["resources"];
    assert_eq!(resources, &json!({"cpu": 0.5, "memory": "1.0Gi"}));
    assert_eq!(
        kept["properties"]["template"]["volumes"][1]["mountOptions"],
        "uid=0"
    );
}

/// The start example's override runs instead of the job's containers: the
/// job's env, command, sidecar and init container are not merged in.
/// The example's names (`testcontainerAppsJob0`, not an RFC 1123 label) are
/// lowercased and its `0.2 / 100Mi` (no consumption pair) made `0.25 / 0.5Gi`,
/// as Azure would refuse both.
#[tokio::test]
async fn start_override_replaces_the_template() {
    let sim = Sim::start(fast_config()).await;
    let ex: Value = read_json(
        &specs_dir()
            .join("azure/containerapps-2025-01-01/examples-from-2025-02-02-preview/Job_Start.json"),
    );
    let mut over = ex["parameters"]["template"].clone();
    for list in ["containers", "initContainers"] {
        for c in over[list].as_array_mut().expect("list") {
            c["name"] = json!(c["name"].as_str().expect("name").to_ascii_lowercase());
            c["resources"] = json!({"cpu": 0.25, "memory": "0.5Gi"});
        }
    }
    let mut job = job_body("busybox", &["sleep", "1"]);
    let main = &mut job["properties"]["template"]["containers"][0];
    main["name"] = json!("testcontainerappsjob0");
    main["env"] = json!([{"name": "FROM_JOB", "value": "1"}]);
    job["properties"]["template"]["containers"]
        .as_array_mut()
        .expect("containers")
        .push(json!({"name": "sidecar", "image": "busybox", "resources": {"cpu": 0.25, "memory": "0.5Gi"}}));
    job["properties"]["template"]["initContainers"] =
        json!([{"name": "job-init", "image": "busybox", "command": ["true"]}]);
    create_job(&sim, "override", &job).await;
    let r = sim
        .arm(
            Method::POST,
            &format!("{}/start", job_path("override")),
            Some(&over),
        )
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let exec = r.body["name"].as_str().expect("execution name").to_string();
    let e = sim
        .arm(
            Method::GET,
            &format!("{}/executions/{exec}", job_path("override")),
            None,
        )
        .await;
    assert_eq!(e.status, 200, "{:?}", e.body);
    let t = &e.body["properties"]["template"];
    for list in ["containers", "initContainers"] {
        let got = t[list].as_array().expect(list);
        let want = over[list].as_array().expect(list);
        assert_eq!(got.len(), want.len(), "{list}: {t:#}");
        for (g, w) in got.iter().zip(want) {
            for field in ["name", "image", "command", "args", "env"] {
                assert_eq!(g.get(field), w.get(field), "{list} {field}: {t:#}");
            }
            assert_eq!(g["resources"]["cpu"], w["resources"]["cpu"]);
            assert_eq!(g["resources"]["memory"], w["resources"]["memory"]);
        }
    }
    // An override is held to the job's rules: names, images, secret
    // references, sizes, and the schema's types.
    for (over, code) in [
        (
            json!({"containers": [{"name": "main", "image": "busybox", "resources": {"cpu": 0.3, "memory": "0.6Gi"}}]}),
            "ContainerAppInvalidResourceTotal",
        ),
        (
            json!({"containers": [{"name": "Main", "image": "busybox"}]}),
            "ContainerAppInvalidPropertyValue",
        ),
        (
            json!({"containers": [{"name": "main"}]}),
            "ContainerAppImageRequired",
        ),
        (
            json!({"containers": [{"name": "main", "image": "busybox", "env": [{"name": "A", "secretRef": "nope"}]}]}),
            "InvalidParameterValue",
        ),
        (
            json!({"containers": [{"name": "main", "image": "busybox", "args": "x"}]}),
            "InvalidRequestContent",
        ),
        (json!({"containers": []}), "InvalidParameterValue"),
    ] {
        let r = sim
            .arm(
                Method::POST,
                &format!("{}/start", job_path("override")),
                Some(&over),
            )
            .await;
        assert_eq!((r.status.as_u16(), r.code()), (400, code), "{over}");
    }
    // The job itself is unchanged.
    let j = sim.arm(Method::GET, &job_path("override"), None).await;
    assert_eq!(
        j.body["properties"]["template"]["containers"][1]["name"],
        "sidecar"
    );
    assert_eq!(
        j.body["properties"]["template"]["containers"][0]["env"][0]["name"],
        "FROM_JOB"
    );
    sim.shutdown().await;
}
