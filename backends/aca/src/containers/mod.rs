//! Containers: create, lifecycle on ACA Jobs, attach, logs, wait, `docker cp`, health.
//!
//! Each function implements one `Backend` method of [`AcaBackend`]; the
//! trait impl in `backend.rs` only delegates here.

pub mod archive;
pub mod commit;
pub mod diff;
mod exited;
pub mod extra_hosts;
pub mod fields;
pub mod filters;
pub mod health;
mod layers;
pub mod merge;
pub mod mounts;
pub mod naming;
pub mod overlay;
pub mod prepare;
pub mod prune;
pub mod streams;
pub mod ulimits;
pub mod update;
pub mod view;

use sockerless_api::docker::{
    ContainerCreateResponse, ContainerInspectResponse, ContainerSummary, ContainerWaitResponse,
};
use sockerless_api::{
    ApiError, AttachOptions, AttachedOutput, ByteStream, CreateContainerRequest, EventStream,
    Filters, InputStream, ListContainersOptions, LogsOptions, PathStat, RemoveContainerOptions,
    Result, StopOptions, WaitCondition,
};

use crate::AcaBackend;
use crate::clock::{now_nanos, random_hex};
use crate::containers::health::HealthState;
use crate::runtime::state::Command;
use crate::runtime::template::{replica_timeout, resources_for};
use crate::runtime::{StoredConfig, find_container, lifecycle};
use crate::store::{ContainerRecord, records};

/// `Backend::container_create`: stores the container; no Azure call.
pub async fn create(
    backend: &AcaBackend,
    req: CreateContainerRequest,
) -> Result<ContainerCreateResponse> {
    let image_name = req
        .config
        .image
        .clone()
        .filter(|i| !i.is_empty())
        .ok_or_else(|| ApiError::InvalidParameter("config.Image is required".into()))?;
    let name = req.name.as_deref().map(naming::validate_name).transpose()?;
    let image = crate::images::resolve(backend, &image_name).await?;
    let body = merge::merge_image_config(req.config, &image.config);
    merge::command_line(&body)?;
    crate::ports::validate(&body)?;
    fields::check(
        &serde_json::to_value(&body)
            .map_err(|e| ApiError::Internal(format!("encode container config: {e}")))?,
    )?;
    extra_hosts::of_body(&body)?;
    ulimits::check_create(&body)?;
    crate::runtime::restart_policy::check_create(&body)?;
    crate::networks::endpoints::check_create(
        backend.config().network_mode,
        &serde_json::to_value(&body)
            .map_err(|e| ApiError::Internal(format!("encode container config: {e}")))?,
    )?;
    let host = body.host_config.as_ref();
    resources_for(host.and_then(|h| h.nano_cpus), host.and_then(|h| h.memory))?;
    replica_timeout(&body, backend.config().replica_timeout_secs)?;
    // A `--mount type=bind` source must exist (dockerd checks it at create).
    crate::binds::check_create(&body)?;
    // Mounts last: it creates missing and anonymous volumes.
    let mounts = crate::volumes::attach::resolve(backend, &body).await?;
    let kept = mounts.clone();
    let created = store_new(backend, body, image, image_name, name, req.platform, mounts).await;
    if created.is_err() {
        // Anonymous volumes made for this container go with it (dockerd
        // leaves them; nothing could ever remove them here).
        crate::volumes::attach::remove_anonymous(backend, &kept).await;
    }
    created
}

/// The rest of create: the record under a free name.
async fn store_new(
    backend: &AcaBackend,
    body: sockerless_api::docker::ContainerCreateBody,
    image: crate::images::ResolvedImage,
    image_name: String,
    name: Option<String>,
    platform: Option<String>,
    mounts: Vec<crate::containers::mounts::MountSpec>,
) -> Result<ContainerCreateResponse> {
    let id = random_hex(32)?;
    let stored = StoredConfig {
        body,
        image_id: image.id.clone(),
        platform,
        restart_count: 0,
        manually_stopped: false,
        mounts,
        arm_reads: 0,
        arm_writes: 0,
    };
    crate::docker_socket::check_create(backend.config(), &stored.mounts)?;
    let mut record = ContainerRecord {
        id: id.clone(),
        name: String::new(),
        image: image_name,
        job_name: crate::names::job_name(&id)?,
        execution_name: None,
        agent_address: None,
        agent_token_hash: None,
        state: "created".into(),
        exit_code: None,
        created_at: now_nanos(),
        started_at: None,
        finished_at: None,
        config: stored.to_value()?,
    };
    for attempt in 0..10u32 {
        record.name = match &name {
            Some(n) => n.clone(),
            None => {
                let r = u64::from_str_radix(&random_hex(8)?, 16).unwrap_or(0);
                naming::generate_name(r, attempt)
            }
        };
        let candidate = record.clone();
        let holder = backend
            .store()
            .call(move |c| {
                let tx = c.transaction()?;
                if let Some(other) = records::get_container(&tx, &candidate.name)? {
                    return Ok(Some(other.id));
                }
                records::put_container(&tx, &candidate)?;
                tx.commit()?;
                Ok(None)
            })
            .await?;
        match holder {
            None => {
                crate::events::actors::container(backend, &record, "create", &[]);
                tracing::info!(container = %id, name = %record.name, "container created");
                tracing::debug!(target: crate::runtime::TIMELINE, container = %id, "created");
                return Ok(ContainerCreateResponse {
                    id,
                    warnings: Vec::new(),
                });
            }
            Some(other) if name.is_some() => {
                return Err(naming::name_conflict(&record.name, &other));
            }
            Some(_) => continue,
        }
    }
    Err(ApiError::Internal(
        "could not generate a free container name".into(),
    ))
}

