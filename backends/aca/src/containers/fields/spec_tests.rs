//! Walks every create-body field of the Docker Engine API v1.44 swagger
//! (`ContainerConfig`, `HostConfig` with `Resources`, `EndpointSettings`)
//! and checks `FIELDS` decides each exactly once; that each refused field is
//! refused, naming it, with a sample value (also after the typed body's round
//! trip, so the refusal is reachable from create); that what Docker CLI and
//! Compose send by default passes; and that the README's table is `FIELDS`.

use std::collections::BTreeSet;

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
    assert!(lines.next().is_some(), "definition {name} not in the spec");
    lines
        .take_while(|l| l.is_empty() || l.starts_with("   "))
        .collect()
}

/// Property paths of a definition: its properties and those of inline
/// objects in its place (`LogConfig.Type`, not `LogConfig`), not those of
/// array items (`Ulimits` is one field).
fn properties(lines: &[&str]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut in_properties: Vec<usize> = Vec::new();
    let mut in_items: Vec<usize> = Vec::new();
    for line in lines.iter().filter(|l| !l.trim().is_empty()) {
        let indent = line.len() - line.trim_start().len();
        let t = line.trim();
        stack.retain(|(i, _)| *i < indent);
        in_properties.retain(|i| *i < indent);
        in_items.retain(|i| *i < indent);
        match t {
            "properties:" => in_properties.push(indent),
            "items:" => in_items.push(indent),
            _ => {}
        }
        let Some(key) = t.strip_suffix(':') else {
            continue;
        };
        let is_property = in_properties.last().is_some_and(|i| indent == i + 2)
            && key.chars().next().is_some_and(|c| c.is_ascii_uppercase());
        if is_property && in_items.is_empty() {
            let path = match stack.last() {
                Some((_, parent)) => format!("{parent}.{key}"),
                None => key.to_owned(),
            };
            out.insert(path.clone());
            stack.push((indent, path));
        }
    }
    // An inline object is decided through its members.
    let parents: BTreeSet<String> = out
        .iter()
        .filter_map(|p| p.rsplit_once('.').map(|(parent, _)| parent.to_owned()))
        .collect();
    out.retain(|p| !parents.contains(p));
    out
}

/// Every field path of the create body, as `FIELDS` spells them.
fn spec_paths() -> BTreeSet<String> {
    let text = spec_text();
    let networking = properties(&definition(&text, "NetworkingConfig"));
    assert_eq!(
        networking,
        BTreeSet::from(["EndpointsConfig".to_owned()]),
        "NetworkingConfig changed: decide its new fields"
    );
    let mut out = properties(&definition(&text, "ContainerConfig"));
    for name in ["Resources", "HostConfig"] {
        let props = properties(&definition(&text, name));
        out.extend(props.into_iter().map(|p| format!("HostConfig.{p}")));
    }
    let endpoint = properties(&definition(&text, "EndpointSettings"));
    out.extend(
        endpoint
            .into_iter()
            .map(|p| format!("NetworkingConfig.EndpointsConfig.*.{p}")),
    );
    out
}

#[test]
fn every_spec_field_is_decided_once_and_nothing_else_is() {
    let spec = spec_paths();
    assert!(spec.contains("HostConfig.Privileged") && spec.contains("HostConfig.NanoCpus"));
    assert!(
        spec.contains("HostConfig.LogConfig.Type") && !spec.contains("HostConfig.Ulimits.Name")
    );
    let table: Vec<&str> = FIELDS.iter().map(|f| f.path).collect();
    let unique: BTreeSet<String> = table.iter().map(|p| (*p).to_owned()).collect();
    assert_eq!(unique.len(), table.len(), "a field is listed twice");
    let undecided: Vec<_> = spec.difference(&unique).collect();
    let unknown: Vec<_> = unique.difference(&spec).collect();
    assert!(
        undecided.is_empty(),
        "spec fields without a decision: {undecided:?}"
    );
    assert!(
        unknown.is_empty(),
        "FIELDS entries not in the spec: {unknown:?}"
    );
}

