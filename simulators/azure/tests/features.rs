//! Long-running operations, PATCH, fault injection, the request log, file
//! shares, and the Log Analytics API surface.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};
use sockerless_azure_sim::FaultConfig;

#[tokio::test]
async fn operations_need_the_configured_polls() {
    let mut cfg = fast_config();
    cfg.faults = FaultConfig {
        lro_delay_ms: 0,
        lro_polls: 3,
        ..FaultConfig::default()
    };
    let sim = Sim::start(cfg).await;
    let r = sim
        .arm(
            Method::PUT,
            &job_path("polled"),
            Some(&job_body("busybox", &["true"])),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.header("retry-after").as_deref(), Some("0"));
    // No number of GETs on the job completes it: only status polls count.
    for _ in 0..5 {
        let g = sim.arm(Method::GET, &job_path("polled"), None).await;
        assert_eq!(g.body["properties"]["provisioningState"], "InProgress");
    }
    assert_eq!(sim.wait_operation(&r).await, 3);
    let g = sim.arm(Method::GET, &job_path("polled"), None).await;
    assert_eq!(g.body["properties"]["provisioningState"], "Succeeded");

    // PATCH: 202, InProgress again, tags merged in.
    let p = sim.arm(Method::PATCH, &job_path("polled"), Some(&json!({"tags": {"a": "b"}, "properties": {"configuration": {"replicaTimeout": 30}}}))).await;
    assert_eq!(p.status, 202);
    let g = sim.arm(Method::GET, &job_path("polled"), None).await;
    assert_eq!(g.body["properties"]["provisioningState"], "InProgress");
    assert_eq!(g.body["tags"]["a"], "b");
    assert_eq!(g.body["properties"]["configuration"]["replicaTimeout"], 30);
    assert_eq!(
        g.body["properties"]["configuration"]["triggerType"],
        "Manual"
    );
    sim.wait_operation(&p).await;
    let bad = sim
        .arm(
            Method::PATCH,
            &job_path("polled"),
            Some(&json!({"properties": {"configuration": {"replicaTimeout": -5}}})),
        )
        .await;
    assert_eq!(
        (bad.status.as_u16(), bad.code()),
        (400, "InvalidParameterValue")
    );

    // DELETE: the job stays (Deleting) until its operation is done.
    let d = sim.arm(Method::DELETE, &job_path("polled"), None).await;
    assert_eq!(d.status, 202);
    let location = d.header("location").expect("Location");
    let first = sim.arm(Method::GET, &location, None).await;
    assert_eq!(first.status, 202);
    let g = sim.arm(Method::GET, &job_path("polled"), None).await;
    assert_eq!(g.body["properties"]["provisioningState"], "Deleting");
    let mut last = first;
    for _ in 0..5 {
        last = sim.arm(Method::GET, &location, None).await;
        if last.status != 202 {
            break;
        }
    }
    assert_eq!(last.status, 200);
    assert_eq!(
        sim.arm(Method::GET, &job_path("polled"), None).await.status,
        404
    );
    let r = sim.arm(Method::GET, &format!("/subscriptions/{SUB}/providers/Microsoft.App/locations/eastus/containerappOperationStatuses/nope"), None).await;
    assert_eq!((r.status.as_u16(), r.code()), (404, "OperationNotFound"));
    sim.shutdown().await;
}

