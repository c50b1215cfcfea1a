//! What `POST /containers/create` does with each field of its body
//! (`ContainerConfig`, `HostConfig` with its `Resources`, and each
//! `NetworkingConfig.EndpointsConfig.<network>` entry of the v1.44 API):
//! honoured, refused with a 400 naming it, or ignored for a stated reason.
//! A Docker option is never accepted and silently dropped. The table is
//! plain data: `fields/spec_tests.rs` checks it covers the swagger exactly
//! and the README's copy of it (`markdown_table`) matches.
//!
//! Fields handled elsewhere with a finer check (mounts, ports, links, ...)
//! are `Honoured` here; this module refuses what nothing else reads, and
//! the values of a half-supported field nothing can honour (`NetworkMode`
//! `host`), so that every refusal names the field and its value.

use serde_json::Value;
use sockerless_api::{ApiError, Result};

/// One field of the create body.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// JSON path in the create body; `*` stands for a network name.
    pub path: &'static str,
    /// What create does with it.
    pub disposition: Disposition,
}

/// What create does with a field.
#[derive(Debug, Clone, Copy)]
pub enum Disposition {
    /// Something honours it: where.
    Honoured(&'static str),
    /// A value `Accept` does not take is refused with a 400: why.
    Refused(Accept, &'static str),
    /// Accepted and has no effect: why that loses nothing.
    Ignored(&'static str),
}

/// The values a `Refused` field still accepts.
#[derive(Debug, Clone, Copy)]
pub enum Accept {
    /// Only a zero value (see [`is_zero`]), what clients send for "unset".
    Zero,
    /// A zero value or one of these (strings, or a number's decimal text).
    Values(&'static [&'static str]),
    /// Anything but these strings; one ending in `:` is a prefix.
    AnyBut(&'static [&'static str]),
    /// A zero value, or an object whose member `.0` is zero or one of `.1`.
    Member(&'static str, &'static [&'static str]),
    /// Decided by a function of the value and the whole body; described.
    Custom(fn(&Value, &Value) -> bool, &'static str),
}

use Accept::{AnyBut, Custom, Member, Values, Zero};
use Disposition::{Honoured as H, Ignored as I, Refused as R};

const fn f(path: &'static str, disposition: Disposition) -> Field {
    Field { path, disposition }
}

const ATTACH: &str =
    "the attach call decides which streams flow, as with dockerd; kept for inspect";
const BLKIO: &str = "Azure Container Apps has no block-IO weights or limits";
const CFS: &str = "CPU quotas cannot be set on Azure Container Apps; use --cpus (NanoCpus), which sizes the replica";
const RT: &str = "Azure Container Apps has no real-time CPU scheduling";
const DEVICES: &str = "Azure Container Apps replicas have no host devices";
const CAPS: &str =
    "Azure Container Apps runs containers with a fixed capability set, Docker's default one";
const DNS: &str = "the agent writes /etc/resolv.conf before the process starts (SOCKERLESS_DNS*, runtime/template.rs)";
const SWAP: &str = "Azure Container Apps replicas have no swap: as on a Docker host with swap off, the limit has no effect";
const WINDOWS: &str = "Windows-only; dockerd on Linux discards it too";
const WIN_IO: &str = "Windows-only IO limits; dockerd on Linux refuses them too";
const OUTPUT: &str = "read-only: the daemon fills it in (inspect shows the real value)";
const NO_MAC: &str = "Azure Container Apps replicas have no settable MAC address";
const PROC_PATHS: &str =
    "which /proc paths are masked or read-only is Azure Container Apps' choice";

/// Every field of the v1.44 create body, in the swagger's order.
#[rustfmt::skip]
pub const FIELDS: &[Field] = &[
    f("Hostname", H("the agent's HOSTNAME and /etc/hostname (runtime/template.rs); peers resolve it (relay/peers.rs)")),
    f("Domainname", H("SOCKERLESS_DOMAINNAME; `hostname.domain` in /etc/hosts (relay/peers.rs)")),
    f("User", H("SOCKERLESS_USER: the agent runs the process as that user")),
    f("AttachStdin", I(ATTACH)),
    f("AttachStdout", I(ATTACH)),
    f("AttachStderr", I(ATTACH)),
    f("ExposedPorts", H("ports/: exposed ports, relayed when published")),
    f("Tty", H("SOCKERLESS_TTY: the agent runs the process on a pseudo-terminal")),
    f("OpenStdin", H("SOCKERLESS_OPEN_STDIN: stdin stays open for attach")),
    f("StdinOnce", H("containers/streams.rs: stdin closes when the first attach ends (not a TTY's, as dockerd)")),
    f("Env", H("the process environment (runtime/template.rs)")),
    f("Cmd", H("the process command line (containers/merge.rs, runtime/template.rs)")),
    f("Healthcheck", H("SOCKERLESS_HEALTHCHECK: the agent probes; containers/health.rs reports")),
    f("ArgsEscaped", I("Windows-only (a pre-escaped command line); dockerd on Linux ignores it too")),
    f("Image", H("the job's main container image (images/, runtime/template.rs)")),
    f("Volumes", H("volumes/: an anonymous volume per path")),
    f("WorkingDir", H("SOCKERLESS_WORKDIR: the agent starts the process there")),
    f("Entrypoint", H("the process command line (containers/merge.rs, runtime/template.rs)")),
    f("NetworkDisabled", R(Zero, "a replica's network cannot be cut off; use --network none")),
    f("MacAddress", I(NO_MAC)),
    f("OnBuild", I("build triggers: only docker build runs them; dockerd keeps them as data too")),
    f("Labels", H("stored, listed and filtered; `sockerless.aca.replica-timeout` sets the job's timeout")),
    f("StopSignal", H("runtime/stop.rs: the signal stop sends")),
    f("StopTimeout", H("runtime/stop.rs: stop's default grace period")),
    f("Shell", R(Custom(shell_ok, "empty, [\"/bin/sh\", \"-c\"], or no CMD-SHELL healthcheck"), "dockerd runs CMD-SHELL health checks with it; the agent always runs them with /bin/sh -c")),
    f("HostConfig.CpuShares", I("a relative weight between containers sharing a host; each container has a replica of its own")),
    f("HostConfig.Memory", H("runtime/template.rs resources_for: sizes the replica (CPU/memory pair)")),
    f("HostConfig.CgroupParent", R(Zero, "Azure Container Apps places the replica's cgroups")),
    f("HostConfig.BlkioWeight", R(Zero, BLKIO)),
    f("HostConfig.BlkioWeightDevice", R(Zero, BLKIO)),
    f("HostConfig.BlkioDeviceReadBps", R(Zero, BLKIO)),
    f("HostConfig.BlkioDeviceWriteBps", R(Zero, BLKIO)),
    f("HostConfig.BlkioDeviceReadIOps", R(Zero, BLKIO)),
    f("HostConfig.BlkioDeviceWriteIOps", R(Zero, BLKIO)),
    f("HostConfig.CpuPeriod", R(Zero, CFS)),
    f("HostConfig.CpuQuota", R(Zero, CFS)),
    f("HostConfig.CpuRealtimePeriod", R(Zero, RT)),
    f("HostConfig.CpuRealtimeRuntime", R(Zero, RT)),
    f("HostConfig.CpusetCpus", R(Zero, "Azure Container Apps does not pin replicas to CPUs")),
    f("HostConfig.CpusetMems", R(Zero, "Azure Container Apps does not pin replicas to memory nodes")),
    f("HostConfig.Devices", R(Zero, DEVICES)),
    f("HostConfig.DeviceCgroupRules", R(Zero, DEVICES)),
    f("HostConfig.DeviceRequests", R(Zero, "consumption replicas have no GPUs or other requested devices")),
    f("HostConfig.KernelMemoryTCP", I("no longer supported by runc, so dockerd has no effect from it either")),
    f("HostConfig.MemoryReservation", I("a soft limit applied only under host memory pressure; a replica's memory is its own")),
    f("HostConfig.MemorySwap", I(SWAP)),
    f("HostConfig.MemorySwappiness", I(SWAP)),
    f("HostConfig.NanoCpus", H("runtime/template.rs resources_for: sizes the replica (CPU/memory pair)")),
    f("HostConfig.OomKillDisable", R(Zero, "a replica over its memory is killed; the OOM killer cannot be disabled")),
    f("HostConfig.Init", H("always on: the agent is PID 1, reaps orphans and forwards signals as docker-init does")),
    f("HostConfig.PidsLimit", R(Values(&["-1"]), "Azure Container Apps sets no process-count limit")),
    f("HostConfig.Ulimits", H("containers/ulimits.rs: the agent sets them on every process it starts (SOCKERLESS_ULIMITS)")),
    f("HostConfig.CpuCount", I(WINDOWS)),
    f("HostConfig.CpuPercent", I(WINDOWS)),
    f("HostConfig.IOMaximumIOps", R(Zero, WIN_IO)),
    f("HostConfig.IOMaximumBandwidth", R(Zero, WIN_IO)),
    f("HostConfig.Binds", H("binds/, volumes/ (containers/mounts.rs classifies or refuses each option)")),
    f("HostConfig.ContainerIDFile", I("written by the client (docker run --cidfile); dockerd does nothing with it either")),
    f("HostConfig.LogConfig.Type", R(Values(&["json-file", "local", "none"]), "logs are kept by sockerless for docker logs; shipping them to another driver is not supported")),
    f("HostConfig.LogConfig.Config", I("rotation options of the local drivers: sockerless keeps logs its own way, so none are lost")),
    f("HostConfig.NetworkMode", R(AnyBut(&["host", "container:"]), "each container runs in its own Azure Container Apps replica, sharing neither this host's network nor another container's; bridge, none and user networks are honoured (networks/)")),
    f("HostConfig.PortBindings", H("ports/: listeners on this host relayed to the container")),
    f("HostConfig.RestartPolicy", H("runtime/restart_policy.rs: no, always, unless-stopped, on-failure[:N], with dockerd's doubling delay; docker stop/kill/rm end it")),
    f("HostConfig.AutoRemove", H("runtime/exit.rs: removed when it exits")),
    f("HostConfig.VolumeDriver", H("containers/mounts.rs: \"local\" (Azure Files volumes), others refused")),
    f("HostConfig.VolumesFrom", H("volumes/attach.rs")),
    f("HostConfig.Mounts", H("containers/mounts.rs classifies or refuses each field")),
    f("HostConfig.ConsoleSize", I("the initial TTY size: clients resize after attach (POST /containers/{id}/resize)")),
    f("HostConfig.Annotations", I("OCI annotations for a runtime; Azure Container Apps runs none that reads them; kept for inspect")),
    f("HostConfig.CapAdd", R(Custom(cap_add_ok, "capabilities Docker grants by default (a no-op)"), CAPS)),
    f("HostConfig.CapDrop", R(Custom(cap_drop_ok, "capabilities Docker does not grant by default (a no-op)"), CAPS)),
    f("HostConfig.CgroupnsMode", R(Values(&["private"]), "a replica has its own cgroup namespace")),
    f("HostConfig.Dns", H(DNS)),
    f("HostConfig.DnsOptions", H(DNS)),
    f("HostConfig.DnsSearch", H(DNS)),
    f("HostConfig.ExtraHosts", H("containers/extra_hosts.rs, written to /etc/hosts by the agent (relay/peers.rs)")),
    f("HostConfig.GroupAdd", H("SOCKERLESS_GROUP_ADD: the agent adds the groups (names from the image's /etc/group) to every process it starts")),
    f("HostConfig.IpcMode", R(Values(&["private", "shareable"]), "a replica has its own IPC namespace with /dev/shm")),
    f("HostConfig.Cgroup", R(Zero, "Azure Container Apps places the replica's cgroup")),
    f("HostConfig.Links", H("relay/peers.rs: the link's names in /etc/hosts")),
    f("HostConfig.OomScoreAdj", I("the OOM killer's preference among a host's processes; each container has a replica of its own")),
    f("HostConfig.PidMode", R(Zero, "a replica has its own PID namespace")),
    f("HostConfig.Privileged", R(Zero, "Azure Container Apps does not run privileged containers")),
    f("HostConfig.PublishAllPorts", H("ports/: every exposed port on a free host port")),
    f("HostConfig.ReadonlyRootfs", R(Zero, "Azure Container Apps cannot mount the root filesystem read-only")),
    f("HostConfig.SecurityOpt", R(Zero, "no seccomp, AppArmor, SELinux or no-new-privileges settings on Azure Container Apps")),
    f("HostConfig.StorageOpt", R(Zero, "the root filesystem's size is Azure Container Apps'")),
    f("HostConfig.Tmpfs", H("containers/mounts.rs: an EmptyDir volume")),
    f("HostConfig.UTSMode", R(Zero, "a replica has its own UTS namespace")),
    f("HostConfig.UsernsMode", R(Zero, "user namespaces are Azure Container Apps' choice")),
    f("HostConfig.ShmSize", R(Zero, "the size of /dev/shm is Azure Container Apps'")),
    f("HostConfig.Sysctls", R(Zero, "sysctls cannot be set on Azure Container Apps")),
    f("HostConfig.Runtime", R(Values(&["runc", "io.containerd.runc.v2"]), "Azure Container Apps runs the container; no other OCI runtime can be chosen")),
    f("HostConfig.Isolation", R(Values(&["default"]), "Windows-only isolation; dockerd on Linux refuses it too")),
    f("HostConfig.MaskedPaths", R(Zero, PROC_PATHS)),
    f("HostConfig.ReadonlyPaths", R(Zero, PROC_PATHS)),
    f("NetworkingConfig.EndpointsConfig.*.IPAMConfig", R(Custom(ipam_ok, "IPv4Address only"), "IPv4Address is honoured (networks/endpoints.rs); networks have no IPv6 or link-local addresses")),
    f("NetworkingConfig.EndpointsConfig.*.Links", R(Custom(links_ok, "links also in HostConfig.Links"), "link names come from HostConfig.Links (relay/peers.rs); a link given only per network is not resolved")),
    f("NetworkingConfig.EndpointsConfig.*.MacAddress", I(NO_MAC)),
    f("NetworkingConfig.EndpointsConfig.*.Aliases", H("networks/endpoints.rs, relay/peers.rs: names on that network")),
    f("NetworkingConfig.EndpointsConfig.*.NetworkID", I("read-only: the map key names the network")),
    f("NetworkingConfig.EndpointsConfig.*.EndpointID", I(OUTPUT)),
    f("NetworkingConfig.EndpointsConfig.*.Gateway", I(OUTPUT)),
    f("NetworkingConfig.EndpointsConfig.*.IPAddress", I(OUTPUT)),
    f("NetworkingConfig.EndpointsConfig.*.IPPrefixLen", I(OUTPUT)),
    f("NetworkingConfig.EndpointsConfig.*.IPv6Gateway", I(OUTPUT)),
    f("NetworkingConfig.EndpointsConfig.*.GlobalIPv6Address", I(OUTPUT)),
    f("NetworkingConfig.EndpointsConfig.*.GlobalIPv6PrefixLen", I(OUTPUT)),
    f("NetworkingConfig.EndpointsConfig.*.DriverOpts", R(Zero, "sockerless networks have no driver to pass endpoint options to")),
    f("NetworkingConfig.EndpointsConfig.*.DNSNames", I(OUTPUT)),
];

/// What clients send for "unset": null, false, 0, "", an empty array, or an
/// object of zero members (`{"Name": "", "MaximumRetryCount": 0}`).
pub fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_zero),
    }
}

fn one_of(v: &Value, values: &[&str]) -> bool {
    match v {
        Value::String(s) => values.contains(&s.as_str()),
        Value::Number(n) => values.contains(&n.to_string().as_str()),
        _ => false,
    }
}

impl Accept {
    /// Whether `v`, the value of the field in `body`, is taken.
    pub fn takes(&self, v: &Value, body: &Value) -> bool {
        match self {
            Zero => is_zero(v),
            Values(values) => is_zero(v) || one_of(v, values),
            AnyBut(refused) => v.as_str().is_none_or(|s| {
                !refused.iter().any(|r| match r.strip_suffix(':') {
                    Some(_) => s.starts_with(r),
                    None => s == *r,
                })
            }),
            Member(key, values) => {
                is_zero(v) || v.get(key).is_none_or(|m| is_zero(m) || one_of(m, values))
            }
            Custom(f, _) => f(v, body),
        }
    }

