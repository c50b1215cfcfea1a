//! `sockerless-conformance-bollard`: conformance scenarios driven from
//! bollard, run by `cargo xtask conformance` once per side.
//!
//! `--list` prints the scenario names; `NAME` runs one with the environment
//! of the contract (conformance/README.md) and exits 0 on pass, 1 on
//! failure, 2 on a usage error.

mod archive;
mod containers;
mod ctx;
mod events;
mod exec;
mod network;

use std::process::ExitCode;

use anyhow::Result;
use ctx::Ctx;

/// One list for `--list` and for dispatch, so the two cannot drift apart.
macro_rules! scenarios {
    ($($name:literal => $f:path),* $(,)?) => {
        const NAMES: &[&str] = &[$($name),*];

        async fn dispatch(name: &str, ctx: &Ctx) -> Option<Result<()>> {
            match name {
                $($name => Some($f(ctx).await),)*
                _ => None,
            }
        }
    };
}

scenarios! {
    "connect-docker-host" => containers::connect_docker_host,
    "run-exit-code" => containers::run_exit_code,
    "logs-split" => containers::logs_split,
    "logs-follow" => containers::logs_follow,
    "inspect-types" => containers::inspect_types,
    "list-label-filters" => containers::list_label_filters,
    "missing-container-404" => containers::missing_container_404,
    "exec-exit-code" => exec::exec_exit_code,
    "attach-stdin" => exec::attach_stdin,
    "upload-download" => archive::upload_download,
    "volumes" => network::volumes,
    "network-aliases" => network::network_aliases,
    "port-binding" => network::port_binding,
    "events-stream" => events::events_stream,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag] if flag == "--list" => {
            for name in NAMES {
                println!("{name}");
            }
            ExitCode::SUCCESS
        }
        [name] if NAMES.contains(&name.as_str()) => match run(name) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("FAIL {name}: {e:#}");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!("usage: sockerless-conformance-bollard --list | NAME");
            eprintln!("scenarios: {}", NAMES.join(" "));
            ExitCode::from(2)
        }
    }
}

fn run(name: &str) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let ctx = Ctx::from_env().await?;
        // The scenario runs under a hang guard below the harness's timeout,
        // so that the cleanup still runs when it hangs.
        let outcome = tokio::time::timeout(ctx::SCENARIO_GUARD, dispatch(name, &ctx)).await;
        let cleanup = ctx.cleanup().await;
        match outcome {
            Ok(Some(result)) => result?,
            Ok(None) => anyhow::bail!("unknown scenario {name}"),
            Err(_) => anyhow::bail!("hang guard: not done within {:?}", ctx::SCENARIO_GUARD),
        }
        cleanup
    })
}
