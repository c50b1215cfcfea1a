//! `complete` on sample bodies: set keys kept, missing ones given dockerd's
//! unset value, endpoints and legacy network fields, lists, `system df`.

use serde_json::{Value, json};

use super::{Context, Kind, complete};

fn ctx() -> Context {
    Context {
        driver: "aca".to_owned(),
    }
}

fn completed(kind: Kind, mut value: Value) -> Value {
    complete(kind, &mut value, &ctx());
    value
}

#[test]
fn set_keys_are_kept_and_missing_ones_get_dockerds_unset_value() {
    let c = completed(
        Kind::ContainerInspect,
        json!({"Id": "abc", "HostConfig": {"Memory": 5, "LogConfig": {"Type": "local", "Config": {}}}}),
    );
    assert_eq!(c["Id"], "abc");
    assert_eq!(c["HostConfig"]["Memory"], 5);
    assert_eq!(c["HostConfig"]["LogConfig"]["Type"], "local");
    assert_eq!(c["HostConfig"]["Runtime"], "runc");
    assert_eq!(c["HostConfig"]["CapAdd"], Value::Null);
    assert!(
        c["HostConfig"]
            .as_object()
            .is_some_and(|m| m.contains_key("CapAdd"))
    );
    assert_eq!(c["ExecIDs"], Value::Null);
    assert_eq!(c["GraphDriver"], json!({"Name": "aca", "Data": {}}));
    assert_eq!(c["Config"]["Entrypoint"], Value::Null);
    assert_eq!(c["State"]["StartedAt"], "0001-01-01T00:00:00Z");
}

#[test]
fn every_endpoint_gets_ipam_config_and_the_legacy_fields_come_from_bridge() {
    let c = completed(
        Kind::ContainerInspect,
        json!({"NetworkSettings": {"Networks": {
            "bridge": {"IPAddress": "127.17.0.3", "IPPrefixLen": 16, "Gateway": "127.17.0.1"},
            "my net": {"IPAddress": "127.18.0.2", "Aliases": ["x"]},
        }}}),
    );
    let ns = &c["NetworkSettings"];
    assert_eq!(ns["IPAddress"], "127.17.0.3");
    assert_eq!(ns["IPPrefixLen"], 16);
    assert_eq!(ns["Gateway"], "127.17.0.1");
    assert_eq!(ns["MacAddress"], "");
    assert_eq!(ns["SecondaryIPAddresses"], Value::Null);
    for name in ["bridge", "my net"] {
        let endpoint = ns["Networks"][name].as_object().expect("endpoint");
        assert!(endpoint.contains_key("IPAMConfig"), "{name}");
        assert!(endpoint.contains_key("DriverOpts"), "{name}");
    }
    assert_eq!(ns["Networks"]["my net"]["Aliases"], json!(["x"]));

    let without_bridge = completed(
        Kind::ContainerInspect,
        json!({"NetworkSettings": {"Networks": {"n": {"IPAddress": "127.18.0.2"}}}}),
    );
    assert_eq!(without_bridge["NetworkSettings"]["IPAddress"], "");
}

#[test]
fn lists_are_completed_element_by_element() {
    let list = completed(
        Kind::ContainerSummary,
        json!([{"Id": "a", "NetworkSettings": {"Networks": {"n": {}}}}, {"Id": "b"}]),
    );
    assert_eq!(
        list[0]["NetworkSettings"]["Networks"]["n"]["Links"],
        Value::Null
    );
    assert!(
        list[0]["NetworkSettings"]["Networks"]["n"]
            .as_object()
            .is_some_and(|m| m.contains_key("Links"))
    );
    assert_eq!(list[1]["HostConfig"]["NetworkMode"], "default");
    let networks = completed(
        Kind::Network,
        json!([{"Name": "n", "IPAM": {"Config": []}}]),
    );
    assert_eq!(networks[0]["ConfigFrom"], json!({"Network": ""}));
    assert_eq!(networks[0]["IPAM"]["Driver"], "default");
}

#[test]
fn null_objects_are_left_alone() {
    let c = completed(Kind::ContainerInspect, json!({"NetworkSettings": null}));
    assert_eq!(c["NetworkSettings"], Value::Null);
}

#[test]
fn image_inspect_has_both_configs_and_no_virtual_size() {
    let i = completed(
        Kind::ImageInspect,
        json!({"Id": "sha256:1", "Config": {"Cmd": ["sh"]}}),
    );
    assert_eq!(i["Config"]["Cmd"], json!(["sh"]));
    assert_eq!(i["Config"]["Hostname"], "");
    assert_eq!(i["ContainerConfig"]["Tty"], false);
    assert_eq!(i["Parent"], "");
    assert!(i.get("VirtualSize").is_none(), "omitted since API v1.44");
}

#[test]
fn info_says_swarm_inactive_and_names_its_runtime() {
    let info = completed(
        Kind::Info,
        json!({"Swarm": {"LocalNodeState": "inactive", "ControlAvailable": false}}),
    );
    assert_eq!(info["Swarm"]["NodeID"], "");
    assert_eq!(info["Swarm"]["RemoteManagers"], Value::Null);
    assert_eq!(info["DefaultRuntime"], "runc");
    assert!(info["Runtimes"]["runc"].is_object());
    assert_eq!(info["RegistryConfig"]["Mirrors"], json!([]));
    assert!(info.get("KernelMemory").is_none(), "dropped by API v1.42");
}

#[test]
fn disk_usage_counts_volume_users() {
    let df = completed(
        Kind::DiskUsage,
        json!({
            "Containers": [
                {"Id": "a", "Mounts": [{"Type": "volume", "Name": "v"}]},
                {"Id": "b", "Mounts": [{"Type": "bind", "Name": "v"}]},
            ],
            "Volumes": [{"Name": "v"}, {"Name": "w"}],
            "BuildCache": [],
        }),
    );
    assert_eq!(
        df["Volumes"][0]["UsageData"],
        json!({"RefCount": 1, "Size": -1})
    );
    assert_eq!(df["Volumes"][1]["UsageData"]["RefCount"], 0);
    assert_eq!(df["BuilderSize"], 0);
    let volumes_only = completed(Kind::DiskUsage, json!({"Volumes": [{"Name": "v"}]}));
    assert_eq!(volumes_only["Volumes"][0]["UsageData"]["RefCount"], -1);
    assert!(volumes_only.get("BuilderSize").is_none());
}

#[test]
fn exec_inspect_has_exit_code_null_until_it_ends() {
    let e = completed(Kind::ExecInspect, json!({"ID": "x", "Running": true}));
    assert!(e.as_object().is_some_and(|m| m.contains_key("ExitCode")));
    assert_eq!(e["ExitCode"], Value::Null);
    let done = completed(Kind::ExecInspect, json!({"ID": "x", "ExitCode": 127}));
    assert_eq!(done["ExitCode"], 127);
}
