//! The peers block of `/etc/hosts`: `ip names...` lines between two marker
//! comments, rewritten in place (the file is a bind mount: truncate and
//! write, never rename) while the rest of the file is kept.

use std::io::Write;
use std::net::IpAddr;
use std::path::Path;

use crate::protocol::PeerHost;

/// First line of the block.
pub(crate) const BEGIN: &str = "# sockerless peers begin";
/// Last line of the block.
pub(crate) const END: &str = "# sockerless peers end";

/// A host name as `/etc/hosts` can carry it: no spaces, no comment sign.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

/// `existing` without any peers block, then the block for `hosts` at the end
/// (no block when there is nothing to write). Entries with an invalid IP or
/// without a valid name are left out.
pub(crate) fn rewrite(existing: &str, hosts: &[PeerHost]) -> String {
    let mut out = String::with_capacity(existing.len() + 64 * hosts.len());
    let mut in_block = false;
    for line in existing.lines() {
        let trimmed = line.trim();
        if !in_block && trimmed == BEGIN {
            in_block = true;
        } else if in_block {
            if trimmed == END {
                in_block = false;
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    let lines: Vec<String> = hosts
        .iter()
        .filter_map(|h| {
            let ip = h.ip.parse::<IpAddr>().ok()?;
            let names: Vec<&str> = h
                .names
                .iter()
                .map(String::as_str)
                .filter(|n| valid_name(n))
                .collect();
            (!names.is_empty()).then(|| format!("{ip}\t{}", names.join(" ")))
        })
        .collect();
    if !lines.is_empty() {
        out.push_str(BEGIN);
        out.push('\n');
        for l in lines {
            out.push_str(&l);
            out.push('\n');
        }
        out.push_str(END);
        out.push('\n');
    }
    out
}

/// Rewrites the peers block of the hosts file at `path`, in place; a file
/// that does not change is not written.
pub(crate) fn apply(path: &Path, hosts: &[PeerHost]) -> Result<(), String> {
    let existing = match std::fs::read(path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let wanted = rewrite(&existing, hosts);
    if wanted == existing {
        return Ok(());
    }
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        f.write_all(wanted.as_bytes())?;
        f.flush()
    };
    write().map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
            " (peer names will not resolve; the file is not writable by the agent's user)"
        } else {
            ""
        };
        format!("cannot write {}: {e}{hint}", path.display())
    })
}

/// Makes the hosts file writable by every user (best effort): the init
/// container runs as root, the agent in the app container may not.
pub fn make_writable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666)) {
        tracing::debug!(path = %path.display(), error = %e, "cannot make the hosts file writable");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(ip: &str, names: &[&str]) -> PeerHost {
        PeerHost {
            ip: ip.into(),
            names: names.iter().map(|s| s.to_string()).collect(),
            ports: vec![7000],
        }
    }

    const BASE: &str =
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n10.0.0.4\tapp-replica\n";

    #[test]
    fn adds_replaces_and_removes_the_block() {
        let one = rewrite(BASE, &[host("127.18.0.3", &["db", "0123456789ab"])]);
        assert_eq!(
            one,
            format!("{BASE}{BEGIN}\n127.18.0.3\tdb 0123456789ab\n{END}\n")
        );
        // Idempotent, and lines added after the block by someone else are kept.
        assert_eq!(
            rewrite(&one, &[host("127.18.0.3", &["db", "0123456789ab"])]),
            one
        );
        let edited = format!("{one}192.168.1.1 added-later\n");
        let two = rewrite(
            &edited,
            &[host("127.18.0.4", &["web"]), host("10.1.2.3", &["direct"])],
        );
        assert_eq!(
            two,
            format!(
                "{BASE}192.168.1.1 added-later\n{BEGIN}\n127.18.0.4\tweb\n10.1.2.3\tdirect\n{END}\n"
            )
        );
        assert_eq!(
            rewrite(&two, &[]),
            format!("{BASE}192.168.1.1 added-later\n")
        );
    }

    #[test]
    fn tolerates_odd_input() {
        // No trailing newline, an unterminated block, invalid entries.
        assert_eq!(
            rewrite("127.0.0.1 localhost", &[host("::1", &["v6"])]),
            format!("127.0.0.1 localhost\n{BEGIN}\n::1\tv6\n{END}\n")
        );
        assert_eq!(
            rewrite(&format!("a\n{BEGIN}\n1.2.3.4 x\n"), &[]),
            "a\n".to_string()
        );
        let out = rewrite(
            "",
            &[
                host("not-an-ip", &["x"]),
                host("1.2.3.4", &["", "bad name", "evil#x", "ok"]),
                host("1.2.3.5", &["bad name"]),
            ],
        );
        assert_eq!(out, format!("{BEGIN}\n1.2.3.4\tok\n{END}\n"));
        assert_eq!(rewrite("", &[]), "");
    }

    #[test]
    fn writes_in_place() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hosts");
        std::fs::write(&path, BASE).expect("write");
        let inode = std::fs::metadata(&path).expect("meta").ino();
        apply(&path, &[host("127.18.0.3", &["db"])]).expect("apply");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.starts_with(BASE) && text.contains("127.18.0.3\tdb\n"));
        assert_eq!(std::fs::metadata(&path).expect("meta").ino(), inode);
        apply(&path, &[]).expect("apply");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), BASE);
        let missing_dir = dir.path().join("nope").join("hosts");
        let err = apply(&missing_dir, &[host("127.18.0.3", &["db"])]).expect_err("no dir");
        assert!(err.contains("cannot write"), "{err}");
    }
}
