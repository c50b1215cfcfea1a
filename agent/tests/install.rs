//! `sockerless-agent --install DIR`: what the agent image's init container runs.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

#[test]
fn install_copies_an_executable_agent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target_dir = dir.path().join("shared");
    // Never the real /etc/hosts: tests may run as root.
    let hosts = dir.path().join("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n").expect("hosts");
    std::fs::set_permissions(&hosts, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = Command::new(env!("CARGO_BIN_EXE_sockerless-agent"))
        .arg("--install")
        .arg(&target_dir)
        .env("SOCKERLESS_HOSTS_FILE", &hosts)
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
    // The hosts file is made writable for a non-root agent in the app container.
    let hosts_mode = std::fs::metadata(&hosts)
        .expect("hosts")
        .permissions()
        .mode();
    assert_eq!(hosts_mode & 0o777, 0o666);
    let version = Command::new(&installed)
        .arg("--version")
        .output()
        .expect("run copy");
    assert!(version.status.success());
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("sockerless-agent "));
}
