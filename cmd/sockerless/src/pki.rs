//! Emulator mode's agent TLS: a private CA and a server certificate for the
//! address replicas dial (the emulator network's gateway), generated at every
//! start. The CA's key is never written; the server key is a 0600 file.

use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// Subdirectory of the data dir holding the agent endpoint's TLS files.
pub const TLS_SUBDIR: &str = "agent-tls";

/// PEM files of the agent endpoint, as `agent_tls_cert` / `_key` / `_ca` take them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentTlsFiles {
    /// Server certificate (for the IP address only).
    pub cert: PathBuf,
    /// Server private key (mode 0600).
    pub key: PathBuf,
    /// The CA certificate agents trust.
    pub ca: PathBuf,
}

/// Generates a CA and a server certificate for `ip` into `dir` (created
/// 0700), replacing earlier files.
pub fn generate(dir: &Path, ip: IpAddr) -> Result<AgentTlsFiles> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("restricting {}", dir.display()))?;

    let ca_key = KeyPair::generate().context("generating the CA key")?;
    let mut ca_params =
        CertificateParams::new(Vec::<String>::new()).context("CA certificate parameters")?;
    ca_params.distinguished_name.push(
        DnType::CommonName,
        "sockerless emulator agent CA (generated at start)",
    );
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params
        .self_signed(&ca_key)
        .context("signing the CA certificate")?;
    let issuer = Issuer::new(ca_params, ca_key);

    let key = KeyPair::generate().context("generating the server key")?;
    let mut params =
        CertificateParams::new(vec![ip.to_string()]).context("server certificate parameters")?;
    params
        .distinguished_name
        .push(DnType::CommonName, ip.to_string());
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params
        .signed_by(&key, &issuer)
        .context("signing the server certificate")?;

    let files = AgentTlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
        ca: dir.join("ca.pem"),
    };
    write_file(&files.key, key.serialize_pem().as_bytes(), 0o600)?;
    write_file(&files.cert, cert.pem().as_bytes(), 0o644)?;
    write_file(&files.ca, ca.pem().as_bytes(), 0o644)?;
    Ok(files)
}

/// Writes `data` to a fresh file with `mode` (an older file is replaced, so a
/// key never sits in a file with wider permissions, even briefly).
fn write_file(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("replacing {}", path.display())),
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(data)
        .with_context(|| format!("writing {}", path.display()))?;
    // The umask may have narrowed the mode; widen to what was asked (0644).
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting the mode of {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_pem_and_the_key_is_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tls = dir.path().join(TLS_SUBDIR);
        let ip: IpAddr = "10.213.0.1".parse().expect("ip");
        let files = generate(&tls, ip).expect("generate");
        let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(&files.key), 0o600);
        assert_eq!(mode(&files.cert), 0o644);
        assert_eq!(mode(&tls), 0o700);
        let read = |p: &Path| std::fs::read_to_string(p).expect("read");
        assert!(read(&files.key).contains("PRIVATE KEY"));
        assert!(read(&files.cert).starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(read(&files.ca).starts_with("-----BEGIN CERTIFICATE-----"));
        assert_ne!(read(&files.ca), read(&files.cert));
        // Generating again replaces everything (a new CA at every start).
        let ca = read(&files.ca);
        let again = generate(&tls, ip).expect("again");
        assert_eq!(again, files);
        assert_ne!(read(&again.ca), ca);
        assert_eq!(mode(&again.key), 0o600);
    }
}
