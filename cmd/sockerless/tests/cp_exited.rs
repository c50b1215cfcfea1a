//! `docker cp` out of an exited container, with the real Docker CLI against
//! the all-in-one in emulator mode: its replica is gone, so the files come
//! from the changes kept at its exit over the image's layers (fetched from
//! the registry on first use), deletions honoured, and a missing path is
//! dockerd's 404. See `common/mod.rs` for the environment these need.

use sockerless_testkit as common;

use common::{Sockerless, serial, test_env, unique};

const SCRIPT: &str = "mkdir -p /data/sub && echo hello > /data/a.txt && echo deep > /data/sub/b.txt \
     && echo changed > /etc/group && rm /bin/vi";

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn files_of_an_exited_container_come_from_its_changes_over_the_image() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let name = unique("cpx");
    d.docker(&["run", "--name", &name, "busybox", "sh", "-c", SCRIPT])
        .ok();

    // A file and a directory the container wrote.
    let file = d.path("a.txt");
    let src = format!("{name}:/data/a.txt");
    d.docker(&["cp", &src, &file.to_string_lossy()]).ok();
    assert_eq!(std::fs::read_to_string(&file).expect("a.txt"), "hello\n");
    let dir = d.path("copied");
    let src = format!("{name}:/data");
    d.docker(&["cp", &src, &dir.to_string_lossy()]).ok();
    let deep = std::fs::read_to_string(dir.join("sub/b.txt")).expect("b.txt");
    assert_eq!(deep, "deep\n");

    // As a tar on stdout, named as dockerd names it.
    let src = format!("{name}:/data/a.txt");
    let tar = d.docker(&["cp", &src, "-"]).ok();
    assert!(tar.stdout.starts_with("a.txt\0"), "{tar:?}");

    // A file changed by the container, and a directory merged from both.
    let etc = d.path("etc");
    let src = format!("{name}:/etc");
    d.docker(&["cp", &src, &etc.to_string_lossy()]).ok();
    let group = std::fs::read_to_string(etc.join("group")).expect("group");
    assert_eq!(group, "changed\n");
    let passwd = std::fs::read_to_string(etc.join("passwd")).expect("passwd from the image");
    assert!(passwd.starts_with("root:"), "{passwd}");

    // A file of the image only: read from its layer.
    let bb = d.path("busybox");
    let src = format!("{name}:/bin/busybox");
    d.docker(&["cp", &src, &bb.to_string_lossy()]).ok();
    let size = std::fs::metadata(&bb).map(|m| m.len()).unwrap_or(0);
    assert!(size > 100_000, "busybox is {size} bytes");

    // Deleted by the container, and never there: dockerd's 404.
    for missing in ["/bin/vi", "/no/such/path"] {
        let src = format!("{name}:{missing}");
        let out = d.docker(&["cp", &src, &d.path("x").to_string_lossy()]);
        assert_eq!(out.code, 1, "{out:?}");
        let want = format!("Could not find the file {missing} in container {name}");
        assert!(out.stderr.contains(&want), "{out:?}");
    }
    d.docker(&["rm", &name]).ok();
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn without_kept_changes_the_copy_is_refused() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start_with(&env, &["--changes-max-bytes", "0"]);
    d.pull_busybox();
    let name = unique("cpx");
    d.docker(&["run", "--name", &name, "busybox", "sh", "-c", "echo x > /f"])
        .ok();
    let src = format!("{name}:/f");
    let out = d.docker(&["cp", &src, &d.path("f").to_string_lossy()]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("its filesystem changes were not kept"),
        "{out:?}"
    );
    d.docker(&["rm", &name]).ok();
}
