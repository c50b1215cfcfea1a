//! Issue 16, items 7 and 8, with the real Docker CLI against the all-in-one
//! in emulator mode: `docker save` (loaded back by us and by dockerd),
//! `docker push` to the test registry, `docker diff`, `docker commit` then
//! a run of the new image, `docker import` then a run, and
//! `/distribution/{name}/json`. See `common/mod.rs` for the environment.

use sockerless_testkit as common;

use std::process::Command;

use common::{Sockerless, run, serial, test_env, unique};

fn curl(args: &[&str]) -> String {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS"]).args(args);
    run(cmd, None).ok().stdout
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn save_then_load_round_trips_here_and_into_dockerd() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let tag = format!("{}:1", unique("saved"));
    d.docker(&["tag", "busybox", &tag]).ok();
    let file = d.path("saved.tar");
    let file = file.to_string_lossy();
    d.docker(&["save", &tag, "-o", &file]).ok();

    // Ours: remove it, load it back, run it.
    d.docker(&["rmi", &tag]).ok();
    let loaded = d.docker(&["load", "-i", &file]).ok();
    assert!(
        loaded.stdout.contains(&format!("Loaded image: {tag}")),
        "{loaded:?}"
    );
    let ran = d.docker(&["run", "--rm", &tag, "echo", "round-trip"]).ok();
    assert_eq!(ran.stdout, "round-trip\n");

    // dockerd reads the same tarball.
    let mut engine = Command::new("docker");
    engine.args(["-H", &env.engine, "load", "-i", &file]);
    let theirs = run(engine, None);
    assert_eq!(theirs.code, 0, "dockerd's load: {theirs:?}");
    assert!(theirs.stdout.contains(&tag), "{theirs:?}");
    let mut rmi = Command::new("docker");
    rmi.args(["-H", &env.engine, "rmi", &tag]);
    run(rmi, None).ok();

    // A piped save loads too.
    let mut piped = Command::new("sh");
    piped.arg("-c").arg(format!(
        "docker -H {h} save busybox | docker -H {h} load",
        h = d.docker_host
    ));
    let out = run(piped, None).ok();
    assert!(
        out.stdout.contains("Loaded image: busybox:latest"),
        "{out:?}"
    );
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn push_puts_the_image_in_the_registry() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let repo = unique("pushed");
    let name = format!("{}/{repo}:1", env.registry);
    d.docker(&["tag", "busybox", &name]).ok();
    let pushed = d.docker(&["push", &name]).ok();
    assert!(
        pushed.stdout.contains(&format!(
            "The push refers to repository [{}/{repo}]",
            env.registry
        )),
        "{pushed:?}"
    );
    assert!(pushed.stdout.contains("1: digest: sha256:"), "{pushed:?}");
    let tags = curl(&[&format!("http://{}/v2/{repo}/tags/list", env.registry)]);
    assert!(tags.contains("\"1\""), "{tags}");
    // Again: every layer is there already.
    let again = d.docker(&["push", &name]).ok();
    assert!(again.stdout.contains("Layer already exists"), "{again:?}");
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.as_secs() + 1)
        .to_string();
    let events = d
        .docker(&[
            "events",
            "--since",
            "0",
            "--until",
            &until,
            "--filter",
            "event=push",
            "--format",
            "{{.Actor.ID}}",
        ])
        .ok()
        .stdout;
    assert_eq!(events, format!("{name}\n{name}\n"), "a push event each");
}