    /// The accepted values, for the README.
    pub fn describe(&self) -> String {
        let quoted = |vs: &[&str]| vs.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>();
        match self {
            Zero => "unset only".to_owned(),
            Values(vs) => format!("unset, {}", quoted(vs).join(", ")),
            AnyBut(vs) => format!(
                "anything but {}",
                vs.iter()
                    .map(|v| match v.strip_suffix(':') {
                        Some(_) => format!("`{v}<id>`"),
                        None => format!("`{v}`"),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Member(key, vs) => format!("`{key}` unset, {}", quoted(vs).join(", ")),
            Custom(_, d) => (*d).to_owned(),
        }
    }
}

/// `Shell` matters only to CMD-SHELL health checks, which the agent runs
/// with `/bin/sh -c` (an image's `SHELL` is merged in at create).
fn shell_ok(v: &Value, body: &Value) -> bool {
    let sh = [Value::from("/bin/sh"), Value::from("-c")];
    let cmd_shell = body
        .pointer("/Healthcheck/Test/0")
        .and_then(Value::as_str)
        .is_some_and(|t| t == "CMD-SHELL");
    is_zero(v) || !cmd_shell || v.as_array().is_some_and(|a| a[..] == sh[..])
}

/// Docker's default capability set, which containers on ACA also get.
const DEFAULT_CAPS: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "NET_RAW",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// Whether every capability of `v` (as dockerd spells them: any case, with
/// or without `CAP_`) is one of Docker's defaults (`want`) or not.
fn caps_all(v: &Value, want: bool) -> bool {
    v.as_array().is_none_or(|caps| {
        caps.iter().all(|c| {
            let c = c.as_str().unwrap_or("ALL").to_ascii_uppercase();
            let c = c.strip_prefix("CAP_").unwrap_or(&c);
            c != "ALL" && DEFAULT_CAPS.contains(&c) == want
        })
    })
}

/// Adding a capability the container has anyway changes nothing (Portainer
/// lists the whole default set).
fn cap_add_ok(v: &Value, _body: &Value) -> bool {
    caps_all(v, true)
}

/// Dropping a capability the container does not have changes nothing.
fn cap_drop_ok(v: &Value, _body: &Value) -> bool {
    caps_all(v, false)
}

/// Only `IPv4Address` is honoured (the `--ip` of a network's endpoint).
fn ipam_ok(v: &Value, _body: &Value) -> bool {
    v.as_object()
        .is_none_or(|o| o.iter().all(|(k, m)| k == "IPv4Address" || is_zero(m)))
}

/// Per-network links are resolved only when `HostConfig.Links` has them too
/// (the Docker CLI sends `--link` in both).
fn links_ok(v: &Value, body: &Value) -> bool {
    let host = body.pointer("/HostConfig/Links").and_then(Value::as_array);
    v.as_array()
        .is_none_or(|links| links.iter().all(|l| host.is_some_and(|h| h.contains(l))))
}

/// The values at `path` in `body` with their concrete paths (`*` expanded).
fn values_at<'a>(body: &'a Value, path: &str) -> Vec<(String, &'a Value)> {
    let mut found = vec![(String::new(), body)];
    for segment in path.split('.') {
        let mut next = Vec::new();
        for (at, v) in found {
            let join = |k: &str| {
                if at.is_empty() {
                    k.to_owned()
                } else {
                    format!("{at}.{k}")
                }
            };
            match (segment, v) {
                ("*", Value::Object(o)) => next.extend(o.iter().map(|(k, m)| (join(k), m))),
                (key, Value::Object(o)) => next.extend(o.get(key).map(|m| (join(key), m))),
                _ => {}
            }
        }
        found = next;
    }
    found
}

/// A value for an error message: its JSON, cut short.
fn shown(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(80) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s,
    }
}

/// Refuses the first `Refused` field whose value is not accepted, with a 400
/// naming the field and the value. Pure: looks at `body` only.
pub fn check(body: &Value) -> Result<()> {
    for field in FIELDS {
        let Disposition::Refused(accept, why) = field.disposition else {
            continue;
        };
        for (at, v) in values_at(body, field.path) {
            if !accept.takes(v, body) {
                return Err(ApiError::InvalidParameter(format!(
                    "{at} {} is not supported by sockerless-aca: {why}",
                    shown(v)
                )));
            }
        }
    }
    Ok(())
}

/// The README's table of `FIELDS` (between `<!-- fields:begin -->` and
/// `<!-- fields:end -->`), so the two cannot drift.
pub fn markdown_table() -> String {
    let mut out = String::from("| Field | Decision | Details |\n|---|---|---|\n");
    for field in FIELDS {
        let (decision, details) = match field.disposition {
            H(at) => ("honoured", at.to_owned()),
            R(accept, why) => ("refused", format!("accepts {}: {why}", accept.describe())),
            I(why) => ("ignored", why.to_owned()),
        };
        let details = details.replace('|', "\\|");
        out.push_str(&format!("| `{}` | {decision} | {details} |\n", field.path));
    }
    out
}

#[cfg(test)]
mod spec_tests;
