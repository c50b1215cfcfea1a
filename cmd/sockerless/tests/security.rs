//! Issue 13's checks at the binary's edges: configuration refused with exit
//! 2, and what a container can learn about the agent that serves it.

use sockerless_testkit as common;

use std::process::Command;

use common::{Sockerless, serial, test_env};

#[test]
fn a_plain_ws_callback_url_to_another_host_fails_config_with_exit_2() {
    let data = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_sockerless"))
        .args(["-H", "unix:///nonexistent/dir/s.sock"])
        .args(["--agent-callback-url", "ws://10.0.0.5/x"])
        .arg("--data-dir")
        .arg(data.path())
        .env_remove("SOCKERLESS_ACA_AGENT_CALLBACK_URL")
        .output()
        .expect("run sockerless");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("agent_callback_url"), "{stderr}");
    assert!(stderr.contains("wss://"), "{stderr}");
}

/// The emulator is never implied: a deployment that lost its subscription
/// (a typo, a missing variable) must not run users' containers locally.
#[test]
fn without_a_subscription_and_without_emulator_it_exits_2_naming_the_keys() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sockerless"));
    cmd.args(["-H", "unix:///nonexistent/dir/s.sock"])
        .arg("--data-dir")
        .arg(data.path());
    for (key, _) in std::env::vars() {
        if key.starts_with("SOCKERLESS_") {
            cmd.env_remove(key);
        }
    }
    let out = cmd.output().expect("run sockerless");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for key in [
        "subscription_id",
        "resource_group",
        "managed_environment_name",
        "--emulator",
    ] {
        assert!(stderr.contains(key), "{key} not named: {stderr}");
    }
    assert!(
        std::fs::read_dir(data.path())
            .expect("data dir")
            .next()
            .is_none(),
        "nothing started, nothing written"
    );
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn the_agent_token_is_not_readable_inside_the_container() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    // PID 1 is the agent; its environ must not show the token, nor may the
    // user's process inherit it.
    let out = d.docker(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "tr '\\0' ' ' < /proc/1/cmdline; echo; \
         cat /proc/1/environ 2>&1 | tr '\\0' '\\n'; \
         for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < $f 2>/dev/null; done; env",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.starts_with("/.sockerless/sockerless-agent"),
        "PID 1 is the agent: {out:?}"
    );
    assert!(
        !out.stdout.contains("SOCKERLESS_AGENT_TOKEN"),
        "token visible: {}",
        out.stdout
    );
    d.assert_nothing_left();
}

/// `n` numbered lines of 1009 bytes each: the same bytes here and in
/// the container (awk's printf is the same on both sides).
fn numbered_lines_awk(n: u32) -> String {
    format!("awk 'BEGIN {{ for (i = 1; i <= {n}; i++) printf \"%08d%01000d\\n\", i, 0 }}'")
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn a_follower_that_does_not_read_costs_bounded_memory_and_misses_nothing() {
    const LINES: u32 = 1_065_000; // 1009 bytes each: just over 1 GiB
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start_with(&env, &["--log-max-bytes", "1200000000"]);
    d.pull_busybox();
    let name = common::unique("flood");
    d.docker(&[
        "create",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        &numbered_lines_awk(LINES),
    ])
    .ok();
    let expected = common::run(
        {
            let mut c = Command::new("sh");
            c.args(["-c", &format!("{} | sha256sum", numbered_lines_awk(LINES))]);
            c
        },
        None,
    )
    .ok()
    .stdout;
    let before = d.rss_kib();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(before));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        let d_pid_rss = d.rss_sampler();
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak.fetch_max(d_pid_rss(), std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        })
    };
    // The follower reads nothing for 60 s while the container writes.
    d.docker(&["start", &name]).ok();
    let follower = d.docker_shell(&format!("docker logs -f {name} | (sleep 60; sha256sum)"));
    let out = follower.wait();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = sampler.join();
    assert_eq!(
        out.stdout, expected,
        "the follower missed or reordered output: {out:?}"
    );
    let grown = peak
        .load(std::sync::atomic::Ordering::Relaxed)
        .saturating_sub(before);
    assert!(grown < 64 * 1024, "the all-in-one grew by {grown} KiB");
    // A fresh `docker logs` has all of it too.
    let again = d
        .docker_shell(&format!("docker logs {name} | sha256sum"))
        .wait();
    assert_eq!(again.stdout, expected, "{again:?}");
    d.docker(&["rm", "-f", &name]).ok();
    d.assert_nothing_left();
}