fn diff_lines(d: &Sockerless, name: &str) -> Vec<String> {
    let out = d.docker(&["diff", name]).ok();
    out.stdout.lines().map(str::to_owned).collect()
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn diff_lists_added_changed_and_deleted_paths() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let name = unique("diff");
    d.docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "touch /x && mkdir -p /tmp/d && touch /tmp/d/f && rm /bin/vi && touch /ready && sleep 300",
    ])
    .ok();
    // The script's files exist once /ready does.
    let mut lines = Vec::new();
    for _ in 0..60 {
        lines = diff_lines(&d, &name);
        if lines.iter().any(|l| l == "A /ready") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    for want in [
        "A /x",
        "C /tmp",
        "A /tmp/d",
        "A /tmp/d/f",
        "C /bin",
        "D /bin/vi",
    ] {
        assert!(
            lines.iter().any(|l| l == want),
            "{want} missing from {lines:?}"
        );
    }
    let x = lines.iter().position(|l| l == "A /x");
    let tmp = lines.iter().position(|l| l == "C /tmp");
    assert!(tmp < x, "sorted by path: {lines:?}");
    // The same once it has exited (from the record kept at its exit).
    d.docker(&["kill", &name]).ok();
    d.docker(&["wait", &name]).ok();
    let after = diff_lines(&d, &name);
    assert!(after.iter().any(|l| l == "A /x"), "{after:?}");
    assert!(after.iter().any(|l| l == "D /bin/vi"), "{after:?}");
    d.docker(&["rm", "-f", &name]).ok();
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn commit_then_run_finds_the_file() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let name = unique("cmt");
    d.docker(&[
        "run",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "echo hi > /x",
    ])
    .ok();
    let image = format!("{}:1", unique("img"));
    let id = d
        .docker(&["commit", "-c", "ENV FROM_COMMIT=yes", &name, &image])
        .ok();
    assert!(id.stdout.starts_with("sha256:"), "{id:?}");
    let ls = d.docker(&["run", "--rm", &image, "ls", "/x"]).ok();
    assert_eq!(ls.stdout, "/x\n");
    let env_out = d
        .docker(&[
            "run",
            "--rm",
            &image,
            "sh",
            "-c",
            "cat /x; echo $FROM_COMMIT",
        ])
        .ok();
    assert_eq!(env_out.stdout, "hi\nyes\n");
    let refused = d.docker(&["commit", "-c", "FROM busybox", &name, &image]);
    assert_ne!(refused.code, 0);
    assert!(
        refused
            .stderr
            .contains("FROM is not a valid change command"),
        "{refused:?}"
    );
    d.docker(&["rm", &name]).ok();

    // A running container is paused while its changes are read (a pause
    // and an unpause event), and runs on.
    let live = unique("cmt-live");
    d.docker(&[
        "run",
        "-d",
        "--name",
        &live,
        "busybox",
        "sh",
        "-c",
        "echo live > /y; echo ready; exec sleep 300",
    ])
    .ok();
    d.wait_for_log(&live, "ready");
    let image = format!("{}:2", unique("img"));
    d.docker(&["commit", &live, &image]).ok();
    let state = d
        .docker(&["inspect", "-f", "{{.State.Status}}", &live])
        .ok()
        .stdout;
    assert_eq!(state.trim(), "running");
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.as_secs() + 1)
        .to_string();
    let events = d
        .docker(&[
            "events",
            "--since",
            "0",
            "--until",
            &until,
            "--filter",
            &format!("container={live}"),
            "--filter",
            "event=pause",
            "--filter",
            "event=unpause",
            "--format",
            "{{.Action}}",
        ])
        .ok()
        .stdout;
    assert_eq!(events, "pause\nunpause\n");
    let cat = d.docker(&["run", "--rm", &image, "cat", "/y"]).ok();
    assert_eq!(cat.stdout, "live\n");
    d.docker(&["rm", "-f", &live]).ok();
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn import_of_a_layer_then_run() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    // busybox's one layer, out of a save, is a small rootfs tar (gzipped).
    let dir = d.path("unpacked");
    std::fs::create_dir_all(&dir).expect("dir");
    let file = d.path("bb.tar");
    d.docker(&["save", "busybox", "-o", &file.to_string_lossy()])
        .ok();
    let mut untar = Command::new("tar");
    untar.arg("-xf").arg(&file).arg("-C").arg(&dir);
    run(untar, None).ok();
    let layer = std::fs::read_dir(dir.join("blobs/sha256"))
        .expect("blobs")
        .filter_map(Result::ok)
        .max_by_key(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .expect("a layer")
        .path();
    let image = format!("{}:1", unique("imp"));
    let out = d
        .docker(&[
            "import",
            "-c",
            "CMD [\"/bin/echo\", \"imported\"]",
            "-m",
            "from a test",
            &layer.to_string_lossy(),
            &image,
        ])
        .ok();
    assert!(out.stdout.starts_with("sha256:"), "{out:?}");
    let ran = d.docker(&["run", "--rm", &image]).ok();
    assert_eq!(ran.stdout, "imported\n");
    let url = d.docker(&["import", "http://example.invalid/x.tar"]);
    assert_ne!(url.code, 0);
    assert!(
        url.stderr.contains("fromSrc=http://example.invalid/x.tar"),
        "{url:?}"
    );
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn distribution_of_busybox() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    let socket = d.docker_host.trim_start_matches("unix://").to_owned();
    let body = curl(&[
        "--unix-socket",
        &socket,
        "http://localhost/v1.44/distribution/busybox:latest/json",
    ]);
    let value: serde_json::Value = serde_json::from_str(&body).expect(&body);
    let digest = value["Descriptor"]["digest"].as_str().unwrap_or_default();
    assert!(digest.starts_with("sha256:"), "{body}");
    assert!(
        value["Descriptor"]["size"].as_i64().unwrap_or(0) > 0,
        "{body}"
    );
    let platforms = value["Platforms"].as_array().expect(&body);
    assert!(
        platforms
            .iter()
            .any(|p| p["os"] == "linux" && p["architecture"] == "amd64"),
        "{body}"
    );
    let missing = curl(&[
        "--unix-socket",
        &socket,
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "http://localhost/v1.44/distribution/no-such-image-here:1/json",
    ]);
    assert_eq!(missing, "404");
}
