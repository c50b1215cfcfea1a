//! Every validation rule, with the error code the emulator answers.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

async fn put_code(sim: &Sim, name: &str, body: &Value) -> (u16, String) {
    let r = sim.arm(Method::PUT, &job_path(name), Some(body)).await;
    (r.status.as_u16(), r.code().to_string())
}

/// Asserts that PUT of `body` as job `name` answers 400 with `code`.
async fn expect_code(sim: &Sim, name: &str, body: &Value, code: &str) {
    assert_eq!(put_code(sim, name, body).await, (400, code.to_string()));
}

fn valid() -> Value {
    job_body("busybox", &["true"])
}

fn with(mut body: Value, pointer: &str, value: Value) -> Value {
    *body
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer}")) = value;
    body
}

#[tokio::test]
async fn job_names() {
    let sim = Sim::start(fast_config()).await;
    for bad in [
        "a",
        "1job",
        "job-",
        "my--job",
        "MyJob",
        "my_job",
        "abcdefghijabcdefghijabcdefghijabc",
    ] {
        assert_eq!(
            put_code(&sim, bad, &valid()).await,
            (400, "ContainerAppInvalidName".into()),
            "{bad}"
        );
    }
    for good in ["ab", "a-1", "abcdefghijabcdefghijabcdefghijab"] {
        assert_eq!(put_code(&sim, good, &valid()).await.0, 201, "{good}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn cpu_memory_pairs() {
    let sim = Sim::start(fast_config()).await;
    let res = "/properties/template/containers/0/resources";
    // The seeded environment has workload profiles: its Consumption
    // profile takes pairs up to 4 vCPU / 8Gi.
    for (cpu, mem) in [
        (0.2, "100Mi"),
        (0.5, "2Gi"),
        (4.25, "8.5Gi"),
        (0.25, "1Gi"),
        (0.1, "0.2Gi"),
    ] {
        let body = with(valid(), res, json!({"cpu": cpu, "memory": mem}));
        assert_eq!(
            put_code(&sim, "pairs", &body).await,
            (400, "ContainerAppInvalidResourceTotal".into()),
            "{cpu}/{mem}"
        );
    }
    // An init container is sized on its own (they run one after another).
    let mut init = valid();
    init["properties"]["template"]["initContainers"] =
        json!([{"name": "init", "image": "busybox", "resources": {"cpu": 0.3, "memory": "0.6Gi"}}]);
    expect_code(
        &sim,
        "pairs-init",
        &init,
        "ContainerAppInvalidResourceTotal",
    )
    .await;
    init["properties"]["template"]["initContainers"][0]["resources"] =
        json!({"cpu": 4.0, "memory": "8Gi"});
    assert_eq!(put_code(&sim, "pairs-init", &init).await.0, 201);
    let body = with(valid(), res, json!({"cpu": 0.25, "memory": "lots"}));
    // (a memory string that does not parse is a bad value, not a bad total)
    expect_code(&sim, "pairs", &body, "InvalidParameterValue").await;
    // The sum over containers counts: two 0.25/0.5Gi containers make 0.5/1Gi.
    let mut two = valid();
    let c = two["properties"]["template"]["containers"][0].clone();
    let mut c2 = c.clone();
    c2["name"] = json!("side");
    two["properties"]["template"]["containers"] = json!([c, c2]);
    // Each update waits for the last: a PUT during one is a lock conflict.
    assert_eq!(create_job(&sim, "pairs", &two).await.status, 201);
    for (cpu, mem) in [
        (0.25, "0.5Gi"),
        (0.75, "1.5Gi"),
        (1.0, "2Gi"),
        (2.0, "4Gi"),
        (0.5, "1024Mi"),
        (2.25, "4.5Gi"),
        (3.0, "6Gi"),
        (4.0, "8.0Gi"),
    ] {
        let body = with(valid(), res, json!({"cpu": cpu, "memory": mem}));
        assert_eq!(
            create_job(&sim, "pairs", &body).await.status,
            200,
            "{cpu}/{mem}"
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn tag_limits() {
    let sim = Sim::start(fast_config()).await;
    let many: serde_json::Map<String, Value> =
        (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
    let body = with(valid(), "/location", json!("eastus"));
    let mut b = body.clone();
    b["tags"] = Value::Object(many);
    expect_code(&sim, "tags", &b, "InvalidTagsCount").await;
    let mut b = body.clone();
    b["tags"] = json!({ "k".repeat(513): "v" });
    expect_code(&sim, "tags", &b, "InvalidTagNameLength").await;
    let mut b = body.clone();
    b["tags"] = json!({ "k": "v".repeat(257) });
    expect_code(&sim, "tags", &b, "InvalidTagValueLength").await;
    let mut b = body;
    let fifty: serde_json::Map<String, Value> = (0..50)
        .map(|i| (format!("k{i}"), json!("v".repeat(256))))
        .collect();
    b["tags"] = Value::Object(fifty);
    assert_eq!(put_code(&sim, "tags", &b).await.0, 201);
    sim.shutdown().await;
}

#[tokio::test]
async fn required_properties_and_enums() {
    let sim = Sim::start(fast_config()).await;
    let mut no_location = valid();
    no_location
        .as_object_mut()
        .expect("object")
        .remove("location");
    expect_code(&sim, "req", &no_location, "LocationRequired").await;
    const IPV: &str = "InvalidParameterValue";
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "/properties/configuration/triggerType",
            json!("Sometimes"),
            IPV,
        ),
        ("/properties/configuration/triggerType", Value::Null, IPV),
        ("/properties/configuration/replicaTimeout", Value::Null, IPV),
        ("/properties/configuration/replicaTimeout", json!(0), IPV),
        (
            "/properties/configuration/replicaRetryLimit",
            json!(-1),
            IPV,
        ),
        ("/properties/template/containers", json!([]), IPV),
        (
            "/properties/template/containers/0/image",
            json!(""),
            "ContainerAppImageRequired",
        ),
        ("/properties/template/containers/0/name", Value::Null, IPV),
        (
            "/properties/environmentId",
            json!(""),
            "InvalidManagedEnvironmentId",
        ),
        (
            "/properties/configuration/triggerType",
            json!("Schedule"),
            IPV,
        ),
        ("/properties/configuration/triggerType", json!("Event"), IPV),
    ];
    for (pointer, value, code) in cases {
        let body = with(valid(), pointer, value.clone());
        assert_eq!(
            put_code(&sim, "req", &body).await,
            (400, code.into()),
            "{pointer} = {value}"
        );
    }
    let mut body = valid();
    body["properties"]["configuration"]["triggerType"] = json!("Schedule");
    body["properties"]["configuration"]["scheduleTriggerConfig"] =
        json!({"cronExpression": "*/5 * * * *"});
    assert_eq!(put_code(&sim, "sched", &body).await.0, 201);
    let mut body = valid();
    body["properties"]["template"]["volumes"] = json!([{"name": "v", "storageType": "Tape"}]);
    expect_code(&sim, "req", &body, "InvalidParameterValue").await;
    let mut body = valid();
    body["properties"]["configuration"]["identitySettings"] =
        json!([{"identity": "system", "lifecycle": "Sometimes"}]);
    expect_code(&sim, "req", &body, "InvalidParameterValue").await;
    let body = with(
        valid(),
        "/properties/configuration/replicaTimeout",
        json!("ten"),
    );
    expect_code(&sim, "req", &body, "InvalidRequestContent").await;
    let body = with(
        valid(),
        "/properties/template/containers/0/command",
        json!("true"),
    );
    expect_code(&sim, "req", &body, "InvalidRequestContent").await;
    let r = sim
        .http
        .put(format!("{}{}?{API}", sim.base, job_path("req")))
        .bearer_auth(&sim.arm_token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"]["code"], "InvalidRequestContent");
    sim.shutdown().await;
}

#[tokio::test]
async fn references_to_secrets_volumes_storages_environments() {
    let sim = Sim::start(fast_config()).await;
    let mut b = valid();
    b["properties"]["template"]["containers"][0]["env"] =
        json!([{"name": "X", "secretRef": "missing"}]);
    expect_code(&sim, "refs", &b, "InvalidParameterValue").await;
    let mut b = valid();
    b["properties"]["template"]["containers"][0]["env"] =
        json!([{"name": "X", "value": "a", "secretRef": "s"}]);
    b["properties"]["configuration"]["secrets"] = json!([{"name": "s", "value": "v"}]);
    expect_code(&sim, "refs", &b, "InvalidParameterValue").await;
    let mut b = valid();
    b["properties"]["configuration"]["registries"] =
        json!([{"server": "r.azurecr.io", "username": "u", "passwordSecretRef": "nope"}]);
    expect_code(&sim, "refs", &b, "InvalidParameterValue").await;
    let mut b = valid();
    b["properties"]["configuration"]["secrets"] = json!([{"name": "Bad_Name", "value": "v"}]);
    expect_code(&sim, "refs", &b, "ContainerAppInvalidPropertyValue").await;
    // Container names are RFC 1123 labels.
    for bad in ["Main", "main_1", "-main", "main-", &"m".repeat(64)] {
        let b = with(
            valid(),
            "/properties/template/containers/0/name",
            json!(bad),
        );
        assert_eq!(
            put_code(&sim, "refs", &b).await,
            (400, "ContainerAppInvalidPropertyValue".into()),
            "{bad}"
        );
    }
    let mut b = valid();
    b["properties"]["configuration"]["secrets"] = json!([{"name": "novalue"}]);
    expect_code(&sim, "refs", &b, "InvalidParameterValue").await;
    let mut b = valid();
    b["properties"]["template"]["containers"][0]["volumeMounts"] =
        json!([{"volumeName": "ghost", "mountPath": "/x"}]);
    expect_code(&sim, "refs", &b, "InvalidParameterValue").await;
    let mut b = valid();
    b["properties"]["template"]["volumes"] =
        json!([{"name": "f", "storageType": "AzureFile", "storageName": "nostorage"}]);
    expect_code(&sim, "refs", &b, "InvalidParameterValue").await;
    let mut b = valid();
    b["properties"]["template"]["volumes"] = json!([{"name": "e", "storageType": "EmptyDir"}]);
    b["properties"]["template"]["containers"][0]["volumeMounts"] =
        json!([{"volumeName": "e", "mountPath": "relative"}]);
    expect_code(&sim, "refs", &b, "InvalidParameterValue").await;
    let b = with(
        valid(),
        "/properties/environmentId",
        json!(env_id(SUB, RG, "no-such-env")),
    );
    assert_eq!(
        put_code(&sim, "refs", &b).await,
        (404, "ManagedEnvironmentNotFound".into())
    );
    // environmentId cannot change after creation.
    let other = env_id("34adfa4f-cedf-4dc0-ba29-b6d1a69ab345", "rg", "demokube");
    create_job(&sim, "moving", &valid()).await;
    let b = with(valid(), "/properties/environmentId", json!(other));
    expect_code(&sim, "moving", &b, "InvalidParameterValue").await;
    sim.shutdown().await;
}

#[tokio::test]
async fn api_version_and_authentication() {
    let sim = Sim::start(fast_config()).await;
    let path = job_path("auth");
    let r = sim
        .call(Method::GET, &path, Some(&sim.arm_token.clone()), None)
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "MissingApiVersionParameter")
    );
    let r = sim
        .call(
            Method::GET,
            &format!("{path}?api-version=2024-03-01"),
            Some(&sim.arm_token.clone()),
            None,
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "InvalidApiVersionParameter")
    );
    let r = sim
        .call(Method::GET, &format!("{path}?{API}"), None, None)
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (401, "AuthenticationFailed"));
    assert!(r.header("www-authenticate").is_some());
    let r = sim
        .call(
            Method::GET,
            &format!("{path}?{API}"),
            Some("not.a.token"),
            None,
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (401, "InvalidAuthenticationToken")
    );
    let la = sim
        .token(
            "https://api.loganalytics.io/.default",
            "sockerless-sim-secret",
        )
        .await;
    let r = sim
        .call(Method::GET, &format!("{path}?{API}"), Some(&la), None)
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (401, "InvalidAuthenticationTokenAudience")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn not_found_codes_and_conflicts() {
    let sim = Sim::start(fast_config()).await;
    let r = sim.arm(Method::GET, &job_path("ghost"), None).await;
    assert_eq!((r.status.as_u16(), r.code()), (404, "ResourceNotFound"));
    let r = sim
        .arm(
            Method::PATCH,
            &job_path("ghost"),
            Some(&json!({"tags": {}})),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (404, "ResourceNotFound"));
    let r = sim.arm(Method::DELETE, &job_path("ghost"), None).await;
    assert_eq!(r.status, 204);
    let r = sim
        .arm(Method::POST, &format!("{}/start", job_path("ghost")), None)
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (404, "JobNotFound"));
    let r = sim
        .arm(
            Method::GET,
            &format!("{}/executions", job_path("ghost")),
            None,
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (404, "JobNotFound"));
    // Start before provisioning finished.
    let mut slow = fast_config();
    slow.faults.lro_polls = 1;
    let sim2 = Sim::start(slow).await;
    let r = sim2
        .arm(Method::PUT, &job_path("early"), Some(&valid()))
        .await;
    assert_eq!(r.status, 201);
    let s = sim2
        .arm(Method::POST, &format!("{}/start", job_path("early")), None)
        .await;
    assert_eq!((s.status.as_u16(), s.code()), (409, "JobNotReady"));
    sim2.wait_operation(&r).await;
    let r = sim2
        .arm(
            Method::GET,
            &format!("{}/executions/early-nothere", job_path("early")),
            None,
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (404, "JobExecutionNotFound"));
    let r = sim2
        .arm(
            Method::GET,
            &format!("{}/executions?$filter=name eq 'x'", job_path("early")),
            None,
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "InvalidFilter"));
    // Start override validation (the rest in spec_examples.rs).
    let over = json!({"containers": [{"name": "main", "image": "busybox", "resources": {"cpu": 0.3, "memory": "0.6Gi"}}]});
    let r = sim2
        .arm(
            Method::POST,
            &format!("{}/start", job_path("early")),
            Some(&over),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "ContainerAppInvalidResourceTotal")
    );
    sim2.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn token_endpoints_reject_bad_credentials() {
    let sim = Sim::start(fast_config()).await;
    let url = format!("{}/t/oauth2/v2.0/token", sim.base);
    let form = |secret: &'static str, grant: &'static str, scope: &'static str| {
        vec![
            ("grant_type", grant),
            ("client_id", "c"),
            ("client_secret", secret),
            ("scope", scope),
        ]
    };
    for (f, status, error) in [
        (
            form(
                "wrong",
                "client_credentials",
                "https://management.azure.com/.default",
            ),
            401,
            "invalid_client",
        ),
        (
            form(
                "sockerless-sim-secret",
                "password",
                "https://management.azure.com/.default",
            ),
            400,
            "unsupported_grant_type",
        ),
        (
            form(
                "sockerless-sim-secret",
                "client_credentials",
                "https://management.azure.com",
            ),
            400,
            "invalid_scope",
        ),
    ] {
        let r = sim.http.post(&url).form(&f).send().await.expect("send");
        assert_eq!(r.status(), status);
        let v: Value = r.json().await.expect("json");
        assert_eq!(v["error"], error);
    }
    // Managed identity shape.
    let msi = format!(
        "{}/msi/token?resource=https://management.azure.com/&api-version=2019-08-01",
        sim.base
    );
    let r = sim.http.get(&msi).send().await.expect("send");
    assert_eq!(r.status(), 401);
    let r = sim
        .http
        .get(&msi)
        .header("X-IDENTITY-HEADER", "sockerless-sim-identity")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["resource"], "https://management.azure.com/");
    assert_eq!(v["token_type"], "Bearer");
    assert!(
        v["expires_on"]
            .as_str()
            .is_some_and(|e| e.parse::<i64>().is_ok())
    );
    let token = v["access_token"].as_str().expect("token").to_string();
    let r = sim
        .call(
            Method::GET,
            &format!("{}?{API}", job_path("ghost")),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 404, "a managed identity token works on ARM");
    sim.shutdown().await;
}

