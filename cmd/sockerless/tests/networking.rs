//! Issue 9's networking scenarios with the real Docker CLI (and Debian's
//! `docker-compose`) against the all-in-one in emulator mode, replicas
//! isolated: names on user networks, aliases, disconnect, the GitLab
//! service pattern and a Compose stack. See `common/mod.rs` for the
//! environment they need.

use sockerless_testkit as common;

use std::time::{Duration, Instant};

use common::{GUARD, Sockerless, serial, test_env, unique};

/// A client loop: connects to `target:port` until it reads something
/// (a server that is not listening yet refuses, as on Docker), prints it.
fn client_script(target: &str, port: u16) -> String {
    format!(
        "for i in $(seq 1 60); do r=$(nc -w 3 {target} {port} </dev/null 2>&1); \
         case \"$r\" in *pong*|*hello*) echo \"$r\"; exit 0;; esac; sleep 1; done; \
         echo \"last: $r\"; exit 1"
    )
}

const SERVER: &str = "while true; do echo pong | nc -l -p 7000; done";

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn names_aliases_short_ids_and_disconnect_on_a_user_network() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let net = unique("n1");
    let srv = unique("srv");
    d.docker(&["network", "create", &net]).ok();
    d.docker(&[
        "run",
        "-d",
        "--network",
        &net,
        "--name",
        &srv,
        "--network-alias",
        "db",
        "busybox",
        "sh",
        "-c",
        SERVER,
    ])
    .ok();
    let id = d.docker(&["inspect", "-f", "{{.Id}}", &srv]).ok().stdout;
    let short = &id.trim()[..12];

    for target in ["db", srv.as_str(), short] {
        let out = d.docker(&[
            "run",
            "--rm",
            "--network",
            &net,
            "busybox",
            "sh",
            "-c",
            &client_script(target, 7000),
        ]);
        assert_eq!(out.code, 0, "by {target}: {out:?}\n{}", d.log());
        assert_eq!(out.stdout.trim(), "pong", "by {target}: {out:?}");
    }

    // Addresses: in the network's subnet, the same in both views.
    let ip = d
        .docker(&[
            "inspect",
            "-f",
            &format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}"),
            &srv,
        ])
        .ok()
        .stdout;
    let ip = ip.trim();
    assert!(ip.starts_with("127."), "relay address: {ip:?}");
    let listed = d
        .docker(&["network", "inspect", "-f", "{{json .Containers}}", &net])
        .ok()
        .stdout;
    assert!(listed.contains(&format!("\"{ip}/16\"")), "{listed}");

    // A running client loses the name within a second or so of a disconnect.
    let cli = unique("cli");
    d.docker(&[
        "run",
        "-d",
        "--network",
        &net,
        "--name",
        &cli,
        "busybox",
        "sleep",
        "600",
    ])
    .ok();
    let out = d.docker(&["exec", &cli, "sh", "-c", &client_script("db", 7000)]);
    assert_eq!(out.stdout.trim(), "pong", "{out:?}");
    d.docker(&["network", "disconnect", &net, &srv]).ok();
    let deadline = Instant::now() + GUARD;
    loop {
        let out = d.docker(&[
            "exec",
            &cli,
            "sh",
            "-c",
            "grep -qw db /etc/hosts && echo present || echo gone",
        ]);
        if out.stdout.trim() == "gone" {
            let nc = d.docker(&["exec", &cli, "nc", "-w", "2", "db", "7000"]);
            assert_ne!(nc.code, 0, "{nc:?}");
            assert!(nc.stderr.contains("bad address"), "{nc:?}");
            break;
        }
        assert!(Instant::now() < deadline, "db still resolves: {out:?}");
        std::thread::sleep(Duration::from_millis(200));
    }

    // Connected again, under a new alias, while both run: the running client
    // reaches it by that alias (and by name) without a restart.
    d.docker(&["network", "connect", "--alias", "cache", &net, &srv])
        .ok();
    for target in ["cache", srv.as_str()] {
        let out = d.docker(&["exec", &cli, "sh", "-c", &client_script(target, 7000)]);
        assert_eq!(
            out.stdout.trim(),
            "pong",
            "by {target} after connect: {out:?}"
        );
    }
    let aliases = d
        .docker(&[
            "inspect",
            "-f",
            &format!("{{{{json (index .NetworkSettings.Networks \"{net}\").Aliases}}}}"),
            &srv,
        ])
        .ok()
        .stdout;
    assert!(aliases.contains("\"cache\""), "{aliases}");
    d.docker(&["rm", "-f", &cli, &srv]).ok();
    d.docker(&["network", "rm", &net]).ok();
    d.assert_nothing_left();
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn gitlab_service_pattern_per_build_network() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    // The runner's FF_NETWORK_PER_BUILD: a network per job, the service
    // container on it under its alias, the build container started with
    // the script on stdin.
    let net = unique("runner-build-");
    d.docker(&["network", "create", &net]).ok();
    let svc = unique("runner-svc-");
    d.docker(&[
        "run",
        "-d",
        "--network",
        &net,
        "--network-alias",
        "redis",
        "--name",
        &svc,
        "--label",
        "com.gitlab.gitlab-runner.type=service",
        "busybox",
        "sh",
        "-c",
        "while true; do echo hello-redis | nc -l -p 6379; done",
    ])
    .ok();
    let build = unique("runner-build-c-");
    d.docker(&[
        "create",
        "-i",
        "--network",
        &net,
        "--name",
        &build,
        "busybox",
        "sh",
    ])
    .ok();
    let script = format!("{}\n", client_script("redis", 6379));
    let out = d.docker_stdin(&["start", "-a", "-i", &build], script.as_bytes());
    assert_eq!(out.code, 0, "{out:?}\n{}", d.log());
    assert_eq!(out.stdout.trim(), "hello-redis", "{out:?}");
    d.docker(&["rm", "-f", &build, &svc]).ok();
    d.docker(&["network", "rm", &net]).ok();
    d.assert_nothing_left();
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn compose_two_services_by_service_name() {
    let env = test_env();
    if !common::have("/usr/bin/docker-compose") {
        panic!("docker-compose missing: .ci/run installs Debian's docker-compose");
    }
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let dir = d.path("compose");
    std::fs::create_dir_all(&dir).expect("compose dir");
    let app = client_script("db", 5432).replace('$', "$$");
    std::fs::write(
        dir.join("docker-compose.yml"),
        format!(
            "version: \"3\"\nservices:\n  db:\n    image: busybox\n    command: [\"sh\", \"-c\", \"while true; do echo hello-db | nc -l -p 5432; done\"]\n  app:\n    image: busybox\n    depends_on: [db]\n    command: [\"sh\", \"-c\", {app:?}]\n"
        ),
    )
    .expect("compose file");
    let project = unique("proj");
    let compose = |args: &[&str]| {
        let mut cmd = std::process::Command::new("/usr/bin/docker-compose");
        cmd.current_dir(&dir)
            .env("DOCKER_HOST", &d.docker_host)
            .env("COMPOSE_PROJECT_NAME", &project)
            .env_remove("DOCKER_CONTEXT")
            .args(args);
        common::run(cmd, None)
    };
    let up = compose(&["up", "--exit-code-from", "app"]);
    assert_eq!(up.code, 0, "{up:?}\n{}", d.log());
    assert!(up.stdout.contains("hello-db"), "{up:?}");
    let down = compose(&["down"]);
    assert_eq!(down.code, 0, "{down:?}");
    let nets = d
        .docker(&["network", "ls", "--format", "{{.Name}}"])
        .ok()
        .stdout;
    assert!(!nets.contains(&project), "network left: {nets}");
    d.assert_nothing_left();
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn direct_mode_names_point_at_replica_addresses() {
    let env = test_env();
    let _serial = serial();
    // The emulator's replicas share a bridge network, as VNet-integrated
    // replicas share a subnet: names point at the replica IPs, no relay.
    let d = Sockerless::start_with(&env, &["--network-mode", "direct"]);
    d.pull_busybox();
    let net = unique("nd");
    let srv = unique("srv");
    d.docker(&["network", "create", &net]).ok();
    d.docker(&[
        "run",
        "-d",
        "--network",
        &net,
        "--name",
        &srv,
        "--network-alias",
        "db",
        "busybox",
        "sh",
        "-c",
        SERVER,
    ])
    .ok();
    let out = d.docker(&[
        "run",
        "--rm",
        "--network",
        &net,
        "busybox",
        "sh",
        "-c",
        &format!("grep -w db /etc/hosts; {}", client_script("db", 7000)),
    ]);
    assert_eq!(out.code, 0, "{out:?}\n{}", d.log());
    let mut lines = out.stdout.lines();
    let hosts_line = lines.next().unwrap_or_default();
    assert!(
        !hosts_line.starts_with("127."),
        "direct mode: a replica address, not a relay address: {hosts_line:?}"
    );
    assert_eq!(lines.next(), Some("pong"), "{out:?}");
    d.docker(&["rm", "-f", &srv]).ok();
    d.docker(&["network", "rm", &net]).ok();
    d.assert_nothing_left();
}
