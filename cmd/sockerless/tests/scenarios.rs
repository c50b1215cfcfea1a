//! Issue 6's scenarios with the real Docker CLI against the all-in-one in
//! emulator mode. See `common/mod.rs` for the environment they need.

use sockerless_testkit as common;

use common::{Sockerless, is_timestamped, serial, test_env, unique};

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn smoke_version_info_ps() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);

    let version = d
        .docker(&[
            "version",
            "--format",
            "{{.Server.Platform.Name}}|{{.Server.Version}}|{{.Server.APIVersion}}|{{.Server.Os}}/{{.Server.Arch}}",
        ])
        .ok();
    let fields: Vec<&str> = version.stdout.trim().split('|').collect();
    assert_eq!(fields.len(), 4, "{version:?}");
    assert!(fields[0].starts_with("Sockerless"), "{version:?}");
    assert!(
        fields[1].ends_with(&format!("sockerless.{}", env!("CARGO_PKG_VERSION"))),
        "server version names sockerless: {version:?}"
    );
    assert_eq!(fields[2..], ["1.44", "linux/amd64"]);

    let info = d
        .docker(&[
            "info",
            "--format",
            "{{.OperatingSystem}}|{{.Driver}}|{{.Name}}|{{json .Warnings}}",
        ])
        .ok();
    assert_eq!(
        info.stdout.trim(),
        "Azure Container Apps (environment sockerless-env, eastus)|aca|sockerless-env|[]",
        "the backend reaches the emulator's seeded environment without warnings"
    );

    let ps = d.docker(&["ps", "-a"]).ok();
    assert_eq!(ps.stdout.lines().count(), 1, "header only: {ps:?}");
    assert!(ps.stdout.starts_with("CONTAINER ID"), "{ps:?}");
    assert_eq!(d.stop(), Some(0), "graceful shutdown exits 0");
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn run_rm_echo_hello_leaves_nothing() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    // Not pulled first: the CLI pulls on "No such image" and retries create.
    let out = d.docker(&["run", "--rm", "busybox", "echo", "hello"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "hello\n"), "{out:?}");
    d.assert_nothing_left();
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn exit_code_and_stdout_stderr_split() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let name = unique("x");
    let out = d.docker(&[
        "run",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(out.stdout, "out\n");
    assert_eq!(out.stderr, "err\n");
    let state = d
        .docker(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            &name,
        ])
        .ok();
    assert_eq!(state.stdout.trim(), "exited 3");
    d.docker(&["rm", &name]).ok();
    d.assert_nothing_left();
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn detached_wait_and_logs() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let w = unique("w");
    let id = d
        .docker(&[
            "run",
            "-d",
            "--name",
            &w,
            "busybox",
            "sh",
            "-c",
            "for i in 1 2 3; do echo $i; sleep 1; done",
        ])
        .ok();
    let id = id.stdout.trim();
    assert!(
        id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "container ID: {id:?}"
    );
    assert_eq!(d.docker(&["wait", &w]).ok().stdout, "0\n");
    assert_eq!(d.docker(&["logs", &w]).ok().stdout, "1\n2\n3\n");
    assert_eq!(d.docker(&["logs", "--tail", "1", &w]).ok().stdout, "3\n");
    let stamped = d.docker(&["logs", "-t", &w]).ok().stdout;
    let lines: Vec<&str> = stamped.lines().collect();
    assert_eq!(lines.len(), 3, "{stamped:?}");
    for (line, want) in lines.iter().zip(["1", "2", "3"]) {
        assert!(
            is_timestamped(line, want),
            "not `<timestamp> {want}`: {line:?}"
        );
    }
    let state = d
        .docker(&["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", &w])
        .ok();
    assert_eq!(state.stdout.trim(), "exited 0");
    d.docker(&["rm", &w]).ok();
    d.assert_nothing_left();
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn exec_stop_kill_and_force_remove() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let label = unique("sockerless-test=");
    let (s, k) = (unique("s"), unique("k"));

    d.docker(&[
        "run", "-d", "--label", &label, "--name", &s, "busybox", "sleep", "300",
    ])
    .ok();
    let exec = d
        .docker(&["exec", &s, "sh", "-c", "echo in-$HOSTNAME"])
        .ok();
    let host = exec
        .stdout
        .strip_prefix("in-")
        .and_then(|h| h.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("exec output {exec:?}"));
    assert!(
        !host.is_empty() && !host.contains(char::is_whitespace),
        "HOSTNAME inside the container: {host:?}"
    );

    let file = d.path("stdin.txt");
    let content = "first line\nsecond line\n\tlast, with a tab\n";
    std::fs::write(&file, content).expect("write stdin file");
    let input = std::fs::read(&file).expect("read stdin file");
    let cat = d.docker_stdin(&["exec", "-i", &s, "cat"], &input).ok();
    assert_eq!(cat.stdout, content);

    let stop = d.docker(&["stop", "-t", "2", &s]).ok();
    assert_eq!(stop.stdout.trim(), s);
    let code = d.docker(&["inspect", "-f", "{{.State.ExitCode}}", &s]).ok();
    assert_eq!(
        code.stdout.trim(),
        "143",
        "SIGTERM reaches sleep (the agent is PID 1, like docker run --init)"
    );

    d.docker(&[
        "run",
        "-d",
        "--label",
        &label,
        "--name",
        &k,
        "busybox",
        "sh",
        "-c",
        "trap 'echo got-usr1' USR1; echo ready; while true; do sleep 1; done",
    ])
    .ok();
    // The trap is set once `ready` is out; a signal before that would kill sh.
    d.wait_for_log(&k, "ready\n");
    d.docker(&["kill", "-s", "USR1", &k]).ok();
    let logs = d.wait_for_log(&k, "got-usr1\n");
    assert!(logs.starts_with("ready\n"), "{logs:?}");
    let running = d.docker(&["inspect", "-f", "{{.State.Running}}", &k]).ok();
    assert_eq!(running.stdout.trim(), "true", "USR1 is trapped, not fatal");

    d.docker(&["rm", "-f", &s, &k]).ok();
    let ps = d
        .docker(&["ps", "-a", "-q", "--filter", &format!("label={label}")])
        .ok();
    assert_eq!(ps.stdout, "", "removed containers are not listed");
    let gone = d.docker(&["inspect", &s]);
    assert_eq!(gone.code, 1, "{gone:?}");
    assert!(gone.stderr.contains("No such"), "{gone:?}");
    d.assert_nothing_left();
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn stdin_piped_to_run() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let out = d.docker_stdin(&["run", "-i", "--rm", "busybox", "cat"], b"data\n");
    assert_eq!((out.code, out.stdout.as_str()), (0, "data\n"), "{out:?}");
    d.assert_nothing_left();
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn run_with_tty() {
    let env = test_env();
    assert!(
        common::have("/usr/bin/script"),
        "run_with_tty needs `script` (bsdutils)"
    );
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let out = d.docker_tty("run -t --rm busybox sh -c tty");
    assert_eq!(out.code, 0, "{out:?}");
    let line = out.stdout.trim();
    assert!(
        line.starts_with("/dev/pts/") && line["/dev/pts/".len()..].parse::<u32>().is_ok(),
        "tty inside the container: {out:?}"
    );
    d.assert_nothing_left();
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn twenty_parallel_runs_print_and_leave_nothing() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let outputs: Vec<(usize, common::Out)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let d = &d;
                scope.spawn(move || {
                    (
                        i,
                        d.docker(&["run", "--rm", "busybox", "echo", &i.to_string()]),
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("runner thread"))
            .collect()
    });
    for (i, out) in &outputs {
        assert_eq!(
            (out.code, out.stdout.clone()),
            (0, format!("{i}\n")),
            "run {i}: {out:?}"
        );
    }
    d.assert_nothing_left();
}
