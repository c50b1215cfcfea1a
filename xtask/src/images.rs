//! Test images built from local files: tests never reach Docker Hub.

use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::engine::Engine;
use crate::shell;

const BUSYBOX: &str = "/usr/bin/busybox";
const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Names the busybox rootfs is tagged with in the engine.
const TAGS: [&str; 2] = ["busybox:latest", "alpine:latest"];

/// Builds the busybox rootfs and imports it into `engine` under [`TAGS`].
pub fn build(engine: &Engine) -> Result<()> {
    let root = busybox_rootfs()?;
    let first = TAGS[0];
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .context("starting tar")?;
    let tar_out = tar.stdout.take().context("tar stdout")?;
    shell::run(
        engine
            .docker()
            .args(["import", "-c", "CMD [\"sh\"]", "-c"])
            .arg(format!("ENV {PATH_ENV}"))
            .args(["-", first])
            .stdin(tar_out),
    )?;
    if !tar.wait()?.success() {
        bail!("tar of {} failed", root.display());
    }
    for tag in &TAGS[1..] {
        shell::run(engine.docker().args(["tag", first, tag]))?;
    }
    Ok(())
}

/// A directory holding a busybox root filesystem: every applet linked.
fn busybox_rootfs() -> Result<PathBuf> {
    if !std::path::Path::new(BUSYBOX).is_file() {
        bail!("{BUSYBOX} missing: apt-get install busybox-static");
    }
    let root = shell::target_dir().join("images").join("busybox-rootfs");
    if root.exists() {
        std::fs::remove_dir_all(&root)?;
    }
    for dir in ["bin", "etc", "tmp", "root", "proc", "sys", "dev", "usr/bin"] {
        std::fs::create_dir_all(root.join(dir))?;
    }
    std::fs::copy(BUSYBOX, root.join("bin/busybox"))?;
    let applets = shell::output(Command::new(BUSYBOX).arg("--list"))?;
    for applet in applets.lines().map(str::trim) {
        if applet.is_empty() || applet == "busybox" || applet.contains('/') {
            continue;
        }
        symlink("busybox", root.join("bin").join(applet))?;
    }
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )?;
    std::fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")?;
    Ok(root)
}

/// Builds the agent as a fully static binary and returns its path.
pub fn build_agent() -> Result<PathBuf> {
    const TARGET: &str = "x86_64-unknown-linux-gnu";
    // The explicit --target keeps crt-static off build scripts and proc macros.
    shell::run(
        shell::cargo()
            .args([
                "build",
                "--release",
                "-p",
                "sockerless-agent",
                "--target",
                TARGET,
            ])
            .env("RUSTFLAGS", "-C target-feature=+crt-static"),
    )?;
    let bin = shell::target_dir()
        .join(TARGET)
        .join("release")
        .join("sockerless-agent");
    if !bin.is_file() {
        bail!("{} was not built", bin.display());
    }
    Ok(bin)
}
