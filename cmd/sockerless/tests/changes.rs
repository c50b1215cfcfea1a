//! Issue 11, item 2, with the real Docker CLI against the all-in-one in
//! emulator mode: a container's changes against its image outlive its
//! replica. Each `docker start` of an exited container here is a new ACA
//! execution (no linger), yet the file written and the image file deleted
//! by the previous run are as that run left them; bounded by
//! `changes_max_bytes`, whose refusal is said on the container's stderr.
//! See `common/mod.rs` for the environment these need.

use sockerless_testkit as common;

use common::{Sockerless, serial, test_env, unique};

const SCRIPT: &str =
    "echo 1 >> /tmp/n; cat /tmp/n; ls /bin/vi 2>/dev/null || echo vi-gone; rm -f /bin/vi";

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn files_written_and_deleted_survive_a_new_execution() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let name = unique("chg");
    let first = d.docker(&["run", "--name", &name, "busybox", "sh", "-c", SCRIPT]);
    assert_eq!(first.code, 0, "{first:?}\n{}", d.log());
    assert_eq!(first.stdout, "1\n/bin/vi\n", "{first:?}");
    let executions_before = executions(&d);
    let second = d.docker(&["start", "-a", &name]);
    assert_eq!(second.code, 0, "{second:?}\n{}", d.log());
    assert_eq!(second.stdout, "1\n1\nvi-gone\n", "{second:?}\n{}", d.log());
    assert!(
        executions(&d) > executions_before,
        "the second start was a new execution"
    );
    let third = d.docker(&["start", "-a", &name]);
    assert_eq!(third.stdout, "1\n1\n1\nvi-gone\n", "{third:?}");
    d.docker(&["rm", &name]).ok();
    // The record went with the container.
    let kept = std::fs::read_dir(d.data_dir().join("changes"))
        .map(|r| r.count())
        .unwrap_or(0);
    assert_eq!(kept, 0, "records left after rm");
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn recording_off_or_over_the_bound_starts_from_the_image() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start_with(&env, &["--changes-max-bytes", "4096"]);
    d.pull_busybox();
    let name = unique("chg");
    let script =
        "echo 1 >> /tmp/n; cat /tmp/n; [ -e /tmp/big ] || head -c 8192 /dev/zero > /tmp/big";
    let first = d.docker(&["run", "--name", &name, "busybox", "sh", "-c", script]);
    assert_eq!(first.code, 0, "{first:?}");
    let logs = d.docker(&["logs", &name]);
    assert!(
        logs.stderr.contains("changes were not kept"),
        "the refusal is on stderr: {logs:?}"
    );
    let second = d.docker(&["start", "-a", &name]);
    assert_eq!(second.stdout, "1\n", "{second:?}");
    d.docker(&["rm", &name]).ok();
}

/// Executions started so far, from the emulator's request log.
fn executions(d: &Sockerless) -> usize {
    d.sim_requests()
        .iter()
        .filter(|r| {
            r["method"] == "POST" && r["path"].as_str().is_some_and(|p| p.ends_with("/start"))
        })
        .count()
}
