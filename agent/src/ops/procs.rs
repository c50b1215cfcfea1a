//! The container's processes as `/proc` shows them: the parsing of
//! `/proc/<pid>/stat`, `status` and `cmdline` (pure) and the scan.

use std::collections::HashMap;
use std::path::Path;

/// One process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Proc {
    pub pid: i32,
    pub ppid: i32,
    pub pgrp: i32,
    pub session: i32,
    pub tty_nr: i32,
    pub tpgid: i32,
    pub state: char,
    /// User and system time, clock ticks.
    pub utime: u64,
    pub stime: u64,
    pub nice: i64,
    pub threads: i64,
    /// Start, clock ticks after boot.
    pub start: u64,
    /// Virtual size, bytes.
    pub vsize: u64,
    /// Resident pages.
    pub rss_pages: i64,
    /// Effective user and group.
    pub uid: u32,
    pub gid: u32,
    pub comm: String,
    pub args: Vec<String>,
}

/// Parses `/proc/<pid>/stat` (the command name may hold spaces and
/// parentheses: it ends at the last `)`).
pub(crate) fn parse_stat(text: &str) -> Option<Proc> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let pid = text.get(..open)?.trim().parse().ok()?;
    let comm = text.get(open + 1..close)?.to_owned();
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    let n = |i: usize| rest.get(i).and_then(|v| v.parse::<i64>().ok());
    let u = |i: usize| rest.get(i).and_then(|v| v.parse::<u64>().ok());
    Some(Proc {
        pid,
        state: rest.first()?.chars().next()?,
        ppid: n(1)? as i32,
        pgrp: n(2)? as i32,
        session: n(3)? as i32,
        tty_nr: n(4)? as i32,
        tpgid: n(5)? as i32,
        utime: u(11)?,
        stime: u(12)?,
        nice: n(16)?,
        threads: n(17)?,
        start: u(19)?,
        vsize: u(20)?,
        rss_pages: n(21)?,
        comm,
        ..Default::default()
    })
}

/// The effective uid and gid from `/proc/<pid>/status`.
pub(crate) fn parse_ids(status: &str) -> (u32, u32) {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("Uid:"), field("Gid:"))
}

/// `/proc/<pid>/cmdline`: NUL-separated arguments.
pub(crate) fn parse_cmdline(raw: &[u8]) -> Vec<String> {
    raw.split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// Most processes listed (a fork bomb must not grow the answer unbounded).
pub(crate) const MAX_PROCS: usize = 10_000;

/// The processes under `proc_root` (normally `/proc`) but `exclude`.
pub(crate) fn scan(proc_root: &Path, exclude: i32) -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir(proc_root) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == exclude {
            continue;
        }
        let base = entry.path();
        // A process that exits during the scan is simply not listed.
        let Some(mut p) = std::fs::read_to_string(base.join("stat"))
            .ok()
            .and_then(|t| parse_stat(&t))
        else {
            continue;
        };
        (p.uid, p.gid) = std::fs::read_to_string(base.join("status"))
            .map(|s| parse_ids(&s))
            .unwrap_or((0, 0));
        p.args = std::fs::read(base.join("cmdline"))
            .map(|raw| parse_cmdline(&raw))
            .unwrap_or_default();
        out.push(p);
        if out.len() >= MAX_PROCS {
            break;
        }
    }
    out.sort_by_key(|p| p.pid);
    out
}

/// Names of users or groups from an `/etc/passwd`-style file: id → name.
pub(crate) fn parse_names(text: &str) -> HashMap<u32, String> {
    let mut names = HashMap::new();
    for line in text.lines() {
        let mut f = line.split(':');
        let (Some(name), Some(_), Some(id)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if let Ok(id) = id.parse() {
            names.entry(id).or_insert_with(|| name.to_owned());
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_command_names() {
        let text = "42 (my (odd) cmd) S 1 42 42 34816 42 4194560 100 0 0 0 7 3 0 0 20 0 1 0 12345 2322432 380 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        let p = parse_stat(text).expect("parsed");
        assert_eq!(p.pid, 42);
        assert_eq!(p.comm, "my (odd) cmd");
        assert_eq!((p.state, p.ppid, p.pgrp, p.session), ('S', 1, 42, 42));
        assert_eq!((p.tty_nr, p.tpgid), (34816, 42));
        assert_eq!((p.utime, p.stime, p.nice, p.threads), (7, 3, 0, 1));
        assert_eq!((p.start, p.vsize, p.rss_pages), (12345, 2322432, 380));
        assert_eq!(parse_stat("42 (x"), None);
        assert_eq!(parse_stat("42 (x) S 1"), None);
    }

    #[test]
    fn ids_cmdline_and_names() {
        let status = "Name:\tsh\nUid:\t1000\t1001\t1001\t1001\nGid:\t5\t6\t6\t6\n";
        assert_eq!(parse_ids(status), (1001, 6));
        assert_eq!(parse_cmdline(b"sleep\x00300\x00"), vec!["sleep", "300"]);
        assert!(parse_cmdline(b"").is_empty());
        let names =
            parse_names("root:x:0:0:root:/root:/bin/sh\nbad\nnobody:x:65534:65534::/:/bin/false\n");
        assert_eq!(names.get(&0).map(String::as_str), Some("root"));
        assert_eq!(names.get(&65534).map(String::as_str), Some("nobody"));
    }

    #[test]
    fn scan_lists_this_process_unless_excluded() {
        let me = std::process::id() as i32;
        let all = scan(Path::new("/proc"), -1);
        assert!(all.iter().any(|p| p.pid == me), "own pid listed");
        let without = scan(Path::new("/proc"), me);
        assert!(!without.iter().any(|p| p.pid == me));
    }
}
