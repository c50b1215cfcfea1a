//! Two backends (two data dirs, two instance IDs) share one environment, as
//! a team past one daemon runs them: each one's reconciliation deletes its
//! own orphaned jobs and leaves the other's jobs alone while both run
//! containers.

mod sim_support;

use std::time::{Duration, Instant};

use sim_support::{
    Env, GUARD, backend_on, create, pull_busybox, setup, sh, sim_config, vars, wait_job_gone,
};
use sockerless_api::docker::ContainerCreateBody;
use sockerless_api::{Backend, WaitCondition};
use sockerless_backend_aca::AcaBackend;
use sockerless_backend_aca::runtime::reconcile::{self, Action};
use sockerless_backend_aca::store::records;

/// A container of `backend` whose record is then dropped behind the
/// backend's back (as a crash between `rm`'s steps would): its job is an
/// orphan tagged with `backend`'s instance.
async fn orphan_job(backend: &AcaBackend, name: &str) -> String {
    let id = create(
        backend,
        name,
        ContainerCreateBody {
            cmd: sh("true"),
            ..Default::default()
        },
    )
    .await;
    backend.container_start(&id).await.expect("start");
    backend
        .container_wait(&id, WaitCondition::NotRunning)
        .await
        .expect("wait");
    let gone = id.clone();
    backend
        .store()
        .call(move |c| records::delete_container(c, &gone))
        .await
        .expect("drop the record");
    sockerless_backend_aca::names::job_name(&id).expect("job name")
}

async fn running(backend: &AcaBackend, name: &str) -> String {
    let id = create(
        backend,
        name,
        ContainerCreateBody {
            cmd: sh("sleep 4; echo done"),
            ..Default::default()
        },
    )
    .await;
    backend.container_start(&id).await.expect("start");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the emulator's engine, registry and agent image: SOCKERLESS_SIM_ENGINE, SOCKERLESS_TEST_REGISTRY, SOCKERLESS_AGENT_IMAGE (cargo xtask test sets them)"]
async fn each_backend_collects_its_own_orphans_and_leaves_the_others_jobs_alone() {
    let (engine, registry, agent_image) = vars();
    tokio::time::timeout(GUARD, async {
        let Env {
            sim,
            backend: first,
            _dir,
        } = setup(engine, registry.clone(), agent_image.clone()).await;
        let second_dir = tempfile::tempdir().expect("tempdir");
        let second = backend_on(
            &sim,
            sim_config(&sim, second_dir.path(), &registry, agent_image, 0),
        )
        .await;
        second.start_agent_endpoint().await.expect("endpoint");
        pull_busybox(&second).await;
        assert_ne!(first.instance_id(), second.instance_id());

        let orphan_first = orphan_job(&first, "orphan-1").await;
        let orphan_second = orphan_job(&second, "orphan-2").await;
        let run_first = running(&first, "run-1").await;
        let run_second = running(&second, "run-2").await;

        // Both reconcile while both run containers: each deletes its own
        // orphan only.
        let actions = reconcile::with_azure(&first, false).await.expect("first");
        assert_eq!(actions, vec![Action::DeleteJob(orphan_first.clone())]);
        let actions = reconcile::with_azure(&second, false).await.expect("second");
        assert_eq!(actions, vec![Action::DeleteJob(orphan_second.clone())]);
        wait_job_gone(&first, &orphan_first).await;
        wait_job_gone(&second, &orphan_second).await;

        for (backend, id) in [(&first, &run_first), (&second, &run_second)] {
            let status = backend
                .container_wait(id, WaitCondition::NotRunning)
                .await
                .expect("wait");
            assert_eq!(
                status.status_code, 0,
                "the other's reconciliation left it alone"
            );
            let job = sockerless_backend_aca::names::job_name(id).expect("job name");
            assert!(
                backend
                    .azure()
                    .jobs
                    .get_job(&job)
                    .await
                    .expect("get")
                    .is_some(),
                "an exited container keeps its job until rm"
            );
        }
        // Nothing more for either once the orphans are gone.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let a = reconcile::with_azure(&first, false).await.expect("first");
            let b = reconcile::with_azure(&second, false).await.expect("second");
            if a.is_empty() && b.is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "still acting: {a:?} {b:?}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        for (backend, id) in [(&first, &run_first), (&second, &run_second)] {
            backend
                .container_remove(id, Default::default())
                .await
                .expect("rm");
        }
    })
    .await
    .expect("guard");
}
