//! Issue 11, item 1: with `--linger-secs`, the execution of an exited
//! container is kept and `docker start` reruns the process in it — the
//! container's filesystem kept, as with dockerd, and no ARM write. See
//! `common/mod.rs` for the environment these need.

use sockerless_testkit as common;

use std::time::{Duration, Instant};

use common::{GUARD, Sockerless, serial, test_env, unique};

/// Writes to jobs and executions (put job, start, stop, delete) in the
/// emulator's request log, as `METHOD path`.
fn job_writes(d: &Sockerless) -> Vec<String> {
    d.sim_requests()
        .iter()
        .filter(|r| {
            r["method"] != "GET" && r["path"].as_str().is_some_and(|p| p.contains("/jobs/"))
        })
        .map(|r| {
            let field = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
            format!("{} {}", field("method"), field("path"))
        })
        .collect()
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn start_of_an_exited_container_reruns_it_in_its_execution() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start_with(&env, &["--linger-secs", "60"]);
    d.pull_busybox();
    let c = unique("linger");
    let script = "echo 1 >> /tmp/n; cat /tmp/n";
    d.docker(&["run", "-d", "--name", &c, "busybox", "sh", "-c", script])
        .ok();
    assert_eq!(d.docker(&["wait", &c]).ok().stdout, "0\n");
    assert_eq!(d.docker(&["logs", &c]).ok().stdout, "1\n");
    let before = job_writes(&d);
    assert!(
        before.iter().any(|w| w.ends_with("/start")),
        "the first start starts an execution: {before:?}"
    );

    // The file written by the first run is there: same filesystem.
    let out = d.docker(&["start", "-a", &c]).ok();
    assert_eq!(out.stdout, "1\n1\n");
    assert_eq!(
        job_writes(&d),
        before,
        "the second start made no ARM write (no job update, no new execution)"
    );
    let state = d
        .docker(&["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", &c])
        .ok();
    assert_eq!(state.stdout.trim(), "exited 0");
    assert_eq!(d.docker(&["logs", &c]).ok().stdout, "1\n1\n1\n");

    d.docker(&["rm", &c]).ok();
    d.assert_nothing_left();
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn attach_with_stdin_then_start_reaches_the_rerun_process() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start_with(&env, &["--linger-secs", "60"]);
    d.pull_busybox();
    let c = unique("linger-i");
    // GitLab's pattern: attach with stdin, start, write the script on stdin.
    // (`docker create -i` is not StdinOnce: the process reads a line, not EOF.)
    let script = "read x; echo $x >> /tmp/s; cat /tmp/s";
    d.docker(&["create", "-i", "--name", &c, "busybox", "sh", "-c", script])
        .ok();
    let out = d.docker_stdin(&["start", "-ai", &c], b"one\n").ok();
    assert_eq!(out.stdout, "one\n");
    let before = job_writes(&d);
    let out = d.docker_stdin(&["start", "-ai", &c], b"two\n").ok();
    assert_eq!(out.stdout, "one\ntwo\n");
    assert_eq!(job_writes(&d), before, "no ARM write for the second start");

    d.docker(&["rm", &c]).ok();
    d.assert_nothing_left();
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn an_execution_that_lingered_out_is_not_an_exit_and_the_next_one_gets_its_changes() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start_with(&env, &["--linger-secs", "3"]);
    d.pull_busybox();
    let c = unique("lingered");
    let script = "echo 1 >> /tmp/n; cat /tmp/n; ls /bin/vi >/dev/null 2>&1 || echo vi-gone; rm -f /bin/vi; exit 3";
    d.docker(&["run", "-d", "--name", &c, "busybox", "sh", "-c", script])
        .ok();
    assert_eq!(d.docker(&["wait", &c]).ok().stdout, "3\n");
    // The agent lingers 3 s, then exits: the execution ends by itself.
    let deadline = Instant::now() + GUARD;
    while !d.engine_running().is_empty() {
        assert!(Instant::now() < deadline, "the execution never ended");
        std::thread::sleep(Duration::from_millis(300));
    }
    let state = d
        .docker(&["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", &c])
        .ok();
    assert_eq!(state.stdout.trim(), "exited 3", "no second exit recorded");
    let starts = |d: &Sockerless| {
        job_writes(d)
            .iter()
            .filter(|w| w.ends_with("/start"))
            .count()
    };
    assert_eq!(starts(&d), 1);
    // Nothing lingers: a new execution, with the changes the first run
    // recorded at its exit restored (the file written, the file deleted).
    let out = d.docker(&["start", "-a", &c]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (3, "1\n1\nvi-gone\n"),
        "{out:?}\n{}",
        d.log()
    );
    assert_eq!(starts(&d), 2);

    d.docker(&["rm", &c]).ok();
    d.assert_nothing_left();
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn restart_stop_and_force_remove_of_a_lingering_container() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start_with(&env, &["--linger-secs", "60"]);
    d.pull_busybox();
    let c = unique("linger-r");
    let script = "echo x >> /tmp/r; cat /tmp/r; exec sleep 1000";
    d.docker(&["run", "-d", "--name", &c, "busybox", "sh", "-c", script])
        .ok();
    d.wait_for_log(&c, "x");
    let before = job_writes(&d);
    // Stop (SIGTERM) then start, in the same execution: the file is still there.
    d.docker(&["restart", "-t", "5", &c]).ok();
    d.wait_for_log(&c, "x\nx\nx\n");
    assert_eq!(job_writes(&d), before, "no ARM write for docker restart");
    let state = d
        .docker(&["inspect", "-f", "{{.State.Status}} {{.RestartCount}}", &c])
        .ok();
    // dockerd counts only its restart policy's starts: `docker restart` is 0.
    assert_eq!(state.stdout.trim(), "running 0");
    // A second run is stopped and removed like a first one.
    d.docker(&["rm", "-f", &c]).ok();
    // AutoRemove containers do not linger: `--rm` leaves nothing.
    let out = d.docker(&["run", "--rm", "busybox", "echo", "hi"]).ok();
    assert_eq!(out.stdout, "hi\n");
    d.assert_nothing_left();
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn binds_are_copied_in_again_and_synced_back_at_each_run() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start_with(&env, &["--linger-secs", "60"]);
    d.pull_busybox();
    let dir = d.path(&unique("linger-bind"));
    std::fs::create_dir_all(&dir).expect("host dir");
    std::fs::write(dir.join("in"), "a\n").expect("in");
    let bind = format!("{}:/b", dir.display());
    let c = unique("linger-b");
    // Each run reads the host's file and appends to a file of the container
    // (kept across runs) and to one of the bind (synced back at each exit).
    let script = "cat /b/in; echo run >> /tmp/runs; cat /tmp/runs > /b/out";
    d.docker(&[
        "create", "--name", &c, "-v", &bind, "busybox", "sh", "-c", script,
    ])
    .ok();
    assert_eq!(d.docker(&["start", "-a", &c]).ok().stdout, "a\n");
    assert_eq!(
        std::fs::read_to_string(dir.join("out")).expect("out"),
        "run\n"
    );
    let before = job_writes(&d);
    // The host side changed while the container was exited: the restarted
    // run sees it, as it would with a live bind.
    std::fs::write(dir.join("in"), "b\n").expect("in");
    assert_eq!(d.docker(&["start", "-a", &c]).ok().stdout, "b\n");
    assert_eq!(
        std::fs::read_to_string(dir.join("out")).expect("out"),
        "run\nrun\n"
    );
    assert_eq!(job_writes(&d), before, "no ARM write for the second start");
    d.docker(&["rm", &c]).ok();
    d.assert_nothing_left();
}