/// `body` with `v` at `path` (`*` is network `mynet`), objects made as needed.
fn with(mut body: Value, path: &str, v: Value) -> Value {
    let keys: Vec<&str> = path
        .split('.')
        .map(|k| if k == "*" { "mynet" } else { k })
        .collect();
    let mut at = &mut body;
    for k in &keys[..keys.len() - 1] {
        at = at
            .as_object_mut()
            .expect("object")
            .entry(*k)
            .or_insert_with(|| json!({}));
    }
    at[keys[keys.len() - 1]] = v;
    body
}

/// A value each refused field refuses, with what else the body needs.
fn refused_samples() -> Vec<(&'static str, Value, Value)> {
    let base = json!({"Image": "busybox"});
    let shell_check = json!({"Image": "busybox", "Healthcheck": {"Test": ["CMD-SHELL", "true"]}});
    vec![
        ("NetworkDisabled", json!(true), base.clone()),
        ("Shell", json!(["/bin/bash", "-c"]), shell_check),
        ("HostConfig.CgroupParent", json!("/mine"), base.clone()),
        ("HostConfig.BlkioWeight", json!(300), base.clone()),
        (
            "HostConfig.BlkioWeightDevice",
            json!([{"Path": "/dev/sda", "Weight": 200}]),
            base.clone(),
        ),
        (
            "HostConfig.BlkioDeviceReadBps",
            json!([{"Path": "/dev/sda", "Rate": 1024}]),
            base.clone(),
        ),
        (
            "HostConfig.BlkioDeviceWriteBps",
            json!([{"Path": "/dev/sda", "Rate": 1024}]),
            base.clone(),
        ),
        (
            "HostConfig.BlkioDeviceReadIOps",
            json!([{"Path": "/dev/sda", "Rate": 10}]),
            base.clone(),
        ),
        (
            "HostConfig.BlkioDeviceWriteIOps",
            json!([{"Path": "/dev/sda", "Rate": 10}]),
            base.clone(),
        ),
        ("HostConfig.CpuPeriod", json!(100_000), base.clone()),
        ("HostConfig.CpuQuota", json!(50_000), base.clone()),
        (
            "HostConfig.CpuRealtimePeriod",
            json!(1_000_000),
            base.clone(),
        ),
        (
            "HostConfig.CpuRealtimeRuntime",
            json!(950_000),
            base.clone(),
        ),
        ("HostConfig.CpusetCpus", json!("0-1"), base.clone()),
        ("HostConfig.CpusetMems", json!("0"), base.clone()),
        (
            "HostConfig.Devices",
            json!([{"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/fuse", "CgroupPermissions": "rwm"}]),
            base.clone(),
        ),
        (
            "HostConfig.DeviceCgroupRules",
            json!(["c 1:3 mr"]),
            base.clone(),
        ),
        (
            "HostConfig.DeviceRequests",
            json!([{"Driver": "nvidia", "Count": -1, "Capabilities": [["gpu"]]}]),
            base.clone(),
        ),
        ("HostConfig.OomKillDisable", json!(true), base.clone()),
        ("HostConfig.PidsLimit", json!(100), base.clone()),
        ("HostConfig.IOMaximumIOps", json!(100), base.clone()),
        ("HostConfig.IOMaximumBandwidth", json!(1024), base.clone()),
        ("HostConfig.LogConfig.Type", json!("syslog"), base.clone()),
        ("HostConfig.NetworkMode", json!("host"), base.clone()),
        ("HostConfig.CapAdd", json!(["NET_ADMIN"]), base.clone()),
        ("HostConfig.CapDrop", json!(["ALL"]), base.clone()),
        ("HostConfig.CgroupnsMode", json!("host"), base.clone()),
        ("HostConfig.IpcMode", json!("host"), base.clone()),
        ("HostConfig.Cgroup", json!("host"), base.clone()),
        ("HostConfig.PidMode", json!("host"), base.clone()),
        ("HostConfig.Privileged", json!(true), base.clone()),
        ("HostConfig.ReadonlyRootfs", json!(true), base.clone()),
        (
            "HostConfig.SecurityOpt",
            json!(["no-new-privileges"]),
            base.clone(),
        ),
        (
            "HostConfig.StorageOpt",
            json!({"size": "10G"}),
            base.clone(),
        ),
        ("HostConfig.UTSMode", json!("host"), base.clone()),
        ("HostConfig.UsernsMode", json!("host"), base.clone()),
        ("HostConfig.ShmSize", json!(2_147_483_648_i64), base.clone()),
        (
            "HostConfig.Sysctls",
            json!({"net.ipv4.ip_forward": "1"}),
            base.clone(),
        ),
        ("HostConfig.Runtime", json!("nvidia"), base.clone()),
        ("HostConfig.Isolation", json!("hyperv"), base.clone()),
        (
            "HostConfig.MaskedPaths",
            json!(["/proc/kcore"]),
            base.clone(),
        ),
        (
            "HostConfig.ReadonlyPaths",
            json!(["/proc/sys"]),
            base.clone(),
        ),
        (
            "NetworkingConfig.EndpointsConfig.*.IPAMConfig",
            json!({"IPv6Address": "2001:db8::5"}),
            base.clone(),
        ),
        (
            "NetworkingConfig.EndpointsConfig.*.Links",
            json!(["db:database"]),
            base.clone(),
        ),
        (
            "NetworkingConfig.EndpointsConfig.*.DriverOpts",
            json!({"com.example.opt": "1"}),
            base,
        ),
    ]
}

