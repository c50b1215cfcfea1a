//! Exec (exit code via `inspect_exec`, env, user, workdir) and attach with stdin.

use anyhow::{Result, bail};
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::AttachContainerOptions;
use tokio::io::AsyncWriteExt;

use crate::ctx::{Ctx, Output, collect, expect_eq};

async fn exec(
    ctx: &Ctx,
    id: &str,
    options: CreateExecOptions<&str>,
) -> Result<(Output, Option<i64>)> {
    let options_tty = options.tty.unwrap_or(false);
    let created = ctx.docker.create_exec(
        id,
        CreateExecOptions {
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..options
        },
    );
    let created = created.await?;
    // As bollard's users must: say tty at start too, so output is read raw (Console).
    let start = StartExecOptions {
        detach: false,
        tty: options_tty,
        output_capacity: None,
    };
    let started = ctx.docker.start_exec(&created.id, Some(start)).await?;
    let StartExecResults::Attached { output, .. } = started else {
        bail!("exec start did not attach");
    };
    let out = collect(output).await?;
    let inspect = ctx.docker.inspect_exec(&created.id).await?;
    expect_eq(
        inspect.running,
        Some(false),
        "exec Running after its output ended",
    )?;
    Ok((out, inspect.exit_code))
}

pub async fn exec_exit_code(ctx: &Ctx) -> Result<()> {
    let id = ctx
        .run_detached("exec", ctx.body(&["sleep", "300"]))
        .await?;
    let (out, code) = exec(
        ctx,
        &id,
        CreateExecOptions {
            cmd: Some(vec!["sh", "-c", "echo out; echo err >&2; exit 5"]),
            ..Default::default()
        },
    )
    .await?;
    expect_eq(
        (out.stdout.as_str(), out.stderr.as_str(), code),
        ("out\n", "err\n", Some(5)),
        "exit 5",
    )?;
    let (out, code) = exec(
        ctx,
        &id,
        CreateExecOptions {
            cmd: Some(vec!["sh", "-c", "echo $FOO $(id -u) $(pwd)"]),
            env: Some(vec!["FOO=bar"]),
            user: Some("nobody"),
            working_dir: Some("/etc"),
            ..Default::default()
        },
    )
    .await?;
    expect_eq(
        (out.stdout.as_str(), code),
        ("bar 65534 /etc\n", Some(0)),
        "env, user, workdir",
    )?;
    let (out, code) = exec(
        ctx,
        &id,
        CreateExecOptions {
            cmd: Some(vec!["tty"]),
            tty: Some(true),
            ..Default::default()
        },
    )
    .await?;
    expect_eq(code, Some(0), "exit code of tty")?;
    if !out.console.starts_with("/dev/pts/") {
        bail!("exec with a tty: {out:?}");
    }
    Ok(())
}

/// Attach with stdin before start (as CI runners do), write, half-close:
/// the output comes back split, the exit code is the script's.
pub async fn attach_stdin(ctx: &Ctx) -> Result<()> {
    let body = ContainerCreateBody {
        open_stdin: Some(true),
        stdin_once: Some(true),
        attach_stdin: Some(true),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..ctx.body(&["sh", "-c", "cat; echo to-err >&2; exit 6"])
    };
    let id = ctx.create("attach", body).await?;
    let attached = ctx
        .docker
        .attach_container(
            &id,
            Some(AttachContainerOptions {
                stream: true,
                stdin: true,
                stdout: true,
                stderr: true,
                ..Default::default()
            }),
        )
        .await?;
    ctx.docker.start_container(&id, None).await?;
    let mut input = attached.input;
    input.write_all(b"hello\nworld\n").await?;
    input.flush().await?;
    input.shutdown().await?;
    let out = collect(attached.output).await?;
    expect_eq(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("hello\nworld\n", "to-err\n"),
        "attached output",
    )?;
    expect_eq(ctx.wait_code(&id).await?, 6, "exit code")?;
    Ok(())
}
