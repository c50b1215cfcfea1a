//! Issue 10's binds and files-before-start scenarios with the real Docker
//! CLI against the all-in-one in emulator mode: host paths copied into the
//! container before its process starts, read-write binds synced back at
//! the exit (and on `docker stop`) without following symlinks out, and
//! `docker cp` into a created container. See `common/mod.rs` for the
//! environment they need.

use sockerless_testkit as common;

use std::fs;
use std::path::Path;

use common::{Sockerless, serial, test_env, unique};

fn host_dir(d: &Sockerless, name: &str) -> std::path::PathBuf {
    let dir = d.path(&unique(name));
    fs::create_dir_all(&dir).expect("host dir");
    dir
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn binds_are_copied_in_and_synced_back_without_escaping() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();

    // Read-only: the host file is there before the process starts.
    let dir = host_dir(&d, "ro");
    fs::write(dir.join("x"), "from the host\n").expect("x");
    fs::create_dir(dir.join("sub")).expect("sub");
    fs::write(dir.join("sub/y"), "nested\n").expect("y");
    std::os::unix::fs::symlink("x", dir.join("link")).expect("link");
    let src = format!("{}:/src:ro", dir.display());
    // A directory `:ro` bind is read-only in the container, as under dockerd
    // (the emulator's all-in-one has a storage account: a share mount).
    let out = d.docker(&[
        "run",
        "--rm",
        "-v",
        &src,
        "busybox",
        "sh",
        "-c",
        "cat /src/x /src/sub/y; readlink /src/link; echo changed > /src/x",
    ]);
    assert_eq!(out.code, 1, "{out:?}\n{}", d.log());
    assert_eq!(out.stdout, "from the host\nnested\nx\n", "{out:?}");
    assert!(
        out.stderr.contains("Read-only file system"),
        "{out:?}\n{}",
        d.log()
    );
    // Without a network too (the agent still waits for its preparation).
    let out = d.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        &src,
        "busybox",
        "cat",
        "/src/x",
    ]);
    assert_eq!(out.code, 0, "{out:?}\n{}", d.log());
    assert_eq!(out.stdout, "from the host\n", "{out:?}");
    // `:ro` is never synced back.
    assert_eq!(
        fs::read_to_string(dir.join("x")).expect("x"),
        "from the host\n"
    );

    // Read-write: new files come back, deleted ones go, links stay links.
    let dir = host_dir(&d, "rw");
    fs::write(dir.join("x"), "old\n").expect("x");
    fs::write(dir.join("keep"), "kept\n").expect("keep");
    let w = format!("{}:/w", dir.display());
    let out = d.docker(&["run", "--rm", "-v", &w, "busybox", "sh", "-c",
        "echo new > /w/out; rm /w/x; mkdir -p /w/d/e; echo deep > /w/d/e/f; ln -s /etc /w/etc; ln -s /etc/passwd /w/pw"]);
    assert_eq!(out.code, 0, "{out:?}\n{}", d.log());
    assert_eq!(fs::read_to_string(dir.join("out")).expect("out"), "new\n");
    assert!(!dir.join("x").exists(), "x not deleted on the host");
    assert_eq!(
        fs::read_to_string(dir.join("keep")).expect("keep"),
        "kept\n"
    );
    assert_eq!(fs::read_to_string(dir.join("d/e/f")).expect("f"), "deep\n");
    for (link, target) in [("etc", "/etc"), ("pw", "/etc/passwd")] {
        let meta = fs::symlink_metadata(dir.join(link)).expect(link);
        assert!(meta.file_type().is_symlink(), "{link} is not a link");
        assert_eq!(
            fs::read_link(dir.join(link)).expect(link),
            Path::new(target)
        );
    }

    // A second run sees the first one's files; writing "through" the link
    // writes the container's /etc, never the host's.
    let host_passwd = fs::read("/etc/passwd").expect("host passwd");
    let out = d.docker(&[
        "run",
        "--rm",
        "-v",
        &w,
        "busybox",
        "sh",
        "-c",
        "cat /w/out; echo pwned > /w/etc/sockerless-escape; echo x >> /w/pw",
    ]);
    assert_eq!(out.code, 0, "{out:?}\n{}", d.log());
    assert_eq!(out.stdout, "new\n");
    assert!(
        !Path::new("/etc/sockerless-escape").exists(),
        "wrote through a link to the host's /etc"
    );
    assert_eq!(fs::read("/etc/passwd").expect("host passwd"), host_passwd);

    // The container sees the host's owners and modes (a non-root user can
    // write into a directory it owns on the host), when the test can chown.
    let owned = host_dir(&d, "owned");
    if std::os::unix::fs::chown(&owned, Some(1000), Some(1000)).is_ok() {
        fs::set_permissions(&owned, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .expect("chmod");
        let u = format!("{}:/u", owned.display());
        let out = d.docker(&[
            "run",
            "--rm",
            "-u",
            "1000",
            "-v",
            &u,
            "busybox",
            "sh",
            "-c",
            "echo mine > /u/f && stat -c '%u %a' /u",
        ]);
        assert_eq!(out.code, 0, "{out:?}\n{}", d.log());
        assert_eq!(out.stdout, "1000 700\n", "{out:?}");
        assert_eq!(fs::read_to_string(owned.join("f")).expect("f"), "mine\n");
    }

    // A missing `-v` source is created (as dockerd does); `--mount` refuses it.
    let missing = d.path(&unique("missing"));
    let v = format!("{}:/m", missing.display());
    d.docker(&[
        "run",
        "--rm",
        "-v",
        &v,
        "busybox",
        "sh",
        "-c",
        "echo made > /m/f",
    ])
    .ok();
    assert_eq!(fs::read_to_string(missing.join("f")).expect("f"), "made\n");
    let gone = d.path(&unique("gone"));
    let m = format!("type=bind,src={},dst=/m", gone.display());
    let out = d.docker(&["run", "--rm", "--mount", &m, "busybox", "true"]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("bind source path does not exist"),
        "{out:?}"
    );

    // `docker stop` ends the process and the binds are still synced back.
    let dir = host_dir(&d, "stop");
    let name = unique("stopper");
    let s = format!("{}:/s", dir.display());
    d.docker(&["run", "-d", "--name", &name, "-v", &s, "busybox", "sh", "-c",
        "echo started > /s/started; trap 'echo stopped > /s/stopped; exit 0' TERM; while :; do sleep 0.2; done"]).ok();
    for _ in 0..100 {
        let out = d.docker(&["exec", &name, "cat", "/s/started"]);
        if out.code == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    d.docker(&["stop", &name]).ok();
    assert_eq!(
        fs::read_to_string(dir.join("stopped")).expect("stopped"),
        "stopped\n"
    );
    assert_eq!(
        fs::read_to_string(dir.join("started")).expect("started"),
        "started\n"
    );
    d.docker(&["rm", &name]).ok();
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn docker_cp_into_a_created_container_is_there_at_start() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let name = unique("c");
    let conf = d.path("app.conf");
    fs::write(&conf, "setting = 1\n").expect("conf");
    d.docker(&["create", "--name", &name, "busybox", "cat", "/etc/app.conf"])
        .ok();
    let dst = format!("{name}:/etc/app.conf");
    d.docker(&["cp", &conf.display().to_string(), &dst]).ok();

    // Read back before start (HEAD and GET of the kept files), 404 otherwise.
    let back = d.path("back.conf");
    d.docker(&["cp", &dst, &back.display().to_string()]).ok();
    assert_eq!(fs::read_to_string(&back).expect("back"), "setting = 1\n");
    let out = d.docker(&[
        "cp",
        &format!("{name}:/nope"),
        &d.path("nope").display().to_string(),
    ]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("Could not find the file /nope"),
        "{out:?}"
    );

    let out = d.docker(&["start", "-a", &name]);
    assert_eq!(out.code, 0, "{out:?}\n{}", d.log());
    assert_eq!(out.stdout, "setting = 1\n");
    d.docker(&["rm", &name]).ok();
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn a_bind_hides_what_the_container_had_at_its_target() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let dir = host_dir(&d, "hide");
    fs::write(dir.join("mine"), "host\n").expect("mine");
    let name = unique("hider");
    let v = format!("{}:/data", dir.display());
    d.docker(&[
        "create", "--name", &name, "-v", &v, "busybox", "ls", "-A", "/data",
    ])
    .ok();
    // A file put into the container under the bind's target before start:
    // the bind hides it (as with dockerd), and it never reaches the host.
    let seed = d.path("seed");
    fs::write(&seed, "seed\n").expect("seed");
    d.docker(&[
        "cp",
        &seed.display().to_string(),
        &format!("{name}:/data/seed"),
    ])
    .ok();
    let out = d.docker(&["start", "-a", &name]);
    assert_eq!(out.code, 0, "{out:?}\n{}", d.log());
    assert_eq!(out.stdout, "mine\n", "{out:?}");
    assert!(
        !dir.join("seed").exists(),
        "the container's own file reached the host"
    );
    assert_eq!(
        fs::read_to_string(dir.join("mine")).expect("mine"),
        "host\n"
    );
    d.docker(&["rm", &name]).ok();
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn bind_limits_fail_with_clear_errors() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start_with(&env, &["--bind-max-bytes", "100000"]);
    d.pull_busybox();
    // Too big to copy in: `docker run` fails before anything runs.
    let big = host_dir(&d, "big");
    fs::write(big.join("f"), vec![7u8; 200_000]).expect("f");
    let v = format!("{}:/b", big.display());
    let out = d.docker(&["run", "--rm", "-v", &v, "busybox", "true"]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("bind_max_bytes"), "{out:?}");

    // Too big to sync back: said on the container's stderr, host untouched.
    let small = host_dir(&d, "small");
    fs::write(small.join("keep"), "k\n").expect("keep");
    let v = format!("{}:/s", small.display());
    let out = d.docker(&[
        "run",
        "--rm",
        "-v",
        &v,
        "busybox",
        "sh",
        "-c",
        "rm /s/keep; dd if=/dev/zero of=/s/big bs=1000 count=200 2>/dev/null",
    ]);
    assert_eq!(out.code, 0, "{out:?}\n{}", d.log());
    assert!(out.stderr.contains("sockerless: bind /s"), "{out:?}");
    assert!(out.stderr.contains("not synced back"), "{out:?}");
    assert!(
        small.join("keep").exists(),
        "deleted though the sync failed"
    );
    assert!(!small.join("big").exists());
}

/// The `.binds-<job>` directories of the emulator's shares (the copies of
/// `:ro` directory binds).
fn bind_copies(d: &Sockerless) -> Vec<std::path::PathBuf> {
    let shares = d.data_dir().join("azure-sim").join("fileshares");
    let mut found = Vec::new();
    for account in fs::read_dir(&shares).into_iter().flatten().flatten() {
        for share in fs::read_dir(account.path()).into_iter().flatten().flatten() {
            for entry in fs::read_dir(share.path()).into_iter().flatten().flatten() {
                if entry.file_name().to_string_lossy().starts_with(".binds-") {
                    found.push(entry.path());
                }
            }
        }
    }
    found
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn a_read_only_bind_refuses_writes_and_its_copy_goes_with_the_container() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let dir = host_dir(&d, "ro");
    fs::write(dir.join("f"), "first\n").expect("f");
    let file = d.path(&unique("conf"));
    fs::write(&file, "conf\n").expect("conf");
    let name = unique("ro");
    let ro = format!("{}:/ro:ro", dir.display());
    let conf = format!("{}:/etc/app.conf:ro", file.display());
    d.docker(&[
        "create",
        "--name",
        &name,
        "-v",
        &ro,
        "-v",
        &conf,
        "busybox",
        "sh",
        "-c",
        "ls /ro; cat /etc/app.conf; touch /ro/new",
    ])
    .ok();

    // Read-only in the container: EROFS, as under dockerd.
    let out = d.docker(&["start", "-a", &name]);
    assert_eq!(out.code, 1, "{out:?}\n{}", d.log());
    assert_eq!(out.stdout, "f\nconf\n", "{out:?}");
    assert!(
        out.stderr.contains("touch: /ro/new: Read-only file system"),
        "{out:?}"
    );
    assert!(!dir.join("new").exists(), "a write came through a :ro bind");
    // One job directory with one bind's copy (`<n>`: the bind's place among
    // the container's binds, in the order the CLI sent them).
    let copies = bind_copies(&d);
    assert_eq!(copies.len(), 1, "{copies:?}");
    let binds: Vec<_> = fs::read_dir(&copies[0])
        .expect("the job's copies")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(binds.len(), 1, "{binds:?}");
    assert_eq!(
        fs::read_to_string(binds[0].join("f")).expect("the copy"),
        "first\n"
    );

    // The next start copies the host's tree again, without what it lost.
    fs::remove_file(dir.join("f")).expect("rm f");
    fs::write(dir.join("g"), "second\n").expect("g");
    let out = d.docker(&["start", "-a", &name]);
    assert_eq!(out.code, 1, "{out:?}\n{}", d.log());
    assert_eq!(out.stdout, "g\nconf\n", "{out:?}");

    // `docker rm`: the copy goes once the job is deleted.
    d.docker(&["rm", &name]).ok();
    let deadline = std::time::Instant::now() + common::guard();
    while !bind_copies(&d).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the copy of the :ro bind stayed after docker rm: {:?}\n{}",
            bind_copies(&d),
            d.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(
        fs::read_to_string(dir.join("g")).expect("g"),
        "second\n",
        "the host's tree changed"
    );
}
