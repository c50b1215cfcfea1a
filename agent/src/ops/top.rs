//! TOP: `ps`'s columns computed from `/proc` (no `ps` binary is assumed in
//! the image), for the forms `docker top` users pass: none (`-ef`), `-ef`,
//! `aux` and `-o LIST`. Pure: the processes and the clock come in.

use std::collections::HashMap;

use super::procs::Proc;
use crate::protocol::TopAnswer;

/// What the formatting needs besides the processes.
#[derive(Debug, Clone)]
pub(crate) struct Clock {
    /// Clock ticks per second.
    pub ticks: u64,
    /// Boot time and now, seconds since the epoch.
    pub boot: i64,
    pub now: i64,
    /// Memory of the machine, KiB; page size, KiB.
    pub mem_total_kib: u64,
    pub page_kib: u64,
    /// User and group names by id.
    pub users: HashMap<u32, String>,
    pub groups: HashMap<u32, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    User,
    Uid,
    Gid,
    Group,
    Pid,
    Ppid,
    Pgid,
    Sid,
    C,
    Stime,
    Started,
    Tty,
    Time,
    BsdTime,
    Args,
    Comm,
    PCpu,
    PMem,
    Vsz,
    Rss,
    Stat,
    Nlwp,
    Nice,
    Etime,
}

/// `-o` names and their default titles (procps' spelling).
const NAMES: &[(&str, Col, &str)] = &[
    ("user", Col::User, "USER"),
    ("euser", Col::User, "EUSER"),
    ("uid", Col::Uid, "UID"),
    ("euid", Col::Uid, "EUID"),
    ("gid", Col::Gid, "GID"),
    ("group", Col::Group, "GROUP"),
    ("pid", Col::Pid, "PID"),
    ("ppid", Col::Ppid, "PPID"),
    ("pgid", Col::Pgid, "PGID"),
    ("pgrp", Col::Pgid, "PGRP"),
    ("sid", Col::Sid, "SID"),
    ("c", Col::C, "C"),
    ("stime", Col::Stime, "STIME"),
    ("start_time", Col::Stime, "START"),
    ("start", Col::Started, "STARTED"),
    ("tty", Col::Tty, "TT"),
    ("tt", Col::Tty, "TT"),
    ("time", Col::Time, "TIME"),
    ("cputime", Col::Time, "TIME"),
    ("args", Col::Args, "COMMAND"),
    ("command", Col::Args, "COMMAND"),
    ("cmd", Col::Args, "CMD"),
    ("comm", Col::Comm, "COMMAND"),
    ("ucomm", Col::Comm, "COMMAND"),
    ("%cpu", Col::PCpu, "%CPU"),
    ("pcpu", Col::PCpu, "%CPU"),
    ("%mem", Col::PMem, "%MEM"),
    ("pmem", Col::PMem, "%MEM"),
    ("vsz", Col::Vsz, "VSZ"),
    ("vsize", Col::Vsz, "VSZ"),
    ("rss", Col::Rss, "RSS"),
    ("rssize", Col::Rss, "RSS"),
    ("stat", Col::Stat, "STAT"),
    ("nlwp", Col::Nlwp, "NLWP"),
    ("thcount", Col::Nlwp, "THCNT"),
    ("ni", Col::Nice, "NI"),
    ("nice", Col::Nice, "NI"),
    ("etime", Col::Etime, "ELAPSED"),
];

const FULL: &[(Col, &str)] = &[
    (Col::User, "UID"),
    (Col::Pid, "PID"),
    (Col::Ppid, "PPID"),
    (Col::C, "C"),
    (Col::Stime, "STIME"),
    (Col::Tty, "TTY"),
    (Col::Time, "TIME"),
    (Col::Args, "CMD"),
];

const AUX: &[(Col, &str)] = &[
    (Col::User, "USER"),
    (Col::Pid, "PID"),
    (Col::PCpu, "%CPU"),
    (Col::PMem, "%MEM"),
    (Col::Vsz, "VSZ"),
    (Col::Rss, "RSS"),
    (Col::Tty, "TTY"),
    (Col::Stat, "STAT"),
    (Col::Stime, "START"),
    (Col::BsdTime, "TIME"),
    (Col::Args, "COMMAND"),
];

