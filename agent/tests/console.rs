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
