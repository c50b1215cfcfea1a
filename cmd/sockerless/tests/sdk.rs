//! The CI runners' API sequences, driven from `bollard` against the
//! all-in-one in emulator mode: GitLab's docker executor (attach before start,
//! script on stdin) and GitHub Actions container jobs (network, long-running
//! container, one exec per step).

use sockerless_testkit as common;

use std::collections::HashMap;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig, NetworkCreateRequest};
use bollard::query_parameters::{
    AttachContainerOptions, CreateContainerOptions, RemoveContainerOptions, StopContainerOptions,
    WaitContainerOptions,
};
use common::{GUARD, Sockerless, serial, test_env, unique};
use futures_util::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;

fn client(d: &Sockerless) -> Docker {
    Docker::connect_with_unix(
        &d.docker_host,
        GUARD.as_secs(),
        bollard::API_DEFAULT_VERSION,
    )
    .expect("bollard client")
}

/// Reads an output stream to its end (hang guard): (stdout, stderr).
async fn collect<S>(mut output: S) -> (String, String)
where
    S: Stream<Item = Result<LogOutput, bollard::errors::Error>> + Unpin,
{
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let read = async {
        while let Some(item) = output.next().await {
            match item.expect("output stream") {
                LogOutput::StdOut { message } | LogOutput::Console { message } => {
                    out.extend_from_slice(&message)
                }
                LogOutput::StdErr { message } => err.extend_from_slice(&message),
                LogOutput::StdIn { .. } => {}
            }
        }
    };
    tokio::time::timeout(GUARD, read)
        .await
        .expect("hang guard: output stream did not end");
    (
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

/// `wait` with `condition`; bollard turns a non-zero exit into an error
/// carrying the code, so both are read back as the code.
async fn wait_exit_code(docker: &Docker, id: &str, condition: &str) -> i64 {
    let mut stream = docker.wait_container(
        id,
        Some(WaitContainerOptions {
            condition: condition.to_owned(),
        }),
    );
    let item = tokio::time::timeout(GUARD, stream.next())
        .await
        .expect("hang guard: wait did not answer")
        .expect("wait answered nothing");
    match item {
        Ok(response) => response.status_code,
        Err(bollard::errors::Error::DockerContainerWaitError { code, .. }) => code,
        Err(other) => panic!("wait failed: {other}"),
    }
}

/// As GitLab's runner does: attach with stdin (stream), then start.
async fn attach_and_start(docker: &Docker, id: &str) -> bollard::container::AttachContainerResults {
    let attached = docker
        .attach_container(
            id,
            Some(AttachContainerOptions {
                stream: true,
                stdin: true,
                stdout: true,
                stderr: true,
                ..Default::default()
            }),
        )
        .await
        .expect("attach before start");
    docker.start_container(id, None).await.expect("start");
    attached
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn gitlab_executor_sequence() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    runtime().block_on(gitlab(&d));
    d.assert_nothing_left();
}

async fn gitlab(d: &Sockerless) {
    let docker = client(d);
    let name = unique("runner-build-");

    let created = docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(name.clone()),
                ..Default::default()
            }),
            ContainerCreateBody {
                image: Some("busybox".into()),
                cmd: Some(vec!["sh".into()]),
                open_stdin: Some(true),
                stdin_once: Some(true),
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                tty: Some(false),
                labels: Some(HashMap::from([(
                    "com.gitlab.gitlab-runner.type".to_owned(),
                    "build".to_owned(),
                )])),
                ..Default::default()
            },
        )
        .await
        .expect("create");
    let attached = attach_and_start(&docker, &created.id).await;

    let mut input = attached.input;
    input
        .write_all(b"echo gitlab-out\necho gitlab-err >&2\nexit 7\n")
        .await
        .expect("write the script");
    input.flush().await.expect("flush");
    input.shutdown().await.expect("close stdin");

    let (stdout, stderr) = collect(attached.output).await;
    assert_eq!(stdout, "gitlab-out\n");
    assert_eq!(stderr, "gitlab-err\n");
    assert_eq!(wait_exit_code(&docker, &created.id, "not-running").await, 7);

    let inspect = docker
        .inspect_container(&created.id, None)
        .await
        .expect("inspect");
    let state = inspect.state.expect("state");
    assert_eq!(state.exit_code, Some(7));
    assert_eq!(
        state.status.map(|s| s.to_string()).as_deref(),
        Some("exited")
    );

    docker
        .remove_container(
            &created.id,
            Some(RemoveContainerOptions {
                v: true,
                ..Default::default()
            }),
        )
        .await
        .expect("remove");
    let gone = docker.inspect_container(&created.id, None).await;
    assert!(
        matches!(
            gone,
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404,
                ..
            })
        ),
        "{gone:?}"
    );
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn github_actions_container_job_sequence() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    runtime().block_on(github_actions(&d));
    d.assert_nothing_left();
}

