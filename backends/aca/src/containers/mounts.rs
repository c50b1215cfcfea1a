//! The ONE place that classifies a container's mounts (pure: no I/O).
//!
//! [`classify`] reads `HostConfig.Binds`, `HostConfig.Mounts`,
//! `HostConfig.Tmpfs`, `HostConfig.VolumesFrom`, `HostConfig.VolumeDriver`
//! and `Config.Volumes` (image `VOLUME`s are merged into it at create) and
//! returns every mount as one [`MountSpec`]:
//!
//! - [`MountSpec::Volume`]: a named volume (`-v name:/p`, `--mount
//!   type=volume,src=name`) or an anonymous one (`-v /p` and image `VOLUME`
//!   come as `Config.Volumes`; `--mount type=volume` without `src`). An
//!   anonymous volume has `anonymous: true` and an empty `name` until create
//!   gives it a generated 64-hex name (the volumes' attach step).
//! - [`MountSpec::Bind`]: a daemon-host path (`-v /host:/p`, `--mount
//!   type=bind`). `create_missing` is `true` for `-v` (dockerd creates a
//!   missing host path) and for `--mount … bind-create-mountpoint`, `false`
//!   otherwise (a missing path is refused at create).
//! - [`MountSpec::Tmpfs`]: `--tmpfs /p[:opts]`, `--mount type=tmpfs`: an
//!   `EmptyDir` volume (disk-backed: ACA 2025-01-01 has no memory medium).
//!   `options` keeps the accepted flags as given.
//! - [`MountSpec::DockerSocket`]: a bind whose host path is the Docker socket
//!   ([`DOCKER_SOCKETS`]), served by the agent.
//!
//! `VolumesFrom` entries come back separately as [`VolumesFrom`] and
//! `Config.Volumes` as `anonymous_targets`; [`assemble`] makes the final list
//! with the referenced containers' resolved mounts.
//!
//! Everything else is refused with [`ApiError::InvalidParameter`] (400) whose
//! message names the option: propagation, consistency, SELinux `z`/`Z`,
//! volume drivers other than `local`, driver options, `npipe`/`cluster`/
//! `image` mounts, non-recursive binds, tmpfs size/mode/ro/noexec…, duplicate
//! targets. Nothing is silently dropped.
//!
//! The resolved list of a container (anonymous names filled, `VolumesFrom`
//! merged) is kept in `StoredConfig::mounts` at create; start-time code
//! (volumes in the job template, binds, the Docker socket) reads it from
//! there.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use sockerless_api::ApiError;
use sockerless_api::docker::{ContainerCreateBody, Mount, MountType};

/// Host paths that mean "the Docker socket" when bound into a container.
pub const DOCKER_SOCKETS: &[&str] = &["/var/run/docker.sock", "/run/docker.sock"];

/// One mount of a container, classified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "Kind")]
pub enum MountSpec {
    /// A Docker volume: a directory of the backend's Azure Files share.
    Volume {
        /// Volume name; empty for an anonymous volume not yet named.
        name: String,
        /// Absolute container path.
        target: String,
        /// Mounted read-only.
        read_only: bool,
        /// Docker named it (anonymous volume: `-v /p`, image `VOLUME`).
        anonymous: bool,
        /// Labels for the volume if this mount creates it (`--mount volume-label=`).
        #[serde(default)]
        labels: BTreeMap<String, String>,
    },
    /// A path of the daemon's host, copied in through the agent.
    Bind {
        /// Absolute host path (cleaned of a trailing `/`).
        host_path: String,
        /// Absolute container path.
        target: String,
        /// Mounted read-only (no sync back).
        read_only: bool,
        /// Create the host path if it is missing (`-v`); otherwise refuse.
        create_missing: bool,
    },
    /// A scratch directory (`EmptyDir`) for `--tmpfs` / `type=tmpfs`.
    Tmpfs {
        /// Absolute container path.
        target: String,
        /// Accepted options as given (`rw`, `exec`, …); never size or mode.
        options: Vec<String>,
    },
    /// The Docker socket bound into the container.
    DockerSocket {
        /// The host path given (one of [`DOCKER_SOCKETS`]).
        host_path: String,
        /// Absolute container path of the socket.
        target: String,
        /// `:ro` was given (the socket is still usable, as with dockerd).
        read_only: bool,
    },
}

