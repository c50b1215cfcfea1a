//! Issue 9's published ports with the real Docker CLI against the
//! all-in-one in emulator mode: `-p`, `-P` with the image's `EXPOSE`,
//! `docker port`, `docker ps`, taken ports, stop/start, and 100 MiB through
//! a published port in bounded memory. See `common/mod.rs` for the
//! environment they need.

use sockerless_testkit as common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{GUARD, Sockerless, serial, test_env, unique};

const PONG: &str = "while true; do echo pong | nc -l -p 8080; done";

/// `docker port NAME` as (container port, host address) pairs.
fn ports_of(d: &Sockerless, name: &str) -> Vec<(String, String)> {
    d.docker(&["port", name])
        .ok()
        .stdout
        .lines()
        .filter_map(|l| l.split_once(" -> "))
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect()
}

/// The host port `docker port NAME` shows for `8080/tcp` on 127.0.0.1.
fn loopback_port(d: &Sockerless, name: &str, ctr: &str) -> u16 {
    let out = d.docker(&["port", name, ctr]).ok();
    let line = out.stdout.trim();
    line.strip_prefix("127.0.0.1:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("docker port {name} {ctr}: {out:?}"))
}

/// Reads everything one connection to `port` sends, retrying (hang guard)
/// until it is `want`: the server in the container may not listen yet.
fn read_from(port: u16, want: &str) {
    let deadline = Instant::now() + GUARD;
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
            let mut got = String::new();
            match s.read_to_string(&mut got) {
                Ok(_) if got == want => return,
                Ok(_) => last = format!("read {got:?}"),
                Err(e) => last = format!("error {e}"),
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!("never read {want:?} from 127.0.0.1:{port}; last: {last}");
}

fn refused(port: u16) -> bool {
    TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(5),
    )
    .is_err()
}

/// Waits (hang guard) until something in container `name` listens on `port`.
fn wait_listening(d: &Sockerless, name: &str, port: u16) {
    let deadline = Instant::now() + GUARD;
    let probe = format!("netstat -ltn | grep -q ':{port} '");
    while d.docker(&["exec", name, "sh", "-c", &probe]).code != 0 {
        assert!(Instant::now() < deadline, "{name} never listened on {port}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn published_port_reads_pong_and_closes_on_stop() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let name = unique("pong");
    d.docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "-p",
        "127.0.0.1::8080",
        "busybox",
        "sh",
        "-c",
        PONG,
    ])
    .ok();
    let port = loopback_port(&d, &name, "8080");
    assert_eq!(
        ports_of(&d, &name),
        [("8080/tcp".to_owned(), format!("127.0.0.1:{port}"))]
    );
    let json = d
        .docker(&[
            "inspect",
            "-f",
            "{{json .NetworkSettings.Ports}}|{{json .HostConfig.PortBindings}}",
            &name,
        ])
        .ok();
    assert_eq!(
        json.stdout.trim(),
        format!(
            r#"{{"8080/tcp":[{{"HostIp":"127.0.0.1","HostPort":"{port}"}}]}}|{{"8080/tcp":[{{"HostIp":"127.0.0.1","HostPort":""}}]}}"#
        )
    );
    let ps = d
        .docker(&[
            "ps",
            "--filter",
            &format!("name={name}"),
            "--format",
            "{{.Ports}}",
        ])
        .ok();
    assert_eq!(ps.stdout.trim(), format!("127.0.0.1:{port}->8080/tcp"));
    read_from(port, "pong\n");
    read_from(port, "pong\n");

    // Taken by this container: the second fails as on dockerd, with no ARM write.
    let other = unique("taken");
    let taken = d.docker(&[
        "run",
        "-d",
        "--name",
        &other,
        "-p",
        &format!("127.0.0.1:{port}:8080"),
        "busybox",
        "true",
    ]);
    assert_eq!(taken.code, 125, "{taken:?}");
    assert!(
        taken.stderr.contains(&format!(
            "driver failed programming external connectivity on endpoint {other} ("
        )) && taken.stderr.contains(&format!(
            "Bind for 127.0.0.1:{port} failed: port is already allocated"
        )),
        "{taken:?}"
    );
    let writes = d
        .docker(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{index .HostConfig.Annotations \"sockerless.aca.arm.writes\"}}",
            &other,
        ])
        .ok();
    assert_eq!(writes.stdout.trim(), "created 0");

    d.docker(&["stop", "-t", "1", &name]).ok();
    assert!(ports_of(&d, &name).is_empty(), "no ports once stopped");
    let stopped = d
        .docker(&["inspect", "-f", "{{json .NetworkSettings.Ports}}", &name])
        .ok();
    assert_eq!(stopped.stdout.trim(), "{}");
    assert!(refused(port), "the listener is gone after stop");

    // Restarted: listening again (dockerd picks a dynamic port anew).
    d.docker(&["start", &name]).ok();
    let again = loopback_port(&d, &name, "8080");
    read_from(again, "pong\n");
    d.docker(&["rm", "-f", &name, &other]).ok();
    assert!(refused(again), "the listener is gone after rm -f");
    d.assert_nothing_left();
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn publish_all_host_held_ports_and_udp() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    // An image with EXPOSE, built on the engine and loaded into sockerless.
    let tag = format!("{}:test", unique("slx-expose"));
    let mut build = Command::new(common::DOCKER);
    build
        .arg("-H")
        .arg(&d.engine)
        .args(["build", "-q", "-t", &tag, "-"])
        .env("DOCKER_BUILDKIT", "0");
    common::run(build, Some(b"FROM busybox\nEXPOSE 7000 7001/tcp\n")).ok();
    let tar = d.path("expose.tar");
    let mut save = Command::new(common::DOCKER);
    save.arg("-H")
        .arg(&d.engine)
        .args(["save", "-o"])
        .arg(&tar)
        .arg(&tag);
    common::run(save, None).ok();
    let mut rmi = Command::new(common::DOCKER);
    rmi.arg("-H").arg(&d.engine).args(["rmi", &tag]);
    common::run(rmi, None).ok();
    d.docker(&["load", "-i", &tar.to_string_lossy()]).ok();

    let name = unique("all");
    d.docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--expose",
        "7002",
        "-P",
        &tag,
        "sh",
        "-c",
        "while true; do echo hi | nc -l -p 7000; done",
    ])
    .ok();
    let ports = ports_of(&d, &name);
    let v4: Vec<&(String, String)> = ports
        .iter()
        .filter(|(_, h)| h.starts_with("0.0.0.0:"))
        .collect();
    let published: Vec<&str> = v4.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(
        published,
        ["7000/tcp", "7001/tcp", "7002/tcp"],
        "the image's EXPOSE and --expose, each on 0.0.0.0: {ports:?}"
    );
    assert!(
        ports
            .iter()
            .all(|(_, h)| h.starts_with("0.0.0.0:") || h.starts_with("[::]:")),
        "{ports:?}"
    );
    let port: u16 = v4
        .iter()
        .find(|(c, _)| c == "7000/tcp")
        .and_then(|(_, h)| h.strip_prefix("0.0.0.0:")?.parse().ok())
        .unwrap_or_else(|| panic!("{ports:?}"));
    read_from(port, "hi\n");

    // A port another process holds fails as dockerd's userland proxy does.
    let holder = TcpListener::bind("127.0.0.1:0").expect("bind");
    let held = holder.local_addr().expect("addr").port();
    let h = unique("held");
    let out = d.docker(&[
        "run",
        "-d",
        "--name",
        &h,
        "-p",
        &format!("127.0.0.1:{held}:80"),
        "busybox",
        "true",
    ]);
    assert_eq!(out.code, 125, "{out:?}");
    assert!(
        out.stderr.contains(&format!(
            "Error starting userland proxy: listen tcp4 127.0.0.1:{held}: bind: address already in use"
        )),
        "{out:?}"
    );

    // UDP is refused at create, naming the port: no container is left.
    let u = unique("udp");
    let out = d.docker(&[
        "create",
        "--name",
        &u,
        "-p",
        "5353:53/udp",
        "busybox",
        "true",
    ]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("53/udp") && out.stderr.contains("TCP only"),
        "{out:?}"
    );
    assert_eq!(d.docker(&["inspect", &u]).code, 1);
    d.docker(&["rm", "-f", &name, &h]).ok();
    d.docker(&["rmi", &tag]).ok();
    d.assert_nothing_left();
}

