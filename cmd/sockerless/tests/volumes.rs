//! Issue 10's volume scenarios with the real Docker CLI against the
//! all-in-one in emulator mode (replicas isolated): named volumes on the
//! emulator's Azure Files share, shared between containers running at once,
//! `--volumes-from` (the GitLab pattern), anonymous volumes, refusals,
//! `--tmpfs`. See `common/mod.rs` for the environment they need.

use sockerless_testkit as common;

use common::{Sockerless, serial, test_env, unique};

/// Environment-storage writes (ARM PUTs) in the emulator's request log.
fn storage_writes(d: &Sockerless) -> usize {
    d.sim_requests()
        .iter()
        .filter(|r| {
            r["method"] == "PUT" && r["path"].as_str().is_some_and(|p| p.contains("/storages/"))
        })
        .count()
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn named_volumes_persist_are_shared_and_go_with_rm() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let v = unique("v1");
    d.docker(&["volume", "create", &v]).ok();
    let inspect = d
        .docker(&["volume", "inspect", "-f", "{{.Mountpoint}}", &v])
        .ok();
    assert!(
        inspect.stdout.trim().starts_with("azurefile://") && inspect.stdout.trim().ends_with(&v),
        "{inspect:?}"
    );
    let mount = format!("{v}:/data");
    d.docker(&[
        "run",
        "--rm",
        "-v",
        &mount,
        "busybox",
        "sh",
        "-c",
        "echo persisted > /data/f",
    ])
    .ok();
    let out = d
        .docker(&["run", "--rm", "-v", &mount, "busybox", "cat", "/data/f"])
        .ok();
    assert_eq!(out.stdout.trim(), "persisted", "{out:?}\n{}", d.log());

    // Two containers at once on one volume see each other's writes.
    let a = unique("a");
    d.docker(&[
        "run",
        "-d",
        "--name",
        &a,
        "-v",
        &mount,
        "busybox",
        "sh",
        "-c",
        "echo from-a > /data/a; for i in $(seq 1 120); do [ -f /data/b ] && cat /data/b && exit 0; sleep 1; done; exit 1",
    ])
    .ok();
    let out = d
        .docker(&[
            "run",
            "--rm",
            "-v",
            &mount,
            "busybox",
            "sh",
            "-c",
            "for i in $(seq 1 120); do [ -f /data/a ] && break; sleep 1; done; cat /data/a; echo from-b > /data/b",
        ])
        .ok();
    assert_eq!(out.stdout.trim(), "from-a", "{out:?}");
    let code = d.docker(&["wait", &a]).ok();
    assert_eq!(
        code.stdout.trim(),
        "0",
        "{}",
        d.docker(&["logs", &a]).stdout
    );
    assert_eq!(d.docker(&["logs", &a]).ok().stdout.trim(), "from-b");

    // In use: 409 like dockerd; then removed, and a new volume is empty.
    let busy = d.docker(&["volume", "rm", &v]);
    assert_ne!(busy.code, 0);
    assert!(busy.stderr.contains("volume is in use"), "{busy:?}");
    d.docker(&["rm", &a]).ok();
    d.docker(&["volume", "rm", &v]).ok();
    d.docker(&["volume", "create", &v]).ok();
    let out = d
        .docker(&["run", "--rm", "-v", &mount, "busybox", "ls", "-A", "/data"])
        .ok();
    assert_eq!(out.stdout.trim(), "", "{out:?}");

    // Several volumes: at most one environment storage write (read-write).
    for i in 0..3 {
        d.docker(&["volume", "create", &format!("{v}-{i}")]).ok();
    }
    assert_eq!(storage_writes(&d), 1);
    // `:ro` mounts through a second, read-only storage (one more write, once).
    let ro = format!("{v}:/data:ro");
    for _ in 0..2 {
        let out = d.docker(&[
            "run",
            "--rm",
            "-v",
            &ro,
            "busybox",
            "sh",
            "-c",
            "touch /data/x 2>&1 || echo refused",
        ]);
        assert!(out.stdout.contains("refused"), "{out:?}");
    }
    assert_eq!(storage_writes(&d), 2);
    let listed = d
        .docker(&["volume", "ls", "-q", "--filter", &format!("name={v}")])
        .ok();
    assert_eq!(listed.stdout.lines().count(), 4, "{listed:?}");
    d.docker(&["volume", "prune", "-af"]).ok();
    assert_eq!(d.docker(&["volume", "ls", "-q"]).ok().stdout.trim(), "");
    d.assert_nothing_left();
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn gitlab_pattern_volumes_from_and_anonymous_volumes() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let cache = unique("cache");
    let helper = unique("helper");
    // The helper writes into a named volume (created by `run`, as dockerd
    // does) and an anonymous one.
    d.docker(&[
        "run",
        "--name",
        &helper,
        "-v",
        &format!("{cache}:/cache"),
        "-v",
        "/builds",
        "busybox",
        "sh",
        "-c",
        "echo artefact > /builds/out; echo cached > /cache/c",
    ])
    .ok();
    assert!(d.docker(&["volume", "inspect", &cache]).code == 0);
    let anon = d
        .docker(&[
            "inspect",
            "-f",
            "{{range .Mounts}}{{if eq .Destination \"/builds\"}}{{.Name}}{{end}}{{end}}",
            &helper,
        ])
        .ok();
    let anon = anon.stdout.trim().to_owned();
    assert_eq!(anon.len(), 64, "anonymous volume name: {anon:?}");
    // The build container mounts them with --volumes-from and reads them.
    let out = d
        .docker(&[
            "run",
            "--rm",
            "--volumes-from",
            &helper,
            "busybox",
            "sh",
            "-c",
            "cat /builds/out /cache/c",
        ])
        .ok();
    assert_eq!(out.stdout, "artefact\ncached\n", "{out:?}\n{}", d.log());
    let out = d.docker(&[
        "run",
        "--rm",
        "--volumes-from",
        &format!("{helper}:ro"),
        "busybox",
        "sh",
        "-c",
        "echo x > /builds/out 2>&1 || echo refused",
    ]);
    assert!(out.stdout.contains("refused"), "{out:?}");
    // `rm -v` removes the anonymous volume, not the named one.
    d.docker(&["rm", "-v", &helper]).ok();
    assert_ne!(d.docker(&["volume", "inspect", &anon]).code, 0);
    d.docker(&["volume", "inspect", &cache]).ok();
    // `run --rm` removes its anonymous volumes too.
    d.docker(&["run", "--rm", "-v", "/scratch", "busybox", "true"])
        .ok();
    let left = d.docker(&["volume", "ls", "-q"]).ok();
    assert_eq!(left.stdout.trim(), cache, "{left:?}");
    d.docker(&["volume", "rm", &cache]).ok();
    d.assert_nothing_left();
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn refusals_and_tmpfs() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    let out = d.docker(&[
        "run",
        "--rm",
        "-v",
        "v1:/data",
        "--mount",
        "type=volume,src=v1,dst=/x,volume-driver=foo",
        "busybox",
        "true",
    ]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("\"foo\""), "{out:?}");
    for (args, name) in [
        (vec!["--tmpfs", "/s:size=1m"], "'size'"),
        (vec!["-v", "/tmp:/t:z"], "'z'"),
        (vec!["-v", "/tmp:/t:rshared"], "rshared"),
        (
            vec![
                "--mount",
                "type=bind,src=/tmp,dst=/t,bind-propagation=shared",
            ],
            "shared",
        ),
        (
            vec!["--mount", "type=volume,src=v2,dst=/t,volume-opt=type=nfs"],
            "driver options",
        ),
    ] {
        let mut cmd = vec!["run", "--rm"];
        cmd.extend(args.iter().copied());
        cmd.extend(["busybox", "true"]);
        let out = d.docker(&cmd);
        assert_ne!(out.code, 0, "{args:?} must be refused");
        assert!(out.stderr.contains(name), "{args:?}: {out:?}");
    }
    assert_eq!(
        d.docker(&["volume", "ls", "-q"]).ok().stdout.trim(),
        "",
        "nothing created"
    );
    let out = d
        .docker(&[
            "run",
            "--rm",
            "--tmpfs",
            "/scratch",
            "busybox",
            "sh",
            "-c",
            "echo t > /scratch/t && cat /scratch/t",
        ])
        .ok();
    assert_eq!(out.stdout.trim(), "t", "{out:?}\n{}", d.log());
    let out = d
        .docker(&[
            "run",
            "--rm",
            "--mount",
            "type=tmpfs,dst=/s",
            "busybox",
            "sh",
            "-c",
            "touch /s/x && echo ok",
        ])
        .ok();
    assert_eq!(out.stdout.trim(), "ok");
    d.assert_nothing_left();
}
