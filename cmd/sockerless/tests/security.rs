//! Issue 13's checks at the binary's edges: configuration refused with exit
//! 2, and what a container can learn about the agent that serves it.

mod common;

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
