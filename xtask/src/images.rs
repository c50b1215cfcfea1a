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

/// Repository of the agent image in the test registry.
pub const AGENT_REPO: &str = "sockerless/agent:latest";

/// Builds the test images into `engine` and pushes them to the test registry
/// at `registry` (`host:port`): busybox and alpine (both the busybox rootfs,
/// as `library/...`, the way Docker Hub names them) and the agent image.
pub fn build_and_push(engine: &Engine, registry: &str, agent: &std::path::Path) -> Result<()> {
    build(engine)?;
    for tag in TAGS {
        let remote = format!("{registry}/library/{tag}");
        shell::run(engine.docker().args(["tag", tag, &remote]))?;
        shell::run(engine.docker().args(["push", &remote]))?;
    }
    push_unix_tools(engine, registry)?;
    let agent_image = format!("{registry}/{AGENT_REPO}");
    import_agent(engine, agent, &agent_image)?;
    shell::run(engine.docker().args(["push", &agent_image]))
}

/// The agent image: the static agent alone, at `/sockerless-agent`, on an empty base.
fn import_agent(engine: &Engine, agent: &std::path::Path, tag: &str) -> Result<()> {
    let root = shell::target_dir().join("images").join("agent-rootfs");
    if root.exists() {
        std::fs::remove_dir_all(&root)?;
    }
    std::fs::create_dir_all(&root)?;
    std::fs::copy(agent, root.join("sockerless-agent"))?;
    import_dir(
        engine,
        &root,
        &["ENTRYPOINT [\"/sockerless-agent\"]".to_owned()],
        tag,
    )
}

/// `docker import` of a directory's contents, with Dockerfile-style changes.
fn import_dir(
    engine: &Engine,
    root: &std::path::Path,
    changes: &[String],
    tag: &str,
) -> Result<()> {
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(root)
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .context("starting tar")?;
    let tar_out = tar.stdout.take().context("tar stdout")?;
    let mut import = engine.docker();
    import.arg("import");
    for change in changes {
        import.args(["-c", change]);
    }
    shell::run(import.args(["-", tag]).stdin(tar_out))?;
    if !tar.wait()?.success() {
        bail!("tar of {} failed", root.display());
    }
    Ok(())
}

/// Builds the busybox rootfs and imports it into `engine` under [`TAGS`].
pub fn build(engine: &Engine) -> Result<()> {
    let root = busybox_rootfs()?;
    let first = TAGS[0];
    let changes = ["CMD [\"sh\"]".to_owned(), format!("ENV {PATH_ENV}")];
    import_dir(engine, &root, &changes, first)?;
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

/// Docker Hub-style name of the busybox image with `unix-nc` (a Unix socket
/// client for the Docker socket tests; busybox's `nc` has none).
pub const UNIX_TOOLS_TAG: &str = "sockerless-test/busybox-unix:latest";

/// Builds `xtask/images/unix-nc.rs` statically with `rustc` alone (std only).
fn build_unix_nc() -> Result<PathBuf> {
    let out = shell::target_dir().join("images").join("unix-nc");
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    shell::run(
        Command::new(rustc)
            .args(["--edition", "2021", "-O", "-C", "strip=symbols"])
            .args(["-C", "target-feature=+crt-static"])
            .args(["--target", "x86_64-unknown-linux-gnu", "-o"])
            .arg(&out)
            .arg(shell::workspace_root().join("xtask/images/unix-nc.rs")),
    )?;
    Ok(out)
}

/// The busybox rootfs plus `/usr/bin/unix-nc`, as [`UNIX_TOOLS_TAG`] in the
/// engine and in the test registry.
fn push_unix_tools(engine: &Engine, registry: &str) -> Result<()> {
    let client = build_unix_nc()?;
    let root = busybox_rootfs()?;
    std::fs::copy(&client, root.join("usr/bin/unix-nc"))?;
    let changes = ["CMD [\"sh\"]".to_owned(), format!("ENV {PATH_ENV}")];
    import_dir(engine, &root, &changes, UNIX_TOOLS_TAG)?;
    let remote = format!("{registry}/{UNIX_TOOLS_TAG}");
    shell::run(engine.docker().args(["tag", UNIX_TOOLS_TAG, &remote]))?;
    shell::run(engine.docker().args(["push", &remote]))
}

/// Builds the agent as a fully static binary and returns its path.
pub fn build_agent() -> Result<PathBuf> {
    const TARGET: &str = "x86_64-unknown-linux-gnu";
    // The explicit --target keeps crt-static off build scripts and proc macros.
    // getrandom's syscall backend: a static binary cannot find the vDSO-less
    // fallback's /dev/urandom in an empty root (see agent/README.md).
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
            .env(
                "RUSTFLAGS",
                "-C target-feature=+crt-static --cfg getrandom_backend=\"linux_getrandom\"",
            ),
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
