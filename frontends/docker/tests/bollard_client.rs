//! A real Docker client (bollard 0.21) against the frontend on a Unix socket.

mod common;

use std::sync::Arc;

use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::container::LogOutput;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, CreateImageOptionsBuilder,
    ListContainersOptionsBuilder, LogsOptionsBuilder, WaitContainerOptionsBuilder,
};
use common::{MemBackend, serve_unix};
use futures_util::{StreamExt, TryStreamExt};
use sockerless_api::docker::{ContainerCreateBody, ExecConfig};
use tokio::io::AsyncWriteExt;

async fn connect(path: &std::path::Path) -> Docker {
    let docker =
        Docker::connect_with_unix(&path.to_string_lossy(), 30, bollard::API_DEFAULT_VERSION)
            .expect("connect");
    // bollard defaults to a newer API than 1.44; it must negotiate down via _ping.
    docker.negotiate_version().await.expect("negotiate")
}

#[tokio::test]
async fn bollard_full_flow() {
    let backend = Arc::new(MemBackend::new());
    let server = serve_unix(backend.clone()).await;
    let docker = connect(&server.socket_path()).await;
    assert_eq!(docker.client_version().to_string(), "1.44");

    let version = docker.version().await.expect("version");
    assert_eq!(version.api_version.as_deref(), Some("1.44"));
    let info = docker.info().await.expect("info");
    assert_eq!(info.driver.as_deref(), Some("memtest"));
    assert_eq!(docker.ping().await.expect("ping"), "OK");

    // Pull with credentials (X-Registry-Auth).
    let creds = DockerCredentials {
        username: Some("ci".into()),
        password: Some("token".into()),
        serveraddress: Some("registry.local".into()),
        ..Default::default()
    };
    let pulled: Vec<_> = docker
        .create_image(
            Some(
                CreateImageOptionsBuilder::default()
                    .from_image("alpine")
                    .tag("3")
                    .build(),
            ),
            None,
            Some(creds),
        )
        .try_collect()
        .await
        .expect("pull");
    assert_eq!(pulled.len(), 2);
    let auth = backend
        .seen()
        .pull_auth
        .clone()
        .expect("pulled")
        .expect("auth");
    assert_eq!(auth.password.as_deref(), Some("token"));
    // A pull error mid-stream reaches the client as an error.
    let broken: Result<Vec<_>, _> = docker
        .create_image(
            Some(
                CreateImageOptionsBuilder::default()
                    .from_image("broken")
                    .tag("1")
                    .build(),
            ),
            None,
            None,
        )
        .try_collect()
        .await;
    assert!(broken.is_err());

    let created = docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name("job").build()),
            ContainerCreateBody {
                image: Some("alpine:3".into()),
                ..Default::default()
            },
        )
        .await
        .expect("create");
    let attach = docker
        .attach_container(
            &created.id,
            Some(
                AttachContainerOptionsBuilder::default()
                    .stream(true)
                    .stdin(true)
                    .stdout(true)
                    .stderr(true)
                    .build(),
            ),
        )
        .await
        .expect("attach");
    let mut wait = docker.wait_container(
        &created.id,
        Some(
            WaitContainerOptionsBuilder::default()
                .condition("next-exit")
                .build(),
        ),
    );
    docker
        .start_container(&created.id, None)
        .await
        .expect("start");
    let mut input = attach.input;
    input.write_all(b"echo hi\n").await.expect("stdin");
    input.shutdown().await.expect("close stdin");
    drop(input);
    let output: Vec<LogOutput> = attach.output.try_collect().await.expect("output");
    let text: String = output.iter().map(ToString::to_string).collect();
    assert_eq!(text, "hello\noops\nstdin:echo hi\n");
    assert!(matches!(output[1], LogOutput::StdErr { .. }));

    let list = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default().all(true).build(),
        ))
        .await
        .expect("list");
    assert_eq!(list.len(), 1);
    docker
        .stop_container(&created.id, None)
        .await
        .expect("stop");
    // bollard reports a non-zero exit as an error carrying the code.
    match wait.next().await.expect("wait result") {
        Err(bollard::errors::Error::DockerContainerWaitError { code, .. }) => assert_eq!(code, 143),
        other => panic!("unexpected wait result {other:?}"),
    }

    let logs: Vec<LogOutput> = docker
        .logs(
            &created.id,
            Some(
                LogsOptionsBuilder::default()
                    .stdout(true)
                    .stderr(true)
                    .build(),
            ),
        )
        .try_collect()
        .await
        .expect("logs");
    assert_eq!(logs.len(), 2);

    let exec = docker
        .create_exec(
            &created.id,
            ExecConfig {
                cmd: Some(vec!["cat".into()]),
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                ..Default::default()
            },
        )
        .await
        .expect("exec create");
    match docker
        .start_exec(&exec.id, None::<StartExecOptions>)
        .await
        .expect("exec start")
    {
        StartExecResults::Attached {
            mut output,
            mut input,
        } => {
            input.write_all(b"data").await.expect("exec stdin");
            input.shutdown().await.expect("close");
            drop(input);
            let mut all = String::new();
            while let Some(item) = output.next().await {
                all.push_str(&item.expect("exec output").to_string());
            }
            assert!(all.ends_with("stdin:data"), "{all}");
        }
        StartExecResults::Detached => panic!("expected attached"),
    }
    assert_eq!(
        docker
            .inspect_exec(&exec.id)
            .await
            .expect("inspect exec")
            .container_id
            .as_deref(),
        Some(created.id.as_str())
    );

    let err = docker
        .inspect_container("nope", None)
        .await
        .expect_err("404");
    match err {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        } => {
            assert_eq!(status_code, 404);
            assert_eq!(message, "No such container: nope");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        docker
            .list_networks(None)
            .await
            .expect("networks")
            .is_empty()
    );
    assert!(
        docker
            .list_volumes(None::<bollard::query_parameters::ListVolumesOptions>)
            .await
            .expect("volumes")
            .volumes
            .unwrap_or_default()
            .is_empty()
    );
    docker
        .remove_container(&created.id, None)
        .await
        .expect("remove");
    server.stop().await;
}
