//! Azure's less pleasant answers: the job lock (409
//! `ContainerAppLockConflict`), operations that end `Failed` or `Canceled`,
//! writes whose response is lost, dropped connections, and a workspace
//! whose console table does not exist yet. No engine needed.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

/// Replaces the fault settings (fields left out go back to their defaults).
async fn set_faults(sim: &Sim, body: Value) {
    let r = sim
        .http
        .put(format!("{}/_sim/faults", sim.base))
        .json(&body)
        .send()
        .await
        .expect("put faults");
    assert_eq!(r.status(), 200);
}

/// Polls the operation of `r` once it is done: the status resource's body.
async fn finished(sim: &Sim, r: &Resp) -> Value {
    let url = r
        .header("azure-asyncoperation")
        .expect("Azure-AsyncOperation");
    for _ in 0..200 {
        let s = sim.arm(Method::GET, &url, None).await;
        assert_eq!(s.status, 200, "{:?}", s.body);
        if s.body["status"] != "InProgress" {
            return s.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("operation never ended");
}

async fn provisioning(sim: &Sim, name: &str) -> Value {
    let g = sim.arm(Method::GET, &job_path(name), None).await;
    assert_eq!(g.status, 200, "{:?}", g.body);
    g.body["properties"]["provisioningState"].clone()
}

#[tokio::test]
async fn overlapping_writes_on_a_job_answer_lock_conflict() {
    let mut cfg = fast_config();
    // Operations end at their first status poll, not before: the overlap
    // does not depend on timing.
    cfg.faults.lro_delay_ms = 0;
    cfg.faults.lro_polls = 1;
    let sim = Sim::start(cfg).await;
    let body = job_body("busybox", &["true"]);
    let put = sim.arm(Method::PUT, &job_path("locked"), Some(&body)).await;
    assert_eq!(put.status, 201);
    let other = sim.arm(Method::PUT, &job_path("free"), Some(&body)).await;
    assert_eq!(other.status, 201, "another job is not locked");

    let patch = json!({"tags": {"a": "b"}});
    for (method, body) in [
        (Method::PUT, Some(&body)),
        (Method::PATCH, Some(&patch)),
        (Method::DELETE, None),
    ] {
        let r = sim.arm(method.clone(), &job_path("locked"), body).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (409, "ContainerAppLockConflict"),
            "{method}"
        );
        let message = r.body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("'locked'") && message.contains("another modification is in progress"),
            "{message}"
        );
    }
    // Nothing changed: still the first operation's, reads go through.
    assert_eq!(provisioning(&sim, "locked").await, "InProgress");
    let g = sim.arm(Method::GET, &job_path("locked"), None).await;
    assert!(g.body["tags"].get("a").is_none());

    // Once it is done the job takes changes again; each holds the lock anew.
    assert_eq!(finished(&sim, &put).await["status"], "Succeeded");
    let p = sim
        .arm(Method::PATCH, &job_path("locked"), Some(&patch))
        .await;
    assert_eq!(p.status, 202);
    let d = sim.arm(Method::DELETE, &job_path("locked"), None).await;
    assert_eq!(
        (d.status.as_u16(), d.code()),
        (409, "ContainerAppLockConflict")
    );
    finished(&sim, &p).await;
    let d = sim.arm(Method::DELETE, &job_path("locked"), None).await;
    assert_eq!(d.status, 202);
    let again = sim.arm(Method::DELETE, &job_path("locked"), None).await;
    assert_eq!(
        (again.status.as_u16(), again.code()),
        (409, "ContainerAppLockConflict")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn operations_can_fail_or_be_canceled_and_the_job_says_so() {
    let sim = Sim::start(fast_config()).await;
    let body = job_body("busybox", &["true"]);
    set_faults(&sim, json!({"lroDelayMs": 0, "lroFailRate": 1.0})).await;
    let put = sim.arm(Method::PUT, &job_path("flaky"), Some(&body)).await;
    assert_eq!(put.status, 201);
    let status = finished(&sim, &put).await;
    assert_eq!(status["status"], "Failed");
    assert_eq!(status["error"]["code"], "ContainerAppOperationError");
    assert!(status["error"]["message"].is_string());
    assert!(status["endTime"].is_string());
    // The result URL answers with the failure itself.
    let result = sim
        .arm(
            Method::GET,
            &put.header("location").expect("Location"),
            None,
        )
        .await;
    assert_eq!(
        (result.status.as_u16(), result.code()),
        (500, "ContainerAppOperationError")
    );
    assert_eq!(provisioning(&sim, "flaky").await, "Failed");
    let start = sim
        .arm(Method::POST, &format!("{}/start", job_path("flaky")), None)
        .await;
    assert_eq!((start.status.as_u16(), start.code()), (409, "JobNotReady"));

    // A failed job can be PUT again.
    set_faults(&sim, json!({"lroDelayMs": 0})).await;
    let put = sim.arm(Method::PUT, &job_path("flaky"), Some(&body)).await;
    assert_eq!(put.status, 200);
    assert_eq!(finished(&sim, &put).await["status"], "Succeeded");
    assert_eq!(provisioning(&sim, "flaky").await, "Succeeded");

    // A failed delete leaves the job, Failed; a canceled one, Canceled.
    set_faults(&sim, json!({"lroDelayMs": 0, "lroFailRate": 1.0})).await;
    let d = sim.arm(Method::DELETE, &job_path("flaky"), None).await;
    assert_eq!(d.status, 202);
    assert_eq!(finished(&sim, &d).await["status"], "Failed");
    assert_eq!(provisioning(&sim, "flaky").await, "Failed");
    set_faults(&sim, json!({"lroDelayMs": 0, "lroCancelRate": 1.0})).await;
    let d = sim.arm(Method::DELETE, &job_path("flaky"), None).await;
    assert_eq!(d.status, 202, "a failed job can be deleted");
    let status = finished(&sim, &d).await;
    assert_eq!(status["status"], "Canceled");
    assert_eq!(status["error"]["code"], "OperationCanceled");
    assert_eq!(provisioning(&sim, "flaky").await, "Canceled");
    let p = sim
        .arm(
            Method::PATCH,
            &job_path("flaky"),
            Some(&json!({"tags": {"x": "y"}})),
        )
        .await;
    assert_eq!(p.status, 202);
    assert_eq!(finished(&sim, &p).await["status"], "Canceled");

    // Deleted at last.
    set_faults(&sim, json!({"lroDelayMs": 0})).await;
    let d = sim.arm(Method::DELETE, &job_path("flaky"), None).await;
    assert_eq!(finished(&sim, &d).await["status"], "Succeeded");
    let g = sim.arm(Method::GET, &job_path("flaky"), None).await;
    assert_eq!(g.status, 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn operation_outcomes_follow_the_rates_deterministically() {
    let sim = Sim::start(fast_config()).await;
    set_faults(
        &sim,
        json!({"lroDelayMs": 0, "lroFailRate": 0.5, "lroCancelRate": 0.5}),
    )
    .await;
    let mut outcomes = Vec::new();
    for i in 0..4 {
        let name = format!("rated-{i}");
        let put = sim
            .arm(
                Method::PUT,
                &job_path(&name),
                Some(&job_body("busybox", &["true"])),
            )
            .await;
        assert_eq!(put.status, 201);
        let status = finished(&sim, &put).await;
        assert_eq!(provisioning(&sim, &name).await, status["status"]);
        outcomes.push(status["status"].as_str().unwrap_or_default().to_owned());
    }
    // Every second operation fails; of the others, every second is canceled.
    assert_eq!(outcomes, ["Succeeded", "Failed", "Canceled", "Failed"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_lost_response_leaves_the_write_applied() {
    let sim = Sim::start(fast_config()).await;
    set_faults(&sim, json!({"lroDelayMs": 0, "lostResponseRate": 1.0})).await;
    let put = sim
        .arm(
            Method::PUT,
            &job_path("ghostly"),
            Some(&job_body("busybox", &["true"])),
        )
        .await;
    assert_eq!(
        (put.status.as_u16(), put.code()),
        (500, "InternalServerError")
    );
    // Reads are not writes: they answer, and show the job the PUT made.
    let g = sim.arm(Method::GET, &job_path("ghostly"), None).await;
    assert_eq!(g.status, 200, "{:?}", g.body);
    assert_eq!(g.body["name"], "ghostly");
    let secrets = sim
        .arm(
            Method::POST,
            &format!("{}/listSecrets", job_path("ghostly")),
            None,
        )
        .await;
    assert_eq!(secrets.status, 200, "listSecrets only reads");
    // A failed write is not "lost": its error comes through.
    let bad = sim
        .arm(
            Method::PUT,
            &job_path("Bad_Name"),
            Some(&job_body("busybox", &["true"])),
        )
        .await;
    assert_eq!(bad.status, 400);
    // The delete happens though its answer is lost.
    let d = sim.arm(Method::DELETE, &job_path("ghostly"), None).await;
    assert_eq!(d.status, 500);
    set_faults(&sim, json!({"lroDelayMs": 0})).await;
    let mut gone = false;
    for _ in 0..100 {
        if sim
            .arm(Method::GET, &job_path("ghostly"), None)
            .await
            .status
            == 404
        {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(gone, "the lost DELETE still deleted the job");
    sim.shutdown().await;
}

#[tokio::test]
async fn dropped_connections_get_no_response() {
    let sim = Sim::start(fast_config()).await;
    let log = format!("{}/_sim/requests", sim.base);
    sim.http.delete(&log).send().await.expect("clear log");
    set_faults(&sim, json!({"dropRate": 0.5})).await;
    let mut seen = Vec::new();
    for _ in 0..4 {
        // A fresh client each time: a dropped connection is not reused.
        let r = reqwest::Client::new()
            .get(format!("{}{}?{API}", sim.base, job_path("ghost")))
            .bearer_auth(&sim.arm_token)
            .send()
            .await;
        seen.push(match r {
            Ok(r) => Some(r.status().as_u16()),
            Err(e) => {
                // hyper's "connection closed before message completed":
                // the request went out, no byte of a response came back.
                assert!(e.is_request() && e.status().is_none(), "{e:?}");
                assert!(format!("{e:?}").contains("IncompleteMessage"), "{e:?}");
                None
            }
        });
    }
    assert_eq!(seen, [Some(404), None, Some(404), None]);
    // The test control endpoints and tokens are never dropped.
    set_faults(&sim, json!({"dropRate": 1.0})).await;
    let entries: Vec<Value> = sim
        .http
        .get(&log)
        .send()
        .await
        .expect("log")
        .json()
        .await
        .expect("json");
    let statuses: Vec<&Value> = entries
        .iter()
        .filter(|e| e["method"] == "GET")
        .map(|e| &e["status"])
        .collect();
    assert_eq!(statuses, [&json!(404), &json!(0), &json!(404), &json!(0)]);
    sim.token(
        "https://management.azure.com/.default",
        "sockerless-sim-secret",
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_workspace_without_rows_has_no_console_table() {
    let mut cfg = fast_config();
    cfg.timing.table_absent_until_first_row = true;
    let sim = Sim::start(cfg).await;
    let token = sim
        .token(
            "https://api.loganalytics.io/.default",
            "sockerless-sim-secret",
        )
        .await;
    let r = sim
        .call(
            Method::POST,
            &format!("/v1/workspaces/{WORKSPACE}/query"),
            Some(&token),
            Some(&json!({"query": "ContainerAppConsoleLogs_CL | where Log_s == 'x' | take 5"})),
        )
        .await;
    assert_eq!(r.status, 400);
    let error = &r.body["error"];
    assert_eq!(error["code"], "BadArgumentError");
    assert_eq!(error["message"], "The request had some invalid properties");
    assert_eq!(error["innererror"]["code"], "SemanticError");
    assert_eq!(error["innererror"]["message"], "A semantic error occurred.");
    assert_eq!(error["innererror"]["innererror"]["code"], "SEM0100");
    assert_eq!(
        error["innererror"]["innererror"]["message"],
        "'where' operator: Failed to resolve table or column expression named 'ContainerAppConsoleLogs_CL'"
    );
    sim.shutdown().await;
}

/// `GET /_sim/config` tells the profile and the effective figures;
/// `PUT /_sim/timing` changes the timing at run time (fields left out go
/// back to their defaults) and refuses a tail rate outside 0..=1.
#[tokio::test]
async fn the_profile_and_timing_are_shown_and_timing_changes_at_run_time() {
    let mut cfg = fast_config();
    sockerless_azure_sim::Profile::Azure.apply(&mut cfg);
    let sim = Sim::start(cfg).await;
    let get = || async {
        sim.http
            .get(format!("{}/_sim/config", sim.base))
            .send()
            .await
            .expect("get config")
            .json::<Value>()
            .await
            .expect("config JSON")
    };
    let before = get().await;
    assert_eq!(before["profile"], "azure");
    assert_eq!(before["timing"]["schedulingMaxMs"], 40_000);
    assert_eq!(before["timing"]["tableAbsentUntilFirstRow"], true);
    assert_eq!(before["ingestionDelayMs"], 20_000);
    assert_eq!(before["faults"]["lroJitterMs"], 6_000);

    let put = |body: Value| {
        let (http, base) = (sim.http.clone(), sim.base.clone());
        async move {
            http.put(format!("{base}/_sim/timing"))
                .json(&body)
                .send()
                .await
                .expect("put timing")
                .status()
        }
    };
    assert_eq!(
        put(json!({"schedulingMinMs": 1, "schedulingMaxMs": 2})).await,
        200
    );
    let after = get().await;
    assert_eq!(after["timing"]["schedulingMaxMs"], 2);
    assert_eq!(
        after["timing"]["tableAbsentUntilFirstRow"], false,
        "defaults"
    );
    assert_eq!(put(json!({"schedulingTailRate": 1.5})).await, 400);
    assert_eq!(put(json!({"schedulingMinMs": "soon"})).await, 400);
    assert_eq!(
        get().await["timing"]["schedulingMaxMs"],
        2,
        "unchanged by refusals"
    );
    sim.shutdown().await;
}
