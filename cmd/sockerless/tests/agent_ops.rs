//! Issue 16, items 2–5, with the real Docker CLI against the all-in-one in
//! emulator mode: `docker top`, `docker stats`, `docker pause`/`unpause`
//! and `docker export`, all answered by the agent inside the container.
//! See `common/mod.rs` for the environment these need.

use sockerless_testkit as common;

use common::{Sockerless, serial, test_env, unique};

/// `12.5MiB` (as `docker stats` prints sizes) in bytes.
fn size_bytes(s: &str) -> f64 {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: f64 = n.parse().unwrap_or_else(|_| panic!("not a size: {s:?}"));
    let scale = match unit {
        "B" => 1.0,
        "KiB" | "kB" => 1024.0,
        "MiB" | "MB" => 1024.0 * 1024.0,
        "GiB" | "GB" => 1024.0 * 1024.0 * 1024.0,
        other => panic!("unknown unit {other:?} in {s:?}"),
    };
    n * scale
}

/// Memory in use as `docker stats --no-stream` shows it.
fn mem_usage(d: &Sockerless, name: &str) -> f64 {
    let out = d
        .docker(&["stats", "--no-stream", "--format", "{{.MemUsage}}", name])
        .ok();
    let used = out.stdout.split('/').next().unwrap_or_default().to_owned();
    size_bytes(&used)
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn top_lists_the_containers_processes() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let name = unique("top");
    d.docker(&["run", "-d", "--name", &name, "busybox", "sleep", "300"])
        .ok();
    let pid = d.docker(&["exec", &name, "pidof", "sleep"]).ok();
    let pid = pid.stdout.trim().to_owned();
    assert!(pid.parse::<u32>().is_ok(), "pidof: {pid:?}");

    let top = d.docker(&["top", &name]).ok();
    let mut lines = top.stdout.lines();
    let titles: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        titles,
        ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    );
    let rows: Vec<&str> = lines.collect();
    let sleep = rows
        .iter()
        .find(|r| r.ends_with("sleep 300"))
        .unwrap_or_else(|| panic!("no sleep 300 in {top:?}"));
    assert_eq!(
        sleep.split_whitespace().nth(1),
        Some(pid.as_str()),
        "{top:?}"
    );
    assert!(
        !top.stdout.contains("sockerless-agent"),
        "the agent is not listed: {top:?}"
    );

    let aux = d.docker(&["top", &name, "aux"]).ok();
    assert!(aux.stdout.starts_with("USER"), "{aux:?}");
    assert!(aux.stdout.contains("%MEM"), "{aux:?}");
    let o = d.docker(&["top", &name, "-o", "pid,comm"]).ok();
    assert!(
        o.stdout.contains(pid.as_str()) && o.stdout.contains("sleep"),
        "{o:?}"
    );
    let bad = d.docker(&["top", &name, "-o", "pid,bogus"]);
    assert_ne!(bad.code, 0);
    assert!(
        bad.stderr
            .contains("unknown user-defined format specifier \"bogus\""),
        "{bad:?}"
    );

    d.docker(&["rm", "-f", &name]).ok();
    let gone = d.docker(&["run", "--name", &name, "busybox", "true"]).ok();
    assert_eq!(gone.code, 0);
    let stopped = d.docker(&["top", &name]);
    assert_ne!(stopped.code, 0);
    assert!(stopped.stderr.contains("is not running"), "{stopped:?}");
    d.docker(&["rm", "-f", &name]).ok();
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn stats_show_memory_and_what_a_container_holds() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let name = unique("stats");
    d.docker(&["run", "-d", "--name", &name, "busybox", "sleep", "300"])
        .ok();
    assert!(
        mem_usage(&d, &name) > 0.0,
        "a running container uses memory"
    );

    let json = d
        .docker(&["stats", "--no-stream", "--format", "{{json .}}", &name])
        .ok();
    let row: serde_json::Value = serde_json::from_str(json.stdout.trim()).expect("json row");
    assert_eq!(row["Name"], name.as_str(), "{row}");
    assert!(
        row["CPUPerc"].as_str().is_some_and(|c| c.ends_with('%')),
        "{row}"
    );
    assert_eq!(row["PIDs"], "1", "{row}");

    // 50 MiB in a tmpfs file: page cache the cgroup holds, not reclaimable.
    let big = unique("stats50");
    let script = "head -c 52428800 /dev/zero > /dev/shm/x && echo written && sleep 300";
    d.docker(&["run", "-d", "--name", &big, "busybox", "sh", "-c", script])
        .ok();
    d.wait_for_log(&big, "written");
    let used = mem_usage(&d, &big);
    assert!(used >= 50.0 * 1024.0 * 1024.0, "MEM USAGE {used} bytes");

    d.docker(&["rm", "-f", &name, &big]).ok();
    let stopped = unique("stats0");
    d.docker(&["create", "--name", &stopped, "busybox", "true"])
        .ok();
    let zero = d
        .docker(&[
            "stats",
            "--no-stream",
            "--format",
            "{{.MemUsage}}",
            &stopped,
        ])
        .ok();
    assert!(zero.stdout.trim().starts_with("0B"), "{zero:?}");
    d.docker(&["rm", "-f", &stopped]).ok();
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn pause_stops_the_output_and_unpause_resumes_it() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let name = unique("pause");
    let script = "i=0; while true; do i=$((i+1)); echo $i; sleep 0.2; done";
    d.docker(&["run", "-d", "--name", &name, "busybox", "sh", "-c", script])
        .ok();
    d.wait_for_log(&name, "\n3\n");
    d.docker(&["pause", &name]).ok();

    let ps = d
        .docker(&[
            "ps",
            "--filter",
            &format!("name={name}"),
            "--format",
            "{{.Status}}",
        ])
        .ok();
    assert!(ps.stdout.trim().ends_with("(Paused)"), "{ps:?}");
    let state = d
        .docker(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.Paused}} {{.State.Running}}",
            &name,
        ])
        .ok();
    assert_eq!(state.stdout.trim(), "paused true true");
    let by_status = |status: &str| {
        d.docker(&[
            "ps",
            "-a",
            "--filter",
            &format!("status={status}"),
            "--format",
            "{{.Names}}",
        ])
        .ok()
        .stdout
    };
    assert!(by_status("paused").contains(name.as_str()));
    assert!(!by_status("running").contains(name.as_str()));
    let until = format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() + 1)
    );
    let events = d
        .docker(&[
            "events",
            "--since",
            "0",
            "--until",
            &until,
            "--filter",
            "event=pause",
            "--format",
            "{{.Actor.Attributes.name}}",
        ])
        .ok()
        .stdout;
    assert_eq!(events.trim(), name, "the pause event");
    let again = d.docker(&["pause", &name]);
    assert!(again.stderr.contains("is already paused"), "{again:?}");
    let exec = d.docker(&["exec", &name, "true"]);
    assert_eq!(exec.code, 1, "{exec:?}");
    assert!(
        exec.stderr.contains(&format!(
            "Container {name} is paused, unpause the container before exec"
        )),
        "{exec:?}"
    );

    // What was printed before the pause has arrived after a second; none
    // follows while the processes are stopped.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let before = d.docker(&["logs", &name]).ok().stdout;
    std::thread::sleep(std::time::Duration::from_secs(2));
    let after = d.docker(&["logs", &name]).ok().stdout;
    assert_eq!(before, after, "output grew while paused");

    d.docker(&["unpause", &name]).ok();
    let last: u64 = before
        .lines()
        .last()
        .and_then(|l| l.parse().ok())
        .expect("a counter");
    d.wait_for_log(&name, &format!("\n{}\n", last + 2));
    let state = d
        .docker(&["inspect", "-f", "{{.State.Status}}", &name])
        .ok();
    assert_eq!(state.stdout.trim(), "running");
    let not = d.docker(&["unpause", &name]);
    assert!(not.stderr.contains("is not paused"), "{not:?}");

    // A paused container still stops.
    d.docker(&["pause", &name]).ok();
    d.docker(&["stop", "-t", "2", &name]).ok();
    let state = d
        .docker(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.Paused}}",
            &name,
        ])
        .ok();
    assert_eq!(state.stdout.trim(), "exited false");
    let stopped = d.docker(&["pause", &name]);
    assert!(stopped.stderr.contains("is not running"), "{stopped:?}");
    d.docker(&["rm", "-f", &name]).ok();
}

