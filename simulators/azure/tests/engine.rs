//! End-to-end tests on a real engine (set SOCKERLESS_SIM_ENGINE; skipped otherwise).

mod common;

use std::time::Duration;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};
use sockerless_azure_sim::{FaultConfig, SimConfig};

async fn engine_sim(engine: &str) -> Sim {
    let sim = Sim::start(SimConfig {
        engine: engine.to_string(),
        // Fixed test credentials (the emulator's defaults are random per start).
        client_secret: "sockerless-sim-secret".into(),
        identity_header: "sockerless-sim-identity".into(),
        registry_password: "sim-registry-password".into(),
        ingestion_delay: Duration::from_secs(1),
        faults: FaultConfig {
            lro_delay_ms: 100,
            ..FaultConfig::default()
        },
        ..SimConfig::default()
    })
    .await;
    let host = sim.sim.as_ref().expect("sim").registry_host();
    image::push_from_engine(
        engine,
        "busybox:latest",
        &sim.base,
        "sim",
        "sim-registry-password",
        "library/busybox",
        "latest",
    )
    .await;
    assert!(!host.is_empty());
    sim
}

fn registry_job(sim: &Sim, script: &str) -> Value {
    let host = sim.sim.as_ref().expect("sim").registry_host();
    let mut body = job_body(
        &format!("{host}/library/busybox:latest"),
        &["sh", "-c", script],
    );
    body["properties"]["configuration"]["secrets"] = json!([
        {"name": "reg-pw", "value": "sim-registry-password"},
        {"name": "greeting", "value": "hello-secret"}
    ]);
    body["properties"]["configuration"]["registries"] =
        json!([{"server": host, "username": "sim", "passwordSecretRef": "reg-pw"}]);
    body
}

async fn start(sim: &Sim, job: &str, over: Option<&Value>) -> String {
    let r = sim
        .arm(Method::POST, &format!("{}/start", job_path(job)), over)
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    r.body["name"].as_str().expect("execution name").to_string()
}

