//! Bind benchmark (not a timed test): throughput of copying a 100 MiB tree
//! into a container (`-v dir:/b`) and of syncing it back at the exit, as
//! the daemon logs them (`bind copied in` / `bind synced back`, `ms=`),
//! plus the whole `docker run` next to one without the bind.
//!
//! `cargo bench -p sockerless --bench binds` with the scenario tests'
//! environment (`SOCKERLESS_SIM_ENGINE`, `SOCKERLESS_TEST_REGISTRY`,
//! `SOCKERLESS_AGENT_BIN`); fails without it.
//! `SOCKERLESS_BENCH_MIB` (default 100) sets the size of the tree.

use sockerless_testkit as common;

use std::time::{Duration, Instant};

use common::{Sockerless, test_env, unique};

const FILE: usize = 256 * 1024;

/// Writes `mib` MiB in 256 KiB files over 16 directories.
fn make_tree(dir: &std::path::Path, mib: usize) {
    let data: Vec<u8> = (0..FILE).map(|i| (i * 31 % 251) as u8).collect();
    for i in 0..mib * 4 {
        let sub = dir.join(format!("d{:02}", i % 16));
        std::fs::create_dir_all(&sub).expect("dir");
        std::fs::write(sub.join(format!("f{i:05}")), &data).expect("file");
    }
}

/// Removes ANSI escapes (the daemon's log may be coloured).
fn plain(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The `ms=` of the `nth` log line containing `what`.
fn logged_ms(log: &str, what: &str, nth: usize) -> Option<u64> {
    let line = plain(log)
        .lines()
        .filter(|l| l.contains(what))
        .nth(nth)?
        .to_owned();
    let rest = &line[line.find(" ms=")? + 4..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

fn mib_per_s(mib: usize, ms: u64) -> f64 {
    mib as f64 / (ms.max(1) as f64 / 1000.0)
}

fn timed(d: &Sockerless, args: &[&str]) -> Duration {
    let started = Instant::now();
    let out = d.docker(args);
    assert_eq!(out.code, 0, "{out:?}\n{}", d.log());
    started.elapsed()
}

fn main() {
    let env = test_env();
    let mib: usize = std::env::var("SOCKERLESS_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let dir = d.path(&unique("tree"));
    make_tree(&dir, mib);
    let bind = format!("{}:/b", dir.display());

    let plain_run = timed(&d, &["run", "--rm", "busybox", "true"]);
    // 1: copied in and synced back unchanged (the whole tar still crosses).
    let unchanged = timed(&d, &["run", "--rm", "-v", &bind, "busybox", "true"]);
    // 2: every file rewritten in the container, so every file is written back.
    let changed = timed(
        &d,
        &[
            "run",
            "--rm",
            "-v",
            &bind,
            "busybox",
            "sh",
            "-c",
            "for f in /b/*/*; do echo x >> $f; done",
        ],
    );
    let log = d.log();
    println!(
        "bind sync benchmark: {mib} MiB tree, {} files of 256 KiB",
        mib * 4
    );
    for (label, what, nth) in [
        ("copy in (run 1)", "bind copied in", 0),
        ("sync back, nothing changed", "bind synced back", 0),
        ("copy in (run 2)", "bind copied in", 1),
        ("sync back, every file changed", "bind synced back", 1),
    ] {
        match logged_ms(&log, what, nth) {
            Some(ms) => println!(
                "  {label:<32} {ms:>6} ms  {:>8.1} MiB/s",
                mib_per_s(mib, ms)
            ),
            None => println!("  {label:<32} not in the daemon log"),
        }
    }
    println!(
        "  docker run: plain {:.2} s, with the bind {:.2} s (unchanged) / {:.2} s (all changed)",
        plain_run.as_secs_f64(),
        unchanged.as_secs_f64(),
        changed.as_secs_f64()
    );
    let _ = d.stop();
}
