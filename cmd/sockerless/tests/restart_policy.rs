//! Issue 16, items 6 and 7, with the real Docker CLI against the all-in-one
//! in emulator mode: restart policies acted on (dockerd's counts and
//! backoff; a user's stop respected), `docker update` (the policy; resources
//! of a running replica refused by name), `docker container prune` and
//! `docker image prune`. See `common/mod.rs` for the environment these need.

use sockerless_testkit as common;

use std::time::{Duration, Instant};

use common::{Sockerless, guard, serial, test_env, unique};

/// `docker inspect -f FORMAT name`, trimmed.
fn inspect(d: &Sockerless, name: &str, format: &str) -> String {
    d.docker(&["inspect", "-f", format, name])
        .ok()
        .stdout
        .trim()
        .to_owned()
}

/// Polls `inspect` until `done` holds for its answer (hang-guarded).
fn wait_until(d: &Sockerless, name: &str, format: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + guard();
    loop {
        let got = inspect(d, name, format);
        if done(&got) {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "{name}: {format} still {got:?}\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn on_failure_restarts_up_to_its_count_and_always_until_stopped() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();

    let failing = unique("onfail");
    d.docker(&[
        "run",
        "-d",
        "--name",
        &failing,
        "--restart",
        "on-failure:3",
        "busybox",
        "sh",
        "-c",
        "echo try; exit 1",
    ])
    .ok();
    let format = "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}";
    wait_until(&d, &failing, format, |s| s == "exited 3 1");
    let status = d
        .docker(&[
            "ps",
            "-a",
            "--filter",
            &format!("name={failing}"),
            "--format",
            "{{.Status}}",
        ])
        .ok()
        .stdout;
    assert!(status.starts_with("Exited (1)"), "{status:?}");
    // Four runs: the first and three restarts, each with its output.
    assert_eq!(d.docker(&["logs", &failing]).ok().stdout, "try\n".repeat(4));

    let always = unique("always");
    d.docker(&[
        "run",
        "-d",
        "--name",
        &always,
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "echo run; sleep 2",
    ])
    .ok();
    // It exits 0 after 2 s and runs again.
    wait_until(&d, &always, "{{.State.Running}} {{.RestartCount}}", |s| {
        s.starts_with("true ") && s != "true 0"
    });
    d.docker(&["stop", "-t", "1", &always]).ok();
    let stopped = inspect(&d, &always, "{{.State.Status}} {{.RestartCount}}");
    assert!(stopped.starts_with("exited "), "{stopped}");
    // A user's stop is respected: nothing starts it again.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        inspect(&d, &always, "{{.State.Status}} {{.RestartCount}}"),
        stopped
    );
    // A user's start counts from 0 again, as dockerd.
    d.docker(&["start", &always]).ok();
    assert_eq!(inspect(&d, &always, "{{.RestartCount}}"), "0");

    d.docker(&["rm", "-f", &failing, &always]).ok();
    d.assert_nothing_left();
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn update_changes_the_policy_and_refuses_a_running_replicas_resources() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let name = unique("upd");
    d.docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "sleep 2; exit 4",
    ])
    .ok();
    let refused = d.docker(&["update", "--memory", "256m", &name]);
    assert_ne!(refused.code, 0, "{refused:?}");
    assert!(
        refused.stderr.contains("Memory") && refused.stderr.contains("while it runs"),
        "{refused:?}"
    );
    d.docker(&["update", "--restart", "on-failure:2", &name])
        .ok();
    assert_eq!(
        inspect(
            &d,
            &name,
            "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}"
        ),
        "on-failure:2"
    );
    // The updated policy acts on the exit of the run under way.
    wait_until(
        &d,
        &name,
        "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}",
        |s| s == "exited 2 4",
    );
    // Stopped, its resources change for the next start.
    d.docker(&["update", "--memory", "256m", "--cpus", "0.5", &name])
        .ok();
    // As create with the same flags shows them.
    let same = unique("upd-same");
    d.docker(&[
        "create", "--name", &same, "--memory", "256m", "--cpus", "0.5", "busybox",
    ])
    .ok();
    let format = "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}";
    assert_eq!(inspect(&d, &name, format), inspect(&d, &same, format));
    assert!(inspect(&d, &name, format).ends_with(" 500000000"));
    d.docker(&["rm", &same]).ok();
    let bad = d.docker(&["update", "--restart", "always:3", &name]);
    assert_ne!(bad.code, 0, "{bad:?}");
    d.docker(&["rm", &name]).ok();
    let auto = unique("upd-rm");
    d.docker(&[
        "run", "-d", "--rm", "--name", &auto, "busybox", "sleep", "30",
    ])
    .ok();
    let refused = d.docker(&["update", "--restart", "always", &auto]);
    assert!(
        refused.stderr.contains("AutoRemove is enabled"),
        "{refused:?}"
    );
    d.docker(&["rm", "-f", &auto]).ok();
    d.assert_nothing_left();
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn prune_removes_what_dockerd_would() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    // A digest-only image is dangling (before busybox, the same image in the
    // test registry, is pulled: its tag would keep it).
    d.docker(&["pull", "alpine"]).ok();
    let alpine_digest = inspect(&d, "alpine", "{{index .RepoDigests 0}}");
    d.docker(&["pull", &alpine_digest]).ok();
    d.docker(&["rmi", "alpine"]).ok();
    let dangling = d
        .docker(&["images", "--filter", "dangling=true", "-q"])
        .ok()
        .stdout;
    assert!(
        !dangling.trim().is_empty(),
        "the digest-only alpine is dangling"
    );
    let pruned = d.docker(&["image", "prune", "-f"]).ok().stdout;
    assert!(pruned.contains("deleted: sha256:"), "{pruned}");
    let images = d
        .docker(&["images", "-a", "--format", "{{.Repository}}"])
        .ok()
        .stdout;
    assert!(!images.contains("alpine"), "{images}");
    d.pull_busybox();
    let (exited, created, running, labelled) = (
        unique("pr-exited"),
        unique("pr-created"),
        unique("pr-running"),
        unique("pr-keep"),
    );
    d.docker(&["run", "--name", &exited, "busybox", "true"])
        .ok();
    d.docker(&["create", "--name", &created, "busybox", "true"])
        .ok();
    d.docker(&["run", "-d", "--name", &running, "busybox", "sleep", "300"])
        .ok();
    d.docker(&[
        "run", "--name", &labelled, "--label", "keep=yes", "busybox", "true",
    ])
    .ok();
    let out = d
        .docker(&["container", "prune", "-f", "--filter", "label!=keep=yes"])
        .ok()
        .stdout;
    let left = d
        .docker(&["ps", "-a", "--format", "{{.Names}}"])
        .ok()
        .stdout;
    for gone in [&exited, &created] {
        assert!(!left.contains(gone.as_str()), "{gone} left: {left}\n{out}");
    }
    for kept in [&running, &labelled] {
        assert!(left.contains(kept.as_str()), "{kept} pruned: {left}\n{out}");
    }

    // `-a`: every image no container uses; busybox is used.
    let all = d.docker(&["image", "prune", "-a", "-f"]).ok().stdout;
    assert!(!all.contains("busybox:latest"), "{all}");
    assert!(d.docker(&["image", "inspect", "busybox"]).code == 0);
    d.docker(&["rm", "-f", &running, &labelled]).ok();
    let all = d.docker(&["image", "prune", "-a", "-f"]).ok().stdout;
    assert!(all.contains("untagged: busybox:latest"), "{all}");
    d.assert_nothing_left();
}
