//! Issue 11, item 3 (`Hostname`, `Domainname`, `ExtraHosts`, the resources
//! inspect shows) and item 4
//! (`IPAddress`), with the real Docker CLI against the all-in-one in
//! emulator mode. See `common/mod.rs` for the environment these need.
//!
//! The UTS name (`uname -n`, busybox `hostname`) is not asserted: setting
//! it needs `CAP_SYS_ADMIN`, which Azure Container Apps (and so the
//! emulator) does not give; `/etc/hostname`, `$HOSTNAME` and `/etc/hosts`
//! carry the name, as the README's create-field table says.

use sockerless_testkit as common;

use common::{Sockerless, serial, test_env, unique};

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn hostname_domainname_and_added_hosts_reach_the_container() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();

    let out = d.docker(&[
        "run",
        "--rm",
        "--hostname",
        "h1",
        "--domainname",
        "example.org",
        "--add-host",
        "db:10.1.2.3",
        "--add-host",
        "v6=[fe80::1]",
        "busybox",
        "sh",
        "-c",
        "cat /etc/hostname; echo \"$HOSTNAME\"; grep -w db /etc/hosts; grep -w v6 /etc/hosts; grep -w h1 /etc/hosts",
    ]);
    assert_eq!(out.code, 0, "{out:?}\n{}", d.log());
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.get(..2), Some(&["h1", "h1"][..]), "{out:?}");
    assert!(lines.contains(&"10.1.2.3\tdb"), "{out:?}");
    assert!(lines.contains(&"fe80::1\tv6"), "{out:?}");
    assert!(
        lines.iter().any(|l| l.ends_with("\th1.example.org h1")),
        "own entry: {out:?}"
    );

    // Without --hostname: the short ID, as dockerd names a container.
    let name = unique("ident");
    let created = d.docker(&["create", "--name", &name, "busybox", "cat", "/etc/hostname"]);
    assert_eq!(created.code, 0, "{created:?}");
    let id = created.stdout.trim().to_owned();
    let started = d.docker(&["start", "-a", &name]);
    assert_eq!(started.code, 0, "{started:?}\n{}", d.log());
    assert_eq!(started.stdout.trim(), &id[..12]);

    d.docker(&["rm", "-f", &name]).ok();

    // A running container's address is in inspect, where runners read it.
    let name = unique("ident");
    let run = d.docker(&[
        "run", "-d", "--name", &name, "--cpus", "0.3", "--memory", "700m", "busybox", "sleep", "60",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    // The resources the replica got: ACA's pair holding the request, rounded up.
    let resources = d.docker(&[
        "inspect",
        "-f",
        "{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}}",
        &name,
    ]);
    assert_eq!(
        resources.stdout.trim(),
        "500000000 1073741824",
        "{resources:?}"
    );
    let ip = d.docker(&[
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        &name,
    ]);
    assert_eq!(ip.code, 0, "{ip:?}");
    assert!(
        ip.stdout.trim().parse::<std::net::Ipv4Addr>().is_ok(),
        "IPAddress: {ip:?}"
    );
    d.docker(&["rm", "-f", &name]).ok();
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn host_gateway_is_refused_by_name() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let out = d.docker(&[
        "run",
        "--rm",
        "--add-host",
        "host.docker.internal:host-gateway",
        "busybox",
        "true",
    ]);
    assert_eq!(out.code, 125, "{out:?}");
    assert!(out.stderr.contains("host-gateway"), "{out:?}");
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn ulimits_apply_to_the_process_and_execs_and_raising_past_the_platform_is_refused() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let name = unique("ulim");
    let run = d.docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--ulimit",
        "nofile=100:200",
        "busybox",
        "sh",
        "-c",
        "ulimit -n; ulimit -Hn; sleep 60",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let exec = d.docker(&["exec", &name, "sh", "-c", "ulimit -n; ulimit -Hn"]);
    assert_eq!(
        (exec.code, exec.stdout.as_str()),
        (0, "100\n200\n"),
        "{exec:?}"
    );
    let logs = d.docker(&["logs", &name]);
    assert_eq!(logs.stdout, "100\n200\n", "{logs:?}");
    d.docker(&["rm", "-f", &name]).ok();

    // Above the replica's hard limit, without CAP_SYS_RESOURCE: refused by name.
    let out = d.docker(&[
        "run",
        "--rm",
        "--ulimit",
        "nofile=4000000:4000000",
        "busybox",
        "true",
    ]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("ulimit nofile"), "{out:?}");
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn dns_settings_reach_resolv_conf() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let out = d.docker(&[
        "run",
        "--rm",
        "--dns",
        "9.9.9.9",
        "--dns-search",
        "example.com",
        "--dns-option",
        "ndots:2",
        "busybox",
        "cat",
        "/etc/resolv.conf",
    ]);
    assert_eq!(out.code, 0, "{out:?}\n{}", d.log());
    let lines: Vec<&str> = out.stdout.lines().collect();
    for want in [
        "nameserver 9.9.9.9",
        "search example.com",
        "options ndots:2",
    ] {
        assert!(lines.contains(&want), "{want}: {out:?}");
    }
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn group_add_reaches_the_process_and_execs() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    for user in [None, Some("nobody")] {
        let mut args = vec!["run", "--rm", "--group-add", "4242"];
        if let Some(u) = user {
            args.extend(["--user", u]);
        }
        args.extend(["busybox", "id", "-G"]);
        let out = d.docker(&args);
        assert_eq!(out.code, 0, "{user:?}: {out:?}\n{}", d.log());
        assert!(
            out.stdout.split_whitespace().any(|g| g == "4242"),
            "{user:?}: {out:?}"
        );
    }
}
