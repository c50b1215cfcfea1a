//! Role checks (ARM, Log Analytics, the registry), strict ACR token
//! exchange, and throttling of the token and registry endpoints.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use reqwest::Method;
use serde_json::{Value, json};
use sockerless_azure_sim::SimConfig;
use sockerless_azure_sim::roles::{RoleAssignment, RoleTable};

const TENANT: &str = "00000000-0000-0000-0000-0000000000aa";
const SECRET: &str = "sockerless-sim-secret";

fn assignment(principal: &str, role: &str, scope: Option<&str>) -> RoleAssignment {
    RoleAssignment {
        principal_id: principal.into(),
        role_definition_name: role.into(),
        scope: scope.map(str::to_string),
    }
}

fn with_roles(assignments: Vec<RoleAssignment>) -> SimConfig {
    SimConfig {
        roles: Some(RoleTable {
            role_assignments: assignments,
        }),
        ..fast_config()
    }
}

/// A client-credentials token of `client` for `resource`.
async fn token_for(sim: &Sim, client: &str, resource: &str) -> String {
    let r = sim
        .http
        .post(format!("{}/{TENANT}/oauth2/v2.0/token", sim.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client),
            ("client_secret", SECRET),
            ("scope", &format!("{resource}/.default")),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.expect("json")["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("json")
}

/// `POST /oauth2/exchange` as the backend sends it.
async fn exchange(sim: &Sim, service: &str, aad: &str) -> reqwest::Response {
    sim.http
        .post(format!("{}/oauth2/exchange", sim.base))
        .form(&[
            ("grant_type", "access_token"),
            ("service", service),
            ("access_token", aad),
        ])
        .send()
        .await
        .expect("exchange")
}

/// `POST /oauth2/token` with a refresh token.
async fn access(sim: &Sim, service: &str, scope: Option<&str>, refresh: &str) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("service", service),
        ("refresh_token", refresh),
    ];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    sim.http
        .post(format!("{}/oauth2/token", sim.base))
        .form(&form)
        .send()
        .await
        .expect("token")
}

