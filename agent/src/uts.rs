//! The container's host name (Docker's `Hostname`, default the short ID)
//! and `Domainname`: written to `/etc/hostname`, and set in the UTS
//! namespace where the agent may (it needs `CAP_SYS_ADMIN`, which Azure
//! Container Apps does not grant: there `uname -n` stays the replica's
//! name, while `/etc/hostname`, `$HOSTNAME` and `/etc/hosts` carry the
//! container's). `/etc/hosts` gets the name from the backend's peers.

// unsafe: sethostname/setdomainname.
#![allow(unsafe_code)]

use std::path::PathBuf;

const DEFAULT_HOSTNAME_FILE: &str = "/etc/hostname";
/// Linux's limit (`HOST_NAME_MAX`).
const MAX_NAME: usize = 64;

/// What to set, from `SOCKERLESS_HOSTNAME`, `SOCKERLESS_DOMAINNAME` and
/// `SOCKERLESS_HOSTNAME_FILE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    hostname: Option<String>,
    domainname: Option<String>,
    file: PathBuf,
}

/// What [`Identity::apply`] managed to do.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Applied {
    pub file: bool,
    pub uts: bool,
}

impl Identity {
    pub(crate) fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let name = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty() && v.len() <= MAX_NAME && !v.contains(['\0', '\n']))
        };
        Identity {
            hostname: name("SOCKERLESS_HOSTNAME"),
            domainname: name("SOCKERLESS_DOMAINNAME"),
            file: get("SOCKERLESS_HOSTNAME_FILE")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_HOSTNAME_FILE)),
        }
    }

    /// Writes the hostname file and sets the UTS names; what cannot be done
    /// is left as it is (logged).
    pub(crate) fn apply(&self) -> Applied {
        let Some(host) = &self.hostname else {
            return Applied::default();
        };
        let file = self.write_file();
        let mut uts = set_uts(host.as_bytes(), libc::sethostname);
        if let Some(domain) = &self.domainname {
            uts &= set_uts(domain.as_bytes(), libc::setdomainname);
        }
        if !uts {
            tracing::debug!(%host, "host name not set in the UTS namespace (no CAP_SYS_ADMIN)");
        }
        Applied { file, uts }
    }

    /// Writes the hostname file (false: nothing to write, or not writable).
    fn write_file(&self) -> bool {
        let Some(host) = &self.hostname else {
            return false;
        };
        match std::fs::write(&self.file, format!("{host}\n")) {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!(path = %self.file.display(), error = %e, "hostname file not written");
                false
            }
        }
    }
}

fn set_uts(
    name: &[u8],
    set: unsafe extern "C" fn(*const libc::c_char, libc::size_t) -> i32,
) -> bool {
    // SAFETY: name is valid for name.len() bytes; the call copies it.
    unsafe { set(name.as_ptr().cast(), name.len()) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn identity(vars: &[(&str, &str)]) -> Identity {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Identity::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn reads_names_and_rejects_unusable_ones() {
        let id = identity(&[
            ("SOCKERLESS_HOSTNAME", "h1"),
            ("SOCKERLESS_DOMAINNAME", "example.org"),
        ]);
        assert_eq!(id.hostname.as_deref(), Some("h1"));
        assert_eq!(id.domainname.as_deref(), Some("example.org"));
        assert_eq!(id.file, PathBuf::from("/etc/hostname"));
        let long = "x".repeat(65);
        for bad in ["", " ", "a\nb", long.as_str()] {
            assert_eq!(
                identity(&[("SOCKERLESS_HOSTNAME", bad)]).hostname,
                None,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn writes_the_hostname_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("hostname");
        let id = identity(&[
            ("SOCKERLESS_HOSTNAME", "h1"),
            ("SOCKERLESS_HOSTNAME_FILE", file.to_str().expect("utf-8")),
        ]);
        // Not apply(): tests may run as root, and sethostname would rename the machine.
        assert!(id.write_file());
        assert_eq!(std::fs::read_to_string(&file).expect("read"), "h1\n");
        // Nothing configured: nothing touched.
        assert!(!identity(&[]).write_file());
        assert_eq!(identity(&[]).apply(), Applied::default());
    }
}
