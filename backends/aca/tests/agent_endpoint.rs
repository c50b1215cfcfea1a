//! The agent endpoint without Azure: only the token of a starting/running
//! container is accepted; an accepted agent makes the container running, its
//! output is captured (logs), and its exit code ends `wait`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use sockerless_agent::net::{DialOptions, dial};
use sockerless_agent::protocol::{Frame, Hello, OutputStream, PROTOCOL_VERSION};
use sockerless_api::{Backend, LogsOptions, WaitCondition};
use sockerless_backend_aca::runtime::StoredConfig;
use sockerless_backend_aca::store::{ContainerRecord, hash_token, records};
use sockerless_backend_aca::{AcaBackend, Config};

const ID: &str = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";
const TOKEN: &str = "the-right-token";
const GUARD: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct NoAzure;

#[async_trait]
impl TokenCredential for NoAzure {
    async fn get_token(
        &self,
        _: &[&str],
        _: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        Err(azure_core::Error::with_message(
            azure_core::error::ErrorKind::Credential,
            "no Azure in this test",
        ))
    }
}

async fn backend(dir: &tempfile::TempDir) -> AcaBackend {
    let mut config = Config::new("sub", "rg", "env", "eastus");
    config.data_dir = dir.path().to_owned();
    config.agent_listen = "tcp://127.0.0.1:0".into();
    AcaBackend::with_credential(config, Arc::new(NoAzure), Default::default())
        .await
        .expect("backend")
}

async fn starting_container(backend: &AcaBackend) {
    let record = ContainerRecord {
        id: ID.into(),
        name: "web".into(),
        image: "busybox".into(),
        job_name: sockerless_backend_aca::names::job_name(ID).expect("job"),
        execution_name: None,
        agent_address: None,
        agent_token_hash: Some(hash_token(TOKEN)),
        state: "created".into(),
        exit_code: None,
        created_at: 1,
        started_at: None,
        finished_at: None,
        config: StoredConfig {
            image_id: "sha256:abc".into(),
            ..Default::default()
        }
        .to_value()
        .expect("json"),
    };
    let r = record.clone();
    backend
        .store()
        .call(move |c| records::put_container(c, &r))
        .await
        .expect("put");
    backend.runtimes().get(&record).begin_run(hash_token(TOKEN));
}

fn url(backend_endpoint: &sockerless_backend_aca::agent_link::AgentEndpoint) -> String {
    backend_endpoint.callback_url.clone()
}

#[tokio::test]
async fn only_the_running_containers_token_is_accepted() {
    tokio::time::timeout(GUARD, async {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = backend(&dir).await;
        let endpoint = backend.start_agent_endpoint().await.expect("endpoint");
        let url = url(&endpoint);
        assert!(
            url.starts_with("ws://127.0.0.1:") && url.ends_with("/agent/v1/connect"),
            "{url}"
        );
        starting_container(&backend).await;

        let opts = |token: &str, id: &str| DialOptions {
            token: token.into(),
            container_id: Some(id.into()),
            ..Default::default()
        };
        for (token, id) in [("wrong", ID), (TOKEN, "0000"), ("", ID)] {
            let err = dial(&url, &opts(token, id)).await.err().expect("refused");
            assert!(err.to_string().contains("401"), "{err}");
        }
        let wrong_path = url.replace("/agent/v1/connect", "/other");
        let err = dial(&wrong_path, &opts(TOKEN, ID))
            .await
            .err()
            .expect("refused");
        assert!(err.to_string().contains("404"), "{err}");

        // The right token: hello, output, exit.
        let mut io = dial(&url, &opts(TOKEN, ID)).await.expect("accepted");
        let hello = Hello {
            version: PROTOCOL_VERSION,
            token: Some(TOKEN.into()),
            container_id: Some(ID.into()),
            window: 1 << 20,
            stdin_window: 1 << 20,
            ..Default::default()
        };
        io.send(Frame::Hello(hello).encode()).await.expect("hello");
        let answer = io.next().await.expect("answer").expect("frame");
        assert!(matches!(Frame::decode(&answer), Ok(Frame::Hello(_))));
        let mut running = false;
        for _ in 0..100 {
            if backend
                .container_inspect(ID)
                .await
                .expect("inspect")
                .state
                .and_then(|s| s.running)
                == Some(true)
            {
                running = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(running, "an accepted agent makes the container running");
        let out = Frame::Output {
            session: 0,
            stream: OutputStream::Stdout,
            offset: 0,
            data: Bytes::from_static(b"hello\n"),
        };
        io.send(out.encode()).await.expect("output");
        let err = Frame::Output {
            session: 0,
            stream: OutputStream::Stderr,
            offset: 0,
            data: Bytes::from_static(b"oops\n"),
        };
        io.send(err.encode()).await.expect("output");
        io.send(
            Frame::Exit {
                session: 0,
                code: 5,
            }
            .encode(),
        )
        .await
        .expect("exit");
        let status = backend
            .container_wait(ID, WaitCondition::NotRunning)
            .await
            .expect("wait");
        assert_eq!(status.status_code, 5);
        let inspect = backend
            .container_inspect(ID)
            .await
            .expect("inspect")
            .state
            .expect("state");
        assert_eq!((inspect.running, inspect.exit_code), (Some(false), Some(5)));

        let logs = backend
            .container_logs(
                ID,
                LogsOptions {
                    stdout: true,
                    stderr: true,
                    ..Default::default()
                },
            )
            .await
            .expect("logs");
        let chunks: Vec<_> = logs.output.map(|c| c.expect("chunk")).collect().await;
        let text: Vec<(u8, String)> = chunks
            .iter()
            .map(|c| {
                (
                    c.stream.as_byte(),
                    String::from_utf8_lossy(&c.data).into_owned(),
                )
            })
            .collect();
        assert_eq!(
            text,
            vec![(1, "hello\n".to_owned()), (2, "oops\n".to_owned())]
        );

        // After the exit the token is no longer accepted.
        let err = dial(&url, &opts(TOKEN, ID))
            .await
            .err()
            .expect("refused after exit");
        assert!(err.to_string().contains("401"), "{err}");
    })
    .await
    .expect("test hung");
}
