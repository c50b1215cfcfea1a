//! End to end through the Azure emulator: pull, create + attach + start +
//! wait, output split by stream, exit code, logs, exec, stop/kill, AutoRemove,
//! attached stdin, and `docker rm` deleting the job. Needs
//! SOCKERLESS_SIM_ENGINE, SOCKERLESS_TEST_REGISTRY and SOCKERLESS_AGENT_IMAGE
//! (CI sets them); `#[ignore]`d: `cargo xtask test` runs it with `--include-ignored`, and it fails without them.

mod sim_support;

use bytes::Bytes;
use futures_util::StreamExt;
use sim_support::{Env, GUARD, collect, create, setup, sh, vars, wait_job_gone};
use sockerless_api::docker::{ContainerCreateBody, ExecConfig, ExecStartConfig, HostConfig};
use sockerless_api::{
    AttachOptions, Backend, CreateContainerRequest, ListContainersOptions, LogsOptions,
    RemoveContainerOptions, StopOptions, WaitCondition,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the emulator's engine, registry and agent image: SOCKERLESS_SIM_ENGINE, SOCKERLESS_TEST_REGISTRY, SOCKERLESS_AGENT_IMAGE (cargo xtask test sets them)"]
async fn run_split_output_exit_code_logs_and_remove() {
    let (engine, registry, agent_image) = vars();
    tokio::time::timeout(GUARD, scenario(engine, registry, agent_image))
        .await
        .expect("scenario hung");
}

async fn scenario(engine: String, registry: String, agent_image: String) {
    let Env { sim, backend, _dir } = setup(engine, registry, agent_image).await;
    let created = backend
        .container_create(CreateContainerRequest {
            name: Some("split".into()),
            platform: None,
            config: ContainerCreateBody {
                image: Some("busybox".into()),
                cmd: Some(vec![
                    "sh".into(),
                    "-c".into(),
                    "echo out; echo err >&2; exit 3".into(),
                ]),
                host_config: Some(HostConfig::default()),
                ..Default::default()
            },
        })
        .await
        .expect("create");
    let id = created.id;
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
    backend.container_start(&id).await.expect("start");
    let status = waiter.await.expect("join").expect("wait");
    assert_eq!(status.status_code, 3);
    let (stdout, stderr) = reader.await.expect("join");
    assert_eq!(stdout, "out\n");
    assert_eq!(stderr, "err\n");

    let inspect = backend.container_inspect("split").await.expect("inspect");
    let state = inspect.state.expect("state");
    assert_eq!(state.exit_code, Some(3));
    assert_eq!(state.running, Some(false));
    let annotations = inspect
        .host_config
        .and_then(|h| h.annotations)
        .expect("annotations");
    let writes: u64 = annotations["sockerless.aca.arm.writes"]
        .parse()
        .expect("number");
    assert!(
        writes >= 2,
        "put job + start execution at least: {annotations:?}"
    );

    let logs = backend
        .container_logs(
            &id,
            LogsOptions {
                stdout: true,
                stderr: true,
                ..Default::default()
            },
        )
        .await
        .expect("logs");
    assert_eq!(
        collect(logs).await,
        ("out\n".to_owned(), "err\n".to_owned())
    );
    let tail = backend
        .container_logs(
            &id,
            LogsOptions {
                stdout: true,
                tail: Some(1),
                ..Default::default()
            },
        )
        .await
        .expect("logs");
    assert_eq!(collect(tail).await, ("out\n".to_owned(), String::new()));

    let job_name = sockerless_backend_aca::names::job_name(&id).expect("job name");
    assert!(
        backend
            .azure()
            .jobs
            .get_job(&job_name)
            .await
            .expect("get job")
            .is_some()
    );
    backend
        .container_remove(&id, RemoveContainerOptions::default())
        .await
        .expect("rm");
    assert!(backend.container_inspect(&id).await.is_err());
    wait_job_gone(&backend, &job_name).await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the emulator's engine, registry and agent image: SOCKERLESS_SIM_ENGINE, SOCKERLESS_TEST_REGISTRY, SOCKERLESS_AGENT_IMAGE (cargo xtask test sets them)"]
async fn detached_exec_stop_and_kill() {
    let (engine, registry, agent_image) = vars();
    tokio::time::timeout(GUARD, async {
        let Env { sim, backend, _dir } = setup(engine, registry, agent_image).await;
        let id = create(
            &backend,
            "s",
            ContainerCreateBody {
                cmd: Some(vec!["sleep".into(), "300".into()]),
                ..Default::default()
            },
        )
        .await;
        backend.container_start(&id).await.expect("start");
        let state = backend
            .container_inspect("s")
            .await
            .expect("inspect")
            .state
            .expect("state");
        assert_eq!(
            state.running,
            Some(true),
            "running as soon as start returns"
        );

        // exec with output
        let exec = backend
            .exec_create(
                "s",
                ExecConfig {
                    cmd: sh("echo in-$HOSTNAME"),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .expect("exec create");
        let out = backend
            .exec_start(&exec.id, ExecStartConfig::default(), None)
            .await
            .expect("exec start");
        assert_eq!(
            collect(out).await,
            (format!("in-{}\n", &id[..12]), String::new())
        );
        let inspect = backend.exec_inspect(&exec.id).await.expect("exec inspect");
        assert_eq!((inspect.running, inspect.exit_code), (Some(false), Some(0)));

        // exec -i cat < data
        let exec = backend
            .exec_create(
                "s",
                ExecConfig {
                    cmd: Some(vec!["cat".into()]),
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    ..Default::default()
                },
            )
            .await
            .expect("exec create");
        let input: sockerless_api::InputStream = Box::pin(futures_util::stream::iter(vec![
            Bytes::from_static(b"da"),
            Bytes::from_static(b"ta\n"),
        ]));
        let out = backend
            .exec_start(&exec.id, ExecStartConfig::default(), Some(input))
            .await
            .expect("exec start");
        assert_eq!(collect(out).await, ("data\n".to_owned(), String::new()));

        // stop: SIGTERM reaches sleep through the agent: 128 + 15
        backend
            .container_stop(
                "s",
                StopOptions {
                    signal: None,
                    timeout_secs: Some(2),
                },
            )
            .await
            .expect("stop");
        let state = backend
            .container_inspect("s")
            .await
            .expect("inspect")
            .state
            .expect("state");
        assert_eq!((state.running, state.exit_code), (Some(false), Some(143)));

        // kill -s USR1 reaches the trap
        let k = create(
            &backend,
            "k",
            ContainerCreateBody {
                cmd: sh("trap 'echo got-usr1' USR1; echo ready; while true; do sleep 1; done"),
                ..Default::default()
            },
        )
        .await;
        backend.container_start(&k).await.expect("start");
        let mut follow = backend
            .container_logs(
                "k",
                LogsOptions {
                    follow: true,
                    stdout: true,
                    stderr: true,
                    ..Default::default()
                },
            )
            .await
            .expect("logs")
            .output;
        let mut seen = String::new();
        let mut killed = false;
        while let Some(chunk) = follow.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk.expect("chunk").data));
            if seen.contains("ready") && !killed {
                backend
                    .container_kill("k", Some("USR1".into()))
                    .await
                    .expect("kill");
                killed = true;
            }
            if seen.contains("got-usr1") {
                break;
            }
        }
        assert!(seen.contains("got-usr1"), "{seen}");

        for name in ["s", "k"] {
            let job = sockerless_backend_aca::names::job_name(
                &backend
                    .container_inspect(name)
                    .await
                    .expect("inspect")
                    .id
                    .expect("id"),
            )
            .expect("job");
            backend
                .container_remove(
                    name,
                    RemoveContainerOptions {
                        force: true,
                        ..Default::default()
                    },
                )
                .await
                .expect("rm -f");
            wait_job_gone(&backend, &job).await;
        }
        let left = backend
            .container_list(ListContainersOptions {
                all: true,
                ..Default::default()
            })
            .await
            .expect("ps");
        assert!(left.is_empty());
        sim.shutdown().await;
    })
    .await
    .expect("scenario hung");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the emulator's engine, registry and agent image: SOCKERLESS_SIM_ENGINE, SOCKERLESS_TEST_REGISTRY, SOCKERLESS_AGENT_IMAGE (cargo xtask test sets them)"]
async fn auto_remove_and_attached_stdin() {
    let (engine, registry, agent_image) = vars();
    tokio::time::timeout(GUARD, async {
        let Env { sim, backend, _dir } = setup(engine, registry, agent_image).await;
        // docker run --rm busybox echo hello
        let id = create(
            &backend,
            "rm",
            ContainerCreateBody {
                cmd: Some(vec!["echo".into(), "hello".into()]),
                host_config: Some(HostConfig {
                    auto_remove: Some(true),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await;
        let job = sockerless_backend_aca::names::job_name(&id).expect("job");
        let out = backend
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
        let reader = tokio::spawn(collect(out));
        let waiter = {
            let (backend, id) = (backend.clone(), id.clone());
            tokio::spawn(async move { backend.container_wait(&id, WaitCondition::Removed).await })
        };
        backend.container_start(&id).await.expect("start");
        assert_eq!(waiter.await.expect("join").expect("wait").status_code, 0);
        assert_eq!(
            reader.await.expect("join"),
            ("hello\n".to_owned(), String::new())
        );
        assert!(backend.container_inspect(&id).await.is_err(), "removed");
        wait_job_gone(&backend, &job).await;

        // docker run -t --rm busybox sh -c tty
        let id = create(
            &backend,
            "tty",
            ContainerCreateBody {
                cmd: sh("tty"),
                tty: Some(true),
                host_config: Some(HostConfig {
                    auto_remove: Some(true),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await;
        let out = backend
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
        assert!(out.tty);
        let reader = tokio::spawn(collect(out));
        backend.container_start(&id).await.expect("start");
        let (stdout, stderr) = reader.await.expect("join");
        assert!(stdout.starts_with("/dev/pts/"), "{stdout:?}");
        assert_eq!(stderr, "");

        // GitLab: create(OpenStdin) → attach(stdin) → start → write → close → read to EOF
        let id = create(
            &backend,
            "gitlab",
            ContainerCreateBody {
                cmd: sh("cat; echo done >&2"),
                open_stdin: Some(true),
                stdin_once: Some(true),
                attach_stdin: Some(true),
                ..Default::default()
            },
        )
        .await;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
        let input: sockerless_api::InputStream =
            Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|b| (b, rx))
            }));
        let out = backend
            .container_attach(
                &id,
                AttachOptions {
                    stream: true,
                    stdin: true,
                    stdout: true,
                    stderr: true,
                    ..Default::default()
                },
                Some(input),
            )
            .await
            .expect("attach");
        let reader = tokio::spawn(collect(out));
        backend.container_start(&id).await.expect("start");
        tx.send(Bytes::from_static(b"echo script\n"))
            .expect("write");
        drop(tx);
        assert_eq!(
            reader.await.expect("join"),
            ("echo script\n".to_owned(), "done\n".to_owned())
        );
        assert_eq!(
            backend
                .container_wait(&id, WaitCondition::NotRunning)
                .await
                .expect("wait")
                .status_code,
            0
        );
        backend
            .container_remove(&id, RemoveContainerOptions::default())
            .await
            .expect("rm");
        sim.shutdown().await;
    })
    .await
    .expect("scenario hung");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the emulator's engine, registry and agent image: SOCKERLESS_SIM_ENGINE, SOCKERLESS_TEST_REGISTRY, SOCKERLESS_AGENT_IMAGE (cargo xtask test sets them)"]
async fn twenty_parallel_auto_removed_runs_leave_nothing_behind() {
    let (engine, registry, agent_image) = vars();
    tokio::time::timeout(GUARD, async {
        let Env { sim, backend, _dir } = setup(engine, registry, agent_image).await;
        let runs = (0..20).map(|i| {
            let backend = backend.clone();
            tokio::spawn(async move {
                let id = create(
                    &backend,
                    &format!("par-{i}"),
                    ContainerCreateBody {
                        cmd: Some(vec!["echo".into(), i.to_string()]),
                        host_config: Some(HostConfig {
                            auto_remove: Some(true),
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                )
                .await;
                let out = backend
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
                let reader = tokio::spawn(collect(out));
                let waiter = {
                    let (backend, id) = (backend.clone(), id.clone());
                    tokio::spawn(async move {
                        backend.container_wait(&id, WaitCondition::Removed).await
                    })
                };
                backend.container_start(&id).await.expect("start");
                assert_eq!(waiter.await.expect("join").expect("wait").status_code, 0);
                let (stdout, _) = reader.await.expect("join");
                assert_eq!(stdout, format!("{i}\n"));
                sockerless_backend_aca::names::job_name(&id).expect("job")
            })
        });
        let mut jobs = Vec::new();
        for run in runs.collect::<Vec<_>>() {
            jobs.push(run.await.expect("run"));
        }
        for job in jobs {
            wait_job_gone(&backend, &job).await;
        }
        let left = backend
            .container_list(ListContainersOptions {
                all: true,
                ..Default::default()
            })
            .await
            .expect("ps");
        assert!(left.is_empty(), "{left:?}");
        sim.shutdown().await;
    })
    .await
    .expect("scenario hung");
}