/// `Backend::container_start`.
pub async fn start(backend: &AcaBackend, id: &str) -> Result<()> {
    lifecycle::start(backend, id).await
}

/// `Backend::container_inspect`: from the store, no Azure call.
pub async fn inspect(backend: &AcaBackend, id: &str) -> Result<ContainerInspectResponse> {
    // One trip to the store's thread for all of it: each trip costs more
    // than the reads themselves.
    let key = id.to_owned();
    let (found, execs, stored_health, networks) = backend
        .store()
        .read(move |c| {
            let found = records::lookup_container(c, &key)?;
            let (execs, health) = match found.as_slice() {
                [one] => (
                    records::execs_of(c, &one.id)?,
                    records::health_of(c, &one.id)?,
                ),
                _ => (Vec::new(), None),
            };
            Ok((
                found,
                execs,
                health,
                crate::networks::endpoints::Table::read(c)?,
            ))
        })
        .await?;
    let record = crate::runtime::pick_container(found, id)?;
    let health = health_of(backend, &record, stored_health.as_deref())?;
    let endpoints = networks.of(&record);
    let restarting = backend
        .runtimes()
        .find(&record.id)
        .is_some_and(|rt| rt.restarting.load(std::sync::atomic::Ordering::SeqCst));
    let mut response = view::inspect(
        &view::as_shown(&record, restarting),
        &execs,
        backend.runtimes().find(&record.id).map_or_else(
            || {
                StoredConfig::of(&record)
                    .map(|c| c.arm_calls())
                    .unwrap_or_default()
            },
            |rt| rt.arm.counts(),
        ),
        health.as_ref(),
        &endpoints,
    )?;
    let rt = backend.runtimes().find(&record.id);
    crate::ops::pause::show_inspect(&mut response, rt.as_deref());
    response
        .network_settings
        .get_or_insert_with(Default::default)
        .ports = Some(crate::ports::port_map(rt.as_deref()));
    response.mounts = Some(crate::volumes::attach::mount_points_of(
        backend,
        &StoredConfig::of(&record)?,
    ));
    Ok(response)
}

/// The health shown for `record`: the agent's reports of this run (in
/// memory, or `stored` by an earlier process of the backend).
fn health_of(
    backend: &AcaBackend,
    record: &ContainerRecord,
    stored: Option<&str>,
) -> Result<Option<HealthState>> {
    let body = StoredConfig::of(record)?.body;
    let reported = backend
        .runtimes()
        .find(&record.id)
        .and_then(|rt| rt.health())
        .or_else(|| stored.and_then(HealthState::from_stored));
    Ok(health::current(
        &body,
        record.started_at.is_some(),
        reported,
    ))
}

/// `Backend::container_list`: from the store, no Azure call.
pub async fn list(
    backend: &AcaBackend,
    opts: ListContainersOptions,
) -> Result<Vec<ContainerSummary>> {
    let (all, stored_health) = backend
        .store()
        .read(|c| Ok::<_, rusqlite::Error>((records::list_containers(c)?, records::all_health(c)?)))
        .await?;
    let filter = filters::ContainerFilter::parse(&opts.filters)?;
    let networks = crate::networks::endpoints::Table::load(backend).await?;
    let mut out = Vec::new();
    for record in &all {
        // As in Docker, `--last N` (`limit`) implies all containers.
        let all_states = opts.all || opts.limit.is_some_and(|l| l > 0);
        if !all_states && record.state != "running" && !filter.wants_stopped() {
            continue;
        }
        let health = health_of(
            backend,
            record,
            stored_health.get(&record.id).map(String::as_str),
        )?;
        let rt = backend.runtimes().find(&record.id);
        let restarting = rt
            .as_ref()
            .is_some_and(|rt| rt.restarting.load(std::sync::atomic::Ordering::SeqCst));
        // `status` filters what `ps` shows: restarting, paused.
        let shown = view::as_shown(record, restarting);
        let mut filtered = shown.clone();
        if rt.as_deref().is_some_and(crate::ops::pause::is_paused) {
            filtered.to_mut().state = "paused".into();
        }
        if !filter.matches(&filtered, &all)?
            || !filter.matches_health(health::filter_value(health.as_ref()))
        {
            continue;
        }
        let mut row = view::summary(&shown, opts.size, health.as_ref(), &networks.of(record))?;
        row.ports = Some(crate::ports::summaries(rt.as_deref()));
        crate::ops::pause::show_summary(&mut row, rt.as_deref());
        row.mounts = Some(crate::volumes::attach::mount_points_of(
            backend,
            &StoredConfig::of(record)?,
        ));
        out.push(row);
        if opts.limit.is_some_and(|l| l > 0 && out.len() >= l) {
            break;
        }
    }
    Ok(out)
}

