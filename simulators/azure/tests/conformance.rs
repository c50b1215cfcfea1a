//! Replays the official examples (2025-01-01, plus the 2025-02-02-preview
//! stand-ins) against the emulator: each example's request must be accepted,
//! and each response must carry one of the example's status codes and a body
//! that validates against the swagger schema of that response ($refs inlined).
//!
//! Changes made to examples before replay (each because the example itself
//! breaks a 2025-01-01 rule the emulator enforces, or names a resource the
//! example never creates; `spec_examples.rs` checks the bodies unchanged
//! against the schema):
//! - api-version `2025-02-02-preview` is sent as `2025-01-01`;
//! - the job name `testcontainerAppsJob0` is lowercased (Azure rejects uppercase job names);
//! - resources `cpu 0.2 / 100Mi` become `0.25 / 0.5Gi` (not a consumption pair);
//! - container names are lowercased (`testcontainerAppsJob0` is no RFC 1123 label);
//! - the create example's volume mounts name volumes the request omits: the
//!   volumes from the example's own response are added, with their storages.

mod common;

use std::path::PathBuf;

use common::swagger::{Swagger, errors};
use common::*;
use reqwest::Method;
use serde_json::{Value, json};

const JOB_PATH: &str = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.App/jobs/{jobName}";
const ENV_PATH: &str = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.App/managedEnvironments/{environmentName}";

fn app_spec(file: &str) -> PathBuf {
    specs_dir()
        .join("azure/app/resource-manager/Microsoft.App/ContainerApps/stable/2025-01-01")
        .join(file)
}

fn example(rel: &str) -> Value {
    let p = specs_dir().join("azure/containerapps-2025-01-01").join(rel);
    serde_json::from_str(
        &std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    )
    .expect("example json")
}

fn param<'a>(ex: &'a Value, name: &str) -> &'a str {
    ex["parameters"][name]
        .as_str()
        .unwrap_or_else(|| panic!("parameter {name}"))
}

/// Checks status against the example and the body against the swagger.
fn conforms(sw: &mut Swagger, ex: &Value, r: &Resp, file: &str, path: &str, method: &str) {
    let status = r.status.as_u16().to_string();
    let codes: Vec<&String> = ex["responses"]
        .as_object()
        .expect("responses")
        .keys()
        .collect();
    assert!(
        codes.iter().any(|c| **c == status),
        "status {status} not among the example's {codes:?}: {:?}",
        r.body
    );
    match sw.response_schema(&app_spec(file), path, method, &status) {
        Some(schema) => {
            let errs = errors(&schema, &r.body);
            assert!(
                errs.is_empty(),
                "{method} {path} {status}: {errs:#?}\n{:#}",
                r.body
            );
        }
        None => assert!(
            r.body.is_null(),
            "{method} {path} {status} has no schema but a body: {:?}",
            r.body
        ),
    }
}

/// The validator itself must reject what the schema forbids, and accept the
/// example's own response (2025-01-01 examples only).
#[test]
fn schema_validation_can_fail_and_accepts_examples() {
    let mut sw = Swagger::new();
    let ex = example("examples/Job_Get.json");
    let schema = sw
        .response_schema(&app_spec("Jobs.json"), JOB_PATH, "get", "200")
        .expect("schema");
    let good = ex["responses"]["200"]["body"].clone();
    assert_eq!(errors(&schema, &good), Vec::<String>::new());
    let mut bad = good.clone();
    bad["properties"]["provisioningState"] = json!("Bogus");
    assert!(!errors(&schema, &bad).is_empty());
    let mut bad = good;
    bad["properties"]["configuration"]["replicaTimeout"] = json!("ten");
    assert!(!errors(&schema, &bad).is_empty());
    let env = example("examples/ManagedEnvironments_Get.json");
    let schema = sw
        .response_schema(
            &app_spec("ManagedEnvironments.json"),
            ENV_PATH,
            "get",
            "200",
        )
        .expect("schema");
    // The example writes `"deploymentErrors": null`, which its own schema does
    // not allow (no x-nullable); nulls are dropped for this control.
    let mut body = env["responses"]["200"]["body"].clone();
    if let Some(p) = body["properties"].as_object_mut() {
        p.retain(|_, v| !v.is_null());
    }
    assert_eq!(errors(&schema, &body), Vec::<String>::new());
}

