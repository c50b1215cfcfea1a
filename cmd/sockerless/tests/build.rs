//! Issue 18: `docker build` on ACR Tasks, with the real Docker CLI's
//! classic builder against the all-in-one in emulator mode (the emulator's
//! ACR Tasks build with its engine and push to its registry): a build with
//! `ARG`, `COPY`, `RUN` and `LABEL` then a run of the image; a failing
//! `RUN`; a 50 MiB context with the daemon's memory bounded; a client that
//! goes away cancelling the run.

use sockerless_testkit as common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Sockerless, run, serial, test_env, unique};

/// A context directory under the daemon's test dir with these files.
fn context(d: &Sockerless, name: &str, files: &[(&str, &[u8])]) -> std::path::PathBuf {
    let dir = d.path(name);
    std::fs::create_dir_all(&dir).expect("context dir");
    for (file, body) in files {
        std::fs::write(dir.join(file), body).expect("context file");
    }
    dir
}

/// `docker build` with the classic builder, in `dir`.
fn build_cmd(d: &Sockerless, dir: &Path, args: &[&str]) -> Command {
    let mut cmd = d.docker_cmd(&[&["build"], args, &["."]].concat());
    cmd.current_dir(dir).env("DOCKER_BUILDKIT", "0");
    cmd
}

const APP: &str = "FROM busybox
ARG X=unset
COPY hello.txt /
RUN echo built > /b && echo \"x is $X\"
LABEL org.example.app=sockerless
";

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn a_build_streams_its_steps_and_the_image_runs() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    let dir = context(
        &d,
        "app",
        &[("Dockerfile", APP.as_bytes()), ("hello.txt", b"hello\n")],
    );
    let tag = format!("{}:1", unique("app"));
    let out = run(
        build_cmd(
            &d,
            &dir,
            &["-t", &tag, "--build-arg", "X=y", "--label", "extra=yes"],
        ),
        None,
    )
    .ok();
    for want in [
        "Step 1/5 : FROM busybox",
        "Step 4/5 : RUN echo built",
        "x is y",
        "Successfully built ",
        &format!("Successfully tagged {tag}"),
    ] {
        assert!(out.stdout.contains(want), "{want:?} missing: {out:?}");
    }
    assert!(
        !out.stdout.contains("Run ID:"),
        "ACR's own lines are not shown: {out:?}"
    );
    let ran = d
        .docker(&["run", "--rm", &tag, "cat", "/hello.txt", "/b"])
        .ok();
    assert_eq!(ran.stdout, "hello\nbuilt\n");
    let labels = d
        .docker(&["inspect", "-f", "{{json .Config.Labels}}", &tag])
        .ok();
    assert!(
        labels.stdout.contains("\"org.example.app\":\"sockerless\""),
        "{labels:?}"
    );
    assert!(labels.stdout.contains("\"extra\":\"yes\""), "{labels:?}");
    let short = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Successfully built "))
        .expect("short ID")
        .to_owned();
    let id = d.docker(&["image", "inspect", "-f", "{{.Id}}", &tag]).ok();
    assert!(
        id.stdout.trim().starts_with(&format!("sha256:{short}")),
        "{id:?} vs {short}"
    );

    // -q prints only the ID (of the image now tagged).
    let quiet = run(build_cmd(&d, &dir, &["-q", "-t", &tag]), None).ok();
    let now = d.docker(&["image", "inspect", "-f", "{{.Id}}", &tag]).ok();
    assert_eq!(quiet.stdout.trim(), now.stdout.trim(), "{quiet:?}");
    assert!(quiet.stdout.trim().starts_with("sha256:"), "{quiet:?}");
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn a_failing_run_fails_the_build_and_tags_nothing() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    let dir = context(
        &d,
        "bad",
        &[("Dockerfile", b"FROM busybox\nRUN echo oops && exit 3\n")],
    );
    let tag = format!("{}:1", unique("bad"));
    let out = run(build_cmd(&d, &dir, &["-t", &tag]), None);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("oops"), "the command's output: {out:?}");
    assert!(
        out.stderr
            .contains("The command '/bin/sh -c echo oops && exit 3' returned a non-zero code: 3"),
        "Docker's error line: {out:?}"
    );
    let inspect = d.docker(&["image", "inspect", &tag]);
    assert_ne!(inspect.code, 0, "nothing tagged: {inspect:?}");
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn a_large_context_is_streamed_with_bounded_memory() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    // 50 MiB that gzip cannot shrink: holding the context would show.
    let mut big = vec![0u8; 50 << 20];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for chunk in big.chunks_mut(8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
    }
    let dir = context(
        &d,
        "big",
        &[
            (
                "Dockerfile",
                b"FROM busybox\nCOPY big /big\nRUN wc -c /big\n",
            ),
            ("big", &big),
        ],
    );
    drop(big);
    let tag = format!("{}:1", unique("big"));
    let before = d.rss_kib();
    let sample = d.rss_sampler();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(before));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak.fetch_max(sample(), std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let out = run(build_cmd(&d, &dir, &["-t", &tag]), None);
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    watcher.join().expect("sampler");
    let out = out.ok();
    assert!(out.stdout.contains("52428800 /big"), "{out:?}");
    let grew_mib = peak
        .load(std::sync::atomic::Ordering::Relaxed)
        .saturating_sub(before)
        / 1024;
    eprintln!(
        "RSS before the build {} MiB, peak growth during it {grew_mib} MiB",
        before / 1024
    );
    assert!(
        grew_mib < 40,
        "the daemon grew by {grew_mib} MiB for a 50 MiB context: it must stream it"
    );
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn a_client_that_goes_away_cancels_the_run() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    let dir = context(
        &d,
        "slow",
        &[(
            "Dockerfile",
            b"FROM busybox\nRUN echo started && sleep 120\n",
        )],
    );
    let mut cmd = build_cmd(&d, &dir, &["-t", &format!("{}:1", unique("slow"))]);
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker build");
    let mut stdout = child.stdout.take().expect("stdout");
    // Wait until the RUN runs, then leave.
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !String::from_utf8_lossy(&seen).contains("started") {
        assert!(
            Instant::now() < deadline,
            "the build never ran: {}",
            String::from_utf8_lossy(&seen)
        );
        let mut buf = [0u8; 4096];
        let n = std::io::Read::read(&mut stdout, &mut buf).expect("read");
        assert!(
            n > 0,
            "build ended early: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    child.kill().expect("kill");
    let _ = child.wait();
    let _ = std::io::stderr().flush();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let cancels = d
            .sim_requests()
            .iter()
            .filter(|r| {
                r["method"] == "POST" && r["path"].as_str().is_some_and(|p| p.ends_with("/cancel"))
            })
            .count();
        if cancels > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "no cancel reached ACR Tasks");
        std::thread::sleep(Duration::from_millis(200));
    }
}
