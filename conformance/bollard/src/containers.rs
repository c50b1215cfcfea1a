//! Container life cycle, logs, inspect, list filters and error statuses.

use std::collections::HashMap;

use anyhow::{Context, Result, ensure};
use bollard::models::{ContainerCreateBody, ContainerStateStatusEnum};
use bollard::query_parameters::{
    InspectContainerOptions, ListContainersOptions, LogsOptions, RemoveContainerOptions,
};

use crate::ctx::{Ctx, collect, expect_eq, expect_status};

/// `connect_with_local_defaults` honours `DOCKER_HOST=unix://…`: the
/// daemon behind it answers ping, version and info with typed bodies.
pub async fn connect_docker_host(ctx: &Ctx) -> Result<()> {
    let host = std::env::var("DOCKER_HOST").context("DOCKER_HOST")?;
    ensure!(
        host.starts_with("unix://"),
        "DOCKER_HOST {host} is not unix://"
    );
    let d = &ctx.docker;
    expect_eq(d.ping().await?.as_str(), "OK", "ping")?;
    let version = d.version().await?;
    let api = version.api_version.context("version.ApiVersion")?;
    let (major, minor) = api.split_once('.').context("ApiVersion without a dot")?;
    ensure!(
        (major.parse::<u32>()?, minor.parse::<u32>()?) >= (1, 41),
        "ApiVersion {api}"
    );
    expect_eq(version.os.as_deref(), Some("linux"), "version.Os")?;
    expect_eq(
        d.client_version().to_string(),
        api.clone(),
        "negotiated client version",
    )?;
    let info = d.info().await?;
    expect_eq(info.os_type.as_deref(), Some("linux"), "info.OSType")?;
    ensure!(
        info.containers.is_some() && info.images.is_some(),
        "info counts: {info:?}"
    );
    ensure!(info.ncpu.unwrap_or(0) > 0, "info.NCPU");
    Ok(())
}

/// create, start, wait: exit codes 0 and 3, as wait and inspect report them.
pub async fn run_exit_code(ctx: &Ctx) -> Result<()> {
    let ok = ctx.run_detached("ok", ctx.body(&["true"])).await?;
    expect_eq(ctx.wait_code(&ok).await?, 0, "exit code of true")?;
    let bad = ctx
        .run_detached("bad", ctx.body(&["sh", "-c", "exit 3"]))
        .await?;
    expect_eq(ctx.wait_code(&bad).await?, 3, "exit code of exit 3")?;
    let state = ctx
        .docker
        .inspect_container(&bad, None)
        .await?
        .state
        .context("State")?;
    expect_eq(state.exit_code, Some(3), "State.ExitCode")?;
    expect_eq(
        state.status,
        Some(ContainerStateStatusEnum::EXITED),
        "State.Status",
    )?;
    expect_eq(state.running, Some(false), "State.Running")?;
    Ok(())
}

fn logs_all() -> LogsOptions {
    LogsOptions {
        stdout: true,
        stderr: true,
        tail: "all".into(),
        ..Default::default()
    }
}

/// Logs come back as `LogOutput::StdOut` / `StdErr` without a TTY and as
/// `Console` with one.
pub async fn logs_split(ctx: &Ctx) -> Result<()> {
    let script = ["sh", "-c", "echo out1; echo err1 >&2; echo out2"];
    let plain = ctx.run_detached("plain", ctx.body(&script)).await?;
    expect_eq(ctx.wait_code(&plain).await?, 0, "exit code")?;
    let out = collect(ctx.docker.logs(&plain, Some(logs_all()))).await?;
    expect_eq(out.stdout.as_str(), "out1\nout2\n", "StdOut")?;
    expect_eq(out.stderr.as_str(), "err1\n", "StdErr")?;
    expect_eq(out.console.as_str(), "", "Console without a tty")?;
    let only_err = LogsOptions {
        stdout: false,
        ..logs_all()
    };
    let out = collect(ctx.docker.logs(&plain, Some(only_err))).await?;
    expect_eq(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("", "err1\n"),
        "stderr=true only",
    )?;
    let tty = ctx
        .run_detached(
            "tty",
            ContainerCreateBody {
                tty: Some(true),
                ..ctx.body(&script)
            },
        )
        .await?;
    expect_eq(ctx.wait_code(&tty).await?, 0, "exit code with a tty")?;
    let out = collect(ctx.docker.logs(&tty, Some(logs_all()))).await?;
    expect_eq(out.stdout.as_str(), "", "StdOut with a tty")?;
    let mut lines: Vec<&str> = out.console.split("\r\n").collect();
    lines.sort_unstable();
    expect_eq(lines, vec!["", "err1", "out1", "out2"], "Console lines")?;
    Ok(())
}

