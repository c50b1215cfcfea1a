//! Nothing lost, nothing leaked when the daemon dies: the backend runs as
//! its own process (`sockerless-backend-aca`) against an emulator that
//! outlives it (it runs in this test's process, as Azure outlives a real
//! daemon). 50 containers print a numbered line every 100 ms; the daemon is
//! killed with SIGKILL mid-stream and started again 10 s later on the same
//! data dir. Every container's log then holds every line once, in order;
//! each exits with its own code; the `--rm` ones are gone; and the emulator
//! holds a job for every record and none without one.

mod sim_support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use sim_support::{collect, identity_header, pull_busybox, sh, sim_config, start_sim, vars};
use sockerless_api::docker::{ContainerCreateBody, HostConfig};
use sockerless_api::listen::ListenAddr;
use sockerless_api::{
    ApiError, Backend, CreateContainerRequest, ListContainersOptions, LogsOptions, RemoteBackend,
    WaitCondition,
};
use sockerless_azure::jobs::JobsClient;
use sockerless_backend_aca::Config;

const CONTAINERS: usize = 50;
const LINES: usize = 250;
/// Containers start printing together, this long after the test began
/// creating them (all are running by then).
const START_DELAY_SECS: u64 = 60;
const DOWNTIME: Duration = Duration::from_secs(10);
/// Hang guard only.
const GUARD: Duration = Duration::from_secs(600);

const BIN: &str = env!("CARGO_BIN_EXE_sockerless-backend-aca");

/// What container `i` does: its exit, its stream, whether it is `--rm`.
struct Plan {
    code: i64,
    stderr: bool,
    auto_remove: bool,
}

fn plan(i: usize) -> Plan {
    Plan {
        code: [0, 3, 42, 143][i % 4],
        stderr: i % 3 == 1,
        auto_remove: i.is_multiple_of(5),
    }
}

fn script(i: usize, start_at: u64) -> String {
    let p = plan(i);
    let redirect = if p.stderr { " >&2" } else { "" };
    // 143: ends waiting for the SIGTERM the test sends after the restart.
    let end = if p.code == 143 {
        "exec sleep 600".to_owned()
    } else {
        format!("exit {}", p.code)
    };
    format!(
        "while [ $(date +%s) -lt {start_at} ]; do sleep 0.2; done; \
         i=0; while [ $i -lt {LINES} ]; do echo line-$i{redirect}; i=$((i+1)); sleep 0.1; done; {end}"
    )
}

fn expected_log() -> String {
    (0..LINES).map(|i| format!("line-{i}\n")).collect()
}

/// The daemon's environment, from `config` (the way an operator configures it).
fn spawn_daemon(config: &Config, sim_base: &str, socket: &Path, log: &Path) -> Child {
    let path = |p: &Option<PathBuf>| p.as_ref().expect("pki path").display().to_string();
    let mirrors = config
        .registry_mirrors
        .iter()
        .map(|(h, u)| format!("{h}={u}"))
        .collect::<Vec<_>>()
        .join(",");
    let _ = std::fs::remove_file(socket);
    Command::new(BIN)
        .env_clear()
        .env("IDENTITY_ENDPOINT", format!("{sim_base}/msi/token"))
        .env("IDENTITY_HEADER", identity_header())
        .env("SOCKERLESS_ACA_SUBSCRIPTION_ID", &config.subscription_id)
        .env("SOCKERLESS_ACA_RESOURCE_GROUP", &config.resource_group)
        .env(
            "SOCKERLESS_ACA_MANAGED_ENVIRONMENT_NAME",
            &config.managed_environment_name,
        )
        .env("SOCKERLESS_ACA_LOCATION", &config.location)
        .env("SOCKERLESS_ACA_ARM_ENDPOINT", config.arm_endpoint.as_str())
        .env(
            "SOCKERLESS_ACA_LOG_ANALYTICS_ENDPOINT",
            config.log_analytics_endpoint.as_str(),
        )
        .env(
            "SOCKERLESS_ACA_LOG_ANALYTICS_WORKSPACE_ID",
            config.log_analytics_workspace_id.as_deref().unwrap_or(""),
        )
        .env("SOCKERLESS_ACA_REGISTRY_MIRRORS", mirrors)
        .env(
            "SOCKERLESS_ACA_AGENT_IMAGE",
            config.agent_image.as_deref().unwrap_or(""),
        )
        .env("SOCKERLESS_ACA_AGENT_LISTEN", &config.agent_listen)
        .env(
            "SOCKERLESS_ACA_AGENT_TLS_CERT",
            path(&config.agent_tls_cert),
        )
        .env("SOCKERLESS_ACA_AGENT_TLS_KEY", path(&config.agent_tls_key))
        .env("SOCKERLESS_ACA_AGENT_TLS_CA", path(&config.agent_tls_ca))
        .env("SOCKERLESS_ACA_AGENT_CONNECT_TIMEOUT_SECS", "120")
        .env("SOCKERLESS_ACA_AGENT_GRACE_SECS", "60")
        .env("SOCKERLESS_ACA_DATA_DIR", &config.data_dir)
        .env("SOCKERLESS_ACA_LOG_LEVEL", "info")
        .args(["--listen", &format!("unix://{}", socket.display())])
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .expect("log file"),
        ))
        .spawn()
        .expect("spawn the daemon")
}

