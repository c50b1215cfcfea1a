//! A lingering agent (`SOCKERLESS_LINGER_SECS`): the main process runs again
//! on RESTART in the same agent, so in the same filesystem; signals reach the
//! new run; the agent exits on END or when the linger time passes.

// unsafe: signals sent to the agent under test.
#![allow(unsafe_code)]

mod common;

use common::*;
use sockerless_agent::peer::ResumeState;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_reruns_the_main_process_in_the_same_filesystem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("n");
    // Each run appends its stdin line to the file, then prints the file:
    // the second run sees the first run's line.
    let script = format!(
        "read x; echo \"$x\" >> {f}; cat {f}; exit 3",
        f = file.display()
    );
    let peer = TestPeer::new().await;
    let child = peer.spawn_agent(
        &["sh", "-c", &script],
        &[
            ("SOCKERLESS_LINGER_SECS", "600"),
            ("SOCKERLESS_OPEN_STDIN", "1"),
        ],
    );
    let conn = peer.accept(ResumeState::new()).await;

    let mut main = conn.main_session().expect("main");
    main.write_stdin(b"one\n").await.expect("stdin of run 1");
    let (out, _, code) = collect(&mut main).await;
    assert_eq!((out.as_slice(), code), (&b"one\n"[..], 3));
    drop(main);

    let mut main = conn.restart_main().await.expect("restart");
    main.write_stdin(b"two\n").await.expect("stdin of run 2");
    let (out, _, code) = collect(&mut main).await;
    assert_eq!((out.as_slice(), code), (&b"one\ntwo\n"[..], 3));
    drop(main);

    conn.end().expect("end");
    assert_eq!(
        wait_exit(child).await,
        3,
        "the agent exits with the last code"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_reach_the_restarted_process() {
    let peer = TestPeer::new().await;
    let script = "trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.05; done";
    let child = peer.spawn_agent(&["sh", "-c", script], &[("SOCKERLESS_LINGER_SECS", "600")]);
    let pid = child.id() as i32;
    let conn = peer.accept(ResumeState::new()).await;
    let mut main = conn.main_session().expect("main");
    for run in 1..=2 {
        read_until(&mut main, "ready").await;
        // SAFETY: signalling the agent process this test started.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let (out, _, code) = collect(&mut main).await;
        assert!(
            String::from_utf8_lossy(&out).contains("got-term"),
            "run {run}: {out:?}"
        );
        assert_eq!(code, 7, "run {run}");
        drop(main);
        if run == 1 {
            main = conn.restart_main().await.expect("restart");
        } else {
            break;
        }
    }
    // Between runs a terminating signal ends the agent (how ACA stops it).
    unsafe { libc::kill(pid, libc::SIGTERM) };
    assert_eq!(wait_exit(child).await, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_exits_when_the_linger_time_passes() {
    let peer = TestPeer::new().await;
    let child = peer.spawn_agent(&["sh", "-c", "exit 5"], &[("SOCKERLESS_LINGER_SECS", "1")]);
    let conn = peer.accept(ResumeState::new()).await;
    let mut main = conn.main_session().expect("main");
    let (_, _, code) = collect(&mut main).await;
    assert_eq!(code, 5);
    // No RESTART: the agent ends by itself, with the exit code of the run.
    assert_eq!(wait_exit(child).await, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_does_not_linger_refuses_restart() {
    let peer = TestPeer::new().await;
    let child = peer.spawn_agent(&["sh", "-c", "exit 0"], &[]);
    let conn = peer.accept(ResumeState::new()).await;
    let mut main = conn.main_session().expect("main");
    main.defer_exit_ack();
    let (_, _, code) = collect(&mut main).await;
    assert_eq!(code, 0);
    drop(main);
    // The exit is not acknowledged yet, so the agent is still there to answer.
    let refused = conn.restart_main().await.expect_err("refused");
    assert!(refused.to_string().contains("does not linger"), "{refused}");
    let main = conn.main_session().expect("main again");
    main.ack_exit().expect("ack");
    assert_eq!(wait_exit(child).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_that_cannot_start_reports_127() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("once.sh");
    // The command removes itself: the second run cannot start.
    std::fs::write(&script, "#!/bin/sh\nrm \"$0\"\necho ran\n").expect("script");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let path = script.display().to_string();
    let peer = TestPeer::new().await;
    let child = peer.spawn_agent(&[&path], &[("SOCKERLESS_LINGER_SECS", "600")]);
    let conn = peer.accept(ResumeState::new()).await;
    let mut main = conn.main_session().expect("main");
    let (out, _, code) = collect(&mut main).await;
    assert_eq!((out.as_slice(), code), (&b"ran\n"[..], 0));
    drop(main);
    // No STARTED then: the new run's stderr and exit come instead.
    let mut main = conn.restart_main().await.expect("restart");
    let (_, err, code) = collect(&mut main).await;
    assert_eq!(code, 127);
    // runc's words, as dockerd fails a start with them.
    assert_eq!(
        String::from_utf8_lossy(&err),
        format!(
            "failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"{path}\": stat {path}: no such file or directory: unknown\n"
        )
    );
    drop(main);
    conn.end().expect("end");
    assert_eq!(wait_exit(child).await, 127);
}
