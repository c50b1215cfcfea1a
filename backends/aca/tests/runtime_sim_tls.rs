//! End to end through the Azure emulator with a TLS agent endpoint and a
//! private CA (`agent_tls_cert` / `agent_tls_key` / `agent_tls_ca`, set up by
//! `sim_support` for the emulator network's gateway, as every emulator test
//! now runs): the job carries the CA as a secret mounted by a `Secret` volume,
//! the agent reads it through `SOCKERLESS_CA_FILE`, dials `wss://` and the
//! run completes. Needs the same variables as `runtime_sim.rs`; fails
//! without them; ignored unless run with `--include-ignored` (`cargo xtask test`).

mod sim_support;

use sim_support::{Env, GUARD, collect, create, setup, sh, vars};
use sockerless_api::docker::{ContainerCreateBody, HostConfig};
use sockerless_api::{AttachOptions, Backend, WaitCondition};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the emulator's engine, registry and agent image: SOCKERLESS_SIM_ENGINE, SOCKERLESS_TEST_REGISTRY, SOCKERLESS_AGENT_IMAGE (cargo xtask test sets them)"]
async fn agent_dials_wss_trusting_the_ca_from_a_secret_volume() {
    let (engine, registry, agent_image) = vars();
    tokio::time::timeout(GUARD, async {
        let Env { sim, backend, _dir } = setup(engine, registry, agent_image).await;
        let gateway = sim.gateway().expect("replica network");
        let endpoint = backend.agent_endpoint().await.expect("endpoint");
        assert!(
            endpoint
                .callback_url
                .starts_with(&format!("wss://{gateway}:")),
            "{}",
            endpoint.callback_url
        );
        assert!(endpoint.ca_pem.is_some());

        let id = create(
            &backend,
            "tls",
            ContainerCreateBody {
                image: Some("busybox".into()),
                cmd: sh("head -n 1 /.sockerless-ca/ca.pem; exit 7"),
                host_config: Some(HostConfig::default()),
                ..Default::default()
            },
        )
        .await;
        let attached = backend
            .container_attach(
                &id,
                AttachOptions {
                    stream: true,
                    stdout: true,
                    stderr: true,
                    ..Default::default()
                },
                None,
            )
            .await
            .expect("attach");
        let reader = tokio::spawn(collect(attached));
        let waiter = {
            let backend = backend.clone();
            let id = id.clone();
            tokio::spawn(async move { backend.container_wait(&id, WaitCondition::NextExit).await })
        };
        // Returns only once the agent has connected: over wss, trusting the CA.
        backend.container_start(&id).await.expect("start over wss");
        let status = waiter.await.expect("join").expect("wait");
        assert_eq!(status.status_code, 7);
        let (stdout, stderr) = reader.await.expect("join");
        assert_eq!(stdout, "-----BEGIN CERTIFICATE-----\n", "stderr: {stderr}");
        backend
            .container_remove(&id, Default::default())
            .await
            .expect("remove");
        drop(sim);
    })
    .await
    .expect("scenario hung");
}
