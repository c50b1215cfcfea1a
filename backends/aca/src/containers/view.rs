//! Docker's views of a stored container: `docker inspect` and `docker ps`.

use std::collections::HashMap;

use sockerless_api::Result;
use sockerless_api::docker::{
    ContainerConfig, ContainerInspectResponse, ContainerState, ContainerStateStatusEnum,
    ContainerSummary, ContainerSummaryHostConfig, ContainerSummaryNetworkSettings,
    ContainerSummaryStateEnum, EndpointSettings, HostConfig, NetworkSettings,
};
use sockerless_azure::pipeline::ArmCallCounts;

use crate::clock::{ZERO_TIME, rfc3339};
use crate::containers::health::HealthState;
use crate::networks::endpoints::Endpoint;
use crate::runtime::StoredConfig;
use crate::store::{ContainerRecord, ExecRecord};

/// Annotation with the ARM reads made for the container by this process.
pub const ARM_READS_ANNOTATION: &str = "sockerless.aca.arm.reads";
/// Annotation with the ARM writes made for the container by this process.
pub const ARM_WRITES_ANNOTATION: &str = "sockerless.aca.arm.writes";

fn network_mode(stored: &StoredConfig) -> String {
    stored
        .body
        .host_config
        .as_ref()
        .and_then(|h| h.network_mode.clone())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "bridge".to_owned())
}

/// `NetworkSettings.Networks`: the networks the container is on (create
/// config, `network connect`/`disconnect`), with the address peers reach it at.
fn networks(stored: &StoredConfig, endpoints: &[Endpoint]) -> HashMap<String, EndpointSettings> {
    let configured: HashMap<String, EndpointSettings> = stored
        .body
        .networking_config
        .as_ref()
        .and_then(|n| n.endpoints_config.clone())
        .unwrap_or_default();
    let mut nets: HashMap<String, EndpointSettings> = endpoints
        .iter()
        .map(|e| {
            let mut settings = configured.get(&e.network).cloned().unwrap_or_default();
            settings.network_id = Some(e.network_id.clone());
            settings.endpoint_id = Some(e.endpoint_id.clone());
            settings.aliases = Some(e.aliases.clone()).filter(|a| !a.is_empty());
            settings.ip_address = Some(e.ip.map(|ip| ip.to_string()).unwrap_or_default());
            settings.ip_prefix_len = Some(if e.ip.is_some() {
                i64::from(e.prefix_len)
            } else {
                0
            });
            settings.gateway = Some(if e.ip.is_some() {
                e.gateway.clone()
            } else {
                String::new()
            });
            settings.mac_address.get_or_insert_with(String::new);
            settings.ipv6_gateway.get_or_insert_with(String::new);
            settings.global_ipv6_address.get_or_insert_with(String::new);
            settings.global_ipv6_prefix_len.get_or_insert(0);
            settings.links = settings.links.filter(|l| !l.is_empty());
            let mut dns = vec![e.container.chars().take(12).collect::<String>()];
            dns.extend(e.aliases.iter().cloned());
            settings.dns_names = (!e.default_bridge).then_some(dns);
            (e.network.clone(), settings)
        })
        .collect();
    if nets.is_empty() {
        let mode = network_mode(stored);
        if mode == "none" || mode == "host" {
            nets.insert(mode, EndpointSettings::default());
        }
    }
    nets
}

fn status_enum(state: &str) -> ContainerStateStatusEnum {
    match state {
        "running" => ContainerStateStatusEnum::RUNNING,
        "exited" => ContainerStateStatusEnum::EXITED,
        "removing" => ContainerStateStatusEnum::REMOVING,
        "dead" => ContainerStateStatusEnum::DEAD,
        "paused" => ContainerStateStatusEnum::PAUSED,
        "restarting" => ContainerStateStatusEnum::RESTARTING,
        _ => ContainerStateStatusEnum::CREATED,
    }
}

fn summary_state(state: &str) -> ContainerSummaryStateEnum {
    match state {
        "running" => ContainerSummaryStateEnum::RUNNING,
        "exited" => ContainerSummaryStateEnum::EXITED,
        "removing" => ContainerSummaryStateEnum::REMOVING,
        "dead" => ContainerSummaryStateEnum::DEAD,
        "paused" => ContainerSummaryStateEnum::PAUSED,
        "restarting" => ContainerSummaryStateEnum::RESTARTING,
        _ => ContainerSummaryStateEnum::CREATED,
    }
}