async fn query_logs(sim: &Sim, job: &str, exec: &str, want: usize) -> Vec<Value> {
    let token = sim
        .token(
            "https://api.loganalytics.io/.default",
            "sockerless-sim-secret",
        )
        .await;
    let q = format!(
        "ContainerAppConsoleLogs_CL | where ContainerJobName_s == '{job}' and ContainerGroupName_s startswith '{exec}' | order by TimeGenerated asc | project Log_s, Stream_s, ContainerName_s"
    );
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
        let rows = r.body["tables"][0]["rows"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if rows.len() >= want {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("log rows never arrived");
}

#[tokio::test]
#[ignore = "needs the emulator's engine (SOCKERLESS_SIM_ENGINE): cargo xtask test"]
async fn failing_execution_from_the_emulator_registry_logs_both_streams() {
    let engine = engine();
    let sim = engine_sim(&engine).await;
    create_job(
        &sim,
        "e2e-fail",
        &registry_job(&sim, "echo out; echo err >&2; exit 3"),
    )
    .await;
    let exec = start(&sim, "e2e-fail", None).await;
    let done = wait_execution(&sim, "e2e-fail", &exec, Duration::from_secs(120)).await;
    assert_eq!(done["properties"]["status"], "Failed", "{done:#}");
    assert!(done["properties"]["endTime"].is_string());
    let mut rows = query_logs(&sim, "e2e-fail", &exec, 2).await;
    rows.sort_by_key(|r| r[0].as_str().unwrap_or_default().to_string());
    assert_eq!(
        rows,
        vec![
            json!(["err", "stderr", "main"]),
            json!(["out", "stdout", "main"])
        ]
    );
    sim.shutdown().await;
}

#[tokio::test]
#[ignore = "needs the emulator's engine (SOCKERLESS_SIM_ENGINE): cargo xtask test"]
async fn volumes_secrets_init_containers_and_isolated_network() {
    let engine = engine();
    let sim = engine_sim(&engine).await;
    let running = sim.sim.as_ref().expect("sim");
    let gateway = running.gateway().expect("replica network");
    // The admin endpoint says the same.
    let r = sim.call(Method::GET, "/_sim/network", None, None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["gateway"], json!(gateway.to_string()));
    // A service of the host on its loopback, and one on the gateway address.
    let loopback = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let on_gateway = std::net::TcpListener::bind((gateway, 0)).expect("bind gateway");
    let (lport, gport) = (
        loopback.local_addr().expect("addr").port(),
        on_gateway.local_addr().expect("addr").port(),
    );
    // Accepted connections are closed at once, so `nc` sees EOF and exits.
    std::thread::spawn(move || {
        for conn in on_gateway.incoming() {
            drop(conn);
        }
    });
    // A file share and an environment storage pointing at it.
    let share = format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Storage/storageAccounts/simacct/fileServices/default/shares/data?api-version=2024-01-01"
    );
    assert_eq!(
        sim.arm(
            Method::PUT,
            &share,
            Some(&json!({"properties": {"metadata": {"purpose": "test"}}}))
        )
        .await
        .status,
        201
    );
    let storage = format!("{}/storages/files", env_id(SUB, RG, ENV));
    let st = json!({"properties": {"azureFile": {"accountName": "simacct", "accountKey": "k", "shareName": "data", "accessMode": "ReadWrite"}}});
    assert_eq!(sim.arm(Method::PUT, &storage, Some(&st)).await.status, 200);
    let script = format!(
        "cat /work/from-init; echo \"$GREETING\"; cat /share/count 2>/dev/null || echo none; echo again > /share/count; \
         [ \"$(cat /work/init-ip)\" = \"$(grep \"$(hostname)\" /etc/hosts)\" ] && echo same-netns; \
         nc -w 2 127.0.0.1 {lport} </dev/null 2>/dev/null && echo loopback-reached || echo loopback-refused; \
         nc -w 2 {gateway} {gport} </dev/null && echo gateway-ok; \
         echo '10.9.9.9 peer' >> /etc/hosts && echo hosts-writable; \
         nc -w 2 no-such-name 80 2>&1 | grep -q 'bad address' && echo unknown-names-fail"
    );
    let mut body = registry_job(&sim, &script);
    let host = running.registry_host();
    body["properties"]["template"]["containers"][0]["env"] =
        json!([{"name": "GREETING", "secretRef": "greeting"}]);
    body["properties"]["template"]["containers"][0]["volumeMounts"] = json!([{"volumeName": "scratch", "mountPath": "/work"}, {"volumeName": "share", "mountPath": "/share"}]);
    body["properties"]["template"]["initContainers"] = json!([{
        "name": "prep", "image": format!("{host}/library/busybox:latest"),
        "command": ["sh", "-c", "echo from-init > /work/from-init; grep \"$(hostname)\" /etc/hosts > /work/init-ip"],
        "resources": {"cpu": 0.25, "memory": "0.5Gi"},
        "volumeMounts": [{"volumeName": "scratch", "mountPath": "/work"}]
    }]);
    body["properties"]["template"]["volumes"] = json!([{"name": "scratch", "storageType": "EmptyDir"}, {"name": "share", "storageType": "AzureFile", "storageName": "files"}]);
    create_job(&sim, "e2e-vols", &body).await;
    let first = start(&sim, "e2e-vols", None).await;
    let done = wait_execution(&sim, "e2e-vols", &first, Duration::from_secs(120)).await;
    assert_eq!(done["properties"]["status"], "Succeeded", "{done:#}");
    let rows = query_logs(&sim, "e2e-vols", &first, 8).await;
    let lines: Vec<&str> = rows
        .iter()
        .filter(|r| r[2] == "main")
        .filter_map(|r| r[0].as_str())
        .collect();
    assert_eq!(
        lines,
        vec![
            "from-init",
            "hello-secret",
            "none",
            "same-netns",
            "loopback-refused",
            "gateway-ok",
            "hosts-writable",
            "unknown-names-fail"
        ]
    );
    // The share keeps its data across executions.
    let second = start(&sim, "e2e-vols", None).await;
    let done = wait_execution(&sim, "e2e-vols", &second, Duration::from_secs(120)).await;
    assert_eq!(done["properties"]["status"], "Succeeded");
    let rows = query_logs(&sim, "e2e-vols", &second, 8).await;
    let lines: Vec<&str> = rows
        .iter()
        .filter(|r| r[2] == "main")
        .filter_map(|r| r[0].as_str())
        .collect();
    assert_eq!(lines[2], "again");
    let net = sim.sim.as_ref().and_then(|s| s.network()).expect("network");
    assert!(net.owned, "{net:?}");
    sim.shutdown().await;
    let docker = sockerless_azure_sim::runner::connect(&engine)
        .await
        .expect("engine");
    assert!(
        docker.inspect_network(&net.name, None).await.is_err(),
        "the emulator's network is removed at shutdown"
    );
}

#[tokio::test]
#[ignore = "needs the emulator's engine (SOCKERLESS_SIM_ENGINE): cargo xtask test"]
async fn stop_and_replica_timeout() {
    let engine = engine();
    let sim = engine_sim(&engine).await;
    let mut body = registry_job(&sim, "echo started; sleep 600");
    body["properties"]["configuration"]["replicaTimeout"] = json!(3);
    create_job(&sim, "e2e-slow", &body).await;
    let timed_out = start(&sim, "e2e-slow", None).await;
    let to_stop = start(&sim, "e2e-slow", None).await;
    // Stop the second once it runs.
    for _ in 0..300 {
        let r = sim
            .arm(
                Method::GET,
                &format!("{}/executions/{to_stop}", job_path("e2e-slow")),
                None,
            )
            .await;
        if r.body["properties"]["status"] == "Running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = sim
        .arm(
            Method::POST,
            &format!("{}/executions/{to_stop}/stop", job_path("e2e-slow")),
            None,
        )
        .await;
    assert_eq!(r.status, 202);
    let stopped = wait_execution(&sim, "e2e-slow", &to_stop, Duration::from_secs(60)).await;
    assert_eq!(stopped["properties"]["status"], "Stopped");
    let failed = wait_execution(&sim, "e2e-slow", &timed_out, Duration::from_secs(60)).await;
    assert_eq!(failed["properties"]["status"], "Failed");
    sim.shutdown().await;
}

#[tokio::test]
#[ignore = "needs the emulator's engine (SOCKERLESS_SIM_ENGINE): cargo xtask test"]
async fn failed_replicas_are_retried_up_to_the_limit() {
    let engine = engine();
    let sim = engine_sim(&engine).await;
    let share = format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Storage/storageAccounts/simacct/fileServices/default/shares/retry?api-version=2024-01-01"
    );
    assert_eq!(
        sim.arm(Method::PUT, &share, Some(&json!({}))).await.status,
        201
    );
    let storage = format!("{}/storages/retry", env_id(SUB, RG, ENV));
    let st = json!({"properties": {"azureFile": {"accountName": "simacct", "accountKey": "k", "shareName": "retry", "accessMode": "ReadWrite"}}});
    assert_eq!(sim.arm(Method::PUT, &storage, Some(&st)).await.status, 200);
    let mut body = registry_job(
        &sim,
        "if [ -f /s/tried ]; then echo second; else touch /s/tried; echo first; exit 1; fi",
    );
    body["properties"]["configuration"]["replicaRetryLimit"] = json!(1);
    body["properties"]["template"]["volumes"] =
        json!([{"name": "s", "storageType": "AzureFile", "storageName": "retry"}]);
    body["properties"]["template"]["containers"][0]["volumeMounts"] =
        json!([{"volumeName": "s", "mountPath": "/s"}]);
    create_job(&sim, "e2e-retry", &body).await;
    let exec = start(&sim, "e2e-retry", None).await;
    let done = wait_execution(&sim, "e2e-retry", &exec, Duration::from_secs(120)).await;
    assert_eq!(done["properties"]["status"], "Succeeded", "{done:#}");
    let token = sim
        .token(
            "https://api.loganalytics.io/.default",
            "sockerless-sim-secret",
        )
        .await;
    let q = format!(
        "ContainerAppConsoleLogs_CL | where ContainerGroupName_s startswith '{exec}-' | order by TimeGenerated asc | project Log_s, ContainerGroupName_s"
    );
    let mut rows = Vec::new();
    for _ in 0..100 {
        let r = sim
            .call(
                Method::POST,
                &format!("/v1/workspaces/{WORKSPACE}/query"),
                Some(&token),
                Some(&json!({"query": q})),
            )
            .await;
        rows = r.body["tables"][0]["rows"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if rows.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        (rows[0][0].as_str(), rows[1][0].as_str()),
        (Some("first"), Some("second"))
    );
    assert_ne!(rows[0][1], rows[1][1], "each attempt is a new replica");
    sim.shutdown().await;
}