/// AAD token of `client` → ACR refresh → access token for `scope`.
async fn acr_token(sim: &Sim, client: &str, scope: &str) -> String {
    let host = sim.sim.as_ref().expect("sim").registry_host();
    let aad = token_for(sim, client, "https://management.azure.com").await;
    let r = exchange(sim, &host, &aad).await;
    assert_eq!(r.status(), 200);
    let refresh = r.json::<Value>().await.expect("json")["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();
    let r = access(sim, &host, Some(scope), &refresh).await;
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.expect("json")["access_token"]
        .as_str()
        .expect("access")
        .to_string()
}

#[tokio::test]
async fn arm_refuses_a_caller_without_a_role_allowing_the_action() {
    let rg_scope = format!("/subscriptions/{SUB}/resourceGroups/{RG}");
    let sim = Sim::start(with_roles(vec![
        assignment("reader-app", "Reader", Some("/")),
        assignment("deployer-app", "Contributor", Some(&rg_scope)),
    ]))
    .await;
    let reader = token_for(&sim, "reader-app", "https://management.azure.com").await;
    let deployer = token_for(&sim, "deployer-app", "https://management.azure.com").await;
    let stranger = token_for(&sim, "stranger-app", "https://management.azure.com").await;
    let jobs = format!("{rg_scope}/providers/Microsoft.App/jobs?{API}");
    let job = format!("{}?{API}", job_path("rbac-job"));

    let r = sim.call(Method::GET, &jobs, Some(&reader), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let body = job_body("busybox", &["true"]);
    let r = sim
        .call(Method::PUT, &job, Some(&reader), Some(&body))
        .await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    assert_eq!(r.code(), "AuthorizationFailed");
    let oid = claims(&reader)["oid"].as_str().expect("oid").to_string();
    assert_eq!(
        r.body["error"]["message"],
        format!(
            "The client 'reader-app' with object id '{oid}' does not have authorization to perform action 'Microsoft.App/jobs/write' over scope '{}' or the scope is invalid. If access was recently granted, please refresh your credentials.",
            job_path("rbac-job")
        )
    );
    assert_eq!(r.header("x-ms-failure-cause").as_deref(), Some("gateway"));

    // Contributor on the resource group may write there, not elsewhere.
    let r = sim
        .call(Method::PUT, &job, Some(&deployer), Some(&body))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    // It may poll the operation, whose status lives under the subscription.
    let status = r.header("azure-asyncoperation").expect("operation");
    let mut done = false;
    for _ in 0..400 {
        let s = sim.call(Method::GET, &status, Some(&deployer), None).await;
        assert_eq!(s.status, 200, "{:?}", s.body);
        if s.body["status"] != "InProgress" {
            assert_eq!(s.body["status"], "Succeeded");
            done = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(done, "operation never completed");
    let r = sim.call(Method::GET, &status, Some(&stranger), None).await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    let elsewhere = format!(
        "/subscriptions/{SUB}/resourceGroups/other/providers/Microsoft.App/jobs/rbac-job?{API}"
    );
    let r = sim
        .call(Method::PUT, &elsewhere, Some(&deployer), Some(&body))
        .await;
    assert_eq!(r.status, 403, "{:?}", r.body);

    // Starting is an action of its own: a Reader may not.
    let start = format!("{}/start?{API}", job_path("rbac-job"));
    let r = sim.call(Method::POST, &start, Some(&reader), None).await;
    assert_eq!(r.status, 403);
    let message = r.body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("'Microsoft.App/jobs/start/action'"),
        "{message}"
    );

    // No assignment: not even a read.
    let r = sim.call(Method::GET, &job, Some(&stranger), None).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.code(), "AuthorizationFailed");
    sim.shutdown().await;
}

#[tokio::test]
async fn log_analytics_refuses_a_query_without_a_role() {
    let sim = Sim::start(with_roles(vec![
        assignment("la-reader", "Log Analytics Reader", None),
        assignment("puller", "AcrPull", None),
    ]))
    .await;
    let url = format!("/v1/workspaces/{WORKSPACE}/query");
    let query = json!({"query": "ContainerAppConsoleLogs_CL | take 1"});
    let allowed = token_for(&sim, "la-reader", "https://api.loganalytics.io").await;
    let r = sim
        .call(Method::POST, &url, Some(&allowed), Some(&query))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let refused = token_for(&sim, "puller", "https://api.loganalytics.io").await;
    let r = sim
        .call(Method::POST, &url, Some(&refused), Some(&query))
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.code(), "InsufficientAccessError");
    assert_eq!(
        r.body["error"]["message"],
        "The provided credentials have insufficient access to perform the requested operation"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn registry_grants_only_what_the_roles_allow() {
    let sim = Sim::start(with_roles(vec![
        assignment("pusher", "AcrPush", None),
        assignment("puller", "AcrPull", None),
    ]))
    .await;
    let base = &sim.base;
    let scope = "repository:app:pull,push";
    let pusher = acr_token(&sim, "pusher", scope).await;
    let puller = acr_token(&sim, "puller", scope).await;
    let nobody = acr_token(&sim, "nobody", scope).await;
    let granted = |t: &str| claims(t)["access"][0]["actions"].clone();
    assert_eq!(granted(&pusher), json!(["pull", "push"]));
    assert_eq!(granted(&puller), json!(["pull"]));
    assert_eq!(granted(&nobody), json!([]));

    // AcrPush pushes a blob and a manifest.
    let blob = b"{}".to_vec();
    let digest = format!("sha256:{}", sha256_hex(&blob));
    let upload = |token: &str| {
        sim.http
            .post(format!("{base}/v2/app/blobs/uploads/?digest={digest}"))
            .bearer_auth(token)
            .body(blob.clone())
            .send()
    };
    assert_eq!(upload(&pusher).await.expect("post").status(), 201);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest, "size": 2},
        "layers": []
    });
    let r = sim
        .http
        .put(format!("{base}/v2/app/manifests/v1"))
        .bearer_auth(&pusher)
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.to_string())
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), 201);
    let mdigest = r.headers()["docker-content-digest"]
        .to_str()
        .expect("digest")
        .to_string();

    // AcrPull pulls, and is refused a push as ACR refuses it.
    let pull = |token: &str| {
        sim.http
            .get(format!("{base}/v2/app/manifests/v1"))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(pull(&puller).await.expect("get").status(), 200);
    let r = upload(&puller).await.expect("post");
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .expect("str")
            .ends_with(",scope=\"repository:app:pull,push\"")
    );
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["errors"][0]["code"], "UNAUTHORIZED");
    assert_eq!(
        body["errors"][0]["detail"],
        json!([
            {"Type": "repository", "Name": "app", "Action": "pull"},
            {"Type": "repository", "Name": "app", "Action": "push"}
        ])
    );
    // No role: no pull. A token for one repository opens no other.
    assert_eq!(pull(&nobody).await.expect("get").status(), 401);
    let other = acr_token(&sim, "pusher", "repository:other:pull").await;
    assert_eq!(pull(&other).await.expect("get").status(), 401);

    // Deleting needs AcrDelete (or the admin user), not AcrPush.
    let delete = |auth: reqwest::RequestBuilder| auth.send();
    let url = format!("{base}/v2/app/manifests/{mdigest}");
    let r = delete(sim.http.delete(&url).bearer_auth(&pusher))
        .await
        .expect("delete");
    assert_eq!(r.status(), 401);
    let r = delete(
        sim.http
            .delete(&url)
            .basic_auth("sim", Some("sim-registry-password")),
    )
    .await
    .expect("delete");
    assert_eq!(r.status(), 202);
    sim.shutdown().await;
}

