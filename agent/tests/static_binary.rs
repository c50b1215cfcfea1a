//! The release binary is fully static and runs in an empty root (only a static
//! busybox as /bin/sh), resolving `localhost` without libc or NSS.

// unsafe: geteuid to say why the test needs root.
#![allow(unsafe_code)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use sockerless_agent::peer::ResumeState;

const TARGET: &str = "x86_64-unknown-linux-gnu";
/// As in README.md: static glibc, and getrandom's direct syscall backend (its
/// default looks `getrandom` up with dlsym, which a static binary cannot, and
/// then falls back to /dev/urandom, which an empty root does not have).
const RUSTFLAGS: &str = "-C target-feature=+crt-static --cfg getrandom_backend=\"linux_getrandom\"";

/// Builds (or reuses, when up to date) the static release binary, exactly as README.md says.
fn static_binary() -> PathBuf {
    // `cargo xtask test` builds the static agent first and names it here.
    for var in ["SOCKERLESS_AGENT_STATIC_BIN", "SOCKERLESS_AGENT_BIN"] {
        if let Ok(p) = std::env::var(var) {
            return PathBuf::from(p);
        }
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.parent().expect("workspace").join("target"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-p",
            "sockerless-agent",
            "--target",
            TARGET,
        ])
        .env("RUSTFLAGS", RUSTFLAGS)
        .env("CARGO_TARGET_DIR", &target_dir)
        .current_dir(manifest)
        .status()
        .expect("run cargo");
    assert!(status.success(), "static build failed");
    target_dir
        .join(TARGET)
        .join("release")
        .join("sockerless-agent")
}

/// True when the ELF file has a PT_INTERP program header (needs a dynamic loader).
fn has_interpreter(elf: &[u8]) -> bool {
    assert_eq!(&elf[..4], b"\x7fELF", "not an ELF file");
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().expect("8 bytes")) as usize;
    let (entsize, count) = (u16_at(0x36), u16_at(0x38));
    (0..count).any(|i| {
        let o = phoff + i * entsize;
        u32::from_le_bytes(elf[o..o + 4].try_into().expect("4 bytes")) == 3
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root for chroot (cargo xtask test runs as root)"]
async fn static_binary_runs_in_an_empty_root() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(unsafe { libc::geteuid() }, 0, "chroot needs root");
    let busybox = Path::new("/usr/bin/busybox");
    assert!(
        busybox.exists(),
        "install busybox-static (a static /usr/bin/busybox) for this test"
    );
    let bin = tokio::task::spawn_blocking(static_binary)
        .await
        .expect("build");
    let elf = std::fs::read(&bin).expect("read binary");
    assert!(
        !has_interpreter(&elf),
        "{} is dynamically linked",
        bin.display()
    );
    assert!(
        !has_interpreter(&std::fs::read(busybox).expect("busybox")),
        "busybox must be static"
    );

    let root = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(root.path().join("bin")).expect("mkdir");
    std::fs::copy(busybox, root.path().join("bin/sh")).expect("copy busybox");
    std::fs::copy(&bin, root.path().join("sockerless-agent")).expect("copy agent");

    let peer = TestPeer::new().await;
    let port = peer
        .url
        .rsplit(':')
        .next()
        .expect("port")
        .split('/')
        .next()
        .expect("port")
        .to_string();
    // Resolved here: the agent's environment below has PATH=/bin for inside the root.
    let chroot = ["/usr/sbin/chroot", "/usr/bin/chroot", "/sbin/chroot"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("chroot(8) not found");
    let mut cmd = Command::new(chroot);
    cmd.arg(root.path())
        .args(["/sockerless-agent", "--", "sh", "-c", "echo hi; exit 7"])
        .env_clear()
        .env("PATH", "/bin")
        // localhost: no DNS, no /etc/hosts, no NSS in this root.
        .env(
            "SOCKERLESS_CALLBACK_URL",
            format!("ws://localhost:{port}/agent/v1/connect"),
        )
        .env("SOCKERLESS_AGENT_TOKEN", TOKEN)
        .env("SOCKERLESS_CONTAINER_ID", CONTAINER_ID)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
    let child = Agent::spawn(cmd);
    let conn = peer.accept(ResumeState::new()).await;
    let mut main = conn.main_session().expect("main");
    let (out, err, code) = collect(&mut main).await;
    assert_eq!(
        String::from_utf8_lossy(&out),
        "hi\n",
        "stderr: {}",
        String::from_utf8_lossy(&err)
    );
    assert_eq!(code, 7);
    assert_eq!(wait_exit(child).await, 7);
}
