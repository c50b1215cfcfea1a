//! Issue 10, item 4, with the real Docker CLI against the all-in-one in
//! emulator mode: `-v /var/run/docker.sock:/var/run/docker.sock` gives the
//! container a Unix socket served by its agent and tunnelled to this
//! daemon's Docker API: `GET /_ping` answers `OK`, `GET /containers/json`
//! lists the container itself. `--mount type=bind` at another path works
//! for a non-root user; a bind of the daemon's own socket path works the
//! same; a container without the bind has no socket.
//!
//! The image is `sockerless-test/busybox-unix` (busybox plus `unix-nc`, a
//! Unix socket client: busybox's `nc` has none), built by `cargo xtask
//! images`. See `common/mod.rs` for the environment these tests need.

use sockerless_testkit as common;

use common::{Sockerless, serial, test_env, unique};

const IMAGE: &str = "sockerless-test/busybox-unix";

/// A shell line sending an HTTP/1.0 `GET path` to the socket at `sock`.
fn get(sock: &str, path: &str) -> String {
    format!(
        "printf 'GET {path} HTTP/1.0\\r\\nHost: docker\\r\\n\\r\\n' | timeout 30 unix-nc {sock}"
    )
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn the_docker_socket_reaches_this_daemon() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.docker(&["pull", "-q", IMAGE]).ok();

    // -v: ping, then list ourselves.
    let name = unique("dsock");
    let script = format!(
        "{}; echo; echo ===; {}",
        get("/var/run/docker.sock", "/_ping"),
        get("/var/run/docker.sock", "/containers/json")
    );
    let out = d.docker(&[
        "run",
        "--rm",
        "--name",
        &name,
        "-v",
        "/var/run/docker.sock:/var/run/docker.sock",
        IMAGE,
        "sh",
        "-c",
        &script,
    ]);
    assert_eq!(out.code, 0, "{out:?}\n{}", d.log());
    let (ping, list) = out
        .stdout
        .split_once("===")
        .unwrap_or_else(|| panic!("no separator: {out:?}"));
    assert!(ping.starts_with("HTTP/1."), "ping: {ping:?}");
    assert!(ping.contains(" 200 "), "ping: {ping:?}");
    assert!(ping.trim_end().ends_with("\r\n\r\nOK"), "ping: {ping:?}");
    assert!(list.contains(" 200 "), "list: {list:?}");
    assert!(
        list.contains(&format!("\"/{name}\"")),
        "the container lists itself: {list:?}"
    );

    // --mount at another path, as a non-root user (the socket is 0666).
    let out = d.docker(&[
        "run",
        "--rm",
        "--user",
        "nobody",
        "--mount",
        "type=bind,src=/var/run/docker.sock,dst=/tmp/sock/docker.sock",
        IMAGE,
        "sh",
        "-c",
        &format!("id -u; {}", get("/tmp/sock/docker.sock", "/_ping")),
    ]);
    assert_eq!(out.code, 0, "{out:?}\n{}", d.log());
    assert!(out.stdout.starts_with("65534\n"), "{out:?}");
    assert!(out.stdout.trim_end().ends_with("OK"), "{out:?}");

    // The daemon's own socket path (what Testcontainers binds when
    // DOCKER_HOST names it) is the Docker socket too.
    let own = d
        .docker_host
        .strip_prefix("unix://")
        .unwrap_or_else(|| panic!("DOCKER_HOST {}", d.docker_host));
    let out = d.docker(&[
        "run",
        "--rm",
        "-v",
        &format!("{own}:/var/run/docker.sock"),
        IMAGE,
        "sh",
        "-c",
        &get("/var/run/docker.sock", "/_ping"),
    ]);
    assert_eq!(out.code, 0, "{out:?}\n{}", d.log());
    assert!(out.stdout.trim_end().ends_with("OK"), "{out:?}");

    // Without the bind there is no socket.
    let out = d.docker(&[
        "run",
        "--rm",
        IMAGE,
        "sh",
        "-c",
        "test -e /var/run/docker.sock && echo present || echo absent",
    ]);
    assert_eq!(out.code, 0, "{out:?}\n{}", d.log());
    assert_eq!(out.stdout.trim(), "absent");
}