#[tokio::test]
async fn token_exchange_checks_audience_service_and_scope() {
    let sim = Sim::start(fast_config()).await;
    let host = sim.sim.as_ref().expect("sim").registry_host();
    // The audiences ACR accepts: ARM's (what the backend and `az acr login`
    // use) and ACR's own.
    for resource in [
        "https://management.azure.com",
        "https://management.azure.com/",
        "https://containerregistry.azure.net",
    ] {
        let aad = token_for(&sim, "client", resource).await;
        assert_eq!(
            exchange(&sim, &host, &aad).await.status(),
            200,
            "{resource}"
        );
    }
    let la = token_for(&sim, "client", "https://api.loganalytics.io").await;
    let r = exchange(&sim, &host, &la).await;
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["errors"][0]["code"], "UNAUTHORIZED");

    let aad = token_for(&sim, "client", "https://management.azure.com").await;
    let r = exchange(&sim, "other.azurecr.io", &aad).await;
    assert_eq!(r.status(), 400);
    let refresh = exchange(&sim, &host, &aad)
        .await
        .json::<Value>()
        .await
        .expect("json")["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();

    for bad in [
        "repository:app",
        "repository:App:pull",
        "repository:app:fly",
        "registry:catalog:pull",
    ] {
        let r = access(&sim, &host, Some(bad), &refresh).await;
        assert_eq!(r.status(), 400, "{bad}");
    }
    assert_eq!(access(&sim, &host, None, &refresh).await.status(), 400);
    assert_eq!(
        access(
            &sim,
            "other.azurecr.io",
            Some("repository:app:pull"),
            &refresh
        )
        .await
        .status(),
        400
    );
    let r = access(&sim, &host, Some("repository:team/app:pull,push"), &refresh).await;
    assert_eq!(r.status(), 200);
    let token = r.json::<Value>().await.expect("json")["access_token"]
        .as_str()
        .expect("access")
        .to_string();
    assert_eq!(
        claims(&token)["access"],
        json!([{"type": "repository", "name": "team/app", "actions": ["pull", "push"]}]),
        "without a role table every identity holds every role"
    );
    assert_eq!(
        sim.http
            .get(format!("{}/v2/", sim.base))
            .bearer_auth(&token)
            .send()
            .await
            .expect("get")
            .status(),
        200
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn token_and_registry_throttling_is_deterministic() {
    let sim = Sim::start(fast_config()).await;
    let faults = format!("{}/_sim/faults", sim.base);
    let r = sim
        .http
        .put(&faults)
        .json(&json!({"tokenRate429": 0.5, "acrRate429": 0.5, "retryAfterSecs": 3}))
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), 200);
    let token = || {
        sim.http
            .post(format!("{}/{TENANT}/oauth2/v2.0/token", sim.base))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "client"),
                ("client_secret", SECRET),
                ("scope", "https://management.azure.com/.default"),
            ])
            .send()
    };
    let msi = || {
        sim.http
            .get(format!(
                "{}/msi/token?resource=https://management.azure.com&api-version=2019-08-01",
                sim.base
            ))
            .header("x-identity-header", "sockerless-sim-identity")
            .send()
    };
    let mut statuses = Vec::new();
    for _ in 0..2 {
        for r in [token().await.expect("token"), msi().await.expect("msi")] {
            if r.status() == 429 {
                assert_eq!(r.headers()["retry-after"], "3");
            }
            statuses.push(r.status().as_u16());
        }
    }
    assert_eq!(statuses, [200, 429, 200, 429], "every second token request");

    let registry = || {
        sim.http
            .get(format!("{}/v2/", sim.base))
            .basic_auth("sim", Some("sim-registry-password"))
            .send()
    };
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let r = registry().await.expect("get");
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            assert_eq!(r.headers()["retry-after"], "3");
            let body: Value = r.json().await.expect("json");
            assert_eq!(body["errors"][0]["code"], "TOOMANYREQUESTS");
        }
    }
    assert_eq!(
        statuses,
        [200, 429, 200, 429],
        "every second registry request"
    );

    // ARM is not throttled by these rates; at rate 1 every token request is.
    let r = sim.arm(Method::GET, &job_path("none"), None).await;
    assert_eq!(r.status, 404);
    let r = sim
        .http
        .put(&faults)
        .json(&json!({"tokenRate429": 1.0}))
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), 200);
    for _ in 0..3 {
        assert_eq!(token().await.expect("token").status(), 429);
    }
    assert_eq!(registry().await.expect("get").status(), 200);
    sim.shutdown().await;
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
