//! A lost agent link loses nothing: with the link force-dropped
//! (`AcaBackend::drop_agent_link`, closed as a network failure would; the
//! agent dials again), an exec goes on with every output line once, in
//! order, and its real exit code, and stdin piped into `docker run -i …
//! md5sum` arrives whole (the printed md5 matches).

mod sim_support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use sim_support::{Env, GUARD, collect, create, setup, sh, vars};
use sockerless_api::docker::{ContainerCreateBody, ExecConfig, ExecStartConfig};
use sockerless_api::{AttachOptions, Backend, RemoveContainerOptions, StreamKind, WaitCondition};
use sockerless_backend_aca::AcaBackend;
use sockerless_backend_aca::runtime::state::ContainerRuntime;

/// Waits until the container's agent made its `n`th connection (hang-guarded
/// by the test's guard), so a drop hits a live link.
async fn connected(rt: &ContainerRuntime, n: u64) {
    let mut connections = rt.connections.subscribe();
    connections
        .wait_for(|c| *c >= n)
        .await
        .expect("runtime alive");
}

fn runtime(backend: &AcaBackend, id: &str) -> Arc<ContainerRuntime> {
    backend.runtimes().find(id).expect("runtime")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the emulator's engine, registry and agent image: SOCKERLESS_SIM_ENGINE, SOCKERLESS_TEST_REGISTRY, SOCKERLESS_AGENT_IMAGE (cargo xtask test sets them)"]
async fn an_exec_keeps_its_output_and_exit_code_across_dropped_links() {
    let (engine, registry, agent_image) = vars();
    tokio::time::timeout(GUARD, async {
        let Env { sim, backend, _dir } = setup(engine, registry, agent_image).await;
        let id = create(
            &backend,
            "resumed-exec",
            ContainerCreateBody {
                cmd: sh("sleep 600"),
                ..Default::default()
            },
        )
        .await;
        backend.container_start(&id).await.expect("start");
        let rt = runtime(&backend, &id);
        let exec = backend
            .exec_create(
                &id,
                ExecConfig {
                    cmd: sh(
                        "i=0; while [ $i -lt 200 ]; do echo \"line $i\"; i=$((i+1)); sleep 0.1; done; exit 7",
                    ),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .expect("exec create");
        let mut output = backend
            .exec_start(&exec.id, ExecStartConfig::default(), None)
            .await
            .expect("exec start")
            .output;
        let (mut stdout, mut stderr) = (String::new(), String::new());
        // The link drops twice while the exec prints: after line 50 and 120.
        let mut drops = vec!["line 120\n", "line 50\n"];
        while let Some(chunk) = output.next().await {
            let chunk = chunk.expect("output chunk");
            let text = String::from_utf8_lossy(&chunk.data);
            match chunk.stream {
                StreamKind::Stderr => stderr.push_str(&text),
                _ => stdout.push_str(&text),
            }
            if drops.last().is_some_and(|line| stdout.contains(line)) {
                drops.pop();
                let n = 2 - drops.len() as u64;
                connected(&rt, n).await;
                assert!(backend.drop_agent_link(&id), "a link to drop");
            }
        }
        assert!(drops.is_empty(), "the exec ended before both drops");
        let want: String = (0..200).map(|i| format!("line {i}\n")).collect();
        assert_eq!(stdout, want, "every line once, in order");
        assert_eq!(stderr, "");
        let inspect = backend.exec_inspect(&exec.id).await.expect("exec inspect");
        assert_eq!((inspect.running, inspect.exit_code), (Some(false), Some(7)));
        assert!(*rt.connections.borrow() >= 3, "the agent connected again");
        assert!(
            rt.state.borrow().running,
            "the container runs on across the drops"
        );
        backend
            .container_remove(
                &id,
                RemoveContainerOptions {
                    force: true,
                    ..Default::default()
                },
            )
            .await
            .expect("rm -f");
        sim.shutdown().await;
    })
    .await
    .expect("hang guard");
}

/// 10 MiB of pseudo-random bytes (xorshift, fixed seed).
fn payload() -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    (0..10 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// The md5 of `data` as `md5sum` prints it, from the host's `md5sum`.
fn md5_line(data: &[u8]) -> String {
    let mut child = Command::new("md5sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the host's md5sum");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(data)
        .expect("write to md5sum");
    let out = child.wait_with_output().expect("md5sum");
    assert!(out.status.success());
    String::from_utf8(out.stdout).expect("utf-8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the emulator's engine, registry and agent image: SOCKERLESS_SIM_ENGINE, SOCKERLESS_TEST_REGISTRY, SOCKERLESS_AGENT_IMAGE (cargo xtask test sets them)"]
async fn attached_stdin_arrives_whole_across_dropped_links() {
    let (engine, registry, agent_image) = vars();
    tokio::time::timeout(GUARD, async {
        let Env { sim, backend, _dir } = setup(engine, registry, agent_image).await;
        // docker run -i busybox md5sum < payload
        let id = create(
            &backend,
            "resumed-stdin",
            ContainerCreateBody {
                cmd: Some(vec!["md5sum".into()]),
                open_stdin: Some(true),
                stdin_once: Some(true),
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await;
        let data = payload();
        let want = md5_line(&data);
        // Bounded as a client's socket is: the feeder waits for the backend.
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
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
        let rt = runtime(&backend, &id);
        const CHUNK: usize = 64 << 10;
        for (i, chunk) in data.chunks(CHUNK).enumerate() {
            tx.send(Bytes::copy_from_slice(chunk))
                .await
                .expect("stdin taken");
            // Drops at 3 MiB and 7 MiB handed over, each on a live link.
            if i * CHUNK == 3 << 20 || i * CHUNK == 7 << 20 {
                let n = if i * CHUNK == 3 << 20 { 1 } else { 2 };
                connected(&rt, n).await;
                assert!(backend.drop_agent_link(&id), "a link to drop");
            }
        }
        drop(tx);
        let (stdout, stderr) = reader.await.expect("join");
        assert_eq!(stdout, want, "stderr: {stderr}");
        assert_eq!(stderr, "");
        assert_eq!(
            backend
                .container_wait(&id, WaitCondition::NotRunning)
                .await
                .expect("wait")
                .status_code,
            0
        );
        assert!(*rt.connections.borrow() >= 3, "the agent connected again");
        backend
            .container_remove(&id, RemoveContainerOptions::default())
            .await
            .expect("rm");
        sim.shutdown().await;
    })
    .await
    .expect("hang guard");
}