#[tokio::test]
async fn managed_environment_get_example() {
    let sim = Sim::start(fast_config()).await;
    let mut sw = Swagger::new();
    let ex = example("examples/ManagedEnvironments_Get.json");
    let path = env_id(
        param(&ex, "subscriptionId"),
        param(&ex, "resourceGroupName"),
        param(&ex, "environmentName"),
    );
    let r = sim.arm(Method::GET, &path, None).await;
    conforms(
        &mut sw,
        &ex,
        &r,
        "ManagedEnvironments.json",
        ENV_PATH,
        "get",
    );
    assert_eq!(r.body["name"], "jlaw-demo1");
    assert_eq!(r.body["properties"]["provisioningState"], "Succeeded");
    sim.shutdown().await;
}

#[tokio::test]
async fn environment_storage_examples() {
    let sim = Sim::start(fast_config()).await;
    let mut sw = Swagger::new();
    const ITEM: &str = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.App/managedEnvironments/{environmentName}/storages/{storageName}";
    const LIST: &str = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.App/managedEnvironments/{environmentName}/storages";
    let ex = example("examples/ManagedEnvironmentsStorages_CreateOrUpdate.json");
    let env = env_id(
        param(&ex, "subscriptionId"),
        param(&ex, "resourceGroupName"),
        param(&ex, "environmentName"),
    );
    let item = format!("{env}/storages/{}", param(&ex, "storageName"));
    let r = sim
        .arm(
            Method::PUT,
            &item,
            Some(&ex["parameters"]["storageEnvelope"]),
        )
        .await;
    conforms(
        &mut sw,
        &ex,
        &r,
        "ManagedEnvironmentsStorages.json",
        ITEM,
        "put",
    );
    assert!(
        r.body["properties"]["azureFile"]
            .get("accountKey")
            .is_none(),
        "account keys are secrets"
    );
    assert_eq!(r.body["properties"]["azureFile"]["shareName"], "share1");

    let ex = example("examples/ManagedEnvironmentsStorages_List.json");
    let r = sim.arm(Method::GET, &format!("{env}/storages"), None).await;
    conforms(
        &mut sw,
        &ex,
        &r,
        "ManagedEnvironmentsStorages.json",
        LIST,
        "get",
    );
    assert_eq!(r.body["value"].as_array().map(Vec::len), Some(1));

    let ex = example("examples/ManagedEnvironmentsStorages_Delete.json");
    let r = sim.arm(Method::DELETE, &item, None).await;
    conforms(
        &mut sw,
        &ex,
        &r,
        "ManagedEnvironmentsStorages.json",
        ITEM,
        "delete",
    );
    assert_eq!(r.status, 200);
    let r = sim.arm(Method::DELETE, &item, None).await;
    conforms(
        &mut sw,
        &ex,
        &r,
        "ManagedEnvironmentsStorages.json",
        ITEM,
        "delete",
    );
    assert_eq!(r.status, 204);
    let r = sim.arm(Method::GET, &item, None).await;
    assert_eq!((r.status.as_u16(), r.code()), (404, "ResourceNotFound"));
    sim.shutdown().await;
}