/// `docker ps`'s human status: `Up 3 seconds`, `Exited (3) 2 minutes ago`, `Created`.
pub fn human_status(record: &ContainerRecord, now_nanos: i64) -> String {
    let ago = |t: Option<i64>| {
        let secs = (now_nanos - t.unwrap_or(now_nanos)).max(0) / 1_000_000_000;
        match secs {
            0 => "Less than a second".to_owned(),
            1 => "1 second".to_owned(),
            s if s < 60 => format!("{s} seconds"),
            s if s < 120 => "About a minute".to_owned(),
            s if s < 3600 => format!("{} minutes", s / 60),
            s if s < 7200 => "About an hour".to_owned(),
            s => format!("{} hours", s / 3600),
        }
    };
    match record.state.as_str() {
        "running" => format!("Up {}", ago(record.started_at)),
        "exited" => format!(
            "Exited ({}) {} ago",
            record.exit_code.unwrap_or(0),
            ago(record.finished_at)
        ),
        "restarting" => format!(
            "Restarting ({}) {} ago",
            record.exit_code.unwrap_or(0),
            ago(record.finished_at)
        ),
        _ => "Created".to_owned(),
    }
}

/// `record` as users see it: an exited container its restart policy is
/// starting again shows as `restarting`.
pub fn as_shown(
    record: &ContainerRecord,
    restarting: bool,
) -> std::borrow::Cow<'_, ContainerRecord> {
    if restarting && record.state == "exited" {
        let mut shown = record.clone();
        shown.state = "restarting".into();
        std::borrow::Cow::Owned(shown)
    } else {
        std::borrow::Cow::Borrowed(record)
    }
}

/// `docker inspect`.
pub fn inspect(
    record: &ContainerRecord,
    execs: &[ExecRecord],
    arm: ArmCallCounts,
    health: Option<&HealthState>,
    endpoints: &[Endpoint],
) -> Result<ContainerInspectResponse> {
    let stored = StoredConfig::of(record)?;
    let b = &stored.body;
    let argv = crate::containers::merge::command_line(b).unwrap_or_default();
    let running = record.state == "running";
    let mut host_config: HostConfig = b.host_config.clone().unwrap_or_default();
    let mut annotations = host_config.annotations.take().unwrap_or_default();
    annotations.insert(ARM_READS_ANNOTATION.to_owned(), arm.reads.to_string());
    annotations.insert(ARM_WRITES_ANNOTATION.to_owned(), arm.writes.to_string());
    host_config.annotations = Some(annotations);
    host_config.network_mode = Some(network_mode(&stored));
    // What the replica gets: ACA's CPU/memory pair holding the request,
    // rounded up (the request itself is in the create body the client kept).
    if let Ok(pair) =
        crate::runtime::template::resources_for(host_config.nano_cpus, host_config.memory)
    {
        host_config.nano_cpus = Some((pair.cpu * 1e9).round() as i64);
        host_config.memory = Some((pair.memory_gib * 1024.0 * 1024.0 * 1024.0).round() as i64);
    }
    let config = ContainerConfig {
        hostname: Some(
            b.hostname
                .clone()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| record.id.chars().take(12).collect()),
        ),
        domainname: Some(b.domainname.clone().unwrap_or_default()),
        user: Some(b.user.clone().unwrap_or_default()),
        attach_stdin: Some(b.attach_stdin.unwrap_or(false)),
        attach_stdout: Some(b.attach_stdout.unwrap_or(false)),
        attach_stderr: Some(b.attach_stderr.unwrap_or(false)),
        exposed_ports: b.exposed_ports.clone(),
        tty: Some(b.tty.unwrap_or(false)),
        open_stdin: Some(b.open_stdin.unwrap_or(false)),
        stdin_once: Some(b.stdin_once.unwrap_or(false)),
        env: Some(b.env.clone().unwrap_or_default()),
        cmd: b.cmd.clone(),
        healthcheck: b.healthcheck.clone(),
        image: Some(record.image.clone()),
        volumes: b.volumes.clone(),
        working_dir: Some(b.working_dir.clone().unwrap_or_default()),
        entrypoint: b.entrypoint.clone(),
        labels: Some(b.labels.clone().unwrap_or_default()),
        stop_signal: b.stop_signal.clone(),
        stop_timeout: b.stop_timeout,
        on_build: b.on_build.clone(),
        shell: b.shell.clone(),
        ..Default::default()
    };
    let state = ContainerState {
        status: Some(status_enum(&record.state)),
        running: Some(running),
        paused: Some(false),
        restarting: Some(record.state == "restarting"),
        oom_killed: Some(false),
        dead: Some(false),
        pid: Some(0),
        exit_code: Some(record.exit_code.unwrap_or(0)),
        error: Some(String::new()),
        started_at: Some(
            record
                .started_at
                .map_or_else(|| ZERO_TIME.to_owned(), rfc3339),
        ),
        finished_at: Some(
            record
                .finished_at
                .map_or_else(|| ZERO_TIME.to_owned(), rfc3339),
        ),
        health: health.map(HealthState::view),
    };
    Ok(ContainerInspectResponse {
        id: Some(record.id.clone()),
        created: Some(rfc3339(record.created_at)),
        path: argv.first().cloned(),
        args: Some(argv.iter().skip(1).cloned().collect()),
        state: Some(state),
        image: Some(stored.image_id.clone()),
        name: Some(format!("/{}", record.name)),
        restart_count: Some(stored.restart_count),
        driver: Some("aca".to_owned()),
        platform: Some("linux".to_owned()),
        exec_ids: (!execs.is_empty()).then(|| execs.iter().map(|e| e.id.clone()).collect()),
        host_config: Some(host_config),
        mounts: Some(Vec::new()),
        config: Some(config),
        network_settings: Some(NetworkSettings {
            networks: Some(networks(&stored, endpoints)),
            ..Default::default()
        }),
        resolv_conf_path: Some(String::new()),
        hostname_path: Some(String::new()),
        hosts_path: Some(String::new()),
        log_path: Some(String::new()),
        mount_label: Some(String::new()),
        process_label: Some(String::new()),
        app_armor_profile: Some(String::new()),
        ..Default::default()
    })
}

