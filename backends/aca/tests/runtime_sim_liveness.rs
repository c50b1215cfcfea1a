//! A replica that freezes (every process stopped, its sockets open: no FIN,
//! no RST) is noticed by the agent link's liveness: the backend closes the
//! silent link within `agent_liveness_timeout_secs`, treats the agent as
//! disconnected, and once the execution ends the container exits with the
//! execution's status. The replica is frozen with `docker pause` of its
//! containers on the emulator's engine (the cgroup freezer: SIGSTOP of every
//! process, in effect).

mod sim_support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::query_parameters::{KillContainerOptions, ListContainersOptions};
use sim_support::{Env, GUARD, create, setup_with, sh, vars};
use sockerless_api::docker::ContainerCreateBody;
use sockerless_api::{Backend, WaitCondition};
use sockerless_azure_sim::runner::{self, LABEL_EXECUTION};
use sockerless_backend_aca::AcaBackend;
use sockerless_backend_aca::store::records;

const LIVENESS_TIMEOUT_SECS: u64 = 3;
/// Generous: the liveness timeout is what is checked, not the machine's speed.
const MARGIN: Duration = Duration::from_secs(20);

/// The running containers of `execution` on the emulator's engine.
async fn replica_containers(docker: &Docker, execution: &str) -> Vec<String> {
    let filters = HashMap::from([(
        "label".to_string(),
        vec![format!("{LABEL_EXECUTION}={execution}")],
    )]);
    docker
        .list_containers(Some(ListContainersOptions {
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .expect("list the replica's containers")
        .into_iter()
        .filter_map(|c| c.id)
        .collect()
}

async fn execution_of(backend: &AcaBackend, id: &str) -> String {
    let id = id.to_owned();
    backend
        .store()
        .call(move |c| records::get_container(c, &id))
        .await
        .expect("store")
        .and_then(|r| r.execution_name)
        .expect("the container's execution")
}

fn agent_connected(backend: &AcaBackend, id: &str) -> bool {
    backend
        .runtimes()
        .find(id)
        .is_some_and(|rt| rt.agent().is_some())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the emulator's engine, registry and agent image: SOCKERLESS_SIM_ENGINE, SOCKERLESS_TEST_REGISTRY, SOCKERLESS_AGENT_IMAGE (cargo xtask test sets them)"]
async fn a_frozen_replica_is_noticed_and_exits_with_the_executions_status() {
    let (engine, registry, agent_image) = vars();
    tokio::time::timeout(GUARD, async {
        let docker = runner::connect(&engine).await.expect("engine");
        let Env { sim, backend, _dir } = setup_with(engine, registry, agent_image, |c| {
            c.agent_ping_secs = 1;
            c.agent_liveness_timeout_secs = LIVENESS_TIMEOUT_SECS;
            c.agent_grace_secs = 2;
        })
        .await;
        let id = create(
            &backend,
            "frozen",
            ContainerCreateBody {
                cmd: sh("sleep 600"),
                ..Default::default()
            },
        )
        .await;
        backend.container_start(&id).await.expect("start");
        assert!(agent_connected(&backend, &id), "connected at start");
        let execution = execution_of(&backend, &id).await;
        let frozen = replica_containers(&docker, &execution).await;
        assert!(!frozen.is_empty(), "no container of {execution}");
        for c in &frozen {
            docker.pause_container(c).await.expect("pause");
        }
        let paused = Instant::now();

        // The link is found silent and closed: the agent is disconnected.
        let limit = Duration::from_secs(LIVENESS_TIMEOUT_SECS) + MARGIN;
        while agent_connected(&backend, &id) {
            assert!(
                paused.elapsed() < limit,
                "the frozen agent still counts as connected after {:?}",
                paused.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let refused = backend
            .container_kill(&id, Some("SIGUSR1".into()))
            .await
            .expect_err("a signal needs the agent");
        assert!(
            refused.to_string().contains("agent is not connected"),
            "{refused}"
        );
        let inspect = backend.container_inspect(&id).await.expect("inspect");
        assert_eq!(
            inspect.state.and_then(|s| s.running),
            Some(true),
            "running until the execution ends"
        );

        // The execution ends (its replica killed): its status gives the exit.
        let waiter = {
            let (backend, id) = (backend.clone(), id.clone());
            tokio::spawn(
                async move { backend.container_wait(&id, WaitCondition::NotRunning).await },
            )
        };
        for c in &frozen {
            docker
                .kill_container(c, None::<KillContainerOptions>)
                .await
                .expect("kill");
        }
        let status = waiter.await.expect("join").expect("wait");
        assert_eq!(status.status_code, 1, "Failed → 1: {status:?}");
        backend
            .container_remove(&id, Default::default())
            .await
            .expect("rm");
        backend.close().await.expect("close");
        sim.shutdown().await;
    })
    .await
    .expect("hang guard");
}