/// `follow: true` streams lines as they come and ends when the container exits.
pub async fn logs_follow(ctx: &Ctx) -> Result<()> {
    let id = ctx
        .run_detached(
            "follow",
            ctx.body(&["sh", "-c", "for i in 1 2 3; do echo line$i; sleep 1; done"]),
        )
        .await?;
    let follow = LogsOptions {
        follow: true,
        ..logs_all()
    };
    let out = collect(ctx.docker.logs(&id, Some(follow))).await?;
    expect_eq(
        out.stdout.as_str(),
        "line1\nline2\nline3\n",
        "followed output",
    )?;
    expect_eq(ctx.wait_code(&id).await?, 0, "exit code")?;
    let tail = LogsOptions {
        tail: "1".into(),
        ..logs_all()
    };
    let out = collect(ctx.docker.logs(&id, Some(tail))).await?;
    expect_eq(out.stdout.as_str(), "line3\n", "tail 1")?;
    Ok(())
}

/// Inspect deserialises into bollard's typed model with dockerd's values.
pub async fn inspect_types(ctx: &Ctx) -> Result<()> {
    let key = ctx.name("k");
    let body = ContainerCreateBody {
        env: Some(vec!["FOO=bar".into()]),
        working_dir: Some("/tmp".into()),
        labels: Some(HashMap::from([(key.clone(), "v".to_owned())])),
        ..ctx.body(&["sh", "-c", "pwd; exit 4"])
    };
    let id = ctx.run_detached("inspect", body).await?;
    expect_eq(ctx.wait_code(&id).await?, 4, "exit code")?;
    let c = ctx
        .docker
        .inspect_container(&id, Some(InspectContainerOptions { size: false }))
        .await?;
    expect_eq(c.id.as_deref(), Some(id.as_str()), "Id")?;
    expect_eq(c.name, Some(format!("/{}", ctx.name("inspect"))), "Name")?;
    ensure!(
        c.image.as_deref().is_some_and(|i| i.starts_with("sha256:")),
        "Image {:?}",
        c.image
    );
    ensure!(
        c.created.as_deref().is_some_and(|t| t.len() >= 20),
        "Created {:?}",
        c.created
    );
    expect_eq(c.restart_count, Some(0), "RestartCount")?;
    let config = c.config.context("Config")?;
    expect_eq(
        config.image.as_deref(),
        Some(ctx.image.as_str()),
        "Config.Image",
    )?;
    expect_eq(
        config.working_dir.as_deref(),
        Some("/tmp"),
        "Config.WorkingDir",
    )?;
    let env = config.env.unwrap_or_default();
    ensure!(env.iter().any(|e| e == "FOO=bar"), "Config.Env {env:?}");
    expect_eq(
        config
            .labels
            .unwrap_or_default()
            .get(&key)
            .map(String::as_str),
        Some("v"),
        "Config.Labels",
    )?;
    let state = c.state.context("State")?;
    expect_eq(state.exit_code, Some(4), "State.ExitCode")?;
    expect_eq(
        state.status,
        Some(ContainerStateStatusEnum::EXITED),
        "State.Status",
    )?;
    ensure!(
        state
            .finished_at
            .as_deref()
            .is_some_and(|t| !t.starts_with("0001")),
        "State.FinishedAt {:?}",
        state.finished_at
    );
    let host = c.host_config.context("HostConfig")?;
    ensure!(host.log_config.is_some(), "HostConfig.LogConfig missing");
    ensure!(c.network_settings.is_some(), "NetworkSettings missing");
    Ok(())
}

