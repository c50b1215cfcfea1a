//! Tests of the Docker to ACA Job template translation.

use std::collections::HashMap;

use serde_json::{Value, json};
use sockerless_api::docker::{ContainerCreateBody, HealthConfig, HostConfig, ImageConfig};

use super::*;
use crate::images::{RegistryCredential, ResolvedImage};

const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const TOKEN: &str = "tok-secret-value-1234";

fn settings() -> TemplateSettings {
    TemplateSettings {
        location: "eastus".into(),
        environment_id:
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.App/managedEnvironments/env"
                .into(),
        agent_image: "127.0.0.1:5000/sockerless/agent:latest".into(),
        agent_registry_credential: None,
        callback_url: "ws://127.0.0.1:9112/agent/v1/connect".into(),
        agent_ca_pem: None,
        replica_timeout_secs: 86_400,
        linger_secs: 0,
        ping_secs: 10,
        liveness_timeout_secs: 30,
        instance_id: "inst-1".into(),
    }
}

fn image(cred: bool) -> ResolvedImage {
    ResolvedImage {
        reference: "docker.io/library/busybox:latest".into(),
        id: "sha256:abc".into(),
        digest: None,
        config: ImageConfig::default(),
        pull_reference: "127.0.0.1:5000/library/busybox:latest".into(),
        registry_credential: cred.then(|| RegistryCredential {
            server: "myreg.azurecr.io".into(),
            username: "u".into(),
            password: "registry-pass-xyz".into(),
        }),
    }
}

fn config() -> ContainerCreateBody {
    ContainerCreateBody {
        cmd: Some(vec!["sh".into(), "-c".into(), "echo hi".into()]),
        env: Some(vec![
            "A=1".into(),
            "SOCKERLESS_AGENT_TOKEN=spoof".into(),
            "BARE".into(),
        ]),
        tty: Some(true),
        working_dir: Some("/work".into()),
        ..Default::default()
    }
}

fn job_json(c: &ContainerCreateBody, cred: bool) -> Value {
    let spec = ContainerSpec {
        id: ID,
        config: c,
        agent_token: TOKEN,
    };
    serde_json::to_value(job_for(&spec, &image(cred), &settings()).expect("job")).expect("json")
}

