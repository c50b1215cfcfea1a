//! Execution fidelity on a real engine (set SOCKERLESS_SIM_ENGINE): stop
//! with SIGTERM and a grace period, replicas pending on a registry they
//! cannot reach until `replicaTimeout`, platform variables, memory limits,
//! parallelism and the scheduling delay.

mod common;

use std::time::Duration;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};
use sockerless_azure_sim::{FaultConfig, SimConfig, Timing};

async fn engine_sim(timing: Timing) -> Sim {
    let engine = engine();
    let sim = Sim::start(SimConfig {
        engine: engine.clone(),
        // Fixed test credentials (the emulator's defaults are random per start).
        client_secret: "sockerless-sim-secret".into(),
        identity_header: "sockerless-sim-identity".into(),
        registry_password: "sim-registry-password".into(),
        ingestion_delay: Duration::from_secs(1),
        timing,
        faults: FaultConfig {
            lro_delay_ms: 100,
            ..FaultConfig::default()
        },
        ..SimConfig::default()
    })
    .await;
    image::push_from_engine(
        &engine,
        "busybox:latest",
        &sim.base,
        "sim",
        "sim-registry-password",
        "library/busybox",
        "latest",
    )
    .await;
    sim
}

fn registry_host(sim: &Sim) -> String {
    sim.sim.as_ref().expect("sim").registry_host()
}

fn registry_job(sim: &Sim, script: &str) -> Value {
    let host = registry_host(sim);
    let mut body = job_body(
        &format!("{host}/library/busybox:latest"),
        &["sh", "-c", script],
    );
    body["properties"]["configuration"]["secrets"] =
        json!([{"name": "reg-pw", "value": "sim-registry-password"}]);
    body["properties"]["configuration"]["registries"] =
        json!([{"server": host, "username": "sim", "passwordSecretRef": "reg-pw"}]);
    body
}

async fn start(sim: &Sim, job: &str) -> String {
    let r = sim
        .arm(Method::POST, &format!("{}/start", job_path(job)), None)
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    r.body["name"].as_str().expect("execution name").to_string()
}

