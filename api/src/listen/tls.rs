//! TLS for [`super::serve_tls`]: certificates from PEM files, optional
//! client-certificate verification (Docker's `--tlsverify`), handshake limits.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig};

/// Where the server's certificate, key and (for client verification) CA live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// The server certificate, then any intermediates (PEM).
    pub cert_chain_pem: PathBuf,
    /// The server's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_pem: PathBuf,
    /// CA certificates (PEM) that client certificates must chain to. `Some`
    /// makes a client certificate mandatory (`--tlsverify`); `None` accepts
    /// any client (`--tls`).
    pub client_ca_pem: Option<PathBuf>,
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {what} {}: {source}", path.display())]
    Read {
        /// Which file it is (e.g. `TLS certificate`).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file was read but holds nothing usable.
    #[error("invalid {what} {}: {reason}", path.display())]
    Invalid {
        /// Which file it is.
        what: &'static str,
        /// The file (empty for in-memory PEM).
        path: PathBuf,
        /// What is wrong (never the file's content).
        reason: String,
    },
    /// rustls refused the combination (e.g. the key does not match the certificate).
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// A loaded TLS server configuration, ready for [`super::serve_tls`].
#[derive(Clone)]
pub struct TlsAcceptorConfig {
    acceptor: TlsAcceptor,
    handshake_timeout: Duration,
    verifies_clients: bool,
}

impl fmt::Debug for TlsAcceptorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key material.
        f.debug_struct("TlsAcceptorConfig")
            .field("handshake_timeout", &self.handshake_timeout)
            .field("verifies_clients", &self.verifies_clients)
            .finish_non_exhaustive()
    }
}

/// How long a client may take to complete the TLS handshake by default.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

const CERT: &str = "TLS certificate";
const KEY: &str = "TLS key";
const CA: &str = "TLS CA certificate";

impl TlsAcceptorConfig {
    /// Reads the PEM files named in `settings`; errors name the file at fault.
    pub fn load(settings: &TlsSettings) -> Result<Self, TlsError> {
        let read = |what: &'static str, path: &Path| {
            std::fs::read(path).map_err(|source| TlsError::Read {
                what,
                path: path.to_owned(),
                source,
            })
        };
        let cert = read(CERT, &settings.cert_chain_pem)?;
        let key = read(KEY, &settings.key_pem)?;
        let ca = match &settings.client_ca_pem {
            Some(path) => Some((read(CA, path)?, path.as_path())),
            None => None,
        };
        build(
            (&cert, &settings.cert_chain_pem),
            (&key, &settings.key_pem),
            ca.as_ref().map(|(pem, path)| (pem.as_slice(), *path)),
        )
    }

    /// The same from PEM held in memory (`client_ca`: `Some` requires client
    /// certificates signed by it).
    pub fn from_pem(
        cert_chain: &[u8],
        key: &[u8],
        client_ca: Option<&[u8]>,
    ) -> Result<Self, TlsError> {
        let none = Path::new("");
        build(
            (cert_chain, none),
            (key, none),
            client_ca.map(|ca| (ca, none)),
        )
    }

    /// Sets how long a client may take to finish the handshake (default
    /// [`DEFAULT_HANDSHAKE_TIMEOUT`]); a silent client is dropped after it.
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Whether clients must present a certificate signed by the CA.
    pub fn verifies_clients(&self) -> bool {
        self.verifies_clients
    }

    pub(crate) fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }

    pub(crate) fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }
}

fn build(
    (cert_pem, cert_path): (&[u8], &Path),
    (key_pem, key_path): (&[u8], &Path),
    client_ca: Option<(&[u8], &Path)>,
) -> Result<TlsAcceptorConfig, TlsError> {
    let invalid = |what: &'static str, path: &Path, reason: String| TlsError::Invalid {
        what,
        path: path.to_owned(),
        reason,
    };
    let chain = certificates(cert_pem).map_err(|r| invalid(CERT, cert_path, r))?;
    // The parser's error may quote bytes it saw: report only its kind.
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| {
        invalid(
            KEY,
            key_path,
            format!("no usable PEM private key ({})", pem_error_kind(&e)),
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some((ca_pem, ca_path)) => {
            let mut roots = RootCertStore::empty();
            for cert in certificates(ca_pem).map_err(|r| invalid(CA, ca_path, r))? {
                roots
                    .add(cert)
                    .map_err(|e| invalid(CA, ca_path, format!("unusable CA certificate: {e}")))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| invalid(CA, ca_path, e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    // No ALPN: HTTP/1.1 is implied, and a client offering only h2 still
    // gets HTTP/1.1 (Docker's hijack needs it) instead of a handshake failure.
    let config = builder
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Config(format!("certificate and key do not go together: {e}")))?;
    Ok(TlsAcceptorConfig {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        verifies_clients: client_ca.is_some(),
    })
}

fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("unreadable PEM ({})", pem_error_kind(&e)))?;
    if certs.is_empty() {
        return Err("no PEM certificate (-----BEGIN CERTIFICATE-----) found".into());
    }
    Ok(certs)
}

fn pem_error_kind(e: &rustls::pki_types::pem::Error) -> &'static str {
    use rustls::pki_types::pem::Error;
    match e {
        Error::NoItemsFound => "nothing found",
        Error::MissingSectionEnd { .. } => "a section has no END line",
        Error::IllegalSectionStart { .. } => "malformed BEGIN line",
        Error::Base64Decode(_) => "bad base64",
        Error::Io(_) => "read error",
        _ => "malformed",
    }
}