const PLAIN: &[(Col, &str)] = &[
    (Col::Pid, "PID"),
    (Col::Tty, "TTY"),
    (Col::Time, "TIME"),
    (Col::Comm, "CMD"),
];

fn unsupported(what: &str) -> String {
    format!(
        "ps: error: unsupported option {what} (sockerless lists the container's processes \
         itself: it knows -e, -f, -A, aux and -o LIST)"
    )
}

fn parse_list(list: &str, out: &mut Vec<(Col, String)>) -> Result<(), String> {
    for item in list.split(',').filter(|i| !i.is_empty()) {
        let (name, title) = match item.split_once('=') {
            Some((n, t)) => (n, Some(t)),
            None => (item, None),
        };
        let Some((_, col, default)) = NAMES.iter().find(|(n, _, _)| *n == name) else {
            return Err(format!(
                "ps: error: unknown user-defined format specifier \"{name}\""
            ));
        };
        out.push((*col, title.unwrap_or(default).to_owned()));
    }
    Ok(())
}

/// The columns `ps_args` asks for, or `ps`'s error.
fn columns(ps_args: &str) -> Result<Vec<(Col, String)>, String> {
    let (mut full, mut user) = (false, false);
    let mut listed: Option<Vec<(Col, String)>> = None;
    let mut tokens = ps_args.split_whitespace();
    let tokens_given = !ps_args.trim().is_empty();
    while let Some(token) = tokens.next() {
        if token.starts_with("--") {
            return Err(unsupported(token));
        }
        if let Some(letters) = token.strip_prefix('-') {
            for (i, c) in letters.char_indices() {
                match c {
                    'e' | 'A' | 'a' => {}
                    'f' => full = true,
                    'o' => {
                        let rest = &letters[i + 1..];
                        let list = if rest.is_empty() {
                            tokens
                                .next()
                                .ok_or("ps: error: format specification must follow -o")?
                        } else {
                            rest
                        };
                        parse_list(list, listed.get_or_insert_with(Vec::new))?;
                        break;
                    }
                    other => return Err(unsupported(&format!("-{other}"))),
                }
            }
        } else {
            for c in token.chars() {
                match c {
                    'a' | 'x' => {}
                    'u' => user = true,
                    other => return Err(unsupported(&other.to_string())),
                }
            }
        }
    }
    let named = |cols: &[(Col, &str)]| cols.iter().map(|(c, t)| (*c, (*t).to_owned())).collect();
    Ok(match listed {
        Some(list) => list,
        None if user => named(AUX),
        None if full || !tokens_given => named(FULL),
        None => named(PLAIN),
    })
}

/// `docker top`'s answer for `procs`, or the message `ps` would fail with.
pub(crate) fn format(ps_args: &str, procs: &[Proc], clock: &Clock) -> Result<TopAnswer, String> {
    let cols = columns(ps_args)?;
    if !cols.iter().any(|(c, _)| *c == Col::Pid) {
        // dockerd keeps only the container's rows, which needs the PID column.
        return Err("Couldn't find PID field in ps output".into());
    }
    Ok(TopAnswer {
        titles: cols.iter().map(|(_, t)| t.clone()).collect(),
        processes: procs
            .iter()
            .map(|p| cols.iter().map(|(c, _)| cell(*c, p, clock)).collect())
            .collect(),
    })
}