#[tokio::test]
async fn job_examples_create_get_list_secrets_delete() {
    let sim = Sim::start(fast_config()).await;
    let mut sw = Swagger::new();
    let ex = example("examples/Job_CreateorUpdate_EventTrigger.json");
    let (sub, rg, name) = (
        param(&ex, "subscriptionId"),
        param(&ex, "resourceGroupName"),
        param(&ex, "jobName"),
    );
    let path =
        format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.App/jobs/{name}");
    let mut envelope = ex["parameters"]["JobEnvelope"].clone();
    fix_resources(&mut envelope);
    envelope["properties"]["configuration"]["secrets"] =
        json!([{"name": "mysecret", "value": "s3cret"}]);
    let r = sim.arm(Method::PUT, &path, Some(&envelope)).await;
    conforms(&mut sw, &ex, &r, "Jobs.json", JOB_PATH, "put");
    assert_eq!(r.status, 201);
    assert_eq!(r.body["properties"]["provisioningState"], "InProgress");
    assert!(r.header("azure-asyncoperation").is_some());
    assert!(r.header("retry-after").is_some());
    let polls = sim.wait_operation(&r).await;
    assert!(polls >= 1);

    let ex = example("examples/Job_Get.json");
    let r = sim.arm(Method::GET, &path, None).await;
    conforms(&mut sw, &ex, &r, "Jobs.json", JOB_PATH, "get");
    assert_eq!(r.body["properties"]["provisioningState"], "Succeeded");
    assert!(
        r.body["properties"]["configuration"]["secrets"][0]
            .get("value")
            .is_none(),
        "GET never returns secret values"
    );

    let ex = example("examples/Jobs_ListByResourceGroup.json");
    let r = sim
        .arm(
            Method::GET,
            &format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.App/jobs"),
            None,
        )
        .await;
    conforms(
        &mut sw,
        &ex,
        &r,
        "Jobs.json",
        "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.App/jobs",
        "get",
    );
    assert_eq!(r.body["value"][0]["name"], name);

    let ex = example("examples/Jobs_ListBySubscription.json");
    let r = sim
        .arm(
            Method::GET,
            &format!("/subscriptions/{sub}/providers/Microsoft.App/jobs"),
            None,
        )
        .await;
    conforms(
        &mut sw,
        &ex,
        &r,
        "Jobs.json",
        "/subscriptions/{subscriptionId}/providers/Microsoft.App/jobs",
        "get",
    );
    assert_eq!(r.body["value"].as_array().map(Vec::len), Some(1));

    let ex = example("examples/Job_ListSecrets.json");
    let r = sim
        .arm(Method::POST, &format!("{path}/listSecrets"), None)
        .await;
    conforms(
        &mut sw,
        &ex,
        &r,
        "Jobs.json",
        &format!("{JOB_PATH}/listSecrets"),
        "post",
    );
    assert_eq!(r.body["value"][0]["value"], "s3cret");

    let ex = example("examples/Job_Delete.json");
    let r = sim.arm(Method::DELETE, &path, None).await;
    conforms(&mut sw, &ex, &r, "Jobs.json", JOB_PATH, "delete");
    assert_eq!(r.status, 202);
    let location = r.header("location").expect("Location");
    let g = sim.arm(Method::GET, &path, None).await;
    assert!(g.status == 404 || g.body["properties"]["provisioningState"] == "Deleting");
    sim.wait_operation(&r).await;
    let done = sim.arm(Method::GET, &location, None).await;
    assert_eq!(done.status, 200);
    let g = sim.arm(Method::GET, &path, None).await;
    assert_eq!((g.status.as_u16(), g.code()), (404, "ResourceNotFound"));
    let r = sim.arm(Method::DELETE, &path, None).await;
    conforms(&mut sw, &ex, &r, "Jobs.json", JOB_PATH, "delete");
    assert_eq!(r.status, 204);
    sim.shutdown().await;
}

fn fix_resources(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for list in ["containers", "initContainers"] {
                for c in m
                    .get_mut(list)
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    if let Some(n) = c["name"].as_str() {
                        c["name"] = json!(n.to_ascii_lowercase());
                    }
                }
            }
            if let Some(r) = m.get_mut("resources").and_then(Value::as_object_mut)
                && r.get("memory") == Some(&json!("100Mi"))
            {
                r.insert("cpu".into(), json!(0.25));
                r.insert("memory".into(), json!("0.5Gi"));
            }
            m.values_mut().for_each(fix_resources);
        }
        Value::Array(a) => a.iter_mut().for_each(fix_resources),
        _ => {}
    }
}

