//! End to end through the Azure emulator with a TLS agent endpoint and a
//! private CA (`agent_tls_cert` / `agent_tls_key` / `agent_tls_ca`): the job
//! carries the CA as a secret mounted by a `Secret` volume, the agent reads it
//! through `SOCKERLESS_CA_FILE`, dials `wss://` and the run completes. Needs
//! the same variables as `runtime_sim.rs`; prints SKIPPED otherwise.

mod sim_support;

use std::path::Path;

use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use sim_support::{Env, GUARD, collect, create, setup_with, sh, vars};
use sockerless_api::docker::{ContainerCreateBody, HostConfig};
use sockerless_api::{AttachOptions, Backend, WaitCondition};

/// A CA and a server certificate for 127.0.0.1 (the emulator's replicas share
/// the host's network), written as cert.pem, key.pem and ca.pem.
fn write_pki(dir: &Path) {
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca").pem();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec!["127.0.0.1".into()]).expect("params");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &issuer).expect("leaf");
    std::fs::write(dir.join("cert.pem"), cert.pem()).expect("cert");
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).expect("key");
    std::fs::write(dir.join("ca.pem"), ca).expect("ca");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_dials_wss_trusting_the_ca_from_a_secret_volume() {
    let Some((engine, registry, agent_image)) = vars() else {
        return;
    };
    let pki = tempfile::tempdir().expect("tempdir");
    write_pki(pki.path());
    tokio::time::timeout(GUARD, async {
        let Env { sim, backend, _dir } = setup_with(engine, registry, agent_image, |config| {
            config.agent_tls_cert = Some(pki.path().join("cert.pem"));
            config.agent_tls_key = Some(pki.path().join("key.pem"));
            config.agent_tls_ca = Some(pki.path().join("ca.pem"));
        })
        .await;
        let endpoint = backend.agent_endpoint().await.expect("endpoint");
        assert!(
            endpoint.callback_url.starts_with("wss://127.0.0.1:"),
            "{}",
            endpoint.callback_url
        );

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
