//! Tests of `top.rs`: the `ps` forms and each column's formatting.

use super::*;

fn clock() -> Clock {
    Clock {
        ticks: 100,
        // Boot at 2026-12-06 00:00:00 UTC, now one hour later.
        boot: 1_796_515_200,
        now: 1_796_515_200 + 3600,
        mem_total_kib: 1_000_000,
        page_kib: 4,
        users: HashMap::from([(0, "root".to_owned())]),
        groups: HashMap::from([(0, "root".to_owned())]),
    }
}

fn sleeper() -> Proc {
    Proc {
        pid: 7,
        ppid: 0,
        pgrp: 7,
        session: 7,
        tty_nr: 0,
        tpgid: -1,
        state: 'S',
        utime: 150,
        stime: 30,
        nice: 0,
        threads: 1,
        // Started 30 minutes after boot: 30 minutes ago.
        start: 1800 * 100,
        vsize: 2_322_432,
        rss_pages: 100,
        uid: 0,
        gid: 0,
        comm: "sleep".into(),
        args: vec!["sleep".into(), "300".into()],
    }
}

#[test]
fn default_is_ps_ef() {
    let a = format("", &[sleeper()], &clock()).expect("formatted");
    assert_eq!(
        a.titles,
        ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    );
    assert_eq!(
        a.processes,
        vec![vec![
            "root",
            "7",
            "0",
            "0",
            "00:30",
            "?",
            "00:00:01",
            "sleep 300"
        ]]
    );
    assert_eq!(format("-ef", &[sleeper()], &clock()), Ok(a.clone()));
    assert_eq!(format("-e -f", &[sleeper()], &clock()), Ok(a));
}

#[test]
fn aux_columns() {
    let a = format("aux", &[sleeper()], &clock()).expect("formatted");
    assert_eq!(
        a.titles,
        [
            "USER", "PID", "%CPU", "%MEM", "VSZ", "RSS", "TTY", "STAT", "START", "TIME", "COMMAND"
        ]
    );
    // 1.8 s of CPU over 1800 s: 0.1 %; 400 KiB of 1 000 000: 0.0 %.
    assert_eq!(
        a.processes[0],
        [
            "root",
            "7",
            "0.1",
            "0.0",
            "2268",
            "400",
            "?",
            "Ss",
            "00:30",
            "0:01",
            "sleep 300"
        ]
    );
}

#[test]
fn o_lists_with_titles_and_renames() {
    let a = format("-o pid,comm,args", &[sleeper()], &clock()).expect("formatted");
    assert_eq!(a.titles, ["PID", "COMMAND", "COMMAND"]);
    assert_eq!(a.processes[0], ["7", "sleep", "sleep 300"]);
    let a = format("-opid=P,etime,stat,nlwp", &[sleeper()], &clock()).expect("formatted");
    assert_eq!(a.titles, ["P", "ELAPSED", "STAT", "NLWP"]);
    assert_eq!(a.processes[0], ["7", "30:00", "Ss", "1"]);
}

#[test]
fn refusals_as_ps_words_them() {
    assert_eq!(
        format("-o pid,bogus", &[], &clock()),
        Err("ps: error: unknown user-defined format specifier \"bogus\"".into())
    );
    assert!(format("-xyz", &[], &clock()).is_err_and(|e| e.contains("unsupported option -x")));
    assert!(format("--forest", &[], &clock()).is_err());
    assert!(format("-o", &[], &clock()).is_err());
    assert_eq!(
        format("-o comm", &[], &clock()),
        Err("Couldn't find PID field in ps output".into())
    );
}

#[test]
fn odd_processes() {
    let mut p = sleeper();
    p.args.clear();
    p.tty_nr = (136 << 8) | 3;
    p.tpgid = 7;
    p.threads = 4;
    p.nice = 5;
    p.uid = 1234;
    p.utime = 100 * 90_000;
    p.start = 0;
    let mut k = clock();
    k.now = k.boot + 3 * 86_400;
    let a = format("-ef", &[p.clone()], &k).expect("formatted");
    assert_eq!(
        a.processes[0],
        [
            "1234",
            "7",
            "0",
            "34",
            "Dec06",
            "pts/3",
            "1-01:00:00",
            "[sleep]"
        ]
    );
    let a = format("-o pid,stat,etime", &[p], &k).expect("formatted");
    assert_eq!(a.processes[0], ["7", "SNsl+", "3-00:00:00"]);
}

#[test]
fn civil_dates() {
    assert_eq!(civil(0), (1970, 1, 1));
    assert_eq!(civil(1_796_515_200 / 86_400), (2026, 12, 6));
    assert_eq!(civil(11_016), (2000, 2, 29));
}