#[tokio::test]
async fn operations_take_the_configured_time() {
    let mut cfg = fast_config();
    cfg.faults.lro_delay_ms = 60_000;
    let sim = Sim::start(cfg).await;
    let r = sim
        .arm(
            Method::PUT,
            &job_path("slow"),
            Some(&job_body("busybox", &["true"])),
        )
        .await;
    assert_eq!(r.header("retry-after").as_deref(), Some("60"));
    for _ in 0..3 {
        let s = sim
            .arm(
                Method::GET,
                &r.header("azure-asyncoperation").expect("header"),
                None,
            )
            .await;
        assert_eq!(s.body["status"], "InProgress");
        assert!(s.header("retry-after").is_some());
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn faults_request_ids_and_request_log() {
    let sim = Sim::start(fast_config()).await;
    let faults = format!("{}/_sim/faults", sim.base);
    let r = sim
        .http
        .put(&faults)
        .json(&json!({"rate429": 0.5, "retryAfterSecs": 7}))
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), 200);
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let r = sim.arm(Method::GET, &job_path("ghost"), None).await;
        if r.status == 429 {
            assert_eq!(r.header("retry-after").as_deref(), Some("7"));
            assert_eq!(r.code(), "TooManyRequests");
        }
        statuses.push(r.status.as_u16());
    }
    assert_eq!(statuses, vec![404, 429, 404, 429]);
    sim.http
        .put(&faults)
        .json(&json!({"rate500": 1.0}))
        .send()
        .await
        .expect("put");
    let r = sim.arm(Method::GET, &job_path("ghost"), None).await;
    assert_eq!((r.status.as_u16(), r.code()), (500, "InternalServerError"));
    let r = sim
        .http
        .put(&faults)
        .json(&json!({"rate500": 2.0}))
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), 400);
    sim.http
        .put(&faults)
        .json(&json!({}))
        .send()
        .await
        .expect("put");
    let current: Value = sim
        .http
        .get(&faults)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(current["rate500"], 0.0);

    // Request IDs and correlation.
    let r = sim
        .http
        .get(format!("{}{}?{API}", sim.base, job_path("ghost")))
        .bearer_auth(&sim.arm_token)
        .header("x-ms-correlation-request-id", "corr-1")
        .send()
        .await
        .expect("get");
    assert_eq!(r.headers()["x-ms-correlation-request-id"], "corr-1");
    assert!(r.headers().contains_key("x-ms-request-id"));

    // The request log counts ARM calls and hides secrets.
    let log = format!("{}/_sim/requests", sim.base);
    assert_eq!(
        sim.http.delete(&log).send().await.expect("delete").status(),
        204
    );
    let mut body = job_body("busybox", &["true"]);
    body["properties"]["configuration"]["secrets"] = json!([{"name": "pw", "value": "hunter2"}]);
    create_job(&sim, "logged", &body).await;
    let entries: Vec<Value> = sim
        .http
        .get(&log)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let puts: Vec<&Value> = entries.iter().filter(|e| e["method"] == "PUT").collect();
    assert_eq!(puts.len(), 1);
    assert_eq!(puts[0]["apiVersion"], "2025-01-01");
    assert_eq!(puts[0]["status"], 201);
    // Arrival time, RFC 3339 UTC with microseconds (`cargo xtask bench` places calls by it).
    assert!(
        puts[0]["time"]
            .as_str()
            .is_some_and(|t| t.len() == "2026-01-01T00:00:00.000000Z".len() && t.ends_with('Z')),
        "{}",
        puts[0]
    );
    assert_eq!(
        puts[0]["body"]["properties"]["configuration"]["secrets"][0]["value"],
        "<redacted>"
    );
    assert!(
        !serde_json::to_string(&entries)
            .expect("json")
            .contains("hunter2")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn failing_methods_fail_every_such_call_until_cleared() {
    let sim = Sim::start(fast_config()).await;
    let faults = format!("{}/_sim/faults", sim.base);
    let set = |body: Value| {
        let (http, faults) = (sim.http.clone(), faults.clone());
        async move {
            let r = http.put(&faults).json(&body).send().await.expect("put");
            assert_eq!(r.status(), 200);
        }
    };
    set(json!({"failMethods": ["DELETE"]})).await;
    for _ in 0..3 {
        let r = sim.arm(Method::DELETE, &job_path("ghost"), None).await;
        assert_eq!((r.status.as_u16(), r.code()), (500, "InternalServerError"));
    }
    let r = sim.arm(Method::GET, &job_path("ghost"), None).await;
    assert_eq!(r.status.as_u16(), 404, "other methods go through");
    set(json!({})).await;
    let r = sim.arm(Method::DELETE, &job_path("ghost"), None).await;
    assert_ne!(r.status.as_u16(), 500, "cleared");
}

#[tokio::test]
async fn latency_is_added() {
    let mut cfg = fast_config();
    cfg.faults.latency_ms = 300;
    let sim = Sim::start(cfg).await;
    let t = std::time::Instant::now();
    sim.arm(Method::GET, &job_path("ghost"), None).await;
    assert!(t.elapsed() >= std::time::Duration::from_millis(300));
    sim.shutdown().await;
}

#[tokio::test]
async fn file_shares() {
    let sim = Sim::start(fast_config()).await;
    let v = "api-version=2024-01-01";
    let base = format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Storage/storageAccounts/simacct/fileServices/default/shares"
    );
    let r = sim
        .arm(
            Method::PUT,
            &format!("{base}/data?{v}"),
            Some(&json!({"properties": {"metadata": {"owner": "me"}, "shareQuota": 10}})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["properties"]["metadata"]["owner"], "me");
    assert_eq!(
        r.body["type"],
        "Microsoft.Storage/storageAccounts/fileServices/shares"
    );
    let dir = sim
        .sim
        .as_ref()
        .expect("sim")
        .data_dir()
        .join("fileshares/simacct/data");
    assert!(dir.is_dir());
    std::fs::write(dir.join("f"), "x").expect("write");
    let r = sim
        .arm(
            Method::PUT,
            &format!("{base}/data?{v}"),
            Some(&json!({"properties": {"metadata": {"owner": "you"}}})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["properties"]["shareQuota"], 10);
    assert!(dir.join("f").exists(), "updating a share keeps its data");
    let r = sim
        .arm(Method::PUT, &format!("{base}/other?{v}"), Some(&json!({})))
        .await;
    assert_eq!(r.status, 201);
    let r = sim.arm(Method::GET, &format!("{base}?{v}"), None).await;
    assert_eq!(r.body["value"].as_array().map(Vec::len), Some(2));
    let r = sim
        .arm(Method::GET, &format!("{base}?{v}&$maxpagesize=1"), None)
        .await;
    assert_eq!(r.body["value"].as_array().map(Vec::len), Some(1));
    let r = sim
        .arm(Method::GET, &format!("{base}/data?{v}"), None)
        .await;
    assert_eq!(r.body["properties"]["metadata"]["owner"], "you");
    for (name, code) in [
        ("Bad", "InvalidResourceName"),
        ("a--b", "InvalidResourceName"),
        ("ab", "InvalidResourceName"),
    ] {
        let r = sim
            .arm(Method::PUT, &format!("{base}/{name}?{v}"), Some(&json!({})))
            .await;
        assert_eq!((r.status.as_u16(), r.code()), (400, code), "{name}");
    }
    let r = sim
        .arm(
            Method::PUT,
            &format!("{base}/q?{v}"),
            Some(&json!({"properties": {"shareQuota": 0}})),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = sim
        .arm(
            Method::PUT,
            &format!("{base}/qq1?{v}"),
            Some(&json!({"properties": {"metadata": {"bad-key": "x"}}})),
        )
        .await;
    assert_eq!(r.status, 400);
    let bad_acct = format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Storage/storageAccounts/Bad_Acct/fileServices/default/shares/data?{v}"
    );
    let r = sim.arm(Method::PUT, &bad_acct, Some(&json!({}))).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "AccountNameInvalid"));
    let r = sim
        .arm(
            Method::PUT,
            &format!("{base}/data?api-version=2025-01-01"),
            Some(&json!({})),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "InvalidApiVersionParameter")
    );
    assert_eq!(
        sim.arm(Method::DELETE, &format!("{base}/data?{v}"), None)
            .await
            .status,
        200
    );
    assert!(!dir.exists());
    assert_eq!(
        sim.arm(Method::DELETE, &format!("{base}/data?{v}"), None)
            .await
            .status,
        204
    );
    let r = sim
        .arm(Method::GET, &format!("{base}/data?{v}"), None)
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (404, "ResourceNotFound"));
    sim.shutdown().await;
}