fn sha256_of_file(path: &std::path::Path) -> String {
    let out = common::run(
        {
            let mut c = Command::new("sha256sum");
            c.arg(path);
            c
        },
        None,
    )
    .ok();
    out.stdout
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_owned()
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn hundred_mib_through_a_published_port_arrive_intact_in_bounded_memory() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    const MIB: usize = 1 << 20;
    let file = d.path("100mib");
    {
        // Incompressible enough, reproducible.
        let mut f = std::fs::File::create(&file).expect("create");
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut chunk = vec![0u8; MIB];
        for _ in 0..100 {
            for b in chunk.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b.copy_from_slice(&x.to_le_bytes()[..b.len()]);
            }
            f.write_all(&chunk).expect("write");
        }
    }
    let want = sha256_of_file(&file);
    let name = unique("big");
    d.docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "-p",
        "127.0.0.1::9000",
        "busybox",
        "sh",
        "-c",
        "nc -l -p 9000 > /tmp/f; echo received; sleep 600",
    ])
    .ok();
    let port = loopback_port(&d, &name, "9000");
    wait_listening(&d, &name, 9000);
    let before = d.rss_kib();
    let done = std::sync::atomic::AtomicBool::new(false);
    let peak = std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let mut peak = before;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(d.rss_kib());
                std::thread::sleep(Duration::from_millis(50));
            }
            peak
        });
        let started = Instant::now();
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(GUARD)).expect("timeout");
        s.set_write_timeout(Some(GUARD)).expect("timeout");
        let mut src = std::fs::File::open(&file).expect("open");
        std::io::copy(&mut src, &mut s).expect("send 100 MiB");
        s.shutdown(Shutdown::Write).expect("half-close");
        let mut rest = Vec::new();
        // The container's nc closes after it read everything.
        s.read_to_end(&mut rest).expect("clean close");
        assert!(rest.is_empty(), "nothing comes back: {} bytes", rest.len());
        println!(
            "100 MiB through the published port in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        sampler.join().expect("sampler")
    });
    d.wait_for_log(&name, "received\n");
    let got = d.docker(&["exec", &name, "sha256sum", "/tmp/f"]).ok();
    assert_eq!(
        got.stdout.split_whitespace().next(),
        Some(want.as_str()),
        "sha256 of what arrived"
    );
    let grown_mib = peak.saturating_sub(before) / 1024;
    println!("daemon RSS {before} KiB before, peak {peak} KiB: +{grown_mib} MiB");
    assert!(grown_mib < 64, "RSS grew by {grown_mib} MiB");
    d.docker(&["rm", "-f", &name]).ok();
    d.assert_nothing_left();
}