/// Creates the job of the preview create example (normalised, see top).
async fn create_preview_job(sim: &Sim, sw: &mut Swagger) -> String {
    let ex = example("examples-from-2025-02-02-preview/Job_CreateorUpdate.json");
    let (sub, rg) = (
        param(&ex, "subscriptionId"),
        param(&ex, "resourceGroupName"),
    );
    let name = param(&ex, "jobName").to_ascii_lowercase();
    let env = env_id(sub, rg, "demokube");
    for (storage, body) in [
        (
            "storage",
            json!({"properties": {"azureFile": {"accountName": "account1", "accountKey": "key", "shareName": "share1", "accessMode": "ReadWrite"}}}),
        ),
        (
            "nfsStorage",
            json!({"properties": {"nfsAzureFile": {"server": "server1.file.core.windows.net", "shareName": "/account1/share1", "accessMode": "ReadWrite"}}}),
        ),
    ] {
        let r = sim
            .arm(
                Method::PUT,
                &format!("{env}/storages/{storage}"),
                Some(&body),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let mut envelope = ex["parameters"]["JobEnvelope"].clone();
    fix_resources(&mut envelope);
    envelope["properties"]["template"]["volumes"] =
        ex["responses"]["201"]["body"]["properties"]["template"]["volumes"].clone();
    let path =
        format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.App/jobs/{name}");
    let r = sim.arm(Method::PUT, &path, Some(&envelope)).await;
    conforms(sw, &ex, &r, "Jobs.json", JOB_PATH, "put");
    assert_eq!(r.body["identity"]["type"], "SystemAssigned,UserAssigned");
    assert!(r.body["identity"]["principalId"].is_string());
    sim.wait_operation(&r).await;
    path
}

#[tokio::test]
async fn job_preview_create_example() {
    let sim = Sim::start(fast_config()).await;
    let mut sw = Swagger::new();
    let path = create_preview_job(&sim, &mut sw).await;
    let r = sim
        .arm(
            Method::PUT,
            &path,
            Some(&sim.arm(Method::GET, &path, None).await.body),
        )
        .await;
    assert_eq!(r.status, 200, "an update answers 200: {:?}", r.body);
    sim.shutdown().await;
}

#[tokio::test]
async fn job_start_executions_stop_examples() {
    let sim = Sim::start(fast_config()).await;
    let mut sw = Swagger::new();
    let path = create_preview_job(&sim, &mut sw).await;

    let ex = example("examples-from-2025-02-02-preview/Job_Start.json");
    let mut template = ex["parameters"]["template"].clone();
    fix_resources(&mut template);
    let r = sim
        .arm(Method::POST, &format!("{path}/start"), Some(&template))
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    conforms(
        &mut sw,
        &ex,
        &Resp {
            body: Value::Null,
            status: r.status,
            headers: r.headers.clone(),
        },
        "Jobs.json",
        &format!("{JOB_PATH}/start"),
        "post",
    );
    assert!(r.header("location").is_some());
    // The 202 also carries the execution's {id, name} as the example's body shows.
    let base = sw.definition(&app_spec("Jobs.json"), "JobExecutionBase");
    assert_eq!(errors(&base, &r.body), Vec::<String>::new());
    let exec = r.body["name"].as_str().expect("execution name").to_string();
    assert!(exec.starts_with("testcontainerappsjob0-"));
    assert_eq!(r.body["id"], format!("{path}/executions/{exec}"));
    let location = r.header("location").expect("Location");
    let mut result = sim.arm(Method::GET, &location, None).await;
    for _ in 0..200 {
        if result.status != 202 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        result = sim.arm(Method::GET, &location, None).await;
    }
    assert_eq!(result.status, 200);
    assert_eq!(result.body["name"], exec.as_str());

    let ex = example("examples-from-2025-02-02-preview/Job_Executions_Get.json");
    let r = sim
        .arm(Method::GET, &format!("{path}/executions"), None)
        .await;
    conforms(
        &mut sw,
        &ex,
        &r,
        "Jobs.json",
        &format!("{JOB_PATH}/executions"),
        "get",
    );
    assert_eq!(r.body["value"][0]["name"], exec.as_str());
    // The override's containers replaced the job's (whose image is `:v1`).
    assert_eq!(
        r.body["value"][0]["properties"]["template"]["containers"][0]["image"],
        "repo/testcontainerAppsJob0:v4"
    );

    let ex = example("examples/Job_Execution_Get.json");
    let r = sim
        .arm(Method::GET, &format!("{path}/executions/{exec}"), None)
        .await;
    conforms(
        &mut sw,
        &ex,
        &r,
        "Jobs.json",
        &format!("{JOB_PATH}/executions/{{jobExecutionName}}"),
        "get",
    );
    let status = r.body["properties"]["status"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        ["Processing", "Running", "Failed"].contains(&status.as_str()),
        "{status}"
    );

    let ex = example("examples-from-2025-02-02-preview/Job_Stop_Execution.json");
    let r = sim
        .arm(
            Method::POST,
            &format!("{path}/executions/{exec}/stop"),
            None,
        )
        .await;
    conforms(
        &mut sw,
        &ex,
        &r,
        "Jobs.json",
        &format!("{JOB_PATH}/executions/{{jobExecutionName}}/stop"),
        "post",
    );
    assert!(r.header("location").is_some());

    let r = sim.arm(Method::POST, &format!("{path}/stop"), None).await;
    assert_eq!(r.status, 202);
    sim.wait_operation(&r).await;
    let result = sim
        .arm(Method::GET, &r.header("location").expect("Location"), None)
        .await;
    let schema = sw
        .response_schema(
            &app_spec("Jobs.json"),
            &format!("{JOB_PATH}/stop"),
            "post",
            "200",
        )
        .expect("schema");
    assert_eq!(errors(&schema, &result.body), Vec::<String>::new());
    sim.shutdown().await;
}