fn refusal(body: &Value) -> Option<String> {
    match check(body) {
        Ok(()) => None,
        Err(ApiError::InvalidParameter(m)) => Some(m),
        Err(e) => panic!("not a 400: {e:?}"),
    }
}

/// The body as create checks it: through the typed `ContainerCreateBody`.
fn typed(body: &Value) -> Value {
    let typed: ContainerCreateBody = serde_json::from_value(body.clone()).expect("typed body");
    serde_json::to_value(&typed).expect("encode")
}

#[test]
fn every_refused_field_is_refused_naming_it() {
    let samples = refused_samples();
    let sampled: BTreeSet<&str> = samples.iter().map(|(p, _, _)| *p).collect();
    for field in FIELDS {
        let refused = matches!(field.disposition, Disposition::Refused(..));
        assert_eq!(
            refused,
            sampled.contains(field.path),
            "sample for {}",
            field.path
        );
    }
    for (path, v, base) in samples {
        let body = with(base.clone(), path, v);
        let named = path.replace('*', "mynet");
        for (how, b) in [("raw", body.clone()), ("typed", typed(&body))] {
            let m = refusal(&b).unwrap_or_else(|| panic!("{how} {path}: accepted"));
            assert!(m.starts_with(&named), "{how} {path}: {m:?}");
            assert!(m.contains("not supported"), "{how} {path}: {m:?}");
        }
        assert_eq!(refusal(&base), None, "{path}: base alone");
    }
    let m = refusal(&with(
        json!({}),
        "HostConfig.NetworkMode",
        json!("container:abc"),
    ));
    assert!(m.is_some_and(|m| m.contains("HostConfig.NetworkMode \"container:abc\"")));
}