fn cell(col: Col, p: &Proc, k: &Clock) -> String {
    let ticks = k.ticks.max(1);
    let cpu_secs = (p.utime + p.stime) / ticks;
    let started = k.boot + (p.start / ticks) as i64;
    let elapsed = (k.now - started).max(0);
    // Per mille of one CPU over the process's life, as procps computes it.
    let cpu_pm = if elapsed > 0 {
        ((p.utime + p.stime) * 1000 / ticks) / elapsed as u64
    } else {
        0
    };
    let rss_kib = (p.rss_pages.max(0) as u64) * k.page_kib;
    let name = |names: &HashMap<u32, String>, id: u32| {
        names.get(&id).cloned().unwrap_or_else(|| id.to_string())
    };
    match col {
        Col::User => name(&k.users, p.uid),
        Col::Uid => p.uid.to_string(),
        Col::Gid => p.gid.to_string(),
        Col::Group => name(&k.groups, p.gid),
        Col::Pid => p.pid.to_string(),
        Col::Ppid => p.ppid.to_string(),
        Col::Pgid => p.pgrp.to_string(),
        Col::Sid => p.session.to_string(),
        Col::C => (cpu_pm / 10).min(99).to_string(),
        Col::Stime => start_time(started, k.now),
        Col::Started => clock_time(started, true),
        Col::Tty => tty_name(p.tty_nr),
        Col::Time => {
            let (d, rest) = (cpu_secs / 86_400, cpu_secs % 86_400);
            let hms = format!(
                "{:02}:{:02}:{:02}",
                rest / 3600,
                rest % 3600 / 60,
                rest % 60
            );
            if d > 0 { format!("{d}-{hms}") } else { hms }
        }
        Col::BsdTime => format!("{}:{:02}", cpu_secs / 60, cpu_secs % 60),
        Col::Args if p.args.is_empty() => format!("[{}]", p.comm),
        Col::Args => p.args.join(" "),
        Col::Comm => p.comm.clone(),
        Col::PCpu => format!("{}.{}", cpu_pm / 10, cpu_pm % 10),
        Col::PMem => {
            let pm = rss_kib * 1000 / k.mem_total_kib.max(1);
            format!("{}.{}", pm / 10, pm % 10)
        }
        Col::Vsz => (p.vsize / 1024).to_string(),
        Col::Rss => rss_kib.to_string(),
        Col::Stat => stat(p),
        Col::Nlwp => p.threads.to_string(),
        Col::Nice => p.nice.to_string(),
        Col::Etime => {
            let e = elapsed as u64;
            let (d, h, m, s) = (e / 86_400, e % 86_400 / 3600, e % 3600 / 60, e % 60);
            match (d, h) {
                (0, 0) => format!("{m:02}:{s:02}"),
                (0, h) => format!("{h:02}:{m:02}:{s:02}"),
                (d, h) => format!("{d}-{h:02}:{m:02}:{s:02}"),
            }
        }
    }
}

/// BSD `STAT`: the state and procps' modifiers.
fn stat(p: &Proc) -> String {
    let mut s = p.state.to_string();
    if p.nice < 0 {
        s.push('<');
    } else if p.nice > 0 {
        s.push('N');
    }
    if p.session == p.pid {
        s.push('s');
    }
    if p.threads > 1 {
        s.push('l');
    }
    if p.tty_nr != 0 && p.tpgid == p.pgrp {
        s.push('+');
    }
    s
}

/// `/dev/pts/N` and the consoles from `tty_nr`; `?` for none.
fn tty_name(nr: i32) -> String {
    if nr == 0 {
        return "?".into();
    }
    let major = (nr >> 8) & 0xfff;
    let minor = (nr & 0xff) | ((nr >> 12) & 0xfff00);
    match major {
        136..=143 => format!("pts/{}", minor + (major - 136) * 256),
        4 if minor < 64 => format!("tty{minor}"),
        4 => format!("ttyS{}", minor - 64),
        5 if minor == 1 => "console".into(),
        _ => "?".into(),
    }
}

/// `HH:MM` within a day, else `MonDD` (`ps`'s STIME and START).
fn start_time(started: i64, now: i64) -> String {
    if now - started < 86_400 {
        return clock_time(started, false);
    }
    let (_, month, day) = civil(started.div_euclid(86_400));
    format!("{}{day:02}", MONTHS[(month - 1) as usize])
}

fn clock_time(t: i64, seconds: bool) -> String {
    let s = t.rem_euclid(86_400);
    if seconds {
        format!("{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 3600, s % 3600 / 60)
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days since the epoch → (year, month, day) (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests;