/// One workflow step: script, env, workdir → stdout, stderr, exit code.
struct Step {
    script: &'static str,
    env: Option<&'static str>,
    workdir: Option<&'static str>,
    stdout: &'static str,
    stderr: &'static str,
    code: i64,
}

async fn github_actions(d: &Sockerless) {
    let docker = client(d);
    let network = unique("github_network_");

    let net = docker
        .create_network(NetworkCreateRequest {
            name: network.clone(),
            labels: Some(HashMap::from([(
                "sockerless.test".to_owned(),
                "gha".to_owned(),
            )])),
            ..Default::default()
        })
        .await
        .expect("network create");
    assert!(!net.id.is_empty());

    let created = docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(unique("job-container-")),
                ..Default::default()
            }),
            ContainerCreateBody {
                image: Some("busybox".into()),
                entrypoint: Some(vec!["tail".into()]),
                cmd: Some(vec!["-f".into(), "/dev/null".into()]),
                working_dir: Some("/tmp".into()),
                host_config: Some(HostConfig {
                    network_mode: Some(network.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .expect("create");
    docker
        .start_container(&created.id, None)
        .await
        .expect("start");

    let step = |script, env, workdir, stdout, stderr, code| Step {
        script,
        env,
        workdir,
        stdout,
        stderr,
        code,
    };
    let steps = [
        step(
            "echo step-one; echo warn-one >&2",
            None,
            None,
            "step-one\n",
            "warn-one\n",
            0,
        ),
        step("echo $((6 * 7))", None, None, "42\n", "", 0),
        step(
            "echo \"$STEP_VAR in $(pwd)\"",
            Some("STEP_VAR=hello"),
            Some("/bin"),
            "hello in /bin\n",
            "",
            0,
        ),
        step("echo failing >&2; exit 5", None, None, "", "failing\n", 5),
    ];
    for Step {
        script,
        env: env_var,
        workdir,
        stdout: want_out,
        stderr: want_err,
        code: want_code,
    } in steps
    {
        let exec = docker
            .create_exec(
                &created.id,
                CreateExecOptions {
                    cmd: Some(vec!["sh", "-e", "-c", script]),
                    env: env_var.map(|e| vec![e]),
                    working_dir: workdir,
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .expect("exec create");
        let started = docker
            .start_exec(
                &exec.id,
                Some(StartExecOptions {
                    detach: false,
                    tty: false,
                    output_capacity: None,
                }),
            )
            .await
            .expect("exec start");
        let StartExecResults::Attached { output, .. } = started else {
            panic!("exec start did not attach");
        };
        let (stdout, stderr) = collect(output).await;
        assert_eq!(
            (stdout.as_str(), stderr.as_str()),
            (want_out, want_err),
            "step {script:?}"
        );
        let inspect = docker.inspect_exec(&exec.id).await.expect("exec inspect");
        assert_eq!(inspect.exit_code, Some(want_code), "step {script:?}");
        assert_eq!(inspect.running, Some(false));
    }

    docker
        .stop_container(
            &created.id,
            Some(StopContainerOptions {
                t: Some(2),
                ..Default::default()
            }),
        )
        .await
        .expect("stop");
    let state = docker
        .inspect_container(&created.id, None)
        .await
        .expect("inspect")
        .state
        .expect("state");
    assert_eq!(state.running, Some(false));
    assert_eq!(state.exit_code, Some(143), "tail ended by SIGTERM");

    docker
        .remove_container(
            &created.id,
            Some(RemoveContainerOptions {
                force: true,
                v: true,
                ..Default::default()
            }),
        )
        .await
        .expect("remove");
    docker
        .remove_network(&network)
        .await
        .expect("network remove");
    let left = d.docker(&[
        "network",
        "ls",
        "-q",
        "--filter",
        &format!("name={network}"),
    ]);
    assert_eq!(left.ok().stdout, "", "network record removed");
}

/// Issue 11: GitLab Runner starts the same build container again for every
/// stage (attach with stdin before start, the stage's script on stdin, wait
/// `not-running`). With a linger time the container outlives its process,
/// so five stages run in one replica: a file written in stage 2 is read in
/// stage 5, and no ARM write happens after the first start.
#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn gitlab_five_stages_in_one_container_share_its_filesystem() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start_with(&env, &["--linger-secs", "120"]);
    d.pull_busybox();
    runtime().block_on(gitlab_stages(&d));
    d.assert_nothing_left();
}

const STAGES: usize = 5;

fn stage_script(stage: usize) -> String {
    match stage {
        2 => "echo from-stage-2 > /tmp/carried\necho stage 2\n".into(),
        5 => "cat /tmp/carried\necho stage 5\nexit 3\n".into(),
        n => format!("echo stage {n}\n"),
    }
}

/// ARM calls on jobs that write (create, start, update), not reads.
fn arm_writes(d: &Sockerless) -> usize {
    d.sim_requests()
        .iter()
        .filter(|r| r["method"] == "PUT" || r["method"] == "POST" || r["method"] == "PATCH")
        .filter(|r| r["path"].as_str().is_some_and(|p| p.contains("/jobs/")))
        .count()
}

async fn gitlab_stages(d: &Sockerless) {
    let docker = client(d);
    let created = docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(unique("runner-build-")),
                ..Default::default()
            }),
            ContainerCreateBody {
                image: Some("busybox".into()),
                cmd: Some(vec!["sh".into()]),
                open_stdin: Some(true),
                stdin_once: Some(true),
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
        .expect("create");
    let mut writes_after_first = None;
    for stage in 1..=STAGES {
        let attached = attach_and_start(&docker, &created.id).await;
        let mut input = attached.input;
        input
            .write_all(stage_script(stage).as_bytes())
            .await
            .expect("write the script");
        input.shutdown().await.expect("close stdin");
        let (stdout, _) = collect(attached.output).await;
        let code = wait_exit_code(&docker, &created.id, "not-running").await;
        if stage == STAGES {
            assert_eq!(
                stdout,
                "from-stage-2\nstage 5\n",
                "stage {stage}\n{}",
                d.log()
            );
            assert_eq!(code, 3);
        } else {
            assert_eq!(
                stdout,
                format!("stage {stage}\n"),
                "stage {stage}\n{}",
                d.log()
            );
            assert_eq!(code, 0);
        }
        if stage == 1 {
            writes_after_first = Some(arm_writes(d));
        }
    }
    assert_eq!(
        Some(arm_writes(d)),
        writes_after_first,
        "stages 2..{STAGES} made ARM writes: {:#?}",
        d.sim_requests()
    );
    docker
        .remove_container(
            &created.id,
            Some(RemoveContainerOptions {
                v: true,
                ..Default::default()
            }),
        )
        .await
        .expect("remove");
}
