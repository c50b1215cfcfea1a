//! ACR Tasks without an engine: the spec's examples replayed against the
//! emulator (statuses among the example's, bodies valid against the
//! `containerregistry_build.json` schemas), the refusals, and the blob
//! endpoint the context is uploaded to.
//!
//! Changes made to examples before replay:
//! - `registryName` `myRegistry` becomes the emulator's registry
//!   (`RunningSim::registry_name`): the emulator has one registry;
//! - `RegistriesScheduleRun`'s `sourceLocation` (a SAS URL of another
//!   storage account) becomes the upload URL of a context uploaded first
//!   through `listBuildSourceUploadUrl`, as `az acr build` does;
//! - `runId` `0accec26-…` becomes the ID of the run scheduled (ACR's quick
//!   runs are named `ca1`, `ca2`, …; the example's never existed here).
//!
//! Without an engine the scheduled run ends `Error`; its log says so.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::swagger::{Swagger, errors};
use common::*;
use reqwest::Method;
use serde_json::{Value, json};

const TASKS_API: &str = "api-version=2019-06-01-preview";
const REGISTRY: &str = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/{registryName}";

fn spec() -> PathBuf {
    specs_dir().join("azure/acr-tasks-2019-06-01-preview/containerregistry_build.json")
}

fn example(name: &str) -> Value {
    let p = specs_dir()
        .join("azure/acr-tasks-2019-06-01-preview/examples")
        .join(name);
    serde_json::from_str(
        &std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    )
    .expect("example json")
}

/// The registry path of an example, with the emulator's registry.
fn registry_path(sim: &Sim, ex: &Value) -> String {
    let p = &ex["parameters"];
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ContainerRegistry/registries/{}",
        p["subscriptionId"].as_str().expect("sub"),
        p["resourceGroupName"].as_str().expect("rg"),
        sim.sim.as_ref().expect("sim").registry_name()
    )
}

async fn tasks(sim: &Sim, method: Method, path: &str, body: Option<&Value>) -> Resp {
    let sep = if path.contains('?') { '&' } else { '?' };
    sim.arm(method, &format!("{path}{sep}{TASKS_API}"), body)
        .await
}

/// Checks the status against the example and the body against the spec.
fn conforms(sw: &mut Swagger, ex: &Value, r: &Resp, path: &str, method: &str) {
    let status = r.status.as_u16().to_string();
    assert!(
        ex["responses"].get(&status).is_some(),
        "{method} {path}: status {status} not among the example's: {:?}",
        r.body
    );
    match sw.response_schema(&spec(), path, method, &status) {
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
            "{method} {path} {status}: no schema but a body {:?}",
            r.body
        ),
    }
}

/// A tar holding a Dockerfile.
fn context() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let data = b"FROM busybox\nRUN true\n";
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "Dockerfile", &data[..])
        .expect("append");
    b.into_inner().expect("tar")
}

async fn put_blob(sim: &Sim, url: &str, data: Vec<u8>) -> reqwest::Response {
    sim.http
        .put(url)
        .header("x-ms-blob-type", "BlockBlob")
        .body(data)
        .send()
        .await
        .expect("put")
}