/// Names the emulator turns into host paths (volume, storage account, share,
/// NFS server) are validated as Azure does, so none reaches outside the data
/// dir: each attempt is a 400 and the data dir's parent gains nothing.
#[tokio::test]
async fn names_cannot_escape_the_data_dir() {
    let parent = std::env::temp_dir().join(format!("sim-escape-{}", std::process::id()));
    let data = parent.join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let sim = Sim::start(sockerless_azure_sim::SimConfig {
        data_dir: Some(data.clone()),
        ..fast_config()
    })
    .await;
    let storage = |props: Value| json!({"properties": props});
    let storages = [
        storage(
            json!({"azureFile": {"accountName": "simaccount", "accountKey": "k", "shareName": "..", "accessMode": "ReadWrite"}}),
        ),
        storage(
            json!({"azureFile": {"accountName": "../../x", "accountKey": "k", "shareName": "share", "accessMode": "ReadWrite"}}),
        ),
        storage(json!({"nfsAzureFile": {"server": "../../etc", "shareName": "/acct/share"}})),
        storage(
            json!({"nfsAzureFile": {"server": "acct.file.core.windows.net", "shareName": "/../../x"}}),
        ),
    ];
    for (i, body) in storages.iter().enumerate() {
        let item = format!("{}/storages/esc{i}", env_id(SUB, RG, ENV));
        let r = sim.arm(Method::PUT, &item, Some(body)).await;
        assert_eq!(r.status.as_u16(), 400, "{body}: {:?}", r.body);
    }
    for name in ["../x", "..", "a/b", "Upper", "-x"] {
        let mut b = valid();
        b["properties"]["template"]["volumes"] = json!([{"name": name, "storageType": "EmptyDir"}]);
        let (status, code) = put_code(&sim, "escape", &b).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "ContainerAppInvalidPropertyValue"),
            "{name}"
        );
    }
    let mut b = valid();
    b["properties"]["template"]["volumes"] = json!([{"name": "ok-1", "storageType": "EmptyDir"}]);
    assert_eq!(put_code(&sim, "escape", &b).await.0, 201);
    sim.shutdown().await;
    let entries: Vec<String> = std::fs::read_dir(&parent)
        .expect("read parent")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        entries,
        vec!["data".to_string()],
        "created beside the data dir"
    );
    let _ = std::fs::remove_dir_all(&parent);
}
