//! The main process's output also reaches the agent's own stdout and stderr,
//! which is what the platform's console log (ACA's Log Analytics) collects.

use std::process::Command;

#[test]
fn main_process_output_is_copied_to_the_console() {
    let out = Command::new(env!("CARGO_BIN_EXE_sockerless-agent"))
        .args(["--", "sh", "-c", "echo out-line; echo err-line >&2; exit 7"])
        .env("SOCKERLESS_AGENT_TOKEN", "console-test-token")
        .env("SOCKERLESS_AGENT_LISTEN", "127.0.0.1:0")
        .env("SOCKERLESS_EXIT_ACK_TIMEOUT", "0")
        .output()
        .expect("run agent");
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out-line\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("err-line\n"), "stderr: {stderr}");
    assert!(
        !stderr.contains("console-test-token"),
        "token leaked: {stderr}"
    );
}

#[test]
#[ignore = "needs root (cargo xtask test runs as root)"]
fn main_process_gets_workdir_and_user() {
    assert!(!not_root(), "switching users needs root");
    let base = tempfile::tempdir().expect("tempdir");
    let workdir = base.path().join("created/by/agent");
    let out = Command::new(env!("CARGO_BIN_EXE_sockerless-agent"))
        .args(["--", "sh", "-c", "pwd; id -u; echo $HOME"])
        .env("SOCKERLESS_AGENT_TOKEN", "t")
        .env("SOCKERLESS_AGENT_LISTEN", "127.0.0.1:0")
        .env("SOCKERLESS_EXIT_ACK_TIMEOUT", "0")
        .env("SOCKERLESS_WORKDIR", &workdir)
        .env("SOCKERLESS_USER", "nobody")
        .output()
        .expect("run agent");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(workdir.to_str().expect("utf-8 path"))
    );
    assert_eq!(lines.get(1).copied(), Some("65534"));
}

#[test]
fn unknown_user_fails_the_main_process_with_125() {
    let out = Command::new(env!("CARGO_BIN_EXE_sockerless-agent"))
        .args(["--", "true"])
        .env("SOCKERLESS_AGENT_TOKEN", "t")
        .env("SOCKERLESS_AGENT_LISTEN", "127.0.0.1:0")
        .env("SOCKERLESS_EXIT_ACK_TIMEOUT", "0")
        .env("SOCKERLESS_USER", "no-such-user-here")
        .output()
        .expect("run agent");
    // dockerd fails the start with the lookup's message; the CLI then ends 125.
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("unable to find user no-such-user-here: no matching entries in passwd file"),
        "{out:?}"
    );
}

#[test]
fn a_missing_command_fails_the_main_process_with_127_in_runcs_words() {
    let out = Command::new(env!("CARGO_BIN_EXE_sockerless-agent"))
        .args(["--", "no-such-binary"])
        .env("SOCKERLESS_AGENT_TOKEN", "t")
        .env("SOCKERLESS_AGENT_LISTEN", "127.0.0.1:0")
        .env("SOCKERLESS_EXIT_ACK_TIMEOUT", "0")
        .output()
        .expect("run agent");
    assert_eq!(out.status.code(), Some(127), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"no-such-binary\": executable file not found in $PATH: unknown\n"
        ),
        "{out:?}"
    );
}

fn not_root() -> bool {
    // The effective uid, without libc: /proc/self/status has "Uid: real effective ...".
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|uid| uid != "0"))
        })
        .unwrap_or(true)
}
