//! ACR Tasks with an engine: a context uploaded by SAS (one `Put Blob`, or
//! blocks), built by the engine's classic builder, pushed to the emulator's
//! registry and pulled back; a failing `RUN`; a canceled build.

mod common;

use std::io::Write;
use std::time::Duration;

use base64::Engine;
use common::*;
use reqwest::Method;
use serde_json::{Value, json};
use sockerless_azure_sim::SimConfig;

const TASKS_API: &str = "api-version=2019-06-01-preview";

struct Tasks {
    sim: Sim,
    base: String,
}

fn context(files: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data.as_bytes())
            .expect("append");
    }
    b.into_inner().expect("tar")
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

impl Tasks {
    async fn start() -> Tasks {
        let sim = Sim::start(SimConfig {
            engine: engine(),
            ..fast_config()
        })
        .await;
        let name = sim.sim.as_ref().expect("sim").registry_name();
        let base = format!(
            "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ContainerRegistry/registries/{name}"
        );
        Tasks { sim, base }
    }

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Resp {
        let sep = if path.contains('?') { '&' } else { '?' };
        self.sim
            .arm(
                method,
                &format!("{}{path}{sep}{TASKS_API}", self.base),
                body,
            )
            .await
    }

    /// Uploads `data` (in blocks of `block` bytes when given) and returns
    /// the `relativePath`.
    async fn upload(&self, data: Vec<u8>, block: Option<usize>) -> String {
        let r = self
            .call(Method::POST, "/listBuildSourceUploadUrl", None)
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let url = r.body["uploadUrl"].as_str().expect("url").to_string();
        let http = &self.sim.http;
        match block {
            None => {
                let r = http
                    .put(&url)
                    .header("x-ms-blob-type", "BlockBlob")
                    .body(data)
                    .send()
                    .await
                    .expect("put");
                assert_eq!(r.status(), 201);
            }
            Some(size) => {
                let mut list =
                    String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
                for (i, chunk) in data.chunks(size).enumerate() {
                    let id = base64::engine::general_purpose::STANDARD.encode(format!("{i:06}"));
                    let r = http
                        .put(format!(
                            "{url}&comp=block&blockid={}",
                            id.replace('=', "%3D")
                        ))
                        .body(chunk.to_vec())
                        .send()
                        .await
                        .expect("block");
                    assert_eq!(r.status(), 201);
                    list.push_str(&format!("<Latest>{id}</Latest>"));
                }
                list.push_str("</BlockList>");
                let r = http
                    .put(format!("{url}&comp=blocklist"))
                    .body(list)
                    .send()
                    .await
                    .expect("list");
                assert_eq!(r.status(), 201);
            }
        }
        r.body["relativePath"]
            .as_str()
            .expect("relative")
            .to_string()
    }

    async fn schedule(&self, source: &str, images: &[&str], args: Value) -> String {
        let body = json!({
            "type": "DockerBuildRequest", "dockerFilePath": "Dockerfile", "imageNames": images,
            "isPushEnabled": true, "noCache": false, "sourceLocation": source,
            "platform": {"os": "Linux", "architecture": "amd64"}, "arguments": args,
        });
        let r = self.call(Method::POST, "/scheduleRun", Some(&body)).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body["properties"]["runId"]
            .as_str()
            .expect("runId")
            .to_string()
    }

