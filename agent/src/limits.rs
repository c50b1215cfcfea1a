//! Docker's `HostConfig.Ulimits` (`--ulimit nofile=1024:2048`), given as
//! JSON in `SOCKERLESS_ULIMITS`: applied to every process the agent starts
//! (main, exec, health checks), as Docker applies them container-wide, and
//! not to the agent itself (a low `nofile` must not starve its sockets).
//!
//! Raising a hard limit needs `CAP_SYS_RESOURCE`; without it the start
//! fails with a message naming the limit, as dockerd's runtime refuses it.

// unsafe: setrlimit/getrlimit, applied in the child between fork and exec.
#![allow(unsafe_code)]

use std::io;
use std::sync::OnceLock;

use serde::Deserialize;

/// One limit, as Docker's API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limit {
    resource: Resource,
    soft: u64,
    hard: u64,
}

type Resource = libc::__rlimit_resource_t;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Wire {
    name: String,
    soft: i64,
    hard: i64,
}

/// Docker's names (`man 2 setrlimit` without `RLIMIT_`).
const NAMES: &[(&str, Resource)] = &[
    ("as", libc::RLIMIT_AS),
    ("core", libc::RLIMIT_CORE),
    ("cpu", libc::RLIMIT_CPU),
    ("data", libc::RLIMIT_DATA),
    ("fsize", libc::RLIMIT_FSIZE),
    ("locks", libc::RLIMIT_LOCKS),
    ("memlock", libc::RLIMIT_MEMLOCK),
    ("msgqueue", libc::RLIMIT_MSGQUEUE),
    ("nice", libc::RLIMIT_NICE),
    ("nofile", libc::RLIMIT_NOFILE),
    ("nproc", libc::RLIMIT_NPROC),
    ("rss", libc::RLIMIT_RSS),
    ("rtprio", libc::RLIMIT_RTPRIO),
    ("rttime", libc::RLIMIT_RTTIME),
    ("sigpending", libc::RLIMIT_SIGPENDING),
    ("stack", libc::RLIMIT_STACK),
];

/// At most one entry per resource.
const MAX_LIMITS: usize = NAMES.len();
const CAP_SYS_RESOURCE: u32 = 24;

static LIMITS: OnceLock<Vec<Limit>> = OnceLock::new();

fn name_of(resource: Resource) -> &'static str {
    NAMES
        .iter()
        .find(|(_, r)| *r == resource)
        .map_or("?", |(n, _)| n)
}

/// `-1` is Docker's "unlimited".
fn amount(v: i64) -> u64 {
    if v < 0 { libc::RLIM_INFINITY } else { v as u64 }
}

/// The environment variable carrying the limits, JSON as Docker's API
/// spells `HostConfig.Ulimits`.
pub const ENV: &str = "SOCKERLESS_ULIMITS";

/// Checks `SOCKERLESS_ULIMITS` as the agent will read it (for the backend,
/// at create); the error names the bad entry.
pub fn validate(json: &str) -> Result<(), String> {
    parse(json).map(|_| ())
}

/// Parses `SOCKERLESS_ULIMITS`.
pub(crate) fn parse(json: &str) -> Result<Vec<Limit>, String> {
    let wire: Vec<Wire> =
        serde_json::from_str(json).map_err(|e| format!("SOCKERLESS_ULIMITS: {e}"))?;
    if wire.len() > MAX_LIMITS {
        return Err(format!("SOCKERLESS_ULIMITS: at most {MAX_LIMITS} entries"));
    }
    wire.into_iter()
        .map(|w| {
            let resource = NAMES
                .iter()
                .find(|(n, _)| *n == w.name)
                .map(|(_, r)| *r)
                .ok_or_else(|| format!("ulimit {:?}: unknown name", w.name))?;
            let (soft, hard) = (amount(w.soft), amount(w.hard));
            if soft > hard {
                return Err(format!(
                    "ulimit {}: soft {soft} is above hard {hard}",
                    w.name
                ));
            }
            Ok(Limit {
                resource,
                soft,
                hard,
            })
        })
        .collect()
}