async fn get_execution(sim: &Sim, job: &str, exec: &str) -> Value {
    let r = sim
        .arm(
            Method::GET,
            &format!("{}/executions/{exec}", job_path(job)),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

/// Polls until `pred` holds for the execution (panics after `limit`).
async fn wait_for(
    sim: &Sim,
    job: &str,
    exec: &str,
    limit: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let e = get_execution(sim, job, exec).await;
        if pred(&e) {
            return e;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition never held: {e:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Console rows `[Log_s, ContainerGroupName_s, ContainerName_s]` of `exec`
/// until at least `want` (or 20 s) have arrived.
async fn rows(sim: &Sim, exec: &str, want: usize) -> Vec<Value> {
    let token = sim
        .token(
            "https://api.loganalytics.io/.default",
            "sockerless-sim-secret",
        )
        .await;
    let q = format!(
        "ContainerAppConsoleLogs_CL | where ContainerGroupName_s startswith '{exec}-' | order by TimeGenerated asc | project Log_s, ContainerGroupName_s, ContainerName_s"
    );
    let mut out = Vec::new();
    for _ in 0..100 {
        let r = sim
            .call(
                Method::POST,
                &format!("/v1/workspaces/{WORKSPACE}/query"),
                Some(&token),
                Some(&json!({"query": q})),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        out = r.body["tables"][0]["rows"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if out.len() >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    out
}

fn logs(rows: &[Value]) -> Vec<&str> {
    rows.iter().filter_map(|r| r[0].as_str()).collect()
}

fn containers(e: &Value) -> Vec<Value> {
    e["properties"]["detailedStatus"]["replicas"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["containers"].as_array().cloned().unwrap_or_default())
        .collect()
}

#[tokio::test]
#[ignore = "needs the Docker engine (SOCKERLESS_SIM_ENGINE)"]
async fn stop_gives_the_process_sigterm_and_its_trap_runs() {
    let sim = engine_sim(Timing::default()).await;
    let body = registry_job(
        &sim,
        "trap 'echo got-term; exit 0' TERM; echo ready; while true; do sleep 1; done",
    );
    create_job(&sim, "fid-term", &body).await;
    let exec = start(&sim, "fid-term").await;
    // The trap is set once `ready` is printed.
    let before = rows(&sim, &exec, 1).await;
    assert_eq!(logs(&before), ["ready"]);
    let r = sim
        .arm(
            Method::POST,
            &format!("{}/executions/{exec}/stop", job_path("fid-term")),
            None,
        )
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let done = wait_execution(&sim, "fid-term", &exec, Duration::from_secs(60)).await;
    assert_eq!(done["properties"]["status"], "Stopped", "{done:#}");
    let after = rows(&sim, &exec, 2).await;
    assert_eq!(logs(&after), ["ready", "got-term"]);
    let c = containers(&done);
    assert_eq!(c.len(), 1, "{done:#}");
    assert_eq!(
        (c[0]["status"].as_str(), c[0]["code"].as_i64()),
        (Some("Stopped"), Some(0)),
        "the trap's exit 0, not SIGKILL's 137: {done:#}"
    );
    sim.shutdown().await;
}

#[tokio::test]
#[ignore = "needs the Docker engine (SOCKERLESS_SIM_ENGINE)"]
async fn an_unreachable_registry_leaves_the_replica_pending_until_replica_timeout() {
    let sim = engine_sim(Timing::default()).await;
    let host = registry_host(&sim);
    let r = sim
        .call(
            Method::PUT,
            "/_sim/faults",
            None,
            Some(&json!({"lroDelayMs": 100, "pullBlockedRegistries": [host]})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let mut body = registry_job(&sim, "echo never");
    body["properties"]["configuration"]["replicaTimeout"] = json!(10);
    create_job(&sim, "fid-pull", &body).await;
    let started = tokio::time::Instant::now();
    let exec = start(&sim, "fid-pull").await;
    let pending = wait_for(&sim, "fid-pull", &exec, Duration::from_secs(30), |e| {
        containers(e).iter().any(|c| c["status"] == "Waiting")
    })
    .await;
    assert_eq!(pending["properties"]["status"], "Running", "{pending:#}");
    let info = containers(&pending)[0]["additionalInformation"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        info.starts_with("ImagePullBackOff: Failed to pull image"),
        "{info}"
    );
    assert!(
        info.contains(&format!("dial tcp {host}: i/o timeout")),
        "{info}"
    );
    let done = wait_execution(&sim, "fid-pull", &exec, Duration::from_secs(60)).await;
    assert!(
        started.elapsed() >= Duration::from_secs(10),
        "failed before replicaTimeout"
    );
    assert_eq!(done["properties"]["status"], "Failed", "{done:#}");
    let c = containers(&done);
    let why = c[0]["additionalInformation"].as_str().unwrap_or_default();
    assert_eq!(c[0]["status"], "Failed", "{done:#}");
    assert!(why.starts_with("DeadlineExceeded:"), "{why}");
    assert!(why.contains("replicaTimeout (10 s)"), "{why}");
    assert!(why.contains("i/o timeout"), "the pull error is kept: {why}");
    assert!(rows(&sim, &exec, 1).await.is_empty(), "nothing ran");
    sim.shutdown().await;
}

#[tokio::test]
#[ignore = "needs the Docker engine (SOCKERLESS_SIM_ENGINE)"]
async fn platform_variables_are_injected() {
    let sim = engine_sim(Timing::default()).await;
    let body = registry_job(
        &sim,
        "echo job=$CONTAINER_APP_JOB_NAME; echo exec=$CONTAINER_APP_JOB_EXECUTION_NAME; echo replica=$CONTAINER_APP_REPLICA_NAME",
    );
    create_job(&sim, "fid-env", &body).await;
    let exec = start(&sim, "fid-env").await;
    let done = wait_execution(&sim, "fid-env", &exec, Duration::from_secs(60)).await;
    assert_eq!(done["properties"]["status"], "Succeeded", "{done:#}");
    let got = rows(&sim, &exec, 3).await;
    let replica = got[0][1].as_str().expect("replica").to_string();
    assert_eq!(
        logs(&got),
        [
            "job=fid-env".to_string(),
            format!("exec={exec}"),
            format!("replica={replica}")
        ]
    );
    assert!(replica.starts_with(&format!("{exec}-")), "{replica}");
    sim.shutdown().await;
}

#[tokio::test]
#[ignore = "needs the Docker engine (SOCKERLESS_SIM_ENGINE)"]
async fn a_container_over_its_memory_is_oom_killed_and_the_execution_fails() {
    let sim = engine_sim(Timing::default()).await;
    let mut body = registry_job(&sim, "head -c 200m /dev/zero | tail; echo survived");
    let image = body["properties"]["template"]["containers"][0]["image"].clone();
    // 32Mi + 480Mi with 0.125 + 0.125 cores: together a consumption pair.
    body["properties"]["template"]["containers"][0]["resources"] =
        json!({"cpu": 0.125, "memory": "32Mi"});
    body["properties"]["template"]["containers"]
        .as_array_mut()
        .expect("containers")
        .push(json!({
            "name": "small", "image": image, "command": ["true"],
            "resources": {"cpu": 0.125, "memory": "480Mi"}
        }));
    create_job(&sim, "fid-oom", &body).await;
    let exec = start(&sim, "fid-oom").await;
    let done = wait_execution(&sim, "fid-oom", &exec, Duration::from_secs(90)).await;
    assert_eq!(done["properties"]["status"], "Failed", "{done:#}");
    let c = containers(&done);
    let main = c.iter().find(|c| c["name"] == "main").expect("main");
    assert_eq!(main["additionalInformation"], "OOMKilled", "{done:#}");
    assert_eq!(main["status"], "Failed", "{done:#}");
    let small = c.iter().find(|c| c["name"] == "small").expect("small");
    assert_eq!(small["status"], "Succeeded", "{done:#}");
    sim.shutdown().await;
}

#[tokio::test]
#[ignore = "needs the Docker engine (SOCKERLESS_SIM_ENGINE)"]
async fn parallelism_and_completion_count_run_that_many_replicas() {
    let sim = engine_sim(Timing::default()).await;
    let mut body = registry_job(&sim, "echo ran; sleep 1");
    body["properties"]["configuration"]["manualTriggerConfig"] =
        json!({"parallelism": 2, "replicaCompletionCount": 2});
    create_job(&sim, "fid-par", &body).await;
    let exec = start(&sim, "fid-par").await;
    let done = wait_execution(&sim, "fid-par", &exec, Duration::from_secs(90)).await;
    assert_eq!(done["properties"]["status"], "Succeeded", "{done:#}");
    let replicas = done["properties"]["detailedStatus"]["replicas"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(replicas.len(), 2, "{done:#}");
    assert_ne!(replicas[0]["name"], replicas[1]["name"]);
    let got = rows(&sim, &exec, 2).await;
    assert_eq!(logs(&got), ["ran", "ran"]);
    assert_ne!(got[0][1], got[1][1], "two replicas printed");
    sim.shutdown().await;
}

#[tokio::test]
#[ignore = "needs the Docker engine (SOCKERLESS_SIM_ENGINE)"]
async fn scheduling_keeps_an_execution_processing_and_a_stop_then_ends_it_at_once() {
    let sim = engine_sim(Timing {
        scheduling_min_ms: 4_000,
        scheduling_max_ms: 4_000,
        ..Timing::default()
    })
    .await;
    let body = registry_job(&sim, "echo scheduled");
    create_job(&sim, "fid-sched", &body).await;
    let exec = start(&sim, "fid-sched").await;
    let first = get_execution(&sim, "fid-sched", &exec).await;
    assert_eq!(first["properties"]["status"], "Processing", "{first:#}");
    assert!(first["properties"]["detailedStatus"].is_null(), "{first:#}");
    let done = wait_execution(&sim, "fid-sched", &exec, Duration::from_secs(60)).await;
    assert_eq!(done["properties"]["status"], "Succeeded", "{done:#}");

    let to_stop = start(&sim, "fid-sched").await;
    let r = sim
        .arm(
            Method::POST,
            &format!("{}/executions/{to_stop}/stop", job_path("fid-sched")),
            None,
        )
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let stopped = wait_execution(&sim, "fid-sched", &to_stop, Duration::from_secs(60)).await;
    assert_eq!(stopped["properties"]["status"], "Stopped", "{stopped:#}");
    assert!(
        stopped["properties"]["detailedStatus"].is_null(),
        "no replica was ever scheduled: {stopped:#}"
    );
    sim.shutdown().await;
}

#[tokio::test]
#[ignore = "needs the Docker engine (SOCKERLESS_SIM_ENGINE)"]
async fn a_missing_share_leaves_the_replica_pending_until_replica_timeout() {
    let sim = engine_sim(Timing::default()).await;
    // The environment storage exists; the share it names was never created.
    let storage = format!("{}/storages/absent", env_id(SUB, RG, ENV));
    let st = json!({"properties": {"azureFile": {"accountName": "simacct", "accountKey": "k", "shareName": "absent", "accessMode": "ReadWrite"}}});
    assert_eq!(sim.arm(Method::PUT, &storage, Some(&st)).await.status, 200);
    let mut body = registry_job(&sim, "echo never");
    body["properties"]["configuration"]["replicaTimeout"] = json!(5);
    body["properties"]["template"]["volumes"] =
        json!([{"name": "s", "storageType": "AzureFile", "storageName": "absent"}]);
    body["properties"]["template"]["containers"][0]["volumeMounts"] =
        json!([{"volumeName": "s", "mountPath": "/s"}]);
    create_job(&sim, "fid-share", &body).await;
    let exec = start(&sim, "fid-share").await;
    let pending = wait_for(&sim, "fid-share", &exec, Duration::from_secs(30), |e| {
        containers(e).iter().any(|c| c["status"] == "Waiting")
    })
    .await;
    assert_eq!(pending["properties"]["status"], "Running", "{pending:#}");
    let info = containers(&pending)[0]["additionalInformation"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        info.starts_with("ContainerCreating: MountVolume.SetUp failed"),
        "{info}"
    );
    assert!(
        info.contains("file share 'absent' does not exist"),
        "{info}"
    );
    let done = wait_execution(&sim, "fid-share", &exec, Duration::from_secs(60)).await;
    assert_eq!(done["properties"]["status"], "Failed", "{done:#}");
    let why = containers(&done)[0]["additionalInformation"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(why.starts_with("DeadlineExceeded:"), "{why}");
    assert!(why.contains("does not exist"), "{why}");
    sim.shutdown().await;
}