impl MountSpec {
    /// The container path.
    pub fn target(&self) -> &str {
        match self {
            MountSpec::Volume { target, .. }
            | MountSpec::Bind { target, .. }
            | MountSpec::Tmpfs { target, .. }
            | MountSpec::DockerSocket { target, .. } => target,
        }
    }

    /// Whether `--volumes-from` passes it on (dockerd: volumes and binds, not tmpfs).
    fn inheritable(&self) -> bool {
        !matches!(self, MountSpec::Tmpfs { .. })
    }

    fn set_read_only(&mut self, ro: bool) {
        match self {
            MountSpec::Volume { read_only, .. }
            | MountSpec::Bind { read_only, .. }
            | MountSpec::DockerSocket { read_only, .. } => *read_only = ro,
            MountSpec::Tmpfs { .. } => {}
        }
    }
}

/// One `HostConfig.VolumesFrom` entry: `container[:ro|rw]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumesFrom {
    /// Name or ID of the other container.
    pub container: String,
    /// `Some(true)` for `:ro`, `Some(false)` for `:rw`, `None`: as there.
    pub read_only: Option<bool>,
}

/// The classified mounts of a create body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Classified {
    /// Explicit mounts, in order: Binds, Mounts, Tmpfs (sorted by target).
    pub mounts: Vec<MountSpec>,
    /// Containers to inherit mounts from, in order.
    pub volumes_from: Vec<VolumesFrom>,
    /// `Config.Volumes` (`-v /p`, image `VOLUME`) that no explicit mount
    /// covers: anonymous volumes unless `--volumes-from` brings that target.
    pub anonymous_targets: Vec<String>,
}

fn refuse(msg: impl Into<String>) -> ApiError {
    ApiError::InvalidParameter(msg.into())
}

/// dockerd's local volume name rule.
pub fn valid_volume_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

fn clean_path(p: &str) -> String {
    let t = p.trim_end_matches('/');
    if t.is_empty() { "/".into() } else { t.into() }
}

fn check_target(kind: &str, target: &str) -> Result<String, ApiError> {
    if target.is_empty() {
        return Err(refuse(format!(
            "invalid mount config for type \"{kind}\": field Target must not be empty"
        )));
    }
    if !target.starts_with('/') {
        return Err(refuse(format!(
            "invalid mount config for type \"{kind}\": invalid mount path: '{target}' mount path must be absolute"
        )));
    }
    if target.contains(':') {
        return Err(refuse(format!(
            "invalid mount config for type \"{kind}\": mount path '{target}' must not contain ':' (Azure Container Apps)"
        )));
    }
    let t = clean_path(target);
    if t == "/" {
        return Err(refuse("invalid specification: destination can't be '/'"));
    }
    Ok(t)
}

fn source_spec(host_path: &str, target: String, read_only: bool, create: bool) -> MountSpec {
    let host_path = clean_path(host_path);
    if DOCKER_SOCKETS.contains(&host_path.as_str()) {
        MountSpec::DockerSocket {
            host_path,
            target,
            read_only,
        }
    } else {
        MountSpec::Bind {
            host_path,
            target,
            read_only,
            create_missing: create,
        }
    }
}

