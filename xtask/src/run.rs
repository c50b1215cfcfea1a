//! `cargo xtask run`: sockerless with the embedded Azure emulator, in the
//! foreground, with everything it needs prepared first.

use std::process::{Command, Stdio};

use anyhow::Result;

use crate::{engine, images, packages, registry, shell};

/// Docker API socket unless the arguments name one (`-H`/`--host`).
pub const DEFAULT_HOST: &str = "unix:///var/run/sockerless.sock";

/// Installs the Debian packages it drives if missing (as `.ci/run` does),
/// builds the static agent, starts the engine and the test registry if they
/// are not running, builds and pushes the test images if the registry lacks
/// them, then runs an optimised `sockerless` (emulator mode) until Ctrl-C:
/// the debug build's API latency is measurably worse. The engine and
/// the registry keep running afterwards (`cargo xtask engine stop`,
/// `cargo xtask registry stop`). `extra` is passed on to `sockerless`.
pub fn run(extra: &[&str]) -> Result<()> {
    packages::ensure(&packages::RUNTIME)?;
    let agent = images::build_agent()?;
    let (engine, _) = engine::ensure()?;
    registry::ensure()?;
    let registry = registry::addr();
    if !has_test_images(&registry) {
        images::build_and_push(&engine, &registry, &agent)?;
    }
    let mut cmd = shell::cargo();
    cmd.args(["run", "--release", "-p", "sockerless", "--"]);
    if !extra
        .iter()
        .any(|a| *a == "-H" || a.starts_with("--host") || a.starts_with("-H"))
    {
        cmd.args(["-H", DEFAULT_HOST]);
    }
    cmd.arg("--emulator")
        .arg("--engine")
        .arg(engine.url())
        .arg("--agent-bin")
        .arg(&agent)
        .arg("--docker-io-mirror")
        .arg(format!("http://{registry}"))
        .args(extra);
    shell::run(&mut cmd)
}

/// Whether the test registry already serves `library/busybox:latest`.
pub fn has_test_images(registry: &str) -> bool {
    Command::new("curl")
        .args([
            "-fsS",
            "-o",
            "/dev/null",
            "-H",
            "Accept: application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json",
            &format!("http://{registry}/v2/library/busybox/manifests/latest"),
        ])
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}