/// `list_containers` with label, status and name filters (filters are ANDed).
pub async fn list_label_filters(ctx: &Ctx) -> Result<()> {
    let key = ctx.name("role");
    let labelled = |value: &str, cmd: &[&str]| ContainerCreateBody {
        labels: Some(HashMap::from([(key.clone(), value.to_owned())])),
        ..ctx.body(cmd)
    };
    ctx.run_detached("a", labelled("a", &["sleep", "300"]))
        .await?;
    let b = ctx.run_detached("b", labelled("b", &["true"])).await?;
    expect_eq(ctx.wait_code(&b).await?, 0, "exit code of b")?;
    let names = |filters: &[(&str, &str)], all: bool| {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in filters {
            map.entry((*k).to_owned())
                .or_default()
                .push((*v).to_owned());
        }
        let options = ListContainersOptions {
            all,
            filters: Some(map),
            ..Default::default()
        };
        async move {
            let list = ctx.docker.list_containers(Some(options)).await?;
            let mut names: Vec<String> = list
                .into_iter()
                .flat_map(|c| c.names.unwrap_or_default())
                .map(|n| n.trim_start_matches('/').to_owned())
                .collect();
            names.sort();
            anyhow::Ok(names)
        }
    };
    let (a_name, b_name) = (ctx.name("a"), ctx.name("b"));
    expect_eq(
        names(&[("label", &key)], true).await?,
        vec![a_name.clone(), b_name.clone()],
        "label=key",
    )?;
    let key_a = format!("{key}=a");
    expect_eq(
        names(&[("label", &key_a)], true).await?,
        vec![a_name.clone()],
        "label=key=a",
    )?;
    expect_eq(
        names(&[("label", &key)], false).await?,
        vec![a_name.clone()],
        "running only",
    )?;
    expect_eq(
        names(&[("label", &key), ("status", "exited")], true).await?,
        vec![b_name.clone()],
        "label and status=exited",
    )?;
    let key_b = format!("{key}=b");
    expect_eq(
        names(&[("label", &key_a), ("label", &key_b)], true).await?,
        Vec::<String>::new(),
        "two label filters are ANDed",
    )?;
    Ok(())
}

/// Daemon errors surface as `DockerResponseServerError` with dockerd's
/// status: 404 for missing containers and images, 409 for conflicts.
pub async fn missing_container_404(ctx: &Ctx) -> Result<()> {
    let missing = ctx.name("missing");
    let d = &ctx.docker;
    expect_status(
        d.inspect_container(&missing, None).await,
        404,
        "No such container",
        "inspect",
    )?;
    expect_status(
        d.start_container(&missing, None).await,
        404,
        "No such container",
        "start",
    )?;
    expect_status(
        d.remove_container(&missing, None::<RemoveContainerOptions>)
            .await,
        404,
        "No such container",
        "remove",
    )?;
    let no_image = ContainerCreateBody {
        image: Some(format!("{}nothing:latest", ctx.prefix)),
        ..Default::default()
    };
    expect_status(
        ctx.create("noimage", no_image)
            .await
            .map_err(unwrap_bollard),
        404,
        "No such image",
        "create with a missing image",
    )?;
    ctx.run_detached("dup", ctx.body(&["sleep", "300"])).await?;
    expect_status(
        ctx.create("dup", ctx.body(&["true"]))
            .await
            .map_err(unwrap_bollard),
        409,
        "is already in use",
        "name conflict",
    )?;
    expect_status(
        d.remove_container(&ctx.name("dup"), None::<RemoveContainerOptions>)
            .await,
        409,
        "",
        "remove a running container",
    )?;
    Ok(())
}

/// The bollard error under `Ctx::create`'s context (the status is what is compared).
fn unwrap_bollard(e: anyhow::Error) -> bollard::errors::Error {
    match e.downcast::<bollard::errors::Error>() {
        Ok(b) => b,
        Err(other) => bollard::errors::Error::IOError {
            err: std::io::Error::other(format!("{other:#}")),
        },
    }
}
