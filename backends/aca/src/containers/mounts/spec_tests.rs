//! Walks every `HostConfig.Mounts` field and enum value and every
//! `HostConfig.Binds` option of the Docker Engine API v1.44 swagger
//! (`specs/docker/engine-api-v1.44.yaml`, vendored) and checks that each is
//! honoured (it shows in the classified mount) or refused with a 400 naming
//! it: nothing is silently dropped. A field the spec gains without a case
//! here fails the test.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use sockerless_api::docker::ContainerCreateBody;

use super::*;

fn spec_text() -> String {
    let path = std::env::var("SOCKERLESS_SPECS_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../specs")
        })
        .join("docker/engine-api-v1.44.yaml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The lines of definition `name` (two-space indented key) of the swagger.
fn definition<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    let head = format!("  {name}:");
    let mut lines = text.lines().skip_while(|l| *l != head);
    lines.next();
    lines
        .take_while(|l| l.is_empty() || l.starts_with("   "))
        .collect()
}

/// Property paths (`BindOptions.Propagation`) and their enum values.
fn properties(lines: &[&str]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut in_properties: Vec<usize> = Vec::new();
    let mut in_enum: Option<(usize, String)> = None;
    for line in lines.iter().filter(|l| !l.trim().is_empty()) {
        let indent = line.len() - line.trim_start().len();
        let t = line.trim();
        if let Some((i, path)) = &in_enum {
            if indent > *i && t.starts_with("- ") {
                let v = t.trim_start_matches("- ").trim_matches('"').to_owned();
                out.entry(path.clone()).or_default().push(v);
                continue;
            }
            in_enum = None;
        }
        stack.retain(|(i, _)| *i < indent);
        in_properties.retain(|i| *i < indent);
        if t == "properties:" {
            in_properties.push(indent);
            continue;
        }
        if t == "enum:" {
            if let Some((_, path)) = stack.last() {
                in_enum = Some((indent, path.clone()));
            }
            continue;
        }
        let Some(key) = t.strip_suffix(':') else {
            continue;
        };
        let is_property = in_properties.last().is_some_and(|i| indent == i + 2)
            && key.chars().next().is_some_and(|c| c.is_ascii_uppercase());
        if is_property {
            let path = match stack.last() {
                Some((_, parent)) => format!("{parent}.{key}"),
                None => key.to_owned(),
            };
            out.entry(path.clone()).or_default();
            stack.push((indent, path));
        }
    }
    out
}

/// Options named in the `Binds` description: `` `nocopy` ``, `` `[ro|rw]` ``,
/// `` `[z|Z]` ``, `` `[[r]shared|[r]slave|[r]private]` `` expanded.
fn bind_options(text: &str) -> BTreeSet<String> {
    let host = definition(text, "HostConfig").join("\n");
    let start = host.find("Binds:").expect("Binds in HostConfig");
    let end = host[start..]
        .find("ContainerIDFile")
        .map_or(host.len(), |e| start + e);
    let doc = &host[start..end];
    let doc = &doc[doc.find("`options`").expect("options")..];
    let mut out = BTreeSet::new();
    for line in doc.lines().map(str::trim).filter(|l| l.starts_with("- `")) {
        let Some(code) = line.split('`').nth(1) else {
            continue;
        };
        let inner = code
            .strip_prefix('[')
            .and_then(|c| c.strip_suffix(']'))
            .unwrap_or(code);
        for alt in inner.split('|') {
            match alt.strip_prefix("[r]") {
                Some(base) => {
                    out.insert(base.to_owned());
                    out.insert(format!("r{base}"));
                }
                None => {
                    out.insert(alt.to_owned());
                }
            }
        }
    }
    out
}

fn with_mount(m: Value) -> Result<Classified, ApiError> {
    let body: ContainerCreateBody =
        serde_json::from_value(json!({"HostConfig": {"Mounts": [m]}})).expect("body");
    classify(&body)
}

