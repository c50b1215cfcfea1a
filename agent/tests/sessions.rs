//! Exec sessions, stdin (attach before start), TTY, health checks and archives.

// unsafe: the test's own uid and gid.
#![allow(unsafe_code)]

mod common;

use std::io::Read;

use common::*;
use sockerless_agent::peer::{ExecConfig, PeerError, PutOptions, ResumeState};

fn exec(cmd: &[&str]) -> ExecConfig {
    ExecConfig {
        cmd: cmd.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_sessions_with_stdin_tty_env_user_and_late_main_stdin() {
    let peer = TestPeer::new().await;
    // The main process waits for stdin that only arrives at the end (attach before start).
    let child = peer.spawn_agent(
        &["sh", "-c", "read line; echo main-got:$line"],
        &[("SOCKERLESS_OPEN_STDIN", "1"), ("APP_VAR", "from-image")],
    );
    let conn = peer.accept(ResumeState::new()).await;
    assert!(conn.info().open_stdin);
    let mut main = conn.main_session().expect("main");

    // Pipes with stdin, and stdin EOF.
    let mut cat = conn
        .exec(&ExecConfig {
            stdin: true,
            ..exec(&["cat"])
        })
        .await
        .expect("exec cat");
    // 3 MiB through a 1 MiB stdin window and a 4 MiB output window, both
    // directions at once: credit flow control, no deadlock, nothing lost.
    let payload: Vec<u8> = (0..786_432u32).flat_map(|i| i.to_le_bytes()).collect();
    let input = cat.input();
    let to_write = payload.clone();
    let writer = tokio::spawn(async move {
        input.write(&to_write).await.expect("stdin");
        input.close().expect("close");
    });
    let (out, _, code) = collect(&mut cat).await;
    writer.await.expect("writer");
    assert_eq!(code, 0);
    assert!(out == payload, "cat echoed {} bytes", out.len());

    // Env, workdir, user by name, and no agent variables.
    let mut env = conn
        .exec(&ExecConfig {
            env: vec!["FOO=bar".into()],
            workdir: Some("/tmp".into()),
            user: Some("nobody".into()),
            ..exec(&[
                "sh",
                "-c",
                "echo $FOO $APP_VAR; pwd; id -u; echo ${SOCKERLESS_AGENT_TOKEN:-none}; exit 4",
            ])
        })
        .await
        .expect("exec env");
    let (out, _, code) = collect(&mut env).await;
    assert_eq!(
        String::from_utf8_lossy(&out),
        "bar from-image\n/tmp\n65534\nnone\n"
    );
    assert_eq!(code, 4);

    // TTY with initial size, input, resize.
    let mut tty = conn
        .exec(&ExecConfig {
            tty: true,
            stdin: true,
            rows: 30,
            cols: 100,
            ..exec(&[
                "sh",
                "-c",
                "stty size; read x; echo got:$x; read y; stty size; exit 5",
            ])
        })
        .await
        .expect("exec tty");
    read_until(&mut tty, "30 100").await;
    tty.write_stdin(b"abc\n").await.expect("stdin");
    read_until(&mut tty, "got:abc").await;
    tty.resize(40, 120).expect("resize");
    tty.write_stdin(b"\n").await.expect("stdin");
    let seen = read_until(&mut tty, "40 120").await;
    assert!(!seen.contains("30 100"), "{seen:?}");
    let (_, err, code) = collect(&mut tty).await;
    assert!(err.is_empty(), "a tty has one stream");
    assert_eq!(code, 5);

    // Signals reach the exec's process.
    let mut sleeper = conn
        .exec(&exec(&["sleep", "1000"]))
        .await
        .expect("exec sleep");
    sleeper.signal(libc::SIGTERM).expect("signal");
    assert_eq!(collect(&mut sleeper).await.2, 143);

    // Unknown commands and users are errors, not sessions.
    assert!(matches!(
        conn.exec(&exec(&["/nonexistent"])).await,
        Err(PeerError::Agent(_))
    ));
    let bad_user = ExecConfig {
        user: Some("no-such-user".into()),
        ..exec(&["true"])
    };
    assert!(
        matches!(conn.exec(&bad_user).await, Err(PeerError::Agent(m)) if m.contains("no-such-user"))
    );

    // Many concurrent sessions.
    let mut sessions = Vec::new();
    for i in 0..16 {
        sessions.push(
            conn.exec(&exec(&["sh", "-c", &format!("echo s{i}; exit {i}")]))
                .await
                .expect("exec"),
        );
    }
    for (i, s) in sessions.iter_mut().enumerate() {
        let (out, _, code) = collect(s).await;
        assert_eq!(
            (String::from_utf8_lossy(&out).into_owned(), code),
            (format!("s{i}\n"), i as i32)
        );
    }

    main.write_stdin(b"late\n").await.expect("main stdin");
    main.close_stdin().expect("close");
    let (out, _, code) = collect(&mut main).await;
    assert_eq!(String::from_utf8_lossy(&out), "main-got:late\n");
    assert_eq!(code, 0);
    assert_eq!(wait_exit(child).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_check_turns_unhealthy() {
    let peer = TestPeer::new().await;
    let hc = r#"{"Test":["CMD-SHELL","echo probing; exit 1"],"Interval":20000000,"Timeout":5000000000,"Retries":3}"#;
    let child = peer.spawn_agent(
        &["sh", "-c", "cat >/dev/null"],
        &[
            ("SOCKERLESS_HEALTHCHECK", hc),
            ("SOCKERLESS_OPEN_STDIN", "1"),
        ],
    );
    let mut conn = peer.accept(ResumeState::new()).await;
    let mut reports = Vec::new();
    tokio::time::timeout(GUARD, async {
        while let Some(r) = conn.next_health().await {
            let unhealthy = r.status == "unhealthy";
            reports.push(r);
            if unhealthy {
                break;
            }
        }
    })
    .await
    .expect("never unhealthy");
    let streaks: Vec<(String, u32)> = reports
        .iter()
        .map(|r| (r.status.clone(), r.failing_streak))
        .collect();
    assert_eq!(
        streaks,
        vec![
            ("starting".into(), 1),
            ("starting".into(), 2),
            ("unhealthy".into(), 3)
        ],
        "docker semantics: unhealthy after Retries consecutive failures"
    );
    assert!(
        reports
            .iter()
            .all(|r| r.exit_code == 1 && r.output == "probing\n" && !r.start.is_empty())
    );
    let mut main = conn.main_session().expect("main");
    main.close_stdin().expect("close");
    assert_eq!(collect(&mut main).await.2, 0);
    assert_eq!(wait_exit(child).await, 0);
}

fn tar_with(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o640);
        h.set_entry_type(tar::EntryType::Regular);
        // Written raw: the builder itself refuses `..`, and the test needs it.
        let field = &mut h.as_old_mut().name;
        field[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        b.append(&h, *data).expect("append");
    }
    b.into_inner().expect("finish")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archives_round_trip_and_escapes_are_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("target");
    std::fs::create_dir(&target).expect("mkdir");
    let target_s = target.to_str().expect("utf8").to_string();
    let peer = TestPeer::new().await;
    let child = peer.spawn_agent(
        &["sh", "-c", "cat >/dev/null"],
        &[("SOCKERLESS_OPEN_STDIN", "1")],
    );
    let conn = peer.accept(ResumeState::new()).await;

    // put
    let tar = tar_with(&[
        ("d/a.txt", b"hello archive\n"),
        ("d/sub/b.bin", &[7u8; 100_000]),
    ]);
    let mut put = conn.put_archive(&target_s).await.expect("put");
    put.write_stdin(&tar).await.expect("stdin");
    put.close_stdin().expect("close");
    assert_eq!(put.finish().await.expect("extract"), 0);
    assert_eq!(
        std::fs::read(target.join("d/a.txt")).expect("file"),
        b"hello archive\n"
    );

    // stat
    let st = conn
        .stat(&format!("{target_s}/d/a.txt"))
        .await
        .expect("stat");
    assert_eq!((st.name.as_str(), st.size, st.mode), ("a.txt", 14, 0o640));
    let st = conn.stat(&format!("{target_s}/d")).await.expect("stat dir");
    assert_eq!(st.mode & (1 << 31), 1 << 31, "Go's ModeDir bit");
    assert!(matches!(
        conn.stat("/no/such/path").await,
        Err(PeerError::Agent(_))
    ));

    // get
    let (st, mut get) = conn
        .get_archive(&format!("{target_s}/d"))
        .await
        .expect("get");
    assert_eq!(st.name, "d");
    let (tar_out, _, code) = collect(&mut get).await;
    assert_eq!(code, 0);
    let mut names = Vec::new();
    let mut archive = tar::Archive::new(tar_out.as_slice());
    for entry in archive.entries().expect("entries") {
        let mut e = entry.expect("entry");
        let name = e.path().expect("path").to_string_lossy().into_owned();
        if name == "d/a.txt" {
            let mut s = String::new();
            e.read_to_string(&mut s).expect("read");
            assert_eq!(s, "hello archive\n");
        }
        if name == "d/sub/b.bin" {
            assert_eq!(e.header().size().expect("size"), 100_000);
        }
        names.push(name.trim_end_matches('/').to_string());
    }
    for want in ["d", "d/a.txt", "d/sub", "d/sub/b.bin"] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }

    // escape attempts
    let evil = tar_with(&[("ok.txt", b"fine"), ("../escape.txt", b"evil")]);
    let mut put = conn.put_archive(&target_s).await.expect("put");
    put.write_stdin(&evil).await.expect("stdin");
    put.close_stdin().expect("close");
    match put.finish().await {
        Err(PeerError::Agent(m)) => assert!(m.contains("escapes"), "{m}"),
        other => panic!("escape accepted: {other:?}"),
    }
    assert!(
        !dir.path().join("escape.txt").exists(),
        "file written outside the target"
    );
    assert!(matches!(
        conn.put_archive("/no/such/dir").await,
        Err(PeerError::Agent(_))
    ));

    // create: a missing directory and its parents; clear: the old content goes
    // (links removed, not followed), the new one lands.
    let bind = target.join("new/deep");
    let bind_s = bind.to_str().expect("utf8").to_string();
    let create = PutOptions {
        create: true,
        ..Default::default()
    };
    let mut put = conn
        .put_archive_with(&bind_s, create)
        .await
        .expect("create");
    put.write_stdin(&tar_with(&[("old.txt", b"old")]))
        .await
        .expect("stdin");
    put.close_stdin().expect("close");
    assert_eq!(put.finish().await.expect("extract"), 0);
    std::os::unix::fs::symlink(dir.path(), bind.join("up")).expect("link");
    let clear = PutOptions {
        create: true,
        clear: true,
        ..Default::default()
    };
    let mut put = conn.put_archive_with(&bind_s, clear).await.expect("clear");
    put.write_stdin(&tar_with(&[("new.txt", b"new")]))
        .await
        .expect("stdin");
    put.close_stdin().expect("close");
    assert_eq!(put.finish().await.expect("extract"), 0);
    let mut left: Vec<String> = std::fs::read_dir(&bind)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["new.txt"]);
    assert!(target.join("d/a.txt").exists(), "cleared through a link");

    // owners: the `.` entry gives the directory its mode (and owner).
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o750);
    h.set_size(0);
    // SAFETY: getuid and getgid cannot fail and touch no memory.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    h.set_uid(u64::from(uid));
    h.set_gid(u64::from(gid));
    b.append_data(&mut h, ".", std::io::empty()).expect("root");
    let owners = PutOptions {
        owners: true,
        ..Default::default()
    };
    let mut put = conn
        .put_archive_with(&bind_s, owners)
        .await
        .expect("owners");
    put.write_stdin(&b.into_inner().expect("tar"))
        .await
        .expect("stdin");
    put.close_stdin().expect("close");
    assert_eq!(put.finish().await.expect("extract"), 0);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&bind).expect("bind").permissions().mode();
    assert_eq!(mode & 0o777, 0o750);

    let mut main = conn.main_session().expect("main");
    main.close_stdin().expect("close");
    assert_eq!(collect(&mut main).await.2, 0);
    assert_eq!(wait_exit(child).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn main_process_on_a_tty_with_resize() {
    let peer = TestPeer::new().await;
    let child = peer.spawn_agent(
        &["sh", "-c", "stty size; read x; stty size; exit 3"],
        &[("SOCKERLESS_TTY", "1"), ("SOCKERLESS_OPEN_STDIN", "1")],
    );
    let conn = peer.accept(ResumeState::new()).await;
    assert!(conn.info().tty);
    let mut main = conn.main_session().expect("main");
    read_until(&mut main, "24 80").await;
    main.resize(50, 132).expect("resize");
    main.write_stdin(b"go\n").await.expect("stdin");
    read_until(&mut main, "50 132").await;
    let (_, err, code) = collect(&mut main).await;
    assert!(err.is_empty());
    assert_eq!(code, 3);
    assert_eq!(wait_exit(child).await, 3);
}
