//! `docker rm` never waits on Azure: with every job DELETE failing, the
//! container's record goes at once and the job's deletion stays queued in
//! the store; it is retried until it succeeds, and a backend restarted on
//! the same data dir carries it out.

mod sim_support;

use std::time::{Duration, Instant};

use serde_json::json;
use sim_support::{
    Env, GUARD, backend_on, create, set_faults, setup_with, sh, vars, wait_job_gone,
};
use sockerless_api::docker::ContainerCreateBody;
use sockerless_api::{Backend, WaitCondition};
use sockerless_backend_aca::store::records;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the emulator's engine, registry and agent image: SOCKERLESS_SIM_ENGINE, SOCKERLESS_TEST_REGISTRY, SOCKERLESS_AGENT_IMAGE (cargo xtask test sets them)"]
async fn rm_answers_while_deletes_fail_and_a_restarted_backend_collects_the_job() {
    let (engine, registry, agent_image) = vars();
    tokio::time::timeout(GUARD, async {
        let mut saved = None;
        let Env { sim, backend, _dir } =
            setup_with(engine, registry, agent_image, |c| saved = Some(c.clone())).await;
        let config = saved.expect("config");
        let id = create(
            &backend,
            "collected",
            ContainerCreateBody {
                cmd: sh("echo hi"),
                ..Default::default()
            },
        )
        .await;
        let job = sockerless_backend_aca::names::job_name(&id).expect("job name");
        backend.container_start(&id).await.expect("start");
        backend
            .container_wait(&id, WaitCondition::NotRunning)
            .await
            .expect("wait");

        set_faults(&sim, json!({"failMethods": ["DELETE"], "lroDelayMs": 50})).await;
        backend
            .container_remove(&id, Default::default())
            .await
            .expect("rm answers although Azure fails the job's DELETE");
        assert!(backend.container_inspect(&id).await.is_err(), "record gone");
        let queued = backend
            .store()
            .call(|c| records::queued_job_deletes(c))
            .await
            .expect("queue");
        assert_eq!(queued, vec![job.clone()]);
        assert!(
            backend
                .azure()
                .jobs
                .get_job(&job)
                .await
                .expect("get")
                .is_some(),
            "the job stays while deletes fail"
        );

        // A restart: the first backend's store closes (its retry loop can no
        // longer clear the queue); the second one, on the same data dir,
        // resumes the deletion.
        backend.close().await.expect("close");
        let restarted = backend_on(&sim, config).await;
        restarted.start_agent_endpoint().await.expect("endpoint");
        set_faults(&sim, json!({"lroDelayMs": 50})).await;
        wait_job_gone(&restarted, &job).await;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let queued = restarted
                .store()
                .call(|c| records::queued_job_deletes(c))
                .await
                .expect("queue");
            if queued.is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "still queued: {queued:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        restarted.close().await.expect("close");
        sim.shutdown().await;
    })
    .await
    .expect("hang guard");
}