async fn connect(socket: &Path) -> RemoteBackend {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let client = RemoteBackend::new(
            format!("unix://{}", socket.display())
                .parse::<ListenAddr>()
                .expect("addr"),
        );
        if client.capabilities().await.is_ok() {
            return client;
        }
        assert!(Instant::now() < deadline, "the daemon did not come up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn sigkill(child: &mut Child) {
    child.kill().expect("SIGKILL");
    let _ = child.wait();
}

async fn free_port(ip: std::net::IpAddr) -> u16 {
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.expect("bind");
    listener.local_addr().expect("addr").port()
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

async fn create_and_start(client: &RemoteBackend, i: usize, start_at: u64) -> String {
    let p = plan(i);
    let id = client
        .container_create(CreateContainerRequest {
            name: Some(format!("crash-{i}")),
            platform: None,
            config: ContainerCreateBody {
                image: Some("busybox".into()),
                cmd: sh(&script(i, start_at)),
                host_config: Some(HostConfig {
                    auto_remove: Some(p.auto_remove),
                    ..Default::default()
                }),
                ..Default::default()
            },
        })
        .await
        .expect("create")
        .id;
    client.container_start(&id).await.expect("start");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the emulator's engine, registry and agent image: SOCKERLESS_SIM_ENGINE, SOCKERLESS_TEST_REGISTRY, SOCKERLESS_AGENT_IMAGE (cargo xtask test sets them)"]
async fn a_killed_daemon_loses_no_output_no_exit_and_leaks_no_job() {
    let (engine, registry, agent_image) = vars();
    tokio::time::timeout(GUARD, async {
        let sim = start_sim(engine).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let gateway = sim.gateway().expect("replica network");
        // A fixed port: the agents' callback URL must outlive the process.
        let port = free_port(gateway).await;
        let config = sim_config(&sim, &dir.path().join("data"), &registry, agent_image, port);
        let socket = dir.path().join("backend.sock");
        let log = dir.path().join("daemon.log");
        let mut daemon = spawn_daemon(&config, &sim.base_url(), &socket, &log);
        let client = connect(&socket).await;
        pull_busybox(&client).await;

        let start_at = now_secs() + START_DELAY_SECS;
        let ids: Vec<String> = futures_util::stream::iter(0..CONTAINERS)
            .map(|i| {
                let client = client.clone();
                async move { create_and_start(&client, i, start_at).await }
            })
            .buffered(10)
            .collect()
            .await;
        assert!(
            now_secs() < start_at,
            "starting {CONTAINERS} containers took longer than {START_DELAY_SECS} s"
        );

        // Mid-stream: about 5 s of the 25 s of output.
        while now_secs() < start_at + 5 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        sigkill(&mut daemon);
        tokio::time::sleep(DOWNTIME).await;
        let mut daemon = spawn_daemon(&config, &sim.base_url(), &socket, &log);
        let client = connect(&socket).await;

        // The SIGTERM ones wait for it once their lines are out (on a busy
        // machine the 25 s of output take longer: the test waits for the
        // last line, not for a time).
        for (i, id) in ids.iter().enumerate() {
            if plan(i).code != 143 {
                continue;
            }
            let last = format!("line-{}", LINES - 1);
            let deadline = Instant::now() + Duration::from_secs(180);
            loop {
                let (stdout, stderr) = collect(
                    client
                        .container_logs(
                            id,
                            LogsOptions {
                                stdout: true,
                                stderr: true,
                                tail: Some(1),
                                ..Default::default()
                            },
                        )
                        .await
                        .expect("logs"),
                )
                .await;
                if stdout.trim() == last || stderr.trim() == last {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "crash-{i} never printed its last line"
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            client
                .container_kill(id, Some("TERM".into()))
                .await
                .unwrap_or_else(|e| panic!("kill crash-{i}: {e}"));
        }

        let mut failures = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let p = plan(i);
            let code = match client.container_wait(id, WaitCondition::NotRunning).await {
                Ok(status) => Some(status.status_code),
                Err(ApiError::NotFound(_)) if p.auto_remove => None,
                Err(e) => panic!("wait crash-{i}: {e}"),
            };
            if p.auto_remove {
                if let Some(code) = code
                    && code != p.code
                {
                    failures.push(format!("crash-{i} (--rm): exit {code}, expected {}", p.code));
                }
                continue;
            }
            if code != Some(p.code) {
                failures.push(format!("crash-{i}: exit {code:?}, expected {}", p.code));
            }
            let (stdout, stderr) = collect(
                client
                    .container_logs(
                        id,
                        LogsOptions {
                            stdout: true,
                            stderr: true,
                            ..Default::default()
                        },
                    )
                    .await
                    .expect("logs"),
            )
            .await;
            let (got, other) = if p.stderr {
                (stderr, stdout)
            } else {
                (stdout, stderr)
            };
            if got != expected_log() || !other.is_empty() {
                let lines: Vec<&str> = got.lines().collect();
                failures.push(format!(
                    "crash-{i}: {} lines (expected {LINES}), first {:?}, last {:?}, other stream {:?}",
                    lines.len(),
                    lines.first(),
                    lines.last(),
                    other
                ));
            }
        }

        // The --rm ones go; every record keeps its job, and no job is left
        // without a record.
        let jobs = JobsClient::new(
            sockerless_azure::arm::ArmClient::with_scope(
                config.arm_endpoint.clone(),
                &config.arm_scope(),
                sim_support::credential(&sim),
                Default::default(),
            ),
            config.subscription_id.clone(),
            config.resource_group.clone(),
        );
        let instance = std::fs::read_to_string(config.data_dir.join("instance-id"))
            .expect("instance id")
            .trim()
            .to_owned();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let records: BTreeSet<String> = client
                .container_list(ListContainersOptions {
                    all: true,
                    ..Default::default()
                })
                .await
                .expect("ps -a")
                .into_iter()
                .filter_map(|c| c.id)
                .map(|id| sockerless_backend_aca::names::job_name(&id).expect("job name"))
                .collect();
            let tagged: BTreeSet<String> = jobs
                .list_tagged("sockerless-instance", &instance)
                .await
                .expect("list jobs")
                .into_iter()
                .filter_map(|j| j.name)
                .collect();
            let kept: BTreeSet<String> = ids
                .iter()
                .enumerate()
                .filter(|(i, _)| !plan(*i).auto_remove)
                .map(|(_, id)| sockerless_backend_aca::names::job_name(id).expect("job name"))
                .collect();
            if records == kept && tagged == kept {
                break;
            }
            if Instant::now() > deadline {
                failures.push(format!(
                    "records {} (expected {}), jobs without a record {:?}, records without a job {:?}",
                    records.len(),
                    kept.len(),
                    tagged.difference(&records).collect::<Vec<_>>(),
                    records.difference(&tagged).collect::<Vec<_>>()
                ));
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }

        for id in &ids {
            let _ = client
                .container_remove(
                    id,
                    sockerless_api::RemoveContainerOptions {
                        force: true,
                        ..Default::default()
                    },
                )
                .await;
        }
        sigkill(&mut daemon);
        if !failures.is_empty() {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            panic!(
                "{} failures:\n{}\n--- daemon log (last lines) ---\n{}",
                failures.len(),
                failures.join("\n"),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        sim.shutdown().await;
    })
    .await
    .expect("guard");
}

/// `kill -9` between the job's PUT and the execution's start (the PUT's
/// operation held open by the emulator): after the restart the job is
/// deleted (it never ran an execution), the container stays `created`, and
/// a new `docker start` runs it; nothing is left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the emulator's engine, registry and agent image: SOCKERLESS_SIM_ENGINE, SOCKERLESS_TEST_REGISTRY, SOCKERLESS_AGENT_IMAGE (cargo xtask test sets them)"]
async fn a_start_cut_between_put_and_start_is_cleaned_up_and_can_run_again() {
    let (engine, registry, agent_image) = vars();
    tokio::time::timeout(GUARD, async {
        let sim = start_sim(engine).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port(sim.gateway().expect("replica network")).await;
        let config = sim_config(&sim, &dir.path().join("data"), &registry, agent_image, port);
        let socket = dir.path().join("backend.sock");
        let log = dir.path().join("daemon.log");
        let mut daemon = spawn_daemon(&config, &sim.base_url(), &socket, &log);
        let client = connect(&socket).await;
        pull_busybox(&client).await;
        let id = client
            .container_create(CreateContainerRequest {
                name: Some("cut".into()),
                platform: None,
                config: ContainerCreateBody {
                    image: Some("busybox".into()),
                    cmd: sh("echo ran"),
                    ..Default::default()
                },
            })
            .await
            .expect("create")
            .id;
        let job = sockerless_backend_aca::names::job_name(&id).expect("job name");
        let jobs = JobsClient::new(
            sockerless_azure::arm::ArmClient::with_scope(
                config.arm_endpoint.clone(),
                &config.arm_scope(),
                sim_support::credential(&sim),
                Default::default(),
            ),
            config.subscription_id.clone(),
            config.resource_group.clone(),
        );

        // The job's PUT is accepted, its operation held open: the daemon
        // dies waiting for it, before any execution starts.
        sim_support::set_faults(&sim, serde_json::json!({"lroDelayMs": 60_000})).await;
        let starting = {
            let client = client.clone();
            let id = id.clone();
            tokio::spawn(async move { client.container_start(&id).await })
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while jobs.get_job(&job).await.expect("get job").is_none() {
            assert!(Instant::now() < deadline, "the job was never PUT");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        sigkill(&mut daemon);
        assert!(
            starting.await.expect("join").is_err(),
            "the start died with the daemon"
        );
        sim_support::set_faults(&sim, serde_json::json!({"lroDelayMs": 50})).await;
        assert!(
            jobs.list_executions(&job)
                .await
                .expect("executions")
                .is_empty(),
            "no execution was started"
        );

        let mut daemon = spawn_daemon(&config, &sim.base_url(), &socket, &log);
        let client = connect(&socket).await;
        let deadline = Instant::now() + Duration::from_secs(120);
        while jobs.get_job(&job).await.expect("get job").is_some() {
            assert!(
                Instant::now() < deadline,
                "the cut start's job is still there after the restart"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let state = client
            .container_inspect(&id)
            .await
            .expect("inspect")
            .state
            .expect("state");
        assert_eq!(state.status.map(|s| s.to_string()), Some("created".into()));

        client.container_start(&id).await.expect("start again");
        let status = client
            .container_wait(&id, WaitCondition::NotRunning)
            .await
            .expect("wait");
        assert_eq!(status.status_code, 0);
        let (stdout, _) = collect(
            client
                .container_logs(
                    &id,
                    LogsOptions {
                        stdout: true,
                        stderr: true,
                        ..Default::default()
                    },
                )
                .await
                .expect("logs"),
        )
        .await;
        assert_eq!(stdout, "ran\n");
        client
            .container_remove(
                &id,
                sockerless_api::RemoveContainerOptions {
                    force: true,
                    ..Default::default()
                },
            )
            .await
            .expect("rm");
        let deadline = Instant::now() + Duration::from_secs(60);
        while jobs.get_job(&job).await.expect("get job").is_some() {
            assert!(Instant::now() < deadline, "job left after rm");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        sigkill(&mut daemon);
        sim.shutdown().await;
    })
    .await
    .expect("guard");
}
