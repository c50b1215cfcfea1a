//! Replica networking: one user-defined bridge network per emulator on its
//! engine, and per replica a sandbox container holding the replica's network
//! namespace (as the pause container of a Kubernetes pod does), which the
//! replica's init and main containers join. Replicas thus have their own
//! loopback and address; they reach the host only through the bridge's
//! gateway address, the host's address on that network.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use bollard::Docker;
use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest};
use bollard::query_parameters::{CreateImageOptions, ListNetworksOptions};
use futures_util::StreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{LABEL_OWNER, LABEL_SIM};

/// Image of the sandbox containers (a 129-byte static program that sleeps
/// forever), imported into the engine when missing.
pub const PAUSE_IMAGE: &str = "sockerless-azure-sim/pause:1";
/// Prefix of the network's default name (followed by a hash of the owner).
pub const DEFAULT_NETWORK_PREFIX: &str = "sockerless-azure-sim";

/// The bridge network replicas run on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimNetwork {
    /// Network name on the engine.
    pub name: String,
    /// Network ID on the engine.
    pub id: String,
    /// IPv4 subnet in CIDR notation.
    pub subnet: String,
    /// The host's address on the network: what replicas dial to reach services
    /// of the host (such as an agent endpoint bound to it).
    pub gateway: IpAddr,
    /// Whether this emulator created it (then it is removed at shutdown).
    pub owned: bool,
}

/// The network name used when none is configured: unique per owner (data dir),
/// so emulators sharing an engine do not share a network.
pub fn default_name(owner: &str) -> String {
    let hash = Sha256::digest(owner.as_bytes());
    let hex: String = hash.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("{DEFAULT_NETWORK_PREFIX}-{hex}")
}

fn describe(inspect: bollard::models::NetworkInspect, owner: &str) -> Result<SimNetwork, String> {
    let name = inspect.name.unwrap_or_default();
    if inspect.driver.as_deref() != Some("bridge") {
        return Err(format!(
            "network '{name}' uses the driver {:?}; the emulator needs a bridge network",
            inspect.driver.unwrap_or_default()
        ));
    }
    let config = inspect
        .ipam
        .and_then(|i| i.config)
        .unwrap_or_default()
        .into_iter()
        .find(|c| {
            c.gateway
                .as_deref()
                .and_then(|g| g.parse::<IpAddr>().ok())
                .is_some_and(|g| g.is_ipv4())
        })
        .ok_or_else(|| format!("network '{name}' has no IPv4 gateway"))?;
    let gateway = config
        .gateway
        .as_deref()
        .and_then(|g| g.parse().ok())
        .ok_or_else(|| format!("network '{name}': invalid gateway"))?;
    let owned = inspect
        .labels
        .unwrap_or_default()
        .get(LABEL_OWNER)
        .is_some_and(|o| o == owner);
    Ok(SimNetwork {
        name,
        id: inspect.id.unwrap_or_default(),
        subnet: config.subnet.unwrap_or_default(),
        gateway,
        owned,
    })
}

/// Finds the network `name` or creates it (a bridge labelled with `owner`,
/// on `subnet` when given, else one the engine picks from its pools).
pub async fn ensure(
    docker: &Docker,
    name: &str,
    subnet: Option<&str>,
    owner: &str,
) -> Result<SimNetwork, String> {
    if let Ok(found) = docker.inspect_network(name, None).await {
        return describe(found, owner);
    }
    let labels = HashMap::from([
        (LABEL_SIM.to_string(), "1".to_string()),
        (LABEL_OWNER.to_string(), owner.to_string()),
    ]);
    let ipam = subnet.map(|s| Ipam {
        config: Some(vec![IpamConfig {
            subnet: Some(s.to_string()),
            ..Default::default()
        }]),
        ..Default::default()
    });
    let created = docker
        .create_network(NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".into()),
            labels: Some(labels),
            ipam,
            ..Default::default()
        })
        .await;
    if let Err(e) = created {
        // Another emulator may have created it meanwhile.
        return match docker.inspect_network(name, None).await {
            Ok(found) => describe(found, owner),
            Err(_) => Err(format!("creating network '{name}' failed: {e}")),
        };
    }
    let found = docker
        .inspect_network(name, None)
        .await
        .map_err(|e| format!("inspecting network '{name}' failed: {e}"))?;
    let net = describe(found, owner)?;
    tracing::info!(network = %net.name, subnet = %net.subnet, gateway = %net.gateway, "replica network created");
    Ok(net)
}

