//! Resolves Docker `--user` values against the image's `/etc/passwd` and
//! `/etc/group` (never through libc/NSS, which a static binary cannot trust).

use std::path::Path;

/// Resolved identity for a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub home: Option<String>,
}

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

fn read_passwd(root: &Path) -> Vec<PasswdEntry> {
    let text = std::fs::read_to_string(root.join("etc/passwd")).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 7 {
                return None;
            }
            Some(PasswdEntry {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: f[5].to_string(),
            })
        })
        .collect()
}

/// (name, gid, members)
fn read_group(root: &Path) -> Vec<(String, u32, Vec<String>)> {
    let text = std::fs::read_to_string(root.join("etc/group")).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 4 {
                return None;
            }
            let members = f[3]
                .split(',')
                .filter(|m| !m.is_empty())
                .map(str::to_string)
                .collect();
            Some((f[0].to_string(), f[2].parse().ok()?, members))
        })
        .collect()
}

/// `--group-add` groups, resolved once at start; added for every process.
static EXTRA_GROUPS: std::sync::OnceLock<Vec<u32>> = std::sync::OnceLock::new();
/// The variable carrying them (JSON array of names or numbers).
pub(crate) const GROUP_ADD_ENV: &str = "SOCKERLESS_GROUP_ADD";

/// Resolves `SOCKERLESS_GROUP_ADD` against `root`'s `/etc/group` and keeps
/// the result for every later process.
pub(crate) fn configure_extra_groups(json: &str, root: &Path) -> Result<(), String> {
    let names: Vec<String> =
        serde_json::from_str(json).map_err(|e| format!("{GROUP_ADD_ENV}: {e}"))?;
    let groups = read_group(root);
    let gids = names
        .iter()
        .map(|n| match n.parse::<u32>() {
            Ok(gid) => Ok(gid),
            Err(_) => groups
                .iter()
                .find(|(name, _, _)| name == n)
                .map(|(_, gid, _)| *gid)
                .ok_or_else(|| {
                    format!("unable to find group {n}: no matching entries in group file")
                }),
        })
        .collect::<Result<Vec<u32>, String>>()?;
    let _ = EXTRA_GROUPS.set(gids);
    Ok(())
}

/// The `--group-add` groups (empty when none).
pub(crate) fn extra_groups() -> &'static [u32] {
    EXTRA_GROUPS.get().map_or(&[], Vec::as_slice)
}

/// Resolves `user`, `user:group`, `uid` or `uid:gid` under `root` (normally `/`).
pub(crate) fn resolve_user(spec: &str, root: &Path) -> Result<Credentials, String> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if user.is_empty() {
        return Err(format!("invalid user {spec:?}"));
    }
    let passwd = read_passwd(root);
    let groups = read_group(root);
    let entry = match user.parse::<u32>() {
        Ok(uid) => passwd.iter().find(|e| e.uid == uid),
        Err(_) => Some(passwd.iter().find(|e| e.name == user).ok_or_else(|| {
            format!("unable to find user {user}: no matching entries in passwd file")
        })?),
    };
    let uid = match (user.parse::<u32>(), entry) {
        (Ok(uid), _) => uid,
        (Err(_), Some(e)) => e.uid,
        (Err(_), None) => return Err(format!("unable to find user {user}")),
    };
    let gid = match group {
        Some(g) if !g.is_empty() => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => groups
                .iter()
                .find(|(name, _, _)| name == g)
                .map(|(_, gid, _)| *gid)
                .ok_or_else(|| {
                    format!("unable to find group {g}: no matching entries in group file")
                })?,
        },
        _ => entry.map(|e| e.gid).unwrap_or(0),
    };
    let mut supplementary = vec![gid];
    if let Some(e) = entry {
        for (_, g, members) in &groups {
            if members.contains(&e.name) && !supplementary.contains(g) {
                supplementary.push(*g);
            }
        }
    }
    Ok(Credentials {
        uid,
        gid,
        groups: supplementary,
        home: entry.map(|e| e.home.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("etc")).expect("etc");
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
        )
        .expect("passwd");
        std::fs::write(
            dir.path().join("etc/group"),
            "root:x:0:\napp:x:1000:\nwheel:x:10:app,root\n",
        )
        .expect("group");
        dir
    }

    #[test]
    fn resolves_names_and_numbers() {
        let r = root();
        let c = resolve_user("app", r.path()).expect("app");
        assert_eq!(
            (c.uid, c.gid, c.groups.clone()),
            (1000, 1000, vec![1000, 10])
        );
        assert_eq!(c.home.as_deref(), Some("/home/app"));
        let c = resolve_user("1000:wheel", r.path()).expect("uid:group");
        assert_eq!((c.uid, c.gid), (1000, 10));
        let c = resolve_user("4242:7", r.path()).expect("unknown uid");
        assert_eq!((c.uid, c.gid, c.home), (4242, 7, None));
        assert!(resolve_user("nobody", r.path()).is_err());
        assert!(resolve_user("app:nogroup", r.path()).is_err());
        assert!(resolve_user(":1", r.path()).is_err());
    }

    #[test]
    fn group_add_resolves_names_and_numbers_or_names_the_missing_one() {
        let dir = root();
        assert!(
            configure_extra_groups(r#"["nosuch"]"#, dir.path())
                .expect_err("missing")
                .contains("nosuch")
        );
        configure_extra_groups(r#"["wheel", "4242"]"#, dir.path()).expect("resolved");
        assert_eq!(extra_groups(), &[10, 4242]);
    }
}
