//! Tests of the mount classification at create.

use std::collections::HashMap;

use sockerless_api::docker::{
    ContainerCreateBody, HostConfig, Mount, MountBindOptions, MountBindOptionsPropagationEnum,
    MountTmpfsOptions, MountType, MountVolumeOptions, MountVolumeOptionsDriverConfig,
};

use super::*;

fn body(host: HostConfig) -> ContainerCreateBody {
    ContainerCreateBody {
        host_config: Some(host),
        ..Default::default()
    }
}

fn binds(b: &[&str]) -> Result<Classified, ApiError> {
    classify(&body(HostConfig {
        binds: Some(b.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    }))
}

fn mount(m: Mount) -> Result<Classified, ApiError> {
    classify(&body(HostConfig {
        mounts: Some(vec![m]),
        ..Default::default()
    }))
}

fn mnt(typ: MountType, src: &str, dst: &str) -> Mount {
    Mount {
        typ: Some(typ),
        source: (!src.is_empty()).then(|| src.to_owned()),
        target: Some(dst.to_owned()),
        ..Default::default()
    }
}

fn vol(name: &str, target: &str, ro: bool) -> MountSpec {
    MountSpec::Volume {
        name: name.into(),
        target: target.into(),
        read_only: ro,
        anonymous: name.is_empty(),
        labels: BTreeMap::new(),
    }
}

/// The message of a refusal; it must be a 400.
fn refused(r: Result<Classified, ApiError>) -> String {
    match r {
        Err(e @ ApiError::InvalidParameter(_)) => e.message().to_owned(),
        other => panic!("expected a 400 refusal, got {other:?}"),
    }
}

fn one(r: Result<Classified, ApiError>) -> MountSpec {
    let c = r.expect("accepted");
    assert_eq!(c.mounts.len(), 1, "{c:?}");
    c.mounts[0].clone()
}

#[test]
fn binds_every_form_of_the_v1_44_spec() {
    // `volume-name:container-dest[:options]`
    assert_eq!(one(binds(&["v1:/data"])), vol("v1", "/data", false));
    assert_eq!(one(binds(&["v1:/data:ro"])), vol("v1", "/data", true));
    assert_eq!(one(binds(&["v1:/data:rw"])), vol("v1", "/data", false));
    assert_eq!(one(binds(&["v1:/data:nocopy"])), vol("v1", "/data", false));
    assert_eq!(
        one(binds(&["v1:/data:ro,nocopy"])),
        vol("v1", "/data", true)
    );
    // `host-src:container-dest[:options]`
    let bind = |ro| MountSpec::Bind {
        host_path: "/src".into(),
        target: "/w".into(),
        read_only: ro,
        create_missing: true,
    };
    assert_eq!(one(binds(&["/src:/w"])), bind(false));
    assert_eq!(one(binds(&["/src/:/w/:ro"])), bind(true));
    assert_eq!(one(binds(&["/src:/w:rw"])), bind(false));
    // A lone destination is an anonymous volume.
    assert_eq!(one(binds(&["/anon"])), vol("", "/anon", false));
    // SELinux labels, propagation and consistency are refused by name.
    for opt in ["z", "Z"] {
        assert!(refused(binds(&[&format!("/src:/w:{opt}")])).contains(&format!("'{opt}'")));
    }
    for p in [
        "shared", "rshared", "slave", "rslave", "private", "rprivate",
    ] {
        let m = refused(binds(&[&format!("/src:/w:{p}")]));
        assert!(m.contains("propagation") && m.contains(p), "{m}");
    }
    for c in ["cached", "delegated", "consistent"] {
        assert!(refused(binds(&[&format!("/src:/w:{c}")])).contains("consistency"));
    }
    assert!(refused(binds(&["/src:/w:nocopy"])).contains("invalid mode: nocopy"));
    assert!(refused(binds(&["v1:/data:bogus"])).contains("invalid mode: bogus"));
    assert!(refused(binds(&["v1:data"])).contains("must be absolute"));
    assert!(refused(binds(&["a:b:c:d"])).contains("invalid volume specification"));
    assert!(refused(binds(&["v1:/"])).contains("destination can't be '/'"));
    assert!(refused(binds(&["b@d:/x"])).contains("invalid characters"));
    assert!(refused(binds(&["v1:/x", "v2:/x"])).contains("Duplicate mount point: /x"));
}

#[test]
fn docker_socket_binds() {
    for src in ["/var/run/docker.sock", "/run/docker.sock"] {
        let spec = format!("{src}:/var/run/docker.sock");
        assert_eq!(
            one(binds(&[&spec])),
            MountSpec::DockerSocket {
                host_path: src.into(),
                target: "/var/run/docker.sock".into(),
                read_only: false
            }
        );
    }
    let m = one(mount(mnt(
        MountType::BIND,
        "/var/run/docker.sock",
        "/s.sock",
    )));
    assert!(matches!(m, MountSpec::DockerSocket { ref target, .. } if target == "/s.sock"));
}

#[test]
fn mounts_every_type_of_the_v1_44_spec() {
    // bind
    let m = one(mount(Mount {
        read_only: Some(true),
        ..mnt(MountType::BIND, "/src", "/w")
    }));
    assert_eq!(
        m,
        MountSpec::Bind {
            host_path: "/src".into(),
            target: "/w".into(),
            read_only: true,
            create_missing: false
        }
    );
    let m = one(mount(Mount {
        bind_options: Some(MountBindOptions {
            create_mountpoint: Some(true),
            read_only_force_recursive: Some(true),
            ..Default::default()
        }),
        ..mnt(MountType::BIND, "/src", "/w")
    }));
    assert!(matches!(
        m,
        MountSpec::Bind {
            create_missing: true,
            ..
        }
    ));
    // volume, named and anonymous, with labels and NoCopy
    assert_eq!(
        one(mount(mnt(MountType::VOLUME, "v1", "/d"))),
        vol("v1", "/d", false)
    );
    assert_eq!(
        one(mount(mnt(MountType::VOLUME, "", "/d"))),
        vol("", "/d", false)
    );
    let m = one(mount(Mount {
        volume_options: Some(MountVolumeOptions {
            no_copy: Some(true),
            labels: Some([("a".to_owned(), "b".to_owned())].into()),
            driver_config: Some(MountVolumeOptionsDriverConfig {
                name: Some("local".into()),
                options: None,
            }),
            subpath: None,
        }),
        ..mnt(MountType::VOLUME, "v1", "/d")
    }));
    assert!(
        matches!(m, MountSpec::Volume { ref labels, .. } if labels.get("a").map(String::as_str) == Some("b"))
    );
    // tmpfs
    assert_eq!(
        one(mount(mnt(MountType::TMPFS, "", "/t"))),
        MountSpec::Tmpfs {
            target: "/t".into(),
            options: vec![]
        }
    );
    // npipe, cluster (and image, newer than v1.44) are refused by name
    for t in [MountType::NPIPE, MountType::CLUSTER, MountType::IMAGE] {
        let m = refused(mount(mnt(t, "x", "/x")));
        assert!(m.contains(&format!("\"{t}\"")), "{m}");
    }
    assert!(
        refused(mount(Mount {
            typ: None,
            ..mnt(MountType::BIND, "/a", "/b")
        }))
        .contains("mount type unknown")
    );
}

#[test]
fn mount_options_that_cannot_be_honoured_are_refused_by_name() {
    let with_bind = |b: MountBindOptions| Mount {
        bind_options: Some(b),
        ..mnt(MountType::BIND, "/src", "/w")
    };
    for p in [
        MountBindOptionsPropagationEnum::PRIVATE,
        MountBindOptionsPropagationEnum::RPRIVATE,
        MountBindOptionsPropagationEnum::SHARED,
        MountBindOptionsPropagationEnum::RSHARED,
        MountBindOptionsPropagationEnum::SLAVE,
        MountBindOptionsPropagationEnum::RSLAVE,
    ] {
        let m = refused(mount(with_bind(MountBindOptions {
            propagation: Some(p),
            ..Default::default()
        })));
        assert!(m.contains("propagation") && m.contains(p.as_ref()), "{m}");
    }
    assert!(
        refused(mount(with_bind(MountBindOptions {
            non_recursive: Some(true),
            ..Default::default()
        })))
        .contains("bind-nonrecursive")
    );
    assert!(
        refused(mount(with_bind(MountBindOptions {
            read_only_non_recursive: Some(true),
            ..Default::default()
        })))
        .contains("ReadOnlyNonRecursive")
    );
    for c in ["consistent", "cached", "delegated"] {
        let m = refused(mount(Mount {
            consistency: Some(c.into()),
            ..mnt(MountType::VOLUME, "v1", "/d")
        }));
        assert!(m.contains("consistency") && m.contains(c), "{m}");
    }
    assert!(
        one(mount(Mount {
            consistency: Some("default".into()),
            ..mnt(MountType::VOLUME, "v1", "/d")
        })) == vol("v1", "/d", false)
    );
    let driver = |name: &str, opts: Option<HashMap<String, String>>| Mount {
        volume_options: Some(MountVolumeOptions {
            driver_config: Some(MountVolumeOptionsDriverConfig {
                name: Some(name.into()),
                options: opts,
            }),
            ..Default::default()
        }),
        ..mnt(MountType::VOLUME, "v1", "/x")
    };
    assert!(refused(mount(driver("foo", None))).contains("volume driver \"foo\""));
    let m = refused(mount(driver(
        "local",
        Some([("type".into(), "nfs".into())].into()),
    )));
    assert!(m.contains("driver options (type)"), "{m}");
    assert!(
        refused(mount(Mount {
            volume_options: Some(MountVolumeOptions {
                subpath: Some("a".into()),
                ..Default::default()
            }),
            ..mnt(MountType::VOLUME, "v1", "/x")
        }))
        .contains("Subpath")
    );
    // Options of one type on another are refused as dockerd does.
    assert!(
        refused(mount(Mount {
            volume_options: Some(MountVolumeOptions::default()),
            ..mnt(MountType::BIND, "/a", "/b")
        }))
        .contains("VolumeOptions must not be specified")
    );
    assert!(
        refused(mount(Mount {
            bind_options: Some(MountBindOptions::default()),
            ..mnt(MountType::VOLUME, "v", "/b")
        }))
        .contains("BindOptions must not be specified")
    );
    assert!(
        refused(mount(Mount {
            tmpfs_options: Some(MountTmpfsOptions::default()),
            ..mnt(MountType::VOLUME, "v", "/b")
        }))
        .contains("TmpfsOptions must not be specified")
    );
    assert!(
        refused(mount(mnt(MountType::TMPFS, "x", "/t"))).contains("Source must not be specified")
    );
    let tmpfs = |t: MountTmpfsOptions| Mount {
        tmpfs_options: Some(t),
        ..mnt(MountType::TMPFS, "", "/t")
    };
    assert!(
        refused(mount(tmpfs(MountTmpfsOptions {
            size_bytes: Some(1 << 20),
            ..Default::default()
        })))
        .contains("'tmpfs-size'")
    );
    assert!(
        refused(mount(tmpfs(MountTmpfsOptions {
            mode: Some(0o1777),
            ..Default::default()
        })))
        .contains("'tmpfs-mode'")
    );
    assert!(
        refused(mount(Mount {
            read_only: Some(true),
            ..mnt(MountType::TMPFS, "", "/t")
        }))
        .contains("readonly")
    );
    assert!(refused(mount(mnt(MountType::BIND, "", "/t"))).contains("Source must not be empty"));
    assert!(refused(mount(mnt(MountType::BIND, "rel", "/t"))).contains("must be absolute"));
    assert!(refused(mount(mnt(MountType::VOLUME, "v", ""))).contains("Target must not be empty"));
    assert!(refused(mount(mnt(MountType::VOLUME, "v", "/a:b"))).contains("':'"));
}

#[test]
fn tmpfs_map_and_options() {
    let t = |opts: &str| {
        classify(&body(HostConfig {
            tmpfs: Some([("/run".to_owned(), opts.to_owned())].into()),
            ..Default::default()
        }))
    };
    assert_eq!(
        one(t("")),
        MountSpec::Tmpfs {
            target: "/run".into(),
            options: vec![]
        }
    );
    assert_eq!(
        one(t("rw,exec")),
        MountSpec::Tmpfs {
            target: "/run".into(),
            options: vec!["rw".into(), "exec".into()]
        }
    );
    for (opts, name) in [
        ("rw,noexec,nosuid,size=65536k", "'noexec'"),
        ("size=64m", "'size'"),
        ("mode=1777", "'mode'"),
        ("ro", "'ro'"),
        ("uid=1000", "'uid'"),
        ("tmpcopyup", "'tmpcopyup'"),
    ] {
        let m = refused(t(opts));
        assert!(m.contains(name) && m.contains("EmptyDir"), "{opts}: {m}");
    }
}

#[test]
fn volume_driver_and_volumes_from() {
    let m = refused(classify(&body(HostConfig {
        volume_driver: Some("flocker".into()),
        ..Default::default()
    })));
    assert!(m.contains("\"flocker\""));
    let c = classify(&body(HostConfig {
        volume_driver: Some("local".into()),
        volumes_from: Some(vec!["a".into(), "b:ro".into(), "c:rw".into()]),
        ..Default::default()
    }))
    .expect("ok");
    assert_eq!(
        c.volumes_from,
        vec![
            VolumesFrom {
                container: "a".into(),
                read_only: None
            },
            VolumesFrom {
                container: "b".into(),
                read_only: Some(true)
            },
            VolumesFrom {
                container: "c".into(),
                read_only: Some(false)
            },
        ]
    );
    assert!(
        refused(classify(&body(HostConfig {
            volumes_from: Some(vec!["a:z".into()]),
            ..Default::default()
        })))
        .contains("invalid mode: z")
    );
}

#[test]
fn config_volumes_are_anonymous_unless_covered() {
    let c = classify(&ContainerCreateBody {
        volumes: Some(vec!["/data".into(), "/cache".into(), "/from".into()]),
        host_config: Some(HostConfig {
            binds: Some(vec!["named:/data".into()]),
            ..Default::default()
        }),
        ..Default::default()
    })
    .expect("ok");
    assert_eq!(c.mounts, vec![vol("named", "/data", false)]);
    assert_eq!(
        c.anonymous_targets,
        vec!["/cache".to_owned(), "/from".to_owned()]
    );
    // `/from` comes from the other container (read-only by `:ro`), `/data`
    // stays the own mount, `/cache` is anonymous.
    let other = vec![
        vol("theirs", "/from", false),
        vol("x", "/data", false),
        MountSpec::Tmpfs {
            target: "/tmp".into(),
            options: vec![],
        },
    ];
    let all = assemble(&c, &[(other, Some(true))]);
    assert_eq!(
        all,
        vec![
            vol("named", "/data", false),
            vol("theirs", "/from", true),
            vol("", "/cache", false),
        ]
    );
}
