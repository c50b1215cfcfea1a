//! Debian packages the dev tasks drive, installed on first use so that
//! `cargo xtask run` works on a fresh Debian 12 with nothing else done.

use std::process::{Command, Stdio};

use anyhow::{Result, bail};

use crate::shell;

/// What `cargo xtask run` and `cargo xtask test` shell out to: the emulator's
/// engine (`dockerd`, and the `docker` CLI when none is installed), the
/// Docker Hub stand-in, the static busybox of the test images, and `curl`.
pub const RUNTIME: [&str; 4] = ["docker.io", "docker-registry", "busybox-static", "curl"];

/// Whether `dpkg` lists `package` as installed.
fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f", "${Status}", package])
        .stderr(Stdio::null())
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

/// Those of `packages` that are not installed.
pub fn missing<'a>(packages: &[&'a str]) -> Vec<&'a str> {
    packages.iter().copied().filter(|p| !installed(p)).collect()
}

/// Installs whichever of `packages` are missing with apt-get (as root; else
/// fails with the command to run).
pub fn ensure(packages: &[&str]) -> Result<()> {
    let missing = missing(packages);
    if missing.is_empty() {
        return Ok(());
    }
    let line = format!("apt-get install -y {}", missing.join(" "));
    if !is_root() {
        bail!("missing Debian packages; run as root: {line}");
    }
    eprintln!("xtask: installing {}", missing.join(" "));
    shell::run(
        Command::new("apt-get")
            .args(["update", "-qq"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    shell::run(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    let still = self::missing(&missing);
    if !still.is_empty() {
        bail!("apt-get did not install {}", still.join(" "));
    }
    Ok(())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_package_that_cannot_exist_is_missing() {
        assert_eq!(
            missing(&["sockerless-no-such-package-zz"]),
            vec!["sockerless-no-such-package-zz"]
        );
    }
}
