//! Published-port benchmark (not a timed test): connect latency and
//! throughput through a port published by sockerless (relayed through the
//! container's agent), next to the same container run on the emulator's
//! engine directly, through its `docker-proxy` (`-p`) and on its bridge IP.
//!
//! `cargo bench -p sockerless --bench ports` with the scenario tests'
//! environment (`SOCKERLESS_SIM_ENGINE`, `SOCKERLESS_TEST_REGISTRY`,
//! `SOCKERLESS_AGENT_BIN`); fails without it.
//! `SOCKERLESS_BENCH_MIB` (default 64) sets the bytes moved per run.

use sockerless_testkit as common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{DOCKER, Out, Sockerless, run, test_env, unique};

const HTTP: u16 = 8000;
const SINK: u16 = 9000;
const ROUNDS: usize = 200;
const RUNS: usize = 3;

/// httpd serves a small page and a big file; nc swallows uploads.
fn server_script(mib: usize) -> String {
    format!(
        "mkdir -p /www && echo hi > /www/index.html && \
         dd if=/dev/zero of=/www/big bs=1048576 count={mib} 2>/dev/null && \
         httpd -p {HTTP} -h /www && \
         while true; do nc -l -p {SINK} > /dev/null; done"
    )
}

/// One `GET`: the time until the first byte of the answer, and its size.
fn get(addr: SocketAddr, path: &str) -> std::io::Result<(Duration, usize)> {
    let started = Instant::now();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(s, "GET {path} HTTP/1.0\r\n\r\n")?;
    let mut buf = vec![0u8; 256 * 1024];
    let n = s.read(&mut buf)?;
    let first = started.elapsed();
    if n == 0 {
        return Err(std::io::Error::other("closed before answering"));
    }
    let mut total = n;
    loop {
        match s.read(&mut buf)? {
            0 => return Ok((first, total)),
            k => total += k,
        }
    }
}

/// Uploads `bytes` and waits for the server's close; MiB/s.
fn upload(addr: SocketAddr, bytes: usize) -> std::io::Result<f64> {
    let chunk = vec![0x5au8; 256 * 1024];
    let started = Instant::now();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
    s.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len());
        s.write_all(&chunk[..n])?;
        left -= n;
    }
    s.shutdown(Shutdown::Write)?;
    let mut rest = Vec::new();
    s.read_to_end(&mut rest)?;
    Ok(mib_per_s(bytes, started.elapsed()))
}

fn mib_per_s(bytes: usize, took: Duration) -> f64 {
    bytes as f64 / 1_048_576.0 / took.as_secs_f64().max(1e-9)
}

/// Retries `f` (the server may still be starting, nc restarting) for 60 s.
fn retry<T>(what: &str, mut f: impl FnMut() -> std::io::Result<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match f() {
            Ok(v) => return v,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("{what}: {e}"),
        }
    }
}

struct Row {
    path: &'static str,
    p50_ms: f64,
    download: f64,
    upload: f64,
}

fn measure(path: &'static str, http: SocketAddr, sink: SocketAddr, mib: usize) -> Row {
    retry("server ready", || get(http, "/index.html"));
    let mut latencies: Vec<Duration> = (0..ROUNDS)
        .map(|_| retry("GET /index.html", || get(http, "/index.html")).0)
        .collect();
    latencies.sort();
    let bytes = mib * 1_048_576;
    let mut download = 0f64;
    let mut up = 0f64;
    for _ in 0..RUNS {
        let started = Instant::now();
        let (_, got) = retry("GET /big", || get(http, "/big"));
        assert!(got >= bytes, "downloaded {got} bytes of {bytes}");
        download = download.max(mib_per_s(got, started.elapsed()));
        // nc restarts between uploads: a refused try is retried.
        up = up.max(retry("upload", || upload(sink, bytes)));
    }
    Row {
        path,
        p50_ms: latencies[latencies.len() / 2].as_secs_f64() * 1e3,
        download,
        upload: up,
    }
}

fn engine(env: &common::TestEnv, args: &[&str]) -> Out {
    let mut cmd = Command::new(DOCKER);
    cmd.arg("-H").arg(&env.engine).args(args);
    cmd.env_remove("DOCKER_CONTEXT");
    run(cmd, None)
}

fn host_port(line: &str) -> SocketAddr {
    line.trim()
        .lines()
        .next()
        .and_then(|l| l.parse().ok())
        .unwrap_or_else(|| panic!("docker port printed {line:?}"))
}

fn main() {
    let env = test_env();
    let mib: usize = std::env::var("SOCKERLESS_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let script = server_script(mib);
    let d = Sockerless::start(&env);
    d.pull_busybox();

    let name = unique("bench");
    let (http_spec, sink_spec) = (format!("127.0.0.1::{HTTP}"), format!("127.0.0.1::{SINK}"));
    d.docker(&[
        "run", "-d", "--name", &name, "-p", &http_spec, "-p", &sink_spec, "busybox", "sh", "-c",
        &script,
    ])
    .ok();
    let port = |n: &str, p: u16| host_port(&d.docker(&["port", n, &p.to_string()]).ok().stdout);
    let mut rows = vec![measure(
        "sockerless -p (agent relay)",
        port(&name, HTTP),
        port(&name, SINK),
        mib,
    )];
    d.docker(&["rm", "-f", &name]).ok();

    // The same container on the engine itself, on a bridge network of its own.
    let net = unique("slxbench");
    engine(&env, &["network", "create", &net]).ok();
    let direct = unique("bench-direct");
    engine(
        &env,
        &[
            "run",
            "-d",
            "--name",
            &direct,
            "--network",
            &net,
            "-p",
            &http_spec,
            "-p",
            &sink_spec,
            "busybox",
            "sh",
            "-c",
            &script,
        ],
    )
    .ok();
    let eport = |p: u16| host_port(&engine(&env, &["port", &direct, &p.to_string()]).ok().stdout);
    rows.push(measure(
        "engine -p (docker-proxy)",
        eport(HTTP),
        eport(SINK),
        mib,
    ));
    let ip = engine(
        &env,
        &[
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            &direct,
        ],
    )
    .ok()
    .stdout;
    let ip: std::net::IpAddr = ip.trim().parse().expect("bridge IP");
    rows.push(measure(
        "engine bridge IP (direct)",
        SocketAddr::new(ip, HTTP),
        SocketAddr::new(ip, SINK),
        mib,
    ));
    engine(&env, &["rm", "-f", &direct]).ok();
    engine(&env, &["network", "rm", &net]).ok();

    println!();
    println!(
        "published port: GET latency (connect to first byte, p50 of {ROUNDS}), best of {RUNS} x {mib} MiB"
    );
    println!(
        "{:<30} {:>12} {:>16} {:>14}",
        "path", "p50 ms", "download MiB/s", "upload MiB/s"
    );
    for r in &rows {
        println!(
            "{:<30} {:>12.3} {:>16.1} {:>14.1}",
            r.path, r.p50_ms, r.download, r.upload
        );
    }
    for base in &rows[1..] {
        let ours = &rows[0];
        println!(
            "{:<30} {:>11.2}x {:>15.2}x {:>13.2}x",
            format!(
                "ratio vs {}",
                base.path
                    .split(" (")
                    .nth(1)
                    .unwrap_or(base.path)
                    .trim_end_matches(')')
            ),
            ours.p50_ms / base.p50_ms,
            ours.download / base.download,
            ours.upload / base.upload,
        );
    }
    println!("(latency ratio > 1: slower; throughput ratio < 1: slower)");
    d.assert_nothing_left();
}