/// `--restart on-failure:2`: two more runs after a failing one, each seeing
/// the previous run's files (recorded changes, or the same replica), then
/// it stays exited; `--restart always` stops restarting at `docker stop`.
#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn restart_policies_rerun_failures_and_docker_stop_ends_them() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let c = unique("onfail");
    let script = "echo x >> /tmp/c; wc -l < /tmp/c; exit 1";
    let run = d.docker(&[
        "run",
        "-d",
        "--name",
        &c,
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let deadline = Instant::now() + GUARD;
    loop {
        let state = d
            .docker(&["inspect", "-f", "{{.State.Status}} {{.RestartCount}}", &c])
            .ok();
        if state.stdout.trim() == "exited 2" {
            // No third restart comes.
            std::thread::sleep(Duration::from_secs(2));
            let again = d
                .docker(&["inspect", "-f", "{{.State.Status}} {{.RestartCount}}", &c])
                .ok();
            assert_eq!(again.stdout.trim(), "exited 2");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "restarts never ended: {state:?}\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let logs = d.docker(&["logs", &c]).ok();
    let counts: Vec<&str> = logs.stdout.split_whitespace().collect();
    assert_eq!(counts, ["1", "2", "3"], "{logs:?}");
    d.docker(&["rm", &c]).ok();

    let a = unique("always");
    let run = d.docker(&[
        "run",
        "-d",
        "--name",
        &a,
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "sleep 1",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let deadline = Instant::now() + GUARD;
    while d
        .docker(&["inspect", "-f", "{{.RestartCount}}", &a])
        .ok()
        .stdout
        .trim()
        == "0"
    {
        assert!(Instant::now() < deadline, "never restarted\n{}", d.log());
        std::thread::sleep(Duration::from_millis(300));
    }
    d.docker(&["stop", &a]).ok();
    std::thread::sleep(Duration::from_secs(3));
    let state = d.docker(&["inspect", "-f", "{{.State.Status}}", &a]).ok();
    assert_eq!(state.stdout.trim(), "exited", "restarted after docker stop");
    d.docker(&["rm", &a]).ok();
    d.assert_nothing_left();
}