/// Removes every network labelled with `owner` (its containers must be gone).
pub async fn remove_owned(docker: &Docker, owner: &str) {
    let filters = HashMap::from([("label".to_string(), vec![format!("{LABEL_OWNER}={owner}")])]);
    let Ok(list) = docker
        .list_networks(Some(ListNetworksOptions {
            filters: Some(filters),
        }))
        .await
    else {
        return;
    };
    for net in list {
        let Some(id) = net.id else { continue };
        if let Err(e) = docker.remove_network(&id).await {
            tracing::warn!(network = net.name.as_deref().unwrap_or(&id), error = %e, "cannot remove the replica network");
        }
    }
}

/// A static x86-64 or aarch64 Linux program that sleeps until killed.
fn pause_program() -> Result<Vec<u8>, String> {
    let (machine, code): (u16, Vec<u8>) = if cfg!(target_arch = "x86_64") {
        // loop: mov eax, 34 (pause); syscall; jmp loop
        (0x3e, vec![0xb8, 0x22, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7])
    } else if cfg!(target_arch = "aarch64") {
        // loop: x0..x3 = 0; x8 = 73 (ppoll); svc 0; b loop
        let words: [u32; 7] = [
            0xd280_0000,
            0xd280_0001,
            0xd280_0002,
            0xd280_0003,
            0xd280_0928,
            0xd400_0001,
            0x17ff_fffa,
        ];
        (0xb7, words.iter().flat_map(|w| w.to_le_bytes()).collect())
    } else {
        return Err("replica sandboxes need an x86_64 or aarch64 engine host".into());
    };
    const BASE: u64 = 0x40_0000;
    const HEADERS: u64 = 64 + 56;
    let size = HEADERS + code.len() as u64;
    let mut elf = Vec::with_capacity(size as usize);
    elf.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    elf.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    elf.extend_from_slice(&machine.to_le_bytes());
    elf.extend_from_slice(&1u32.to_le_bytes());
    elf.extend_from_slice(&(BASE + HEADERS).to_le_bytes()); // entry
    elf.extend_from_slice(&64u64.to_le_bytes()); // program headers
    elf.extend_from_slice(&0u64.to_le_bytes()); // no section headers
    elf.extend_from_slice(&0u32.to_le_bytes());
    for half in [64u16, 56, 1, 0, 0, 0] {
        elf.extend_from_slice(&half.to_le_bytes());
    }
    elf.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    elf.extend_from_slice(&5u32.to_le_bytes()); // R+X
    for word in [0, BASE, BASE, size, size, 0x1000u64] {
        elf.extend_from_slice(&word.to_le_bytes());
    }
    elf.extend_from_slice(&code);
    Ok(elf)
}

/// A tar archive holding `/pause`, mode 0755.
fn pause_rootfs() -> Result<Vec<u8>, String> {
    let program = pause_program()?;
    let mut header = [0u8; 512];
    let mut put = |at: usize, bytes: &[u8]| header[at..at + bytes.len()].copy_from_slice(bytes);
    put(0, b"pause");
    put(100, b"0000755\0");
    put(108, b"0000000\0");
    put(116, b"0000000\0");
    put(124, format!("{:011o}\0", program.len()).as_bytes());
    put(136, b"00000000000\0");
    put(148, b"        ");
    put(156, b"0");
    put(257, b"ustar\0");
    put(263, b"00");
    let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut tar = header.to_vec();
    tar.extend_from_slice(&program);
    tar.resize(tar.len().div_ceil(512) * 512 + 1024, 0);
    Ok(tar)
}