fn check_volume_name(name: &str) -> Result<(), ApiError> {
    if valid_volume_name(name) {
        Ok(())
    } else {
        Err(refuse(format!(
            "create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        )))
    }
}

/// Parses one `HostConfig.Binds` entry (`src:dst[:mode]` or `dst`).
pub fn parse_bind(spec: &str) -> Result<MountSpec, ApiError> {
    let parts: Vec<&str> = spec.split(':').collect();
    let invalid = || refuse(format!("invalid volume specification: '{spec}'"));
    let (source, dest, mode) = match parts.as_slice() {
        [d] => (None, *d, None),
        [s, d] => (Some(*s), *d, None),
        [s, d, m] => (Some(*s), *d, Some(*m)),
        _ => return Err(invalid()),
    };
    if source.is_some_and(str::is_empty) || dest.is_empty() {
        return Err(invalid());
    }
    let kind = if source.is_some_and(|s| s.starts_with('/')) {
        "bind"
    } else {
        "volume"
    };
    let target = check_target(kind, dest).map_err(|e| {
        refuse(format!(
            "invalid volume specification: '{spec}': {}",
            e.message()
        ))
    })?;
    let mut read_only = false;
    for opt in mode.into_iter().flat_map(|m| m.split(',')) {
        match opt {
            "" | "rw" => read_only = false,
            "ro" => read_only = true,
            // We never copy image content into a volume: nocopy is our behaviour.
            "nocopy" if kind == "volume" => {}
            "z" | "Z" => {
                return Err(refuse(format!(
                    "invalid volume specification: '{spec}': SELinux relabeling option '{opt}' is not supported by sockerless-aca (containers run on Azure Container Apps)"
                )));
            }
            "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate" => {
                return Err(refuse(format!(
                    "invalid volume specification: '{spec}': mount propagation '{opt}' is not supported by sockerless-aca"
                )));
            }
            "consistent" | "cached" | "delegated" => {
                return Err(refuse(format!(
                    "invalid volume specification: '{spec}': consistency '{opt}' is not supported by sockerless-aca"
                )));
            }
            other => return Err(refuse(format!("invalid mode: {other}"))),
        }
    }
    Ok(match source {
        None => MountSpec::Volume {
            name: String::new(),
            target,
            read_only,
            anonymous: true,
            labels: BTreeMap::new(),
        },
        Some(s) if s.starts_with('/') => source_spec(s, target, read_only, true),
        Some(name) => {
            check_volume_name(name)?;
            MountSpec::Volume {
                name: name.to_owned(),
                target,
                read_only,
                anonymous: false,
                labels: BTreeMap::new(),
            }
        }
    })
}

fn not_for(kind: &str, what: &str) -> ApiError {
    refuse(format!(
        "invalid mount config for type \"{kind}\": {what} must not be specified"
    ))
}

/// Parses one `HostConfig.Mounts` entry.
pub fn parse_mount(m: &Mount) -> Result<MountSpec, ApiError> {
    let Some(typ) = m.typ else {
        return Err(refuse("invalid mount config: mount type unknown"));
    };
    let kind = typ.to_string();
    let target = check_target(&kind, m.target.as_deref().unwrap_or_default())?;
    if let Some(c) = m
        .consistency
        .as_deref()
        .filter(|c| !c.is_empty() && *c != "default")
    {
        return Err(refuse(format!(
            "invalid mount config for type \"{kind}\": consistency '{c}' is not supported by sockerless-aca"
        )));
    }
    let read_only = m.read_only.unwrap_or(false);
    let source = m.source.as_deref().unwrap_or_default();
    if m.image_options.is_some() && typ != MountType::IMAGE {
        return Err(not_for(&kind, "ImageOptions"));
    }
    match typ {
        MountType::BIND => {
            if m.volume_options.is_some() {
                return Err(not_for(&kind, "VolumeOptions"));
            }
            if m.tmpfs_options.is_some() {
                return Err(not_for(&kind, "TmpfsOptions"));
            }
            if source.is_empty() {
                return Err(refuse(
                    "invalid mount config for type \"bind\": field Source must not be empty",
                ));
            }
            if !source.starts_with('/') {
                return Err(refuse(format!(
                    "invalid mount config for type \"bind\": invalid mount path: '{source}' mount path must be absolute"
                )));
            }
            let b = m.bind_options.clone().unwrap_or_default();
            if let Some(p) = b.propagation.filter(|p| !p.as_ref().is_empty()) {
                return Err(refuse(format!(
                    "invalid mount config for type \"bind\": propagation '{p}' is not supported by sockerless-aca"
                )));
            }
            if b.non_recursive == Some(true) {
                return Err(refuse(
                    "invalid mount config for type \"bind\": bind-nonrecursive is not supported by sockerless-aca (binds are copied recursively)",
                ));
            }
            if b.read_only_non_recursive == Some(true) {
                return Err(refuse(
                    "invalid mount config for type \"bind\": bind-recursive=writable (ReadOnlyNonRecursive) is not supported by sockerless-aca",
                ));
            }
            Ok(source_spec(
                source,
                target,
                read_only,
                b.create_mountpoint.unwrap_or(false),
            ))
        }
        MountType::VOLUME => {
            if m.bind_options.is_some() {
                return Err(not_for(&kind, "BindOptions"));
            }
            if m.tmpfs_options.is_some() {
                return Err(not_for(&kind, "TmpfsOptions"));
            }
            let v = m.volume_options.clone().unwrap_or_default();
            if let Some(d) = &v.driver_config {
                if let Some(name) = d.name.as_deref().filter(|n| !n.is_empty() && *n != "local") {
                    return Err(refuse(format!(
                        "invalid mount config for type \"volume\": volume driver \"{name}\" is not supported: volumes are directories of an Azure Files share (driver \"local\")"
                    )));
                }
                if let Some(opts) = d.options.as_ref().filter(|o| !o.is_empty()) {
                    let mut keys: Vec<&String> = opts.keys().collect();
                    keys.sort();
                    return Err(refuse(format!(
                        "invalid mount config for type \"volume\": volume driver options ({}) are not supported by sockerless-aca",
                        keys.iter()
                            .map(|k| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
            if v.subpath.as_deref().is_some_and(|s| !s.is_empty()) {
                return Err(refuse(
                    "invalid mount config for type \"volume\": volume-subpath (VolumeOptions.Subpath) is not supported by sockerless-aca (API v1.44)",
                ));
            }
            let labels: BTreeMap<String, String> =
                v.labels.unwrap_or_default().into_iter().collect();
            if source.is_empty() {
                return Ok(MountSpec::Volume {
                    name: String::new(),
                    target,
                    read_only,
                    anonymous: true,
                    labels,
                });
            }
            check_volume_name(source)?;
            Ok(MountSpec::Volume {
                name: source.to_owned(),
                target,
                read_only,
                anonymous: false,
                labels,
            })
        }
        MountType::TMPFS => {
            if !source.is_empty() {
                return Err(not_for(&kind, "Source"));
            }
            if m.bind_options.is_some() {
                return Err(not_for(&kind, "BindOptions"));
            }
            if m.volume_options.is_some() {
                return Err(not_for(&kind, "VolumeOptions"));
            }
            if read_only {
                return Err(refuse(
                    "invalid mount config for type \"tmpfs\": readonly is not supported by sockerless-aca (an EmptyDir cannot be mounted read-only)",
                ));
            }
            let mut options = Vec::new();
            if let Some(t) = &m.tmpfs_options {
                if t.size_bytes.is_some_and(|s| s != 0) {
                    return Err(tmpfs_refused("tmpfs-size"));
                }
                if t.mode.is_some_and(|s| s != 0) {
                    return Err(tmpfs_refused("tmpfs-mode"));
                }
                for o in t.options.iter().flatten() {
                    let joined = o.join("=");
                    check_tmpfs_option(&joined)?;
                    options.push(joined);
                }
            }
            Ok(MountSpec::Tmpfs { target, options })
        }
        MountType::NPIPE | MountType::CLUSTER | MountType::IMAGE => Err(refuse(format!(
            "invalid mount config: mount type \"{kind}\" is not supported by sockerless-aca"
        ))),
    }
}

fn tmpfs_refused(opt: &str) -> ApiError {
    refuse(format!(
        "tmpfs option '{opt}' is not supported by sockerless-aca: a tmpfs is an Azure Container Apps EmptyDir volume (disk-backed, no size or mode)"
    ))
}

/// Tmpfs options that an `EmptyDir` honours as given.
const TMPFS_ACCEPTED: &[&str] = &["rw", "exec", "suid", "dev", "notmpcopyup"];

fn check_tmpfs_option(opt: &str) -> Result<(), ApiError> {
    if opt.is_empty() || TMPFS_ACCEPTED.contains(&opt) {
        return Ok(());
    }
    let name = opt.split_once('=').map_or(opt, |(k, _)| k);
    Err(tmpfs_refused(name))
}

/// Parses one `HostConfig.Tmpfs` entry (`target` → `opts`).
pub fn parse_tmpfs(target: &str, opts: &str) -> Result<MountSpec, ApiError> {
    let target = check_target("tmpfs", target)?;
    let mut options = Vec::new();
    for o in opts.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        check_tmpfs_option(o)?;
        options.push(o.to_owned());
    }
    Ok(MountSpec::Tmpfs { target, options })
}

/// Parses one `HostConfig.VolumesFrom` entry.
pub fn parse_volumes_from(entry: &str) -> Result<VolumesFrom, ApiError> {
    let (container, read_only) = match entry.split_once(':') {
        None => (entry, None),
        Some((c, "ro")) => (c, Some(true)),
        Some((c, "rw")) => (c, Some(false)),
        Some((_, mode)) => return Err(refuse(format!("invalid mode: {mode}"))),
    };
    if container.is_empty() {
        return Err(refuse(format!(
            "invalid volumes-from specification: '{entry}'"
        )));
    }
    Ok(VolumesFrom {
        container: container.to_owned(),
        read_only,
    })
}

/// Classifies every mount of a create body; refuses what cannot be honoured.
pub fn classify(body: &ContainerCreateBody) -> Result<Classified, ApiError> {
    let host = body.host_config.clone().unwrap_or_default();
    if let Some(d) = host
        .volume_driver
        .as_deref()
        .filter(|d| !d.is_empty() && *d != "local")
    {
        return Err(refuse(format!(
            "volume driver \"{d}\" is not supported: volumes are directories of an Azure Files share (driver \"local\")"
        )));
    }
    let mut mounts = Vec::new();
    for b in host.binds.iter().flatten() {
        mounts.push(parse_bind(b)?);
    }
    for m in host.mounts.iter().flatten() {
        mounts.push(parse_mount(m)?);
    }
    let mut tmpfs: Vec<(&String, &String)> = host.tmpfs.iter().flatten().collect();
    tmpfs.sort();
    for (target, opts) in tmpfs {
        mounts.push(parse_tmpfs(target, opts)?);
    }
    let mut seen = HashSet::new();
    for m in &mounts {
        if !seen.insert(m.target().to_owned()) {
            return Err(refuse(format!("Duplicate mount point: {}", m.target())));
        }
    }
    let mut anonymous_targets = Vec::new();
    for v in body.volumes.iter().flatten() {
        let target = check_target("volume", v)?;
        if seen.insert(target.clone()) {
            anonymous_targets.push(target);
        }
    }
    let volumes_from = host
        .volumes_from
        .iter()
        .flatten()
        .map(|v| parse_volumes_from(v))
        .collect::<Result<_, _>>()?;
    Ok(Classified {
        mounts,
        volumes_from,
        anonymous_targets,
    })
}

/// The final mount list: `c.mounts`, then the mounts inherited through
/// `--volumes-from` (each source's resolved mounts with its `:ro`/`:rw`
/// override; the first source wins a target; own mounts win over inherited
/// ones), then `c.anonymous_targets` that nothing else covers (as dockerd's
/// `registerMountPoints`). Anonymous volumes keep an empty name here.
pub fn assemble(c: &Classified, sources: &[(Vec<MountSpec>, Option<bool>)]) -> Vec<MountSpec> {
    let mut out = c.mounts.clone();
    let mut taken: HashSet<String> = out.iter().map(|m| m.target().to_owned()).collect();
    for (mounts, ro) in sources {
        for m in mounts.iter().filter(|m| m.inheritable()) {
            if !taken.insert(m.target().to_owned()) {
                continue;
            }
            let mut m = m.clone();
            if let Some(ro) = ro {
                m.set_read_only(*ro);
            }
            out.push(m);
        }
    }
    for target in &c.anonymous_targets {
        if taken.insert(target.clone()) {
            out.push(MountSpec::Volume {
                name: String::new(),
                target: target.clone(),
                read_only: false,
                anonymous: true,
                labels: BTreeMap::new(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod spec_tests;
