//! The main process: exit codes, signal forwarding, output across a forced
//! disconnect, and bounded memory with a slow reader.

// unsafe: signals sent to the agent under test.
#![allow(unsafe_code)]

mod common;

use common::*;
use sockerless_agent::peer::{OutputStream, ResumeState, SessionEvent};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_are_reported_and_returned() {
    for (script, code) in [
        ("exit 0", 0),
        ("echo out; echo err >&2; exit 3", 3),
        ("kill -9 $$", 137),
        ("kill -TERM $$", 143),
    ] {
        let peer = TestPeer::new().await;
        let child = peer.spawn_agent(&["sh", "-c", script], &[]);
        let conn = peer.accept(ResumeState::new()).await;
        let mut main = conn.main_session().expect("main");
        let (out, err, reported) = collect(&mut main).await;
        assert_eq!(reported, code, "reported exit code of {script:?}");
        if code == 3 {
            assert_eq!(
                (out.as_slice(), err.as_slice()),
                (&b"out\n"[..], &b"err\n"[..])
            );
        }
        assert_eq!(
            wait_exit(child).await,
            code,
            "agent exit code of {script:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_are_forwarded_to_the_main_process() {
    let peer = TestPeer::new().await;
    let script = "trap 'echo got-usr1' USR1; trap 'echo got-term; exit 42' TERM; echo ready; \
                  while :; do sleep 0.05; done";
    let child = peer.spawn_agent(&["sh", "-c", script], &[]);
    let pid = child.id() as i32;
    let conn = peer.accept(ResumeState::new()).await;
    let mut main = conn.main_session().expect("main");
    read_until(&mut main, "ready").await;
    // SAFETY: signalling the agent process this test started.
    unsafe { libc::kill(pid, libc::SIGUSR1) };
    read_until(&mut main, "got-usr1").await;
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let (out, _, code) = collect(&mut main).await;
    assert!(
        String::from_utf8_lossy(&out).contains("got-term"),
        "{out:?}"
    );
    assert_eq!(code, 42);
    assert_eq!(wait_exit(child).await, 42);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_does_not_leak_and_orphans_are_reaped() {
    let peer = TestPeer::new().await;
    // The inner sh is orphaned at once (its parent subshell exits), so it is
    // re-parented to the agent, prints its pid and exits: the agent must reap it.
    let script = "echo token=${SOCKERLESS_AGENT_TOKEN:-none} url=${SOCKERLESS_CALLBACK_URL:-none}; \
                  (sh -c 'echo orphan=$$' &); cat >/dev/null";
    let child = peer.spawn_agent(&["sh", "-c", script], &[("SOCKERLESS_OPEN_STDIN", "1")]);
    let conn = peer.accept(ResumeState::new()).await;
    let mut main = conn.main_session().expect("main");
    let mut seen = read_until(&mut main, "orphan=").await;
    while !seen.split("orphan=").nth(1).unwrap_or("").contains('\n') {
        seen += &read_until(&mut main, "\n").await;
    }
    assert!(seen.starts_with("token=none url=none\n"), "{seen:?}");
    let pid: u32 = seen
        .split("orphan=")
        .nth(1)
        .and_then(|s| s.trim().parse().ok())
        .expect("orphan pid");
    // A zombie keeps its /proc entry until reaped; the hang guard is the only timeout.
    tokio::time::timeout(GUARD, async {
        while std::path::Path::new(&format!("/proc/{pid}")).exists() {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("orphan never reaped");
    main.close_stdin().expect("close");
    let (_, _, code) = collect(&mut main).await;
    assert_eq!(code, 0);
    assert_eq!(wait_exit(child).await, 0);
}

fn expected_output(lines: usize) -> (Vec<u8>, Vec<u8>) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    for i in 0..lines {
        out.extend_from_slice(
            format!("line {i} 0123456789012345678901234567890123456789\n").as_bytes(),
        );
        if i % 1000 == 0 {
            err.extend_from_slice(format!("err {i}\n").as_bytes());
        }
    }
    (out, err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_is_complete_and_ordered_across_a_forced_disconnect() {
    const LINES: usize = 30_000; // ~1.4 MiB
    let script = format!(
        "i=0; while [ $i -lt {LINES} ]; do echo \"line $i 0123456789012345678901234567890123456789\"; \
         if [ $((i % 1000)) -eq 0 ]; then echo \"err $i\" >&2; fi; i=$((i+1)); done"
    );
    let peer = TestPeer::new().await;
    // A small window keeps the process running (blocked) while we disconnect.
    let child = peer.spawn_agent(
        &["sh", "-c", &script],
        &[("SOCKERLESS_BACKLOG_BYTES", "65536")],
    );
    let resume = ResumeState::new();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut connections = 0;
    let code = loop {
        let conn = peer.accept(resume.clone()).await;
        connections += 1;
        let mut main = conn.main_session().expect("main");
        let stop_at = out.len() + 400_000;
        let ended = loop {
            match tokio::time::timeout(GUARD, main.recv())
                .await
                .expect("hang")
            {
                Some(SessionEvent::Output {
                    stream,
                    offset,
                    data,
                }) => {
                    let buf = if stream == OutputStream::Stdout {
                        &mut out
                    } else {
                        &mut err
                    };
                    assert_eq!(offset, buf.len() as u64, "offsets are contiguous");
                    buf.extend_from_slice(&data);
                    if connections < 3 && out.len() >= stop_at {
                        break None; // drop the connection mid-stream
                    }
                }
                Some(SessionEvent::Exit(code)) => break Some(code),
                Some(SessionEvent::Error(e)) => panic!("agent error {e}"),
                None => panic!("connection closed unexpectedly"),
            }
        };
        drop(main);
        drop(conn);
        if let Some(code) = ended {
            break code;
        }
    };
    assert!(
        connections >= 3,
        "the test must really reconnect ({connections})"
    );
    let (want_out, want_err) = expected_output(LINES);
    assert_eq!(out.len(), want_out.len());
    assert!(out == want_out, "stdout differs");
    assert!(err == want_err, "stderr differs");
    assert_eq!(code, 0);
    assert_eq!(wait_exit(child).await, 0);
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_reader_keeps_agent_memory_bounded() {
    const TOTAL: u64 = 50 * 1024 * 1024;
    let peer = TestPeer::new().await;
    let cmd = format!("head -c {TOTAL} /dev/zero | tr '\\0' 'x'");
    let child = peer.spawn_agent(
        &["sh", "-c", &cmd],
        &[("SOCKERLESS_BACKLOG_BYTES", "1048576")],
    );
    let pid = child.id();
    let conn = peer.accept(ResumeState::new()).await;
    assert_eq!(conn.info().window, 1024 * 1024);
    let mut main = conn.main_session().expect("main");
    let mut received = 0u64;
    let mut chunks = 0u64;
    let peak = loop {
        match tokio::time::timeout(GUARD, main.recv())
            .await
            .expect("hang")
        {
            Some(SessionEvent::Output { offset, data, .. }) => {
                assert_eq!(offset, received);
                assert!(data.iter().all(|b| *b == b'x'));
                received += data.len() as u64;
                chunks += 1;
                if chunks.is_multiple_of(32) {
                    // A slow consumer: the agent must wait, not buffer.
                    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                }
                if received == TOTAL {
                    // Measured before the exit is acknowledged, while the agent still runs.
                    break peak_rss_kib(pid);
                }
            }
            other => panic!("unexpected {other:?} after {received} bytes"),
        }
    };
    assert_eq!(collect(&mut main).await.2, 0);
    assert_eq!(wait_exit(child).await, 0);
    // 50 MiB went through; a bounded agent never holds more than the window per stream.
    assert!(peak < 24 * 1024, "agent peak RSS {peak} KiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_before_the_process_starts_reaches_it() {
    // `docker kill` right after `docker start`: the process waits for its
    // peers when the signal comes; it must get it once it runs, not lose it.
    let peer = TestPeer::new().await;
    let child = peer.spawn_agent(
        &["sh", "-c", "echo started; exec sleep 60"],
        &[("SOCKERLESS_AWAIT_PEERS_SECS", "60")],
    );
    let conn = peer.accept(ResumeState::new()).await;
    let mut main = conn.main_session().expect("main");
    main.signal(libc::SIGKILL).expect("signal");
    conn.set_peers(&sockerless_agent::peer::PeersUpdate { hosts: vec![] })
        .expect("peers");
    let (_, _, code) = collect(&mut main).await;
    assert_eq!(code, 128 + libc::SIGKILL);
    assert_eq!(wait_exit(child).await, 128 + libc::SIGKILL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_waits_for_its_peers_and_keeps_early_stdin() {
    let peer = TestPeer::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let hosts = dir.path().join("hosts");
    std::fs::write(&hosts, "127.0.0.1\tlocalhost\n").expect("hosts");
    let hosts_env = hosts.to_string_lossy().into_owned();
    // The process prints the hosts file as it finds it, then echoes stdin.
    let script = format!("cat {hosts_env}; cat");
    let child = peer.spawn_agent(
        &["sh", "-c", &script],
        &[
            ("SOCKERLESS_OPEN_STDIN", "1"),
            ("SOCKERLESS_AWAIT_PEERS_SECS", "60"),
            ("SOCKERLESS_HOSTS_FILE", &hosts_env),
        ],
    );
    let conn = peer.accept(ResumeState::new()).await;
    let mut main = conn.main_session().expect("main");
    let input = main.input();
    // Stdin sent before the process exists is kept for it, not dropped.
    input.write(b"early\n").await.expect("stdin");
    conn.set_peers(&sockerless_agent::peer::PeersUpdate {
        hosts: vec![sockerless_agent::peer::PeerHost {
            ip: "127.18.0.3".into(),
            names: vec!["db".into()],
            ports: vec![],
        }],
    })
    .expect("peers");
    input.close().expect("close stdin");
    let (out, _, code) = collect(&mut main).await;
    let out = String::from_utf8_lossy(&out);
    assert!(
        out.contains("127.18.0.3\tdb"),
        "hosts ready at start: {out:?}"
    );
    assert!(out.ends_with("early\n"), "early stdin delivered: {out:?}");
    assert_eq!(code, 0);
    assert_eq!(wait_exit(child).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deferred_exit_ack_keeps_the_container_for_a_copy_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("out");
    let script = format!("echo written > {}; exit 5", file.display());
    let peer = TestPeer::new().await;
    let mut child = peer.spawn_agent(&["sh", "-c", &script], &[]);
    let conn = peer.accept(ResumeState::new()).await;
    let mut main = conn.main_session().expect("main");
    main.defer_exit_ack();
    let (_, _, code) = collect(&mut main).await;
    assert_eq!(code, 5);
    // Unacknowledged: the agent is still there and serves a copy.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        child.try_wait_code().is_none(),
        "agent exited before the ack"
    );
    let (stat, mut tar) = conn
        .get_archive(&file.display().to_string())
        .await
        .expect("get");
    assert_eq!(stat.name, "out");
    let (bytes, _, code) = collect(&mut tar).await;
    assert_eq!(code, 0);
    assert!(!bytes.is_empty());
    main.ack_exit().expect("ack");
    assert_eq!(wait_exit(child).await, 5);
}
