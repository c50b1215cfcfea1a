//! Issue 16, item 1, with the real Docker CLI against the all-in-one in
//! emulator mode: `docker events` replays what happened to a container
//! (create, attach, start, die with its exit code, destroy), the same
//! after a restart of the backend, and streams a `die` live through a filter.
//! See `common/mod.rs` for the environment these need.

use sockerless_testkit as common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Sockerless, guard, serial, test_env, unique};

/// Now as `docker events --until` takes it: seconds.nanoseconds.
fn now() -> String {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after the epoch");
    format!("{}.{:09}", t.as_secs(), t.subsec_nanos())
}

/// The events of container `id` between the epoch and `until`, as JSON.
fn history(d: &Sockerless, id: &str, until: &str) -> Vec<serde_json::Value> {
    let out = d
        .docker(&[
            "events",
            "--since",
            "0",
            "--until",
            until,
            "--format",
            "{{json .}}",
        ])
        .ok();
    out.stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("an event per line"))
        .filter(|e| e["Actor"]["ID"] == id)
        .collect()
}

fn actions(events: &[serde_json::Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["Action"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn a_run_is_replayed_the_same_after_a_restart() {
    let env = test_env();
    let _serial = serial();
    let mut d = Sockerless::start(&env);
    d.pull_busybox();
    let name = unique("ev");
    let run = d.docker(&["run", "--name", &name, "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(run.code, 3, "{run:?}\n{}", d.log());
    let id = d
        .docker(&["inspect", "--format", "{{.Id}}", &name])
        .ok()
        .stdout
        .trim()
        .to_owned();
    d.docker(&["rm", &name]).ok();
    let until = now();

    let before = history(&d, &id, &until);
    assert_eq!(
        actions(&before),
        ["create", "attach", "start", "die", "destroy"],
        "{before:#?}"
    );
    let die = &before[3];
    assert_eq!(die["Actor"]["Attributes"]["exitCode"], "3", "{die}");
    for event in &before {
        assert_eq!(event["Type"], "container", "{event}");
        assert_eq!(event["scope"], "local", "{event}");
        assert_eq!(
            event["Actor"]["Attributes"]["name"],
            name.as_str(),
            "{event}"
        );
        assert_eq!(event["Actor"]["Attributes"]["image"], "busybox", "{event}");
        // dockerd's deprecated fields of container events.
        assert_eq!(event["status"], event["Action"], "{event}");
        assert_eq!(event["id"], id.as_str(), "{event}");
        assert_eq!(event["from"], "busybox", "{event}");
    }

    d.restart(&env, &[]);
    let after = history(&d, &id, &until);
    assert_eq!(
        after, before,
        "the same answer after a restart of the backend"
    );

    // A filter applies to the replay too.
    let dies = d
        .docker(&[
            "events",
            "--since",
            "0",
            "--until",
            &until,
            "--filter",
            "event=die",
            "--filter",
            &format!("container={name}"),
            "--format",
            "{{.Action}} {{.Actor.Attributes.exitCode}}",
        ])
        .ok();
    assert_eq!(dies.stdout, "die 3\n", "{dies:?}");
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn a_die_is_streamed_live_through_a_filter() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let name = unique("evlive");
    let mut watcher = d
        .docker_cmd(&[
            "events",
            "--filter",
            "event=die",
            "--filter",
            &format!("container={name}"),
            "--format",
            "{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker events");
    let stdout = watcher.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The daemon answers the events request once it has subscribed: after
    // its request line, nothing that happens is missed.
    let deadline = Instant::now() + guard();
    while !d
        .log()
        .lines()
        .any(|l| l.contains("request") && l.contains("/events"))
    {
        assert!(
            Instant::now() < deadline,
            "the events request never arrived"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let run = d.docker(&[
        "run", "--rm", "--name", &name, "busybox", "sh", "-c", "exit 7",
    ]);
    assert_eq!(run.code, 7, "{run:?}");
    let line = rx.recv_timeout(guard());
    let _ = watcher.kill();
    let _ = watcher.wait();
    // The first line is the die: create, attach and start did not pass.
    assert_eq!(line.expect("a die event"), format!("die {name} 7"));
}
