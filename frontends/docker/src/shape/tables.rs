//! dockerd's keys per response, with the value dockerd gives an unset one.
//!
//! Values describe sockerless where dockerd's describe the host: no cgroup
//! knobs it does not honour (`false`), no runtime but the one Azure
//! Container Apps runs (`runc`, the only `HostConfig.Runtime` create
//! accepts), no paths it masks itself (`[]`).

use serde_json::{Value, json};

use super::Context;

type Table = Vec<(&'static str, Value)>;

pub(super) fn container_inspect(ctx: &Context) -> Table {
    vec![
        ("Path", json!("")),
        ("Args", json!([])),
        ("State", json!({})),
        ("ResolvConfPath", json!("")),
        ("HostnamePath", json!("")),
        ("HostsPath", json!("")),
        ("LogPath", json!("")),
        ("RestartCount", json!(0)),
        ("Driver", json!(ctx.driver)),
        ("Platform", json!("linux")),
        ("MountLabel", json!("")),
        ("ProcessLabel", json!("")),
        ("AppArmorProfile", json!("")),
        ("ExecIDs", Value::Null),
        ("HostConfig", json!({})),
        ("GraphDriver", json!({})),
        ("Mounts", json!([])),
        ("Config", json!({})),
        ("NetworkSettings", json!({})),
    ]
}

pub(super) fn container_state() -> Table {
    vec![
        ("Status", json!("created")),
        ("Running", json!(false)),
        ("Paused", json!(false)),
        ("Restarting", json!(false)),
        ("OOMKilled", json!(false)),
        ("Dead", json!(false)),
        ("Pid", json!(0)),
        ("ExitCode", json!(0)),
        ("Error", json!("")),
        ("StartedAt", json!("0001-01-01T00:00:00Z")),
        ("FinishedAt", json!("0001-01-01T00:00:00Z")),
    ]
}

pub(super) fn host_config() -> Table {
    let mut table = vec![
        ("Binds", Value::Null),
        ("ContainerIDFile", json!("")),
        ("LogConfig", json!({"Type": "json-file", "Config": {}})),
        ("NetworkMode", json!("default")),
        ("PortBindings", json!({})),
        (
            "RestartPolicy",
            json!({"Name": "no", "MaximumRetryCount": 0}),
        ),
        ("AutoRemove", json!(false)),
        ("VolumeDriver", json!("")),
        ("VolumesFrom", Value::Null),
        ("ConsoleSize", json!([0, 0])),
        ("CapAdd", Value::Null),
        ("CapDrop", Value::Null),
        ("CgroupnsMode", json!("")),
        ("Dns", json!([])),
        ("DnsOptions", json!([])),
        ("DnsSearch", json!([])),
        ("ExtraHosts", Value::Null),
        ("GroupAdd", Value::Null),
        ("IpcMode", json!("")),
        ("Cgroup", json!("")),
        ("Links", Value::Null),
        ("OomScoreAdj", json!(0)),
        ("PidMode", json!("")),
        ("Privileged", json!(false)),
        ("PublishAllPorts", json!(false)),
        ("ReadonlyRootfs", json!(false)),
        ("SecurityOpt", Value::Null),
        ("UTSMode", json!("")),
        ("UsernsMode", json!("")),
        ("ShmSize", json!(0)),
        ("Runtime", json!("runc")),
        ("Isolation", json!("")),
        ("CgroupParent", json!("")),
        ("CpusetCpus", json!("")),
        ("CpusetMems", json!("")),
        ("DeviceCgroupRules", Value::Null),
        ("DeviceRequests", Value::Null),
        ("MemorySwappiness", Value::Null),
        ("OomKillDisable", json!(false)),
        ("PidsLimit", Value::Null),
        ("MaskedPaths", json!([])),
        ("ReadonlyPaths", json!([])),
    ];
    for zero in [
        "CpuShares",
        "Memory",
        "NanoCpus",
        "BlkioWeight",
        "CpuPeriod",
        "CpuQuota",
        "CpuRealtimePeriod",
        "CpuRealtimeRuntime",
        "MemoryReservation",
        "MemorySwap",
        "CpuCount",
        "CpuPercent",
        "IOMaximumIOps",
        "IOMaximumBandwidth",
    ] {
        table.push((zero, json!(0)));
    }
    for empty in [
        "BlkioWeightDevice",
        "BlkioDeviceReadBps",
        "BlkioDeviceWriteBps",
        "BlkioDeviceReadIOps",
        "BlkioDeviceWriteIOps",
        "Devices",
        "Ulimits",
    ] {
        table.push((empty, json!([])));
    }
    table
}

/// A container's `Config`, and an image's `Config` and `ContainerConfig`.
pub(super) fn container_config() -> Table {
    vec![
        ("Hostname", json!("")),
        ("Domainname", json!("")),
        ("User", json!("")),
        ("AttachStdin", json!(false)),
        ("AttachStdout", json!(false)),
        ("AttachStderr", json!(false)),
        ("Tty", json!(false)),
        ("OpenStdin", json!(false)),
        ("StdinOnce", json!(false)),
        ("Env", Value::Null),
        ("Cmd", Value::Null),
        ("Image", json!("")),
        ("Volumes", Value::Null),
        ("WorkingDir", json!("")),
        ("Entrypoint", Value::Null),
        ("OnBuild", Value::Null),
        ("Labels", Value::Null),
    ]
}

pub(super) fn graph_driver(ctx: &Context) -> Table {
    vec![("Name", json!(ctx.driver)), ("Data", json!({}))]
}

/// An endpoint in `NetworkSettings.Networks`.
pub(super) fn endpoint() -> Table {
    vec![
        ("IPAMConfig", Value::Null),
        ("Links", Value::Null),
        ("Aliases", Value::Null),
        ("NetworkID", json!("")),
        ("EndpointID", json!("")),
        ("Gateway", json!("")),
        ("IPAddress", json!("")),
        ("IPPrefixLen", json!(0)),
        ("IPv6Gateway", json!("")),
        ("GlobalIPv6Address", json!("")),
        ("GlobalIPv6PrefixLen", json!(0)),
        ("MacAddress", json!("")),
        ("DriverOpts", Value::Null),
        ("DNSNames", Value::Null),
    ]
}

/// The deprecated top-level `NetworkSettings` fields dockerd still sends.
pub(super) fn legacy_network_settings() -> Table {
    vec![
        ("Bridge", json!("")),
        ("SandboxID", json!("")),
        ("HairpinMode", json!(false)),
        ("LinkLocalIPv6Address", json!("")),
        ("LinkLocalIPv6PrefixLen", json!(0)),
        ("Ports", json!({})),
        ("SandboxKey", json!("")),
        ("SecondaryIPAddresses", Value::Null),
        ("SecondaryIPv6Addresses", Value::Null),
        ("EndpointID", json!("")),
        ("Gateway", json!("")),
        ("GlobalIPv6Address", json!("")),
        ("GlobalIPv6PrefixLen", json!(0)),
        ("IPAddress", json!("")),
        ("IPPrefixLen", json!(0)),
        ("IPv6Gateway", json!("")),
        ("MacAddress", json!("")),
    ]
}

/// Of [`legacy_network_settings`], those copied from the `bridge` endpoint.
pub(super) const LEGACY_FROM_ENDPOINT: &[&str] = &[
    "EndpointID",
    "Gateway",
    "GlobalIPv6Address",
    "GlobalIPv6PrefixLen",
    "IPAddress",
    "IPPrefixLen",
    "IPv6Gateway",
    "MacAddress",
];

pub(super) fn container_summary() -> Table {
    vec![
        ("Names", json!([])),
        ("Image", json!("")),
        ("ImageID", json!("")),
        ("Command", json!("")),
        ("Created", json!(0)),
        ("Ports", json!([])),
        ("Labels", json!({})),
        ("State", json!("")),
        ("Status", json!("")),
        ("HostConfig", json!({"NetworkMode": "default"})),
        ("NetworkSettings", json!({"Networks": {}})),
        ("Mounts", json!([])),
    ]
}

pub(super) fn image_inspect() -> Table {
    vec![
        ("RepoTags", json!([])),
        ("RepoDigests", json!([])),
        ("Parent", json!("")),
        ("Comment", json!("")),
        ("Created", json!("")),
        // Deprecated in v1.44 and dropped in v1.45, but v1.44 still sends them.
        ("Container", json!("")),
        ("ContainerConfig", json!({})),
        ("DockerVersion", json!("")),
        ("Author", json!("")),
        ("Config", json!({})),
        ("Architecture", json!("")),
        ("Os", json!("linux")),
        ("Size", json!(0)),
        ("GraphDriver", json!({})),
        ("RootFS", json!({"Type": "layers"})),
        ("Metadata", json!({"LastTagTime": "0001-01-01T00:00:00Z"})),
    ]
}

pub(super) fn image_summary() -> Table {
    vec![
        ("Containers", json!(-1)),
        ("Created", json!(0)),
        ("Labels", Value::Null),
        ("ParentId", json!("")),
        ("RepoDigests", json!([])),
        ("RepoTags", json!([])),
        ("SharedSize", json!(-1)),
        ("Size", json!(0)),
    ]
}

pub(super) fn network() -> Table {
    vec![
        ("Created", json!("0001-01-01T00:00:00Z")),
        ("Scope", json!("local")),
        ("Driver", json!("bridge")),
        ("EnableIPv6", json!(false)),
        ("IPAM", json!({})),
        ("Internal", json!(false)),
        ("Attachable", json!(false)),
        ("Ingress", json!(false)),
        ("ConfigFrom", json!({"Network": ""})),
        ("ConfigOnly", json!(false)),
        ("Containers", json!({})),
        ("Options", json!({})),
        ("Labels", json!({})),
    ]
}

pub(super) fn ipam() -> Table {
    vec![
        ("Driver", json!("default")),
        ("Options", Value::Null),
        ("Config", json!([])),
    ]
}

pub(super) fn volume() -> Table {
    vec![
        ("CreatedAt", json!("")),
        ("Driver", json!("local")),
        ("Labels", Value::Null),
        ("Mountpoint", json!("")),
        ("Options", Value::Null),
        ("Scope", json!("local")),
    ]
}

pub(super) fn exec_inspect() -> Table {
    vec![
        ("CanRemove", json!(false)),
        ("ContainerID", json!("")),
        ("DetachKeys", json!("")),
        ("ExitCode", Value::Null),
        ("OpenStderr", json!(false)),
        ("OpenStdin", json!(false)),
        ("OpenStdout", json!(false)),
        ("ProcessConfig", json!({})),
        ("Running", json!(false)),
        ("Pid", json!(0)),
    ]
}

pub(super) fn process_config() -> Table {
    vec![
        ("arguments", json!([])),
        ("entrypoint", json!("")),
        ("privileged", json!(false)),
        ("tty", json!(false)),
        ("user", json!("")),
    ]
}

pub(super) fn info() -> Table {
    let mut table = vec![
        ("DriverStatus", json!([])),
        (
            "Plugins",
            json!({
                "Volume": ["local"],
                "Network": ["bridge"],
                "Authorization": null,
                "Log": ["json-file", "local"],
            }),
        ),
        // `-m` sizes the replica; no other cgroup knob is honoured.
        ("MemoryLimit", json!(true)),
        // Containers reach each other and the outside.
        ("IPv4Forwarding", json!(true)),
        ("Debug", json!(false)),
        ("LoggingDriver", json!("json-file")),
        ("CgroupDriver", json!("none")),
        ("CgroupVersion", json!("")),
        ("KernelVersion", json!("")),
        ("OperatingSystem", json!("")),
        ("OSVersion", json!("")),
        ("OSType", json!("linux")),
        ("Architecture", json!("")),
        ("IndexServerAddress", json!("https://index.docker.io/v1/")),
        ("RegistryConfig", json!({})),
        ("NCPU", json!(0)),
        ("MemTotal", json!(0)),
        ("GenericResources", Value::Null),
        ("DockerRootDir", json!("")),
        ("HttpProxy", json!("")),
        ("HttpsProxy", json!("")),
        ("NoProxy", json!("")),
        ("Labels", json!([])),
        ("ExperimentalBuild", json!(false)),
        (
            "Runtimes",
            json!({"runc": {"path": "runc"}, "io.containerd.runc.v2": {"path": "runc"}}),
        ),
        ("DefaultRuntime", json!("runc")),
        ("Swarm", json!({})),
        ("LiveRestoreEnabled", json!(false)),
        ("Isolation", json!("")),
        ("InitBinary", json!("")),
        ("ContainerdCommit", json!({"ID": "", "Expected": ""})),
        ("RuncCommit", json!({"ID": "", "Expected": ""})),
        ("InitCommit", json!({"ID": "", "Expected": ""})),
        ("SecurityOptions", json!([])),
        ("Warnings", Value::Null),
    ];
    for zero in [
        "Containers",
        "ContainersRunning",
        "ContainersPaused",
        "ContainersStopped",
        "Images",
        "NFd",
        "NGoroutines",
        "NEventsListener",
    ] {
        table.push((zero, json!(0)));
    }
    for unsupported in [
        "SwapLimit",
        "CpuCfsPeriod",
        "CpuCfsQuota",
        "CPUShares",
        "CPUSet",
        "PidsLimit",
        "BridgeNfIptables",
        "BridgeNfIp6tables",
        "OomKillDisable",
    ] {
        table.push((unsupported, json!(false)));
    }
    table
}

/// `Info.Swarm` of a node outside any swarm.
pub(super) fn swarm() -> Table {
    vec![
        ("NodeID", json!("")),
        ("NodeAddr", json!("")),
        ("LocalNodeState", json!("inactive")),
        ("ControlAvailable", json!(false)),
        ("Error", json!("")),
        ("RemoteManagers", Value::Null),
    ]
}

pub(super) fn registry_config() -> Table {
    vec![
        ("AllowNondistributableArtifactsCIDRs", json!([])),
        ("AllowNondistributableArtifactsHostnames", json!([])),
        ("InsecureRegistryCIDRs", json!([])),
        ("IndexConfigs", json!({})),
        ("Mirrors", json!([])),
    ]
}

pub(super) fn version() -> Table {
    vec![
        ("Platform", json!({"Name": ""})),
        ("Components", json!([])),
        ("GitCommit", json!("")),
        ("GoVersion", json!("")),
        ("KernelVersion", json!("")),
        ("BuildTime", json!("")),
    ]
}