/// `docker run busybox` (Docker CLI 25): HostConfig full of zero values.
fn docker_cli_body() -> Value {
    serde_json::from_str(
        r#"{
        "Hostname": "", "Domainname": "", "User": "", "AttachStdin": false,
        "AttachStdout": true, "AttachStderr": true, "Tty": false, "OpenStdin": false,
        "StdinOnce": false, "Env": [], "Cmd": null, "Image": "busybox", "Volumes": {},
        "WorkingDir": "", "Entrypoint": null, "OnBuild": null, "Labels": {},
        "HostConfig": {
            "Binds": null, "ContainerIDFile": "", "LogConfig": {"Type": "", "Config": {}},
            "NetworkMode": "default", "PortBindings": {},
            "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}, "AutoRemove": false,
            "VolumeDriver": "", "VolumesFrom": null, "ConsoleSize": [48, 200], "CapAdd": null,
            "CapDrop": null, "CgroupnsMode": "", "Dns": [], "DnsOptions": [], "DnsSearch": [],
            "ExtraHosts": null, "GroupAdd": null, "IpcMode": "", "Cgroup": "", "Links": null,
            "OomScoreAdj": 0, "PidMode": "", "Privileged": false, "PublishAllPorts": false,
            "ReadonlyRootfs": false, "SecurityOpt": null, "UTSMode": "", "UsernsMode": "",
            "ShmSize": 0, "Isolation": "", "CpuShares": 0, "Memory": 0, "NanoCpus": 0,
            "CgroupParent": "", "BlkioWeight": 0, "BlkioWeightDevice": [],
            "BlkioDeviceReadBps": [], "BlkioDeviceWriteBps": [], "BlkioDeviceReadIOps": [],
            "BlkioDeviceWriteIOps": [], "CpuPeriod": 0, "CpuQuota": 0, "CpuRealtimePeriod": 0,
            "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "", "Devices": [],
            "DeviceCgroupRules": null, "DeviceRequests": null, "MemoryReservation": 0,
            "MemorySwap": 0, "MemorySwappiness": null, "OomKillDisable": false,
            "PidsLimit": null, "Ulimits": [], "CpuCount": 0, "CpuPercent": 0,
            "IOMaximumIOps": 0, "IOMaximumBandwidth": 0, "MaskedPaths": null,
            "ReadonlyPaths": null
        },
        "NetworkingConfig": {"EndpointsConfig": {}}
    }"#,
    )
    .expect("JSON")
}

/// A Compose v2 service on its project network, with a published port.
fn compose_body() -> Value {
    serde_json::from_str(
        r#"{
        "Hostname": "", "Domainname": "", "User": "", "AttachStdin": false,
        "AttachStdout": true, "AttachStderr": true, "ExposedPorts": {"80/tcp": {}},
        "Tty": false, "OpenStdin": false, "StdinOnce": false, "Env": ["A=b"], "Cmd": null,
        "Image": "nginx", "Volumes": null, "WorkingDir": "", "Entrypoint": null,
        "OnBuild": null, "Labels": {"com.docker.compose.project": "demo"},
        "HostConfig": {
            "Binds": null, "ContainerIDFile": "", "LogConfig": {"Type": "", "Config": null},
            "NetworkMode": "demo_default",
            "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]},
            "RestartPolicy": {"Name": "", "MaximumRetryCount": 0}, "AutoRemove": false,
            "VolumeDriver": "", "VolumesFrom": null, "ConsoleSize": [0, 0], "CapAdd": null,
            "CapDrop": null, "CgroupnsMode": "", "Dns": null, "DnsOptions": null,
            "DnsSearch": null, "ExtraHosts": [], "GroupAdd": null, "IpcMode": "",
            "Cgroup": "", "Links": null, "OomScoreAdj": 0, "PidMode": "", "Privileged": false,
            "PublishAllPorts": false, "ReadonlyRootfs": false, "SecurityOpt": null,
            "UTSMode": "", "UsernsMode": "", "ShmSize": 0, "Sysctls": {}, "Runtime": "",
            "Isolation": "", "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CgroupParent": "",
            "BlkioWeight": 0, "BlkioWeightDevice": null, "CpuPeriod": 0, "CpuQuota": 0,
            "CpusetCpus": "", "CpusetMems": "", "Devices": null, "DeviceRequests": null,
            "MemoryReservation": 0, "MemorySwap": 0, "MemorySwappiness": null,
            "OomKillDisable": null, "PidsLimit": null, "Ulimits": null, "Init": null,
            "Mounts": [], "MaskedPaths": null, "ReadonlyPaths": null
        },
        "NetworkingConfig": {"EndpointsConfig": {"demo_default": {
            "IPAMConfig": null, "Links": null, "Aliases": ["web", "demo-web-1"],
            "MacAddress": "", "DriverOpts": null, "NetworkID": "", "EndpointID": "",
            "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
            "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DNSNames": null
        }}}
    }"#,
    )
    .expect("JSON")
}