/// What a case must produce.
enum Expect {
    /// Accepted, and this holds of the single mount.
    Honoured(fn(&MountSpec) -> bool),
    /// Refused with a 400 whose message contains this.
    Refused(&'static str),
}

fn check(what: &str, result: Result<Classified, ApiError>, expect: &Expect) {
    match (result, expect) {
        (Ok(c), Expect::Honoured(f)) => {
            assert_eq!(c.mounts.len(), 1, "{what}: {c:?}");
            assert!(f(&c.mounts[0]), "{what}: not honoured: {:?}", c.mounts[0]);
        }
        (Err(ApiError::InvalidParameter(m)), Expect::Refused(word)) => {
            assert!(
                m.contains(word),
                "{what}: refusal {m:?} does not name {word:?}"
            );
        }
        (other, Expect::Honoured(_)) => panic!("{what}: expected honoured, got {other:?}"),
        (other, Expect::Refused(w)) => panic!("{what}: expected a 400 naming {w:?}, got {other:?}"),
    }
}

#[test]
fn every_mount_field_and_bind_option_of_the_spec_is_honoured_or_refused() {
    let text = spec_text();
    let props = properties(&definition(&text, "Mount"));
    use Expect::{Honoured, Refused};
    let vol = |extra: Value| {
        let mut m = json!({"Type": "volume", "Source": "v1", "Target": "/d"});
        if let (Some(o), Some(e)) = (m.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        m
    };
    let bind = |extra: Value| {
        let mut m = json!({"Type": "bind", "Source": "/h", "Target": "/d"});
        if let (Some(o), Some(e)) = (m.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        m
    };
    let tmpfs = |extra: Value| {
        let mut m = json!({"Type": "tmpfs", "Target": "/d"});
        if let (Some(o), Some(e)) = (m.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        m
    };
    // Every spec field → cases; enum values are walked below.
    let cases: Vec<(&str, Value, Expect)> = vec![
        ("Target", vol(json!({})), Honoured(|m| m.target() == "/d")),
        (
            "Source",
            vol(json!({})),
            Honoured(|m| matches!(m, MountSpec::Volume { name, .. } if name == "v1")),
        ),
        (
            "ReadOnly",
            vol(json!({"ReadOnly": true})),
            Honoured(|m| {
                matches!(
                    m,
                    MountSpec::Volume {
                        read_only: true,
                        ..
                    }
                )
            }),
        ),
        (
            "ReadOnly",
            tmpfs(json!({"ReadOnly": true})),
            Refused("readonly"),
        ),
        (
            "Consistency",
            vol(json!({"Consistency": "cached"})),
            Refused("consistency"),
        ),
        (
            "Consistency",
            vol(json!({"Consistency": "default"})),
            Honoured(|_| true),
        ),
        (
            "BindOptions",
            vol(json!({"BindOptions": {}})),
            Refused("BindOptions"),
        ),
        (
            "BindOptions.Propagation",
            bind(json!({"BindOptions": {"Propagation": "rshared"}})),
            Refused("rshared"),
        ),
        (
            "BindOptions.NonRecursive",
            bind(json!({"BindOptions": {"NonRecursive": true}})),
            Refused("nonrecursive"),
        ),
        (
            "BindOptions.CreateMountpoint",
            bind(json!({"BindOptions": {"CreateMountpoint": true}})),
            Honoured(|m| {
                matches!(
                    m,
                    MountSpec::Bind {
                        create_missing: true,
                        ..
                    }
                )
            }),
        ),
        (
            "BindOptions.ReadOnlyNonRecursive",
            bind(json!({"ReadOnly": true, "BindOptions": {"ReadOnlyNonRecursive": true}})),
            Refused("ReadOnlyNonRecursive"),
        ),
        (
            "BindOptions.ReadOnlyForceRecursive",
            bind(json!({"ReadOnly": true, "BindOptions": {"ReadOnlyForceRecursive": true}})),
            Honoured(|m| {
                matches!(
                    m,
                    MountSpec::Bind {
                        read_only: true,
                        ..
                    }
                )
            }),
        ),
        (
            "VolumeOptions",
            bind(json!({"VolumeOptions": {}})),
            Refused("VolumeOptions"),
        ),
        // No copy-up is what sockerless-aca always does.
        (
            "VolumeOptions.NoCopy",
            vol(json!({"VolumeOptions": {"NoCopy": true}})),
            Honoured(|m| matches!(m, MountSpec::Volume { .. })),
        ),
        (
            "VolumeOptions.Labels",
            vol(json!({"VolumeOptions": {"Labels": {"a": "b"}}})),
            Honoured(
                |m| matches!(m, MountSpec::Volume { labels, .. } if labels.get("a").is_some_and(|v| v == "b")),
            ),
        ),
        (
            "VolumeOptions.DriverConfig",
            vol(json!({"VolumeOptions": {"DriverConfig": {}}})),
            Honoured(|_| true),
        ),
        (
            "VolumeOptions.DriverConfig.Name",
            vol(json!({"VolumeOptions": {"DriverConfig": {"Name": "foo"}}})),
            Refused("\"foo\""),
        ),
        (
            "VolumeOptions.DriverConfig.Name",
            vol(json!({"VolumeOptions": {"DriverConfig": {"Name": "local"}}})),
            Honoured(|_| true),
        ),
        (
            "VolumeOptions.DriverConfig.Options",
            vol(json!({"VolumeOptions": {"DriverConfig": {"Options": {"o": "x"}}}})),
            Refused("driver options"),
        ),
        (
            "TmpfsOptions",
            vol(json!({"TmpfsOptions": {}})),
            Refused("TmpfsOptions"),
        ),
        (
            "TmpfsOptions.SizeBytes",
            tmpfs(json!({"TmpfsOptions": {"SizeBytes": 1024}})),
            Refused("tmpfs-size"),
        ),
        (
            "TmpfsOptions.Mode",
            tmpfs(json!({"TmpfsOptions": {"Mode": 493}})),
            Refused("tmpfs-mode"),
        ),
        (
            "Type",
            tmpfs(json!({})),
            Honoured(|m| matches!(m, MountSpec::Tmpfs { .. })),
        ),
    ];
    let covered: BTreeSet<&str> = cases.iter().map(|(p, _, _)| *p).collect();
    for path in props.keys() {
        assert!(
            covered.contains(path.as_str()),
            "spec field Mount.{path} has no case"
        );
    }
    for (path, m, expect) in &cases {
        check(path, with_mount(m.clone()), expect);
    }
    // Enum values.
    let types = props.get("Type").expect("Type enum");
    assert!(types.len() >= 5, "{types:?}");
    for t in types {
        let m = match t.as_str() {
            "tmpfs" => tmpfs(json!({})),
            "bind" => bind(json!({})),
            _ => json!({"Type": t, "Source": "src", "Target": "/d"}),
        };
        let expect = match t.as_str() {
            "bind" => Honoured(|m| matches!(m, MountSpec::Bind { .. })),
            "volume" => Honoured(|m| matches!(m, MountSpec::Volume { .. })),
            "tmpfs" => Honoured(|m| matches!(m, MountSpec::Tmpfs { .. })),
            "npipe" => Refused("\"npipe\""),
            "cluster" => Refused("\"cluster\""),
            other => panic!("Mount.Type {other:?} has no case"),
        };
        check(&format!("Type={t}"), with_mount(m), &expect);
    }
    let propagations = props
        .get("BindOptions.Propagation")
        .expect("Propagation enum");
    assert_eq!(propagations.len(), 6, "{propagations:?}");
    for p in propagations {
        let m = bind(json!({"BindOptions": {"Propagation": p}}));
        let refused = with_mount(m).expect_err("propagation is refused");
        assert!(
            refused.message().contains(p.as_str()) && refused.message().contains("propagation"),
            "{refused:?}"
        );
    }

    // Binds options.
    let options = bind_options(&text);
    let expected: BTreeSet<String> = [
        "nocopy", "ro", "rw", "z", "Z", "shared", "rshared", "slave", "rslave", "private",
        "rprivate",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(options, expected, "the Binds options of the spec");
    for opt in &options {
        let on_volume = parse_bind(&format!("v1:/d:{opt}"));
        let on_bind = parse_bind(&format!("/h:/d:{opt}"));
        match opt.as_str() {
            "ro" => {
                assert!(matches!(
                    on_volume,
                    Ok(MountSpec::Volume {
                        read_only: true,
                        ..
                    })
                ));
                assert!(matches!(
                    on_bind,
                    Ok(MountSpec::Bind {
                        read_only: true,
                        ..
                    })
                ));
            }
            "rw" => {
                assert!(matches!(
                    on_volume,
                    Ok(MountSpec::Volume {
                        read_only: false,
                        ..
                    })
                ));
                assert!(matches!(
                    on_bind,
                    Ok(MountSpec::Bind {
                        read_only: false,
                        ..
                    })
                ));
            }
            "nocopy" => {
                assert!(
                    matches!(on_volume, Ok(MountSpec::Volume { .. })),
                    "{on_volume:?}"
                );
                assert!(
                    on_bind
                        .expect_err("only for volumes")
                        .message()
                        .contains("nocopy")
                );
            }
            _ => {
                for r in [on_volume, on_bind] {
                    let e = r.expect_err("refused");
                    assert!(
                        matches!(e, ApiError::InvalidParameter(_))
                            && e.message().contains(&format!("'{opt}'")),
                        "{opt}: {e:?}"
                    );
                }
            }
        }
    }
}