/// `Backend::container_logs`.
pub async fn logs(backend: &AcaBackend, id: &str, opts: LogsOptions) -> Result<AttachedOutput> {
    streams::logs(backend, id, opts).await
}

/// `Backend::container_stop`.
pub async fn stop(backend: &AcaBackend, id: &str, opts: StopOptions) -> Result<()> {
    crate::runtime::stop::stop(backend, id, opts.signal, opts.timeout_secs).await
}

/// `Backend::container_restart`: stop (if running), then a new execution.
pub async fn restart(backend: &AcaBackend, id: &str, opts: StopOptions) -> Result<()> {
    match crate::runtime::stop::stop(backend, id, opts.signal, opts.timeout_secs).await {
        Ok(()) | Err(ApiError::NotModified(_)) => {}
        Err(e) => return Err(e),
    }
    lifecycle::start(backend, id).await?;
    crate::events::actors::container_id(backend, id, "restart", &[]).await;
    Ok(())
}

/// `Backend::container_kill`.
pub async fn kill(backend: &AcaBackend, id: &str, signal: Option<String>) -> Result<()> {
    crate::runtime::stop::kill(backend, id, signal).await
}

/// `Backend::container_remove`.
pub async fn remove(backend: &AcaBackend, id: &str, opts: RemoveContainerOptions) -> Result<()> {
    lifecycle::remove(backend, id, opts).await
}

/// `Backend::container_wait`.
pub async fn wait(
    backend: &AcaBackend,
    id: &str,
    condition: WaitCondition,
) -> Result<ContainerWaitResponse> {
    streams::wait(backend, id, condition).await
}

/// `Backend::container_attach`.
pub async fn attach(
    backend: &AcaBackend,
    id: &str,
    opts: AttachOptions,
    stdin: Option<InputStream>,
) -> Result<AttachedOutput> {
    let attached = streams::attach(backend, id, opts, stdin).await?;
    crate::events::actors::container_id(backend, id, "attach", &[]).await;
    Ok(attached)
}

/// `Backend::container_resize`: the TTY size, through the agent.
pub async fn resize(backend: &AcaBackend, id: &str, height: u16, width: u16) -> Result<()> {
    let record = find_container(backend, id).await?;
    let rt = backend.runtimes().get(&record);
    if !rt.state.borrow().running {
        return Err(ApiError::Conflict(format!(
            "Container {} is not running",
            record.id
        )));
    }
    rt.send(Command::Resize(height, width));
    crate::events::actors::resize(backend, &record.id, height, width).await;
    Ok(())
}

/// `Backend::container_rename`.
pub async fn rename(backend: &AcaBackend, id: &str, new_name: &str) -> Result<()> {
    let new_name = naming::validate_name(new_name)?;
    let record = find_container(backend, id).await?;
    let (renamed, old_name) = (record.id.clone(), record.name.clone());
    let holder = backend
        .store()
        .call(move |c| {
            let tx = c.transaction()?;
            if let Some(other) = records::get_container(&tx, &new_name)?
                && other.id != record.id
            {
                return Ok(Err((new_name, other.id)));
            }
            let mut record = record;
            record.name = new_name;
            records::put_container(&tx, &record)?;
            tx.commit()?;
            Ok(Ok(()))
        })
        .await?;
    holder.map_err(|(name, other)| naming::name_conflict(&name, &other))?;
    crate::events::actors::rename(backend, &renamed, &old_name).await;
    Ok(())
}

/// `Backend::container_archive_stat`.
pub async fn archive_stat(backend: &AcaBackend, id: &str, path: &str) -> Result<PathStat> {
    archive::stat(backend, id, path).await
}

/// `Backend::container_archive_get`.
pub async fn archive_get(
    backend: &AcaBackend,
    id: &str,
    path: &str,
) -> Result<(PathStat, ByteStream)> {
    let got = archive::get(backend, id, path).await?;
    crate::events::actors::archive(backend, id, "archive-path").await;
    Ok(got)
}

/// `Backend::container_archive_put`.
pub async fn archive_put(
    backend: &AcaBackend,
    id: &str,
    path: &str,
    tar: ByteStream,
) -> Result<()> {
    archive::put(backend, id, path, tar).await?;
    crate::events::actors::archive(backend, id, "extract-to-dir").await;
    Ok(())
}

/// `Backend::events`.
pub async fn events(
    backend: &AcaBackend,
    since_nanos: Option<i64>,
    until_nanos: Option<i64>,
    filters: Filters,
) -> Result<EventStream> {
    crate::events::feed(backend, since_nanos, until_nanos, filters).await
}

#[cfg(test)]
mod tests;