#[test]
fn what_clients_send_by_default_and_accepted_values_pass() {
    for (name, body) in [
        ("docker run", docker_cli_body()),
        ("compose", compose_body()),
    ] {
        assert_eq!(refusal(&body), None, "{name}");
        assert_eq!(refusal(&typed(&body)), None, "{name} typed");
    }
    let accepted = [
        ("HostConfig.NetworkMode", json!("bridge")),
        ("HostConfig.NetworkMode", json!("none")),
        ("HostConfig.NetworkMode", json!("my-net")),
        ("HostConfig.RestartPolicy", json!({"Name": "no"})),
        ("HostConfig.LogConfig.Type", json!("json-file")),
        ("HostConfig.LogConfig.Type", json!("none")),
        ("HostConfig.Runtime", json!("runc")),
        ("HostConfig.Isolation", json!("default")),
        ("HostConfig.IpcMode", json!("shareable")),
        ("HostConfig.CgroupnsMode", json!("private")),
        ("HostConfig.PidsLimit", json!(-1)),
        ("HostConfig.PidsLimit", json!(0)),
        ("Shell", json!(["/bin/bash", "-c"])),
        ("HostConfig.Init", json!(true)),
        (
            "NetworkingConfig.EndpointsConfig.*.IPAMConfig",
            json!({"IPv4Address": "172.20.0.5", "IPv6Address": "", "LinkLocalIPs": []}),
        ),
    ];
    for (path, v) in accepted {
        let body = with(docker_cli_body(), path, v.clone());
        assert_eq!(refusal(&body), None, "{path} = {v}");
    }
    // Portainer's create: the default set added, the rest dropped (no-ops).
    let caps = with(
        docker_cli_body(),
        "HostConfig.CapAdd",
        json!(["CHOWN", "cap_kill"]),
    );
    let caps = with(
        caps,
        "HostConfig.CapDrop",
        json!(["SYS_ADMIN", "NET_ADMIN"]),
    );
    assert_eq!(refusal(&caps), None, "no-op capabilities");
    for (path, v) in [
        ("HostConfig.CapAdd", json!(["ALL"])),
        ("HostConfig.CapDrop", json!(["CHOWN"])),
        ("HostConfig.CapDrop", json!(["ALL"])),
    ] {
        let m = refusal(&with(docker_cli_body(), path, v.clone()));
        assert!(m.is_some_and(|m| m.starts_with(path)), "{path} = {v}");
    }
    let shell = with(docker_cli_body(), "Shell", json!(["/bin/sh", "-c"]));
    let shell = with(shell, "Healthcheck", json!({"Test": ["CMD-SHELL", "true"]}));
    assert_eq!(refusal(&shell), None, "the agent's own shell");
    // `docker run --network mynet --link db:database` sends the link in both.
    let linked = with(
        docker_cli_body(),
        "HostConfig.Links",
        json!(["db:database"]),
    );
    let linked = with(
        linked,
        "NetworkingConfig.EndpointsConfig.*.Links",
        json!(["db:database"]),
    );
    assert_eq!(refusal(&linked), None, "links in both");
}

#[test]
fn the_readme_table_is_fields() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).expect("README");
    let begin = "<!-- fields:begin -->\n";
    let start = readme.find(begin).expect("fields:begin marker") + begin.len();
    let end = readme
        .find("<!-- fields:end -->")
        .expect("fields:end marker");
    let table = markdown_table();
    assert!(
        readme.get(start..end) == Some(table.as_str()),
        "README table differs from FIELDS; expected:\n{table}"
    );
}