#[tokio::test]
async fn environment_storage_validation() {
    let sim = Sim::start(fast_config()).await;
    let item = format!("{}/storages/s1", env_id(SUB, RG, ENV));
    for body in [
        json!({}),
        json!({"properties": {}}),
        json!({"properties": {"azureFile": {"accountName": "a", "shareName": "s", "accessMode": "ReadWrite"}}}),
        json!({"properties": {"azureFile": {"accountName": "a", "accountKey": "k", "shareName": "s", "accessMode": "Sometimes"}}}),
    ] {
        let r = sim.arm(Method::PUT, &item, Some(&body)).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (400, "InvalidParameterValue"),
            "{body}"
        );
    }
    let r = sim
        .arm(
            Method::GET,
            &format!("{}/storages/s1", env_id(SUB, RG, "no-env")),
            None,
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (404, "ResourceNotFound"));
    sim.shutdown().await;
}

#[tokio::test]
async fn log_analytics_api_surface() {
    let sim = Sim::start(fast_config()).await;
    let token = sim
        .token(
            "https://api.loganalytics.io/.default",
            "sockerless-sim-secret",
        )
        .await;
    let url = format!("/v1/workspaces/{WORKSPACE}/query");
    let q = |query: &str| json!({"query": query});
    let r = sim
        .call(
            Method::POST,
            &url,
            None,
            Some(&q("ContainerAppConsoleLogs_CL")),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (401, "AuthorizationRequiredError")
    );
    let r = sim
        .call(
            Method::POST,
            &url,
            Some(&sim.arm_token.clone()),
            Some(&q("ContainerAppConsoleLogs_CL")),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "InvalidTokenError"));
    let r = sim
        .call(
            Method::POST,
            "/v1/workspaces/11111111-2222-3333-4444-555555555555/query",
            Some(&token),
            Some(&q("ContainerAppConsoleLogs_CL")),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (404, "WorkspaceNotFoundError")
    );
    let r = sim
        .call(
            Method::POST,
            &url,
            Some(&token),
            Some(&q(
                "ContainerAppConsoleLogs_CL | take 5 | project TimeGenerated, Log_s",
            )),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["tables"][0]["name"], "PrimaryResult");
    assert_eq!(
        r.body["tables"][0]["columns"],
        json!([{"name": "TimeGenerated", "type": "datetime"}, {"name": "Log_s", "type": "string"}])
    );
    assert_eq!(r.body["tables"][0]["rows"], json!([]));
    let r = sim
        .call(
            Method::GET,
            &format!("{url}?query=ContainerAppConsoleLogs_CL&timespan=PT1H"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    for (query, inner) in [
        (
            "ContainerAppConsoleLogs_CL | summarize count()",
            "SyntaxError",
        ),
        (
            "ContainerAppConsoleLogs_CL | where Log_s contains 'x'",
            "SyntaxError",
        ),
        ("Other_CL | take 1", "SemanticError"),
        (
            "ContainerAppConsoleLogs_CL | where Nope_s == 'x'",
            "SemanticError",
        ),
        (
            "ContainerAppConsoleLogs_CL | where Log_s > 'x'",
            "SemanticError",
        ),
        (
            "ContainerAppConsoleLogs_CL | where TimeGenerated > 'x'",
            "SemanticError",
        ),
        (
            "ContainerAppConsoleLogs_CL | project Log_s | where Stream_s == 'x'",
            "SemanticError",
        ),
    ] {
        let r = sim
            .call(Method::POST, &url, Some(&token), Some(&q(query)))
            .await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (400, "BadArgumentError"),
            "{query}"
        );
        assert_eq!(r.body["error"]["innererror"]["code"], inner, "{query}");
    }
    let r = sim
        .call(
            Method::POST,
            &url,
            Some(&token),
            Some(&json!({"query": "ContainerAppConsoleLogs_CL", "timespan": "yesterday"})),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = sim
        .call(
            Method::POST,
            &url,
            Some(&token),
            Some(&json!({"timespan": "PT1H"})),
        )
        .await;
    assert_eq!(r.status, 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn only_loopback_listeners() {
    let mut cfg = fast_config();
    cfg.listen = "0.0.0.0:0".parse().expect("addr");
    assert!(matches!(
        sockerless_azure_sim::Simulator::start(cfg).await,
        Err(sockerless_azure_sim::SimError::NotLoopback(_))
    ));
}

/// The jobs list comes in pages of `JOBS_PAGE_SIZE` linked by `nextLink`
/// (an absolute URL on the emulator, with the api-version): following the
/// links gives every job once, in order.
#[tokio::test]
async fn job_lists_are_paged_by_next_link() {
    let sim = Sim::start(fast_config()).await;
    let count = sockerless_azure_sim::arm::jobs::JOBS_PAGE_SIZE * 2 + 3;
    for i in 0..count {
        create_job(
            &sim,
            &format!("paged-{i:03}"),
            &job_body("busybox", &["true"]),
        )
        .await;
    }
    let mut url = format!("/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.App/jobs");
    let (mut names, mut pages) = (Vec::new(), 0);
    loop {
        let r = sim.arm(Method::GET, &url, None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        pages += 1;
        for job in r.body["value"].as_array().expect("value") {
            names.push(job["name"].as_str().expect("name").to_owned());
        }
        match r.body["nextLink"].as_str() {
            Some(link) => {
                assert!(link.starts_with(&sim.base), "{link}");
                assert!(link.contains("api-version=2025-01-01"), "{link}");
                url = link.to_owned();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..count).map(|i| format!("paged-{i:03}")).collect();
    assert_eq!(names, expected);
    sim.shutdown().await;
}