async fn wait_final(sim: &Sim, run_path: &str) -> Value {
    for _ in 0..200 {
        let r = tasks(sim, Method::GET, run_path, None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        if !matches!(
            r.body["properties"]["status"].as_str(),
            Some("Queued" | "Running" | "Started")
        ) {
            return r.body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("run {run_path} never ended");
}

#[tokio::test]
async fn the_specs_examples_replay() {
    let sim = Sim::start(fast_config()).await;
    let mut sw = Swagger::new();

    let ex = example("RegistriesGetBuildSourceUploadUrl.json");
    let base = registry_path(&sim, &ex);
    let r = tasks(
        &sim,
        Method::POST,
        &format!("{base}/listBuildSourceUploadUrl"),
        None,
    )
    .await;
    conforms(
        &mut sw,
        &ex,
        &r,
        &format!("{REGISTRY}/listBuildSourceUploadUrl"),
        "post",
    );
    let upload = r.body["uploadUrl"].as_str().expect("uploadUrl").to_string();
    let relative = r.body["relativePath"].as_str().expect("relativePath");
    assert!(
        relative.starts_with("source/") && relative.ends_with(".tar.gz"),
        "{relative}"
    );
    assert!(
        upload.starts_with(&format!("{}/blob/", sim.base)) && upload.contains(relative),
        "{upload}"
    );
    for field in ["sv=", "se=", "sr=b", "sp=cw", "sig="] {
        assert!(upload.contains(field), "{upload} lacks {field}");
    }
    assert_eq!(put_blob(&sim, &upload, context()).await.status(), 201);

    let ex = example("RegistriesScheduleRun.json");
    let mut body = ex["parameters"]["runRequest"].clone();
    body["sourceLocation"] = json!(upload);
    let r = tasks(
        &sim,
        Method::POST,
        &format!("{}/scheduleRun", registry_path(&sim, &ex)),
        Some(&body),
    )
    .await;
    conforms(&mut sw, &ex, &r, &format!("{REGISTRY}/scheduleRun"), "post");
    let run_id = r.body["properties"]["runId"]
        .as_str()
        .expect("runId")
        .to_string();
    assert_eq!(run_id, "ca1");
    assert_eq!(r.body["name"], json!(run_id));
    assert_eq!(
        r.body["type"],
        "Microsoft.ContainerRegistry/registries/runs"
    );
    assert_eq!(r.body["properties"]["runType"], "QuickBuild");

    let ex = example("RunsGet.json");
    let run_path = format!("{}/runs/{run_id}", registry_path(&sim, &ex));
    let ended = wait_final(&sim, &run_path).await;
    assert_eq!(
        ended["properties"]["status"], "Error",
        "no engine: {ended:#}"
    );
    assert!(ended["properties"]["runErrorMessage"].is_string());
    let r = tasks(&sim, Method::GET, &run_path, None).await;
    conforms(
        &mut sw,
        &ex,
        &r,
        &format!("{REGISTRY}/runs/{{runId}}"),
        "get",
    );

    let ex = example("RunsList.json");
    let r = tasks(
        &sim,
        Method::GET,
        &format!("{}/runs?$filter=&$top=10", registry_path(&sim, &ex)),
        None,
    )
    .await;
    conforms(&mut sw, &ex, &r, &format!("{REGISTRY}/runs"), "get");
    assert_eq!(r.body["value"].as_array().map(Vec::len), Some(1));

    let ex = example("RunsGetLogSasUrl.json");
    let r = tasks(
        &sim,
        Method::POST,
        &format!("{}/runs/{run_id}/listLogSasUrl", registry_path(&sim, &ex)),
        None,
    )
    .await;
    conforms(
        &mut sw,
        &ex,
        &r,
        &format!("{REGISTRY}/runs/{{runId}}/listLogSasUrl"),
        "post",
    );
    let link = r.body["logLink"].as_str().expect("logLink");
    assert!(
        link.contains(&format!("/logs/{run_id}/rawtext.log?")) && link.contains("sp=r"),
        "{link}"
    );
    let log = sim.http.get(link).send().await.expect("log");
    assert_eq!(log.status(), 200);
    assert_eq!(log.headers()["x-ms-meta-complete"], "error");
    let text = log.text().await.expect("text");
    assert!(
        text.contains(&format!("Run ID: {run_id} failed after")),
        "{text}"
    );
    let r = sim
        .http
        .get(link)
        .header("range", "bytes=5-")
        .send()
        .await
        .expect("range");
    assert_eq!(r.status(), 206);
    let range = format!("bytes 5-{}/{}", text.len() - 1, text.len());
    assert_eq!(
        r.headers()["content-range"].to_str().ok(),
        Some(range.as_str())
    );
    assert_eq!(r.text().await.expect("text"), text[5..]);
    let r = sim
        .http
        .get(link)
        .header("range", "bytes=2-3")
        .send()
        .await
        .expect("range");
    assert_eq!(r.text().await.expect("text"), text[2..4]);
    let r = sim
        .http
        .get(link)
        .header("range", format!("bytes={}-", text.len()))
        .send()
        .await
        .expect("range");
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["x-ms-error-code"].to_str().ok()
        ),
        (416, Some("InvalidRange"))
    );
    assert!(
        sim.http
            .put(link)
            .header("x-ms-blob-type", "BlockBlob")
            .body("x")
            .send()
            .await
            .expect("put")
            .status()
            == 403,
        "a read SAS writes"
    );

    let ex = example("RunsCancel.json");
    let r = tasks(
        &sim,
        Method::POST,
        &format!("{}/runs/{run_id}/cancel", registry_path(&sim, &ex)),
        None,
    )
    .await;
    conforms(
        &mut sw,
        &ex,
        &r,
        &format!("{REGISTRY}/runs/{{runId}}/cancel"),
        "post",
    );
    let r = tasks(&sim, Method::GET, &run_path, None).await;
    assert_eq!(
        r.body["properties"]["status"], "Error",
        "a finished run stays as it ended"
    );

    // The source blob goes when its run ends.
    assert_eq!(
        sim.http.head(&upload).send().await.expect("head").status(),
        403,
        "a write SAS reads"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn requests_azure_would_refuse_are_refused() {
    let sim = Sim::start(fast_config()).await;
    let name = sim.sim.as_ref().expect("sim").registry_name();
    let base = format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ContainerRegistry/registries/{name}"
    );
    let other = format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ContainerRegistry/registries/other"
    );
    let r = tasks(
        &sim,
        Method::POST,
        &format!("{other}/listBuildSourceUploadUrl"),
        None,
    )
    .await;
    assert_eq!((r.status.as_u16(), r.code()), (404, "ResourceNotFound"));
    let r = sim
        .arm(
            Method::POST,
            &format!("{base}/listBuildSourceUploadUrl"),
            None,
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "InvalidApiVersionParameter"),
        "{:?}",
        r.body
    );
    let r = sim
        .call(
            Method::POST,
            &format!("{base}/listBuildSourceUploadUrl?{TASKS_API}"),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, 401);
    let r = tasks(&sim, Method::GET, &format!("{base}/runs/ca99"), None).await;
    assert_eq!((r.status.as_u16(), r.code()), (404, "ResourceNotFound"));

    let up = tasks(
        &sim,
        Method::POST,
        &format!("{base}/listBuildSourceUploadUrl"),
        None,
    )
    .await;
    let relative = up.body["relativePath"]
        .as_str()
        .expect("relative")
        .to_string();
    let good = json!({"type": "DockerBuildRequest", "dockerFilePath": "Dockerfile", "platform": {"os": "Linux"}, "sourceLocation": relative});
    let r = tasks(
        &sim,
        Method::POST,
        &format!("{base}/scheduleRun"),
        Some(&good),
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "InvalidSourceLocation"),
        "nothing uploaded yet: {:?}",
        r.body
    );
    let mut other_type = good.clone();
    other_type["type"] = json!("FileTaskRunRequest");
    let r = tasks(
        &sim,
        Method::POST,
        &format!("{base}/scheduleRun"),
        Some(&other_type),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not emulated")),
        "{:?}",
        r.body
    );
    for (field, value) in [
        ("dockerFilePath", Value::Null),
        ("platform", json!({})),
        ("noCache", json!("yes")),
    ] {
        let mut bad = good.clone();
        if value.is_null() {
            bad.as_object_mut().expect("obj").remove(field);
        } else {
            bad[field] = value;
        }
        let r = tasks(
            &sim,
            Method::POST,
            &format!("{base}/scheduleRun"),
            Some(&bad),
        )
        .await;
        assert_eq!(r.status, 400, "{field}: {:?}", r.body);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn the_blob_endpoint_takes_blobs_whole_or_in_blocks() {
    let sim = Sim::start(fast_config()).await;
    let name = sim.sim.as_ref().expect("sim").registry_name();
    let base = format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ContainerRegistry/registries/{name}"
    );
    let up = tasks(
        &sim,
        Method::POST,
        &format!("{base}/listBuildSourceUploadUrl"),
        None,
    )
    .await;
    let url = up.body["uploadUrl"].as_str().expect("url").to_string();
    let http = &sim.http;

    let r = http.put(&url).body("x").send().await.expect("put");
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["x-ms-error-code"], "MissingRequiredHeader");
    assert!(
        r.headers().contains_key("x-ms-request-id") && r.headers().contains_key("x-ms-version")
    );
    assert!(
        r.text()
            .await
            .expect("text")
            .contains("<Code>MissingRequiredHeader</Code>")
    );
    let forged = url.replace("sig=", "sig=AAAA");
    let r = put_blob(&sim, &forged, b"x".to_vec()).await;
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["x-ms-error-code"].to_str().ok()
        ),
        (403, Some("AuthenticationFailed"))
    );
    let elsewhere = url.replace("/source/", "/other/");
    assert_eq!(
        put_blob(&sim, &elsewhere, b"x".to_vec()).await.status(),
        403,
        "a SAS is for its blob only"
    );

    // Blocks, committed in the list's order; Latest and Uncommitted both count.
    let block = |id: &str, data: &'static str| {
        http.put(format!(
            "{url}&comp=block&blockid={}",
            id.replace('=', "%3D")
        ))
        .body(data)
        .send()
    };
    assert_eq!(block("QUFB", "second-").await.expect("block").status(), 201);
    assert_eq!(block("QkJC", "first-").await.expect("block").status(), 201);
    assert_eq!(block("Q0ND", "third").await.expect("block").status(), 201);
    let list = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList><Latest>QkJC</Latest><Uncommitted>QUFB</Uncommitted><Latest>Q0ND</Latest></BlockList>";
    let r = http
        .put(format!("{url}&comp=blocklist"))
        .header("x-ms-meta-origin", "test")
        .body(list)
        .send()
        .await
        .expect("list");
    assert_eq!(r.status(), 201);
    assert!(r.headers().contains_key("etag"));
    let r = http
        .put(format!("{url}&comp=blocklist"))
        .body("<BlockList><Latest>RERE</Latest></BlockList>")
        .send()
        .await
        .expect("list");
    assert_eq!(
        r.headers()["x-ms-error-code"],
        "InvalidBlockList",
        "blocks go with their commit"
    );

    // Reading needs a read SAS: the run's log link is one; a source's is not.
    assert_eq!(http.get(&url).send().await.expect("get").status(), 403);
    let read = url.replace("sp=cw", "sp=r");
    assert_eq!(
        http.get(&read).send().await.expect("get").status(),
        403,
        "sp is signed"
    );
    sim.shutdown().await;
}