fn tar_list(d: &Sockerless, name: &str) -> Vec<String> {
    let file = d.path(&format!("{name}.tar"));
    let path = file.to_string_lossy().into_owned();
    d.docker(&["export", "-o", &path, name]).ok();
    let out = std::process::Command::new("tar")
        .args(["-tf", &path])
        .output()
        .expect("tar");
    assert!(out.status.success(), "tar -t: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim_start_matches("./").to_owned())
        .collect()
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn export_is_the_root_filesystem_without_mounts() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let name = unique("export");
    let vol = unique("exportvol");
    let script = "echo hi > /written && echo v > /data/in-volume && echo ready && sleep 300";
    d.docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "-v",
        &format!("{vol}:/data"),
        "busybox",
        "sh",
        "-c",
        script,
    ])
    .ok();
    d.wait_for_log(&name, "ready");
    let names = tar_list(&d, &name);
    let has = |n: &str| names.iter().any(|e| e.trim_end_matches('/') == n);
    assert!(has("bin/busybox"), "{names:?}");
    assert!(has("written"), "{names:?}");
    assert!(
        has("proc") && has("data"),
        "mount points stay, empty: {names:?}"
    );
    assert!(
        !has(".sockerless"),
        "the agent's directory is left out: {names:?}"
    );
    for inside in ["proc/", "sys/", "data/", ".sockerless/"] {
        assert!(
            !names
                .iter()
                .any(|e| e.starts_with(inside) && e.len() > inside.len()),
            "{inside} has contents: {names:?}"
        );
    }
    d.docker(&["rm", "-f", &name]).ok();
    d.docker(&["volume", "rm", &vol]).ok();
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn export_of_an_exited_container_from_its_kept_changes() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let name = unique("exported");
    d.docker(&[
        "run",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "echo hi > /written",
    ])
    .ok();
    let names = tar_list(&d, &name);
    assert!(names.iter().any(|e| e == "bin/busybox"), "{names:?}");
    assert!(names.iter().any(|e| e == "written"), "{names:?}");
    d.docker(&["rm", &name]).ok();
    let created = unique("exportc");
    d.docker(&["create", "--name", &created, "busybox", "true"])
        .ok();
    let out = d.path("never.tar").to_string_lossy().into_owned();
    let refused = d.docker(&["export", "-o", &out, &created]);
    assert!(refused.stderr.contains("has never run"), "{refused:?}");
    d.docker(&["rm", &created]).ok();
}