    async fn run(&self, id: &str) -> Value {
        let r = self.call(Method::GET, &format!("/runs/{id}"), None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body
    }

    async fn wait(&self, id: &str, until: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
        loop {
            let run = self.run(id).await;
            if until(&run) {
                return run;
            }
            assert!(tokio::time::Instant::now() < deadline, "run {id}: {run:#}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn wait_final(&self, id: &str) -> Value {
        self.wait(id, |r| {
            !matches!(
                r["properties"]["status"].as_str(),
                Some("Queued" | "Running")
            )
        })
        .await
    }

    /// The log and its `Complete` metadata (waiting for it to be set).
    async fn log(&self, id: &str) -> (String, String) {
        let r = self
            .call(Method::POST, &format!("/runs/{id}/listLogSasUrl"), None)
            .await;
        let link = r.body["logLink"].as_str().expect("logLink").to_string();
        for _ in 0..100 {
            let r = self.sim.http.get(&link).send().await.expect("log");
            assert_eq!(r.status(), 200);
            if let Some(c) = r.headers().get("x-ms-meta-complete") {
                let c = c.to_str().expect("str").to_string();
                return (r.text().await.expect("text"), c);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the log of {id} is never complete");
    }

    /// Status, manifest and the registry's digest of it.
    async fn manifest(&self, repo: &str, reference: &str) -> (u16, Value, String) {
        let r = self
            .sim
            .http
            .get(format!("{}/v2/{repo}/manifests/{reference}", self.sim.base))
            .basic_auth("sim", Some("sim-registry-password"))
            .header("accept", "application/vnd.oci.image.manifest.v1+json")
            .send()
            .await
            .expect("manifest");
        let status = r.status().as_u16();
        let digest = r
            .headers()
            .get("docker-content-digest")
            .and_then(|d| d.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (status, r.json().await.unwrap_or(Value::Null), digest)
    }

    async fn blob(&self, repo: &str, digest: &str) -> Vec<u8> {
        let r = self
            .sim
            .http
            .get(format!("{}/v2/{repo}/blobs/{digest}", self.sim.base))
            .basic_auth("sim", Some("sim-registry-password"))
            .send()
            .await
            .expect("blob");
        assert_eq!(r.status(), 200);
        r.bytes().await.expect("bytes").to_vec()
    }
}

/// The engine pulls the pushed image from the registry, as an execution's
/// replica does, and sees its label and ID.
async fn pull_back(t: &Tasks, name: &str, config: &str) {
    let docker = sockerless_azure_sim::runner::connect(&engine())
        .await
        .expect("engine");
    let host = t.sim.sim.as_ref().expect("sim").registry_host();
    let image = format!("{host}/{name}");
    let creds = bollard::auth::DockerCredentials {
        username: Some("sim".into()),
        password: Some("sim-registry-password".into()),
        serveraddress: Some(host),
        ..Default::default()
    };
    let options = bollard::query_parameters::CreateImageOptions {
        from_image: Some(image.clone()),
        ..Default::default()
    };
    let mut pull = docker.create_image(Some(options), None, Some(creds));
    while let Some(p) = futures_util::StreamExt::next(&mut pull).await {
        p.expect("pull");
    }
    let inspect = docker.inspect_image(&image).await.expect("inspect");
    assert_eq!(
        inspect.id.as_deref(),
        Some(config),
        "the image ID is the config digest"
    );
    let labels = inspect.config.and_then(|c| c.labels).unwrap_or_default();
    assert_eq!(
        labels.get("built.by").map(String::as_str),
        Some("acr-tasks")
    );
    sockerless_azure_sim::runner::untag(&engine(), &[image]).await;
}

async fn build_tags_left(engine: &str) -> Vec<String> {
    let docker = sockerless_azure_sim::runner::connect(engine)
        .await
        .expect("engine");
    let images = docker
        .list_images(None::<bollard::query_parameters::ListImagesOptions>)
        .await
        .expect("images");
    images
        .into_iter()
        .flat_map(|i| i.repo_tags)
        .filter(|t| t.starts_with("sockerless-sim-build/"))
        .collect()
}

#[tokio::test]
#[ignore = "needs a Docker engine (SOCKERLESS_SIM_ENGINE)"]
async fn a_context_builds_pushes_and_pulls_back() {
    let t = Tasks::start().await;
    let dockerfile = "FROM busybox\nARG X=unset\nLABEL built.by=acr-tasks\nCOPY hello.txt /\nRUN echo built-$X > /b\n";
    let ctx = context(&[("Dockerfile", dockerfile), ("hello.txt", "hello\n")]);
    let source = t.upload(gzip(&ctx), None).await;
    let id = t
        .schedule(
            &source,
            &["app:1", "team/app"],
            json!([{"name": "X", "value": "y", "isSecret": false}]),
        )
        .await;
    let run = t.wait_final(&id).await;
    let p = &run["properties"];
    assert_eq!(p["status"], "Succeeded", "{run:#}\n{}", t.log(&id).await.0);
    for key in ["startTime", "finishTime", "createTime", "lastUpdatedTime"] {
        assert!(p[key].is_string(), "{key}");
    }
    let outputs = p["outputImages"].as_array().expect("outputImages");
    assert_eq!(outputs.len(), 2);
    assert_eq!(
        (
            outputs[1]["repository"].as_str(),
            outputs[1]["tag"].as_str()
        ),
        (Some("team/app"), Some("latest"))
    );
    let (log, complete) = t.log(&id).await;
    assert_eq!(complete, "successful");
    for needle in [
        "Downloading source code...",
        "Launching container with name: build",
        "Step 1/5 : FROM busybox",
        "Successfully executed container: build",
        "Successfully tagged 127.0.0.1:",
        &format!("Run ID: {id} was successful after"),
    ] {
        assert!(log.contains(needle), "{needle} not in\n{log}");
    }
    assert!(
        !log.contains("sockerless-sim-build"),
        "the temporary tag shows:\n{log}"
    );
    let (status, manifest, digest) = t.manifest("app", "1").await;
    assert_eq!(status, 200);
    assert_eq!(outputs[0]["digest"].as_str(), Some(digest.as_str()));
    let config: Value = serde_json::from_slice(
        &t.blob(
            "app",
            manifest["config"]["digest"].as_str().expect("config"),
        )
        .await,
    )
    .expect("config json");
    assert_eq!(config["config"]["Labels"]["built.by"], "acr-tasks");
    let layers = manifest["layers"].as_array().expect("layers");
    assert_eq!(
        layers.len(),
        config["rootfs"]["diff_ids"]
            .as_array()
            .map(Vec::len)
            .unwrap_or(0)
    );
    let last = t
        .blob(
            "app",
            layers
                .last()
                .and_then(|l| l["digest"].as_str())
                .expect("layer"),
        )
        .await;
    let mut files = tar::Archive::new(last.as_slice());
    let b = files
        .entries()
        .expect("entries")
        .filter_map(Result::ok)
        .find(|e| e.path().is_ok_and(|p| p.ends_with("b")));
    let mut text = String::new();
    std::io::Read::read_to_string(&mut b.expect("/b in the last layer"), &mut text).expect("read");
    assert_eq!(text, "built-y\n", "the build argument");
    assert!(
        build_tags_left(&engine()).await.is_empty(),
        "the temporary tag stays in the engine"
    );
    pull_back(
        &t,
        "app:1",
        manifest["config"]["digest"].as_str().expect("config"),
    )
    .await;

    // The same context in blocks, plain tar.
    let source = t.upload(ctx, Some(1000)).await;
    let id = t.schedule(&source, &["app:2"], json!([])).await;
    let run = t.wait_final(&id).await;
    assert_eq!(
        run["properties"]["status"],
        "Succeeded",
        "{}",
        t.log(&id).await.0
    );
    assert_eq!(t.manifest("app", "2").await.0, 200);
    t.sim.shutdown().await;
}

#[tokio::test]
#[ignore = "needs a Docker engine (SOCKERLESS_SIM_ENGINE)"]
async fn a_failing_run_pushes_nothing_and_a_cancel_stops_the_build() {
    let t = Tasks::start().await;
    let ctx = context(&[(
        "Dockerfile",
        "FROM busybox\nRUN echo before-failing && false\n",
    )]);
    let source = t.upload(gzip(&ctx), None).await;
    let id = t.schedule(&source, &["bad:1"], json!([])).await;
    let run = t.wait_final(&id).await;
    assert_eq!(run["properties"]["status"], "Failed", "{run:#}");
    assert_eq!(
        run["properties"]["runErrorMessage"],
        "failed during run, err: exit status 1"
    );
    assert!(run["properties"]["outputImages"].is_null());
    let (log, complete) = t.log(&id).await;
    assert_eq!(complete, "failed");
    for needle in [
        "before-failing",
        "returned a non-zero code: 1",
        &format!("Run ID: {id} failed after"),
    ] {
        assert!(log.contains(needle), "{needle} not in\n{log}");
    }
    assert_eq!(t.manifest("bad", "1").await.0, 404);

    let ctx = context(&[(
        "Dockerfile",
        "FROM busybox\nRUN echo sleeping && sleep 30\n",
    )]);
    let source = t.upload(gzip(&ctx), None).await;
    let id = t.schedule(&source, &["slow:1"], json!([])).await;
    t.wait(&id, |r| r["properties"]["status"] == "Running")
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let r = t
        .call(Method::POST, &format!("/runs/{id}/cancel"), None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(t.run(&id).await["properties"]["status"], "Canceled");
    let started = tokio::time::Instant::now();
    let (log, complete) = t.log(&id).await;
    assert_eq!(complete, "canceled", "{log}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the build was not aborted"
    );
    assert!(log.contains(&format!("Run ID: {id} was canceled")), "{log}");
    assert_eq!(t.manifest("slow", "1").await.0, 404);
    t.sim.shutdown().await;
}

#[tokio::test]
#[ignore = "needs a Docker engine (SOCKERLESS_SIM_ENGINE)"]
async fn a_50_mib_context_uploads_in_blocks_and_builds() {
    let t = Tasks::start().await;
    // Incompressible, so the upload is as large as the context.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let big: Vec<u8> = (0..50 << 20)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect();
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in [
        (
            "Dockerfile",
            &b"FROM busybox\nCOPY big /big\nRUN test $(wc -c < /big) -eq 52428800\n"[..],
        ),
        ("big", &big[..]),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data).expect("append");
    }
    let ctx = gzip(&b.into_inner().expect("tar"));
    drop(big);
    let source = t.upload(ctx, Some(4 << 20)).await;
    let id = t.schedule(&source, &["big:1"], json!([])).await;
    let run = t.wait_final(&id).await;
    assert_eq!(
        run["properties"]["status"],
        "Succeeded",
        "{}",
        t.log(&id).await.0
    );
    let (status, manifest, _) = t.manifest("big", "1").await;
    assert_eq!(status, 200);
    let largest = manifest["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["size"].as_u64())
        .max();
    assert!(largest.is_some_and(|s| s > 50 << 20), "{manifest:#}");
    t.sim.shutdown().await;
}
