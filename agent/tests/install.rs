//! `sockerless-agent --install DIR`: what the agent image's init container runs.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

#[test]
fn install_copies_an_executable_agent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target_dir = dir.path().join("shared");
    let out = Command::new(env!("CARGO_BIN_EXE_sockerless-agent"))
        .arg("--install")
        .arg(&target_dir)
        .output()
        .expect("run agent");
    assert!(out.status.success(), "install failed: {out:?}");
    let installed = target_dir.join("sockerless-agent");
    let mode = std::fs::metadata(&installed)
        .expect("installed")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    assert!(!target_dir.join(".sockerless-agent.partial").exists());
    let version = Command::new(&installed)
        .arg("--version")
        .output()
        .expect("run copy");
    assert!(version.status.success());
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("sockerless-agent "));
}