/// Imports [`PAUSE_IMAGE`] into the engine unless it is there.
pub async fn ensure_pause_image(docker: &Docker) -> Result<(), String> {
    if docker.inspect_image(PAUSE_IMAGE).await.is_ok() {
        return Ok(());
    }
    let (repo, tag) = PAUSE_IMAGE
        .split_once(':')
        .unwrap_or((PAUSE_IMAGE, "latest"));
    let options = CreateImageOptions {
        from_src: Some("-".into()),
        repo: Some(repo.into()),
        tag: Some(tag.into()),
        ..Default::default()
    };
    let rootfs = bollard::body_full(pause_rootfs()?.into());
    let mut stream = docker.create_image(Some(options), Some(rootfs), None);
    while let Some(item) = stream.next().await {
        item.map_err(|e| format!("importing the sandbox image failed: {e}"))?;
    }
    Ok(())
}

/// A valid host name for a replica (at most 63 characters, no trailing `-`).
pub fn hostname(replica: &str) -> String {
    let name: String = replica
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    name.trim_end_matches('-').to_string()
}

/// Content of a replica's hosts file, as dockerd writes it.
pub fn hosts_content(ip: &str, hostname: &str) -> String {
    format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n\
         ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n{ip}\t{hostname}\n"
    )
}

/// Writes the replica's hosts file (mode 0666: any user in the replica may
/// update it, as an agent running as the image's user must) under `dir`.
pub fn write_hosts(dir: &Path, ip: &str, hostname: &str) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).map_err(|e| format!("replica dir: {e}"))?;
    let path = dir.join(".hosts");
    std::fs::write(&path, hosts_content(ip, hostname))
        .map_err(|e| format!("writing the replica's hosts file: {e}"))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666))
        .map_err(|e| format!("hosts file permissions: {e}"))?;
    Ok(path)
}

/// Content of a replica's `/etc/resolv.conf`: no name server. The engine's
/// embedded DNS (127.0.0.11) forwards through a route replicas lack, so
/// lookups would hang until they time out; without a server they fail at once
/// ("bad address"), as an unknown name fails on Azure.
pub const RESOLV_CONF: &str = "# Azure emulator: no DNS server is reachable from replicas; names resolve through /etc/hosts only\noptions ndots:0\n";

/// Writes the replica's resolv.conf (mode 0644) under `dir`.
pub fn write_resolv_conf(dir: &Path) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).map_err(|e| format!("replica dir: {e}"))?;
    let path = dir.join(".resolv.conf");
    std::fs::write(&path, RESOLV_CONF)
        .map_err(|e| format!("writing the replica's resolv.conf: {e}"))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
        .map_err(|e| format!("resolv.conf permissions: {e}"))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_per_owner_and_valid() {
        let a = default_name("/data/a");
        assert_ne!(a, default_name("/data/b"));
        assert_eq!(a, default_name("/data/a"));
        assert!(
            a.starts_with("sockerless-azure-sim-") && a.len() == 29,
            "{a}"
        );
        assert_eq!(hostname("Job-ABC_1-x"), "job-abc-1-x");
        assert_eq!(hostname(&"a".repeat(70)).len(), 63);
        assert_eq!(hostname(&format!("{}-b", "a".repeat(62))), "a".repeat(62));
    }

    #[test]
    fn hosts_file_starts_like_dockerd_and_is_world_writable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("sim-hosts-{}", uuid::Uuid::new_v4()));
        let path = write_hosts(&dir, "10.1.0.2", "rep-1").expect("write");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            text.starts_with("127.0.0.1\tlocalhost\n::1\tlocalhost"),
            "{text}"
        );
        assert!(text.ends_with("10.1.0.2\trep-1\n"), "{text}");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o666);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_sandbox_rootfs_is_a_tar_with_an_executable_elf() {
        let tar = pause_rootfs().expect("supported arch");
        assert_eq!(tar.len() % 512, 0);
        assert_eq!(&tar[0..5], b"pause");
        assert_eq!(&tar[257..262], b"ustar");
        assert_eq!(&tar[512..516], b"\x7fELF");
        let size = u64::from_le_bytes(tar[512 + 96..512 + 104].try_into().expect("8 bytes"));
        assert_eq!(size as usize, pause_program().expect("elf").len());
    }
}