fn env_of(job: &Value) -> HashMap<String, Value> {
    job["properties"]["template"]["containers"][0]["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|e| (e["name"].as_str().expect("name").to_owned(), e.clone()))
        .collect()
}

#[test]
fn agent_token_is_only_a_secret_reference() {
    let job = job_json(&config(), false);
    let env = env_of(&job);
    assert_eq!(
        env["SOCKERLESS_AGENT_TOKEN"],
        json!({"name": "SOCKERLESS_AGENT_TOKEN", "secretRef": AGENT_TOKEN_SECRET})
    );
    let secrets = &job["properties"]["configuration"]["secrets"];
    assert_eq!(
        secrets,
        &json!([{"name": AGENT_TOKEN_SECRET, "value": TOKEN}])
    );
    // The token appears exactly once in the whole document: in the secret.
    assert_eq!(job.to_string().matches(TOKEN).count(), 1);
    // A user's attempt to set an agent variable is dropped; bare keys are skipped.
    assert!(!job.to_string().contains("spoof"));
    assert!(!env.contains_key("BARE"));
}

#[test]
fn init_container_installs_the_agent_into_an_empty_dir() {
    let job = job_json(&config(), false);
    let t = &job["properties"]["template"];
    assert_eq!(
        t["initContainers"],
        json!([{
            "image": "127.0.0.1:5000/sockerless/agent:latest",
            "name": INIT_CONTAINER,
            "command": ["/sockerless-agent"],
            "args": ["--install", "/.sockerless"],
            "volumeMounts": [{"volumeName": AGENT_VOLUME, "mountPath": "/.sockerless"}]
        }])
    );
    assert_eq!(
        t["volumes"],
        json!([{"name": AGENT_VOLUME, "storageType": "EmptyDir"}])
    );
    let main = &t["containers"][0];
    assert_eq!(main["image"], "127.0.0.1:5000/library/busybox:latest");
    assert_eq!(main["command"], json!(["/.sockerless/sockerless-agent"]));
    assert_eq!(main["args"], json!(["--", "sh", "-c", "echo hi"]));
    assert_eq!(main["resources"], json!({"cpu": 0.5, "memory": "1.0Gi"}));
    let env = env_of(&job);
    assert_eq!(env["SOCKERLESS_TTY"]["value"], "true");
    assert_eq!(env["SOCKERLESS_OPEN_STDIN"]["value"], "false");
    assert_eq!(env["SOCKERLESS_CONTAINER_ID"]["value"], ID);
    assert_eq!(
        env["SOCKERLESS_CALLBACK_URL"]["value"],
        "ws://127.0.0.1:9112/agent/v1/connect"
    );
    assert_eq!(env["SOCKERLESS_WORKDIR"]["value"], "/work");
    assert_eq!(env["HOSTNAME"]["value"], &ID[..12]);
    assert_eq!(env["SOCKERLESS_HOSTNAME"]["value"], &ID[..12]);
    assert!(!env.contains_key("SOCKERLESS_DOMAINNAME"));
    assert_eq!(env["A"]["value"], "1");
}

#[test]
fn configuration_tags_and_trigger() {
    let job = job_json(&config(), false);
    assert_eq!(job["location"], "eastus");
    assert_eq!(
        job["tags"],
        json!({"managed-by": "sockerless", "sockerless-instance": "inst-1", "sockerless-container": ID})
    );
    let conf = &job["properties"]["configuration"];
    assert_eq!(conf["triggerType"], "Manual");
    assert_eq!(conf["replicaTimeout"], 86_400);
    assert_eq!(conf["replicaRetryLimit"], 0);
    assert_eq!(
        conf["manualTriggerConfig"],
        json!({"replicaCompletionCount": 1, "parallelism": 1})
    );
    assert!(conf.get("registries").is_none());
}

#[test]
fn registry_password_goes_to_a_secret() {
    let job = job_json(&config(), true);
    let conf = &job["properties"]["configuration"];
    assert_eq!(
        conf["registries"],
        json!([{"server": "myreg.azurecr.io", "username": "u", "passwordSecretRef": REGISTRY_SECRET}])
    );
    assert_eq!(job.to_string().matches("registry-pass-xyz").count(), 1);
    assert_eq!(conf["secrets"][1]["name"], REGISTRY_SECRET);
}

#[test]
fn replica_timeout_label_overrides_and_is_validated() {
    let mut c = config();
    c.labels = Some(HashMap::from([(
        REPLICA_TIMEOUT_LABEL.to_owned(),
        "120".to_owned(),
    )]));
    assert_eq!(
        job_json(&c, false)["properties"]["configuration"]["replicaTimeout"],
        120
    );
    c.labels = Some(HashMap::from([(
        REPLICA_TIMEOUT_LABEL.to_owned(),
        "soon".to_owned(),
    )]));
    let spec = ContainerSpec {
        id: ID,
        config: &c,
        agent_token: TOKEN,
    };
    assert!(matches!(
        job_for(&spec, &image(false), &settings()),
        Err(ApiError::InvalidParameter(_))
    ));
}

#[test]
fn healthcheck_is_passed_as_json_unless_disabled() {
    let mut c = config();
    c.healthcheck = Some(HealthConfig {
        test: Some(vec!["CMD".into(), "true".into()]),
        retries: Some(2),
        ..Default::default()
    });
    let env = env_of(&job_json(&c, false));
    let hc: Value =
        serde_json::from_str(env["SOCKERLESS_HEALTHCHECK"]["value"].as_str().expect("s"))
            .expect("json");
    assert_eq!(hc["Test"], json!(["CMD", "true"]));
    assert_eq!(hc["Retries"], 2);
    c.healthcheck = Some(HealthConfig {
        test: Some(vec!["NONE".into()]),
        ..Default::default()
    });
    assert!(!env_of(&job_json(&c, false)).contains_key("SOCKERLESS_HEALTHCHECK"));
}

#[test]
fn resources_round_up_to_consumption_pairs() {
    let gib = 1024 * 1024 * 1024_i64;
    let pair =
        |cpus: Option<i64>, mem: Option<i64>| resources_for(cpus, mem).map(|p| (p.cpu, p.memory()));
    assert_eq!(pair(None, None), Ok((0.5, "1.0Gi".into())));
    assert_eq!(pair(Some(100_000_000), None), Ok((0.25, "0.5Gi".into())));
    assert_eq!(pair(Some(1_000_000_000), None), Ok((1.0, "2.0Gi".into())));
    assert_eq!(pair(Some(1_100_000_000), None), Ok((1.25, "2.5Gi".into())));
    assert_eq!(
        pair(None, Some(256 * 1024 * 1024)),
        Ok((0.25, "0.5Gi".into()))
    );
    assert_eq!(pair(None, Some(3 * gib)), Ok((1.5, "3.0Gi".into())));
    assert_eq!(
        pair(Some(250_000_000), Some(2 * gib)),
        Ok((1.0, "2.0Gi".into()))
    );
    assert_eq!(
        pair(Some(2_000_000_000), Some(4 * gib)),
        Ok((2.0, "4.0Gi".into()))
    );
    assert!(pair(Some(3_000_000_000), None).is_err());
    assert!(pair(None, Some(5 * gib)).is_err());
    let mut c = config();
    c.host_config = Some(HostConfig {
        nano_cpus: Some(1_500_000_000),
        ..Default::default()
    });
    let job = job_json(&c, false);
    assert_eq!(
        job["properties"]["template"]["containers"][0]["resources"],
        json!({"cpu": 1.5, "memory": "3.0Gi"})
    );
}

#[test]
fn wss_callback_and_agent_ca_as_a_mounted_secret() {
    const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    let mut s = settings();
    s.callback_url = "wss://10.0.0.4:9112/agent/v1/connect".into();
    s.agent_ca_pem = Some(PEM.into());
    let spec = ContainerSpec {
        id: ID,
        config: &config(),
        agent_token: TOKEN,
    };
    let job = serde_json::to_value(job_for(&spec, &image(false), &s).expect("job")).expect("json");
    let env = env_of(&job);
    assert_eq!(
        env["SOCKERLESS_CALLBACK_URL"]["value"],
        "wss://10.0.0.4:9112/agent/v1/connect"
    );
    assert_eq!(env["SOCKERLESS_CA_FILE"]["value"], "/.sockerless-ca/ca.pem");
    assert_eq!(
        job["properties"]["configuration"]["secrets"],
        json!([
            {"name": AGENT_TOKEN_SECRET, "value": TOKEN},
            {"name": AGENT_CA_SECRET, "value": PEM}
        ])
    );
    let t = &job["properties"]["template"];
    assert_eq!(
        t["volumes"],
        json!([
            {"name": AGENT_VOLUME, "storageType": "EmptyDir"},
            {"name": AGENT_CA_SECRET, "storageType": "Secret",
             "secrets": [{"secretRef": AGENT_CA_SECRET, "path": "ca.pem"}]}
        ])
    );
    assert_eq!(
        t["containers"][0]["volumeMounts"],
        json!([
            {"volumeName": AGENT_VOLUME, "mountPath": "/.sockerless"},
            {"volumeName": AGENT_CA_SECRET, "mountPath": "/.sockerless-ca"}
        ])
    );
    // Only the main container (where the agent runs) mounts the CA.
    assert_eq!(
        t["initContainers"][0]["volumeMounts"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    // Without a CA: no variable, no secret, no volume.
    let job = job_json(&config(), false);
    assert!(!env_of(&job).contains_key("SOCKERLESS_CA_FILE"));
    assert!(!job.to_string().contains(AGENT_CA_SECRET));
}

fn agent_login(server: &str) -> RegistryCredential {
    RegistryCredential {
        server: server.into(),
        username: "admin".into(),
        password: "pw-for-agent-reg-77".into(),
    }
}

#[test]
fn agent_image_registry_login_is_added_once_per_registry() {
    let c = config();
    let spec = ContainerSpec {
        id: ID,
        config: &c,
        agent_token: TOKEN,
    };
    let mut s = settings();
    s.agent_registry_credential = Some(agent_login("sim.example:5000"));
    let job = serde_json::to_value(job_for(&spec, &image(true), &s).expect("job")).expect("json");
    let conf = &job["properties"]["configuration"];
    let servers: Vec<&str> = conf["registries"]
        .as_array()
        .expect("registries")
        .iter()
        .map(|r| r["server"].as_str().expect("server"))
        .collect();
    assert_eq!(servers, ["myreg.azurecr.io", "sim.example:5000"]);
    assert_eq!(
        conf["registries"][1]["passwordSecretRef"],
        AGENT_REGISTRY_SECRET
    );
    assert_eq!(job.to_string().matches("pw-for-agent-reg-77").count(), 1);

    // The same registry for both images: one entry, the image's own login.
    s.agent_registry_credential = Some(agent_login("myreg.azurecr.io"));
    let job = serde_json::to_value(job_for(&spec, &image(true), &s).expect("job")).expect("json");
    let registries = job["properties"]["configuration"]["registries"]
        .as_array()
        .expect("registries")
        .clone();
    assert_eq!(registries.len(), 1);
    assert_eq!(registries[0]["passwordSecretRef"], REGISTRY_SECRET);
    assert!(!job.to_string().contains("pw-for-agent-reg-77"));

    // Only the agent image is private.
    s.agent_registry_credential = Some(agent_login("sim.example:5000"));
    let job = serde_json::to_value(job_for(&spec, &image(false), &s).expect("job")).expect("json");
    assert_eq!(
        job["properties"]["configuration"]["registries"][0]["server"],
        "sim.example:5000"
    );
}

#[test]
fn hostname_and_domainname_reach_the_agent_and_a_user_hostname_variable_wins() {
    let mut c = config();
    c.hostname = Some("h1".into());
    c.domainname = Some("example.org".into());
    c.env = Some(vec!["HOSTNAME=mine".into()]);
    let env = env_of(&job_json(&c, false));
    assert_eq!(env["SOCKERLESS_HOSTNAME"]["value"], "h1");
    assert_eq!(env["SOCKERLESS_DOMAINNAME"]["value"], "example.org");
    assert_eq!(env["HOSTNAME"]["value"], "mine");
}

#[test]
fn linger_is_passed_to_the_agent_unless_the_container_is_auto_removed() {
    let linger = |c: &ContainerCreateBody, secs| {
        let settings = TemplateSettings {
            linger_secs: secs,
            ..settings()
        };
        let spec = ContainerSpec {
            id: ID,
            config: c,
            agent_token: TOKEN,
        };
        let job = serde_json::to_value(job_for(&spec, &image(false), &settings).expect("job"))
            .expect("json");
        env_of(&job)
            .get("SOCKERLESS_LINGER_SECS")
            .map(|e| e["value"].clone())
    };
    assert_eq!(linger(&config(), 0), None, "off by default");
    assert_eq!(linger(&config(), 60), Some(json!("60")));
    let rm = ContainerCreateBody {
        host_config: Some(HostConfig {
            auto_remove: Some(true),
            ..Default::default()
        }),
        ..config()
    };
    assert_eq!(linger(&rm, 60), None, "--rm containers do not linger");
}

#[test]
fn the_agent_link_liveness_reaches_the_agent() {
    let settings = TemplateSettings {
        ping_secs: 1,
        liveness_timeout_secs: 3,
        ..settings()
    };
    let c = config();
    let spec = ContainerSpec {
        id: ID,
        config: &c,
        agent_token: TOKEN,
    };
    let job =
        serde_json::to_value(job_for(&spec, &image(false), &settings).expect("job")).expect("json");
    let env = env_of(&job);
    assert_eq!(env["SOCKERLESS_PING_SECS"]["value"], "1");
    assert_eq!(env["SOCKERLESS_LIVENESS_TIMEOUT_SECS"]["value"], "3");
    // A user variable of the same name never reaches the agent.
    let spoof = ContainerCreateBody {
        env: Some(vec!["SOCKERLESS_PING_SECS=0".into()]),
        ..config()
    };
    let spec = ContainerSpec {
        id: ID,
        config: &spoof,
        agent_token: TOKEN,
    };
    let job =
        serde_json::to_value(job_for(&spec, &image(false), &settings).expect("job")).expect("json");
    assert_eq!(env_of(&job)["SOCKERLESS_PING_SECS"]["value"], "1");
}