/// Sets the limits every later process gets (once, at start).
pub(crate) fn configure(limits: Vec<Limit>) {
    let _ = LIMITS.set(limits);
}

/// The configured limits.
pub(crate) fn configured() -> &'static [Limit] {
    LIMITS.get().map_or(&[], Vec::as_slice)
}

/// Before a spawn: a hard limit above the agent's own needs
/// `CAP_SYS_RESOURCE`; say which limit when it is missing.
pub(crate) fn check(limits: &[Limit]) -> io::Result<()> {
    let capable = has_effective_cap(CAP_SYS_RESOURCE);
    for l in limits {
        let current = current_hard(l.resource)?;
        if l.hard > current && !capable {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "ulimit {}={}:{}: raising the hard limit above {current} needs CAP_SYS_RESOURCE",
                    name_of(l.resource),
                    l.soft,
                    l.hard
                ),
            ));
        }
    }
    Ok(())
}

/// In the child between fork and exec: only `setrlimit` (async-signal-safe).
pub(crate) fn apply_in_child(limits: &[Limit]) -> io::Result<()> {
    for l in limits {
        let r = libc::rlimit {
            rlim_cur: l.soft,
            rlim_max: l.hard,
        };
        // SAFETY: r is a valid rlimit; setrlimit only reads it.
        if unsafe { libc::setrlimit(l.resource, &r) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn current_hard(resource: Resource) -> io::Result<u64> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: r is a valid out pointer.
    if unsafe { libc::getrlimit(resource, &mut r) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(r.rlim_max)
}

fn has_effective_cap(cap: u32) -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let hex = s
                .lines()
                .find_map(|l| l.strip_prefix("CapEff:"))?
                .trim()
                .to_owned();
            u64::from_str_radix(&hex, 16).ok()
        })
        .is_some_and(|bits| bits & (1 << cap) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_names_and_unlimited() {
        let l = parse(
            r#"[{"Name":"nofile","Soft":1024,"Hard":2048},{"Name":"core","Soft":-1,"Hard":-1}]"#,
        )
        .expect("parse");
        assert_eq!(
            l[0],
            Limit {
                resource: libc::RLIMIT_NOFILE,
                soft: 1024,
                hard: 2048
            }
        );
        assert_eq!(
            (l[1].soft, l[1].hard),
            (libc::RLIM_INFINITY, libc::RLIM_INFINITY)
        );
        assert_eq!(parse("[]").expect("empty"), Vec::new());
    }

    #[test]
    fn bad_input_is_an_error_naming_it() {
        for (json, needle) in [
            (r#"[{"Name":"files","Soft":1,"Hard":1}]"#, "files"),
            (r#"[{"Name":"nofile","Soft":9,"Hard":1}]"#, "nofile"),
            ("{", "SOCKERLESS_ULIMITS"),
        ] {
            let err = parse(json).expect_err(json);
            assert!(err.contains(needle), "{json}: {err}");
        }
    }

    #[test]
    fn lowering_is_always_allowed() {
        let hard = current_hard(libc::RLIMIT_NOFILE).expect("getrlimit");
        let l = [Limit {
            resource: libc::RLIMIT_NOFILE,
            soft: 64.min(hard),
            hard,
        }];
        check(&l).expect("not above the current hard limit");
    }

    #[test]
    fn a_child_gets_the_limits() {
        use std::os::unix::process::CommandExt;
        let l = vec![Limit {
            resource: libc::RLIMIT_NOFILE,
            soft: 100,
            hard: 200,
        }];
        let mut cmd = std::process::Command::new("sh");
        cmd.args(["-c", "ulimit -n; ulimit -Hn"]);
        // SAFETY: apply_in_child makes only setrlimit calls.
        unsafe {
            cmd.pre_exec(move || apply_in_child(&l));
        }
        let out = cmd.output().expect("sh");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "100\n200\n");
    }
}