/// One row of `docker ps`.
pub fn summary(
    record: &ContainerRecord,
    size: bool,
    health: Option<&HealthState>,
    endpoints: &[Endpoint],
) -> Result<ContainerSummary> {
    let stored = StoredConfig::of(record)?;
    let argv = crate::containers::merge::command_line(&stored.body).unwrap_or_default();
    Ok(ContainerSummary {
        id: Some(record.id.clone()),
        names: Some(vec![format!("/{}", record.name)]),
        image: Some(record.image.clone()),
        image_id: Some(stored.image_id.clone()),
        command: Some(argv.join(" ")),
        created: Some(record.created_at / 1_000_000_000),
        ports: Some(Vec::new()),
        size_rw: size.then_some(0),
        size_root_fs: size.then_some(0),
        labels: Some(stored.body.labels.clone().unwrap_or_default()),
        state: Some(summary_state(&record.state)),
        status: Some(format!(
            "{}{}",
            human_status(record, crate::clock::now_nanos()),
            health
                .filter(|_| record.state == "running")
                .map_or("", |h| h.status.ps_suffix())
        )),
        host_config: Some(ContainerSummaryHostConfig {
            network_mode: Some(network_mode(&stored)),
            annotations: None,
        }),
        network_settings: Some(ContainerSummaryNetworkSettings {
            networks: Some(networks(&stored, endpoints)),
        }),
        mounts: Some(Vec::new()),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(state: &str) -> ContainerRecord {
        ContainerRecord {
            id: "a".repeat(64),
            name: "c".into(),
            image: "busybox".into(),
            job_name: "sl-a".into(),
            execution_name: None,
            agent_address: None,
            agent_token_hash: None,
            state: state.into(),
            exit_code: Some(1),
            created_at: 0,
            started_at: Some(0),
            finished_at: Some(2_000_000_000),
            config: serde_json::Value::Null,
        }
    }

    /// An exited container its restart policy is starting again shows as
    /// dockerd shows it: `restarting`, `Restarting (1) … ago`.
    #[test]
    fn a_restart_in_progress_is_shown_as_restarting() {
        let exited = record("exited");
        let shown = as_shown(&exited, true);
        assert_eq!(shown.state, "restarting");
        assert_eq!(
            human_status(&shown, 5_000_000_000),
            "Restarting (1) 3 seconds ago"
        );
        assert_eq!(as_shown(&exited, false).state, "exited");
        assert_eq!(as_shown(&record("running"), true).state, "running");
    }
}
