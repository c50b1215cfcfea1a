//! `cargo xtask bench`: sockerless (a release all-in-one with the embedded
//! emulator) against the engine it runs replicas on, the reference Docker,
//! measured in the same run. It reports against the project's goals; it
//! asserts nothing. Prints a table and writes `target/bench/results.json`.

mod api;
mod daemon;
mod docker;
mod http;
mod options;
mod report;
mod run;
mod streams;
mod timeline;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::json;

use crate::{engine, images, registry, shell};
use report::{Figure, Goal, Unit, ms, percentile};

pub use options::{Options, USAGE};

/// Runs the bench with `args` (see [`options::USAGE`]).
pub fn bench(args: &[&str]) -> Result<()> {
    let opts = Options::parse(args)?;
    shell::run(shell::cargo().args(["build", "--release", "-p", "sockerless"]))?;
    let agent = images::build_agent()?;
    let engine = engine::running()?;
    registry::ensure()?;
    let engine_url = engine.url();
    let engine_socket = PathBuf::from(engine_url.trim_start_matches("unix://"));
    let engine_pid = daemon::engine_pid()?;
    let d = daemon::Daemon::start(&engine_url, &agent, &registry::addr())?;
    let guard = Cleanup {
        sockets: vec![d.socket.clone(), engine_socket.clone()],
    };
    docker::pull_busybox(&mut http::Client::new(&d.socket))
        .context("pulling busybox into sockerless")?;

    let mut figures = Vec::new();
    let mut extra = serde_json::Map::new();

    eprintln!("xtask: bench: API latency");
    let ours = api::measure(
        &d.socket,
        d.pid(),
        opts.containers,
        opts.samples,
        opts.ps_samples(),
        opts.clients,
    )?;
    let base = api::measure(
        &engine_socket,
        engine_pid,
        opts.containers,
        opts.samples,
        opts.ps_samples(),
        opts.clients,
    )?;
    let lat = |name: &str, o: &[Duration], b: &[Duration], goal: Option<Goal>| {
        [50.0, 99.0].map(|p| {
            let f = Figure::new(
                format!("{name} p{p:.0}"),
                Unit::Ms,
                percentile(o, p).map(ms),
                percentile(b, p).map(ms),
            );
            match goal {
                Some(g) => f.goal(g),
                None => f,
            }
        })
    };
    figures.extend(lat(
        "ping",
        &ours.ping,
        &base.ping,
        Some(Goal::RatioAtMost(1.0)),
    ));
    figures.extend(lat(
        "inspect",
        &ours.inspect,
        &base.inspect,
        Some(Goal::RatioAtMost(1.0)),
    ));
    let ps = format!("ps -a, {} containers", opts.containers);
    figures.extend(lat(&ps, &ours.ps, &base.ps, Some(Goal::RatioAtMost(0.5))));
    figures.extend(lat("create", &ours.create, &base.create, None));
    extra.insert(
        "ps_listed".into(),
        json!({"ours": ours.ps_count, "baseline": base.ps_count}),
    );

    eprintln!(
        "xtask: bench: docker run --rm busybox true ({} runs per side, 1 warm-up)",
        opts.runs
    );
    run::cli_run(&d.socket)?;
    run::cli_run(&engine_socket)?;
    let mut our_runs = Vec::new();
    for _ in 0..opts.runs {
        our_runs.push(run::our_run(&d, &engine_socket)?);
    }
    let base_walls: Vec<Duration> = (0..opts.runs)
        .map(|_| run::cli_run(&engine_socket))
        .collect::<Result<_>>()?;
    let our_walls: Vec<Duration> = our_runs.iter().map(|r| r.wall).collect();
    figures.push(Figure::new(
        "docker run --rm wall p50",
        Unit::Ms,
        percentile(&our_walls, 50.0).map(ms),
        percentile(&base_walls, 50.0).map(ms),
    ));
    for (i, step) in run::STEPS.iter().enumerate() {
        let mut secs: Vec<Duration> = our_runs
            .iter()
            .filter_map(|r| r.steps[i])
            .map(|s| Duration::from_secs_f64(s.max(0.0)))
            .collect();
        secs.sort_unstable();
        figures.push(Figure::new(
            format!("  {step} p50"),
            Unit::Ms,
            percentile(&secs, 50.0).map(ms),
            None,
        ));
    }
    let worst = |f: fn(&timeline::ArmCounts) -> usize| {
        our_runs.iter().map(|r| f(&r.arm)).max().map(|n| n as f64)
    };
    figures.push(
        Figure::new(
            "ARM writes, critical path (max/run)",
            Unit::Count,
            worst(|a| a.critical_writes),
            None,
        )
        .goal(Goal::AtMost(2.0)),
    );
    figures.push(Figure::new(
        "ARM reads, critical path (max/run)",
        Unit::Count,
        worst(|a| a.critical_reads),
        None,
    ));
    figures.push(Figure::new(
        "ARM writes, after (max/run)",
        Unit::Count,
        worst(|a| a.after_writes),
        None,
    ));
    figures.push(Figure::new(
        "ARM reads, after (max/run)",
        Unit::Count,
        worst(|a| a.after_reads),
        None,
    ));
    figures.push(
        Figure::new(
            "ARM reads, agent connected (max/run)",
            Unit::Count,
            worst(|a| a.reads_while_connected),
            None,
        )
        .goal(Goal::AtMost(0.0)),
    );
    extra.insert(
        "runs".into(),
        json!(our_runs.iter().map(|r| json!({
            "wall_ms": ms(r.wall),
            "steps_ms": run::STEPS.iter().zip(&r.steps).map(|(s, v)| json!({"step": s, "ms": v.map(|v| v * 1000.0)})).collect::<Vec<_>>(),
            "arm_calls": r.arm.calls,
        })).collect::<Vec<_>>()),
    );

    eprintln!("xtask: bench: attach and logs");
    let (o_rtt, b_rtt) = (
        streams::echo_rtt(&d.socket, opts.rtt)?,
        streams::echo_rtt(&engine_socket, opts.rtt)?,
    );
    figures.extend(lat("attach echo round trip", &o_rtt, &b_rtt, None));
    let (o_attach, o_logs) = streams::throughput(&d.socket, opts.stream_mib)?;
    let (b_attach, b_logs) = streams::throughput(&engine_socket, opts.stream_mib)?;
    let mib = opts.stream_mib;
    figures.push(Figure::new(
        format!("attach throughput, {mib} MiB"),
        Unit::MibPerSec,
        Some(o_attach),
        Some(b_attach),
    ));
    figures.push(Figure::new(
        format!("logs throughput, {mib} MiB"),
        Unit::MibPerSec,
        Some(o_logs),
        Some(b_logs),
    ));

    figures.push(
        Figure::new(
            format!("RSS, {} created", opts.containers),
            Unit::Mb,
            Some(ours.rss_created_mb),
            Some(base.rss_created_mb),
        )
        .goal(Goal::Below(50.0)),
    );
    eprintln!("xtask: bench: RSS with {} running", opts.running);
    let o_running = api::rss_running(&d.socket, d.pid(), opts.running, opts.clients)?;
    let b_running = api::rss_running(&engine_socket, engine_pid, opts.running, opts.clients)?;
    figures.push(Figure::new(
        format!("RSS, {} running", opts.running),
        Unit::Mb,
        Some(o_running),
        Some(b_running),
    ));

    drop(guard);
    drop(d);
    print!("{}", report::table(&figures));
    let out = write_json(&opts, &figures, extra)?;
    println!(
        "\nbaseline: the engine (dockerd {}), same machine, same run; results in {}",
        engine_version(&engine_socket),
        out.display()
    );
    Ok(())
}

fn engine_version(socket: &Path) -> String {
    http::Client::new(socket)
        .get("/version")
        .and_then(|r| r.json())
        .ok()
        .and_then(|v| v["Version"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn write_json(
    opts: &Options,
    figures: &[Figure],
    extra: serde_json::Map<String, serde_json::Value>,
) -> Result<PathBuf> {
    let dir = shell::target_dir().join("bench");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("results.json");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let doc = json!({
        "command": opts.command_line(),
        "machine": { "cores": cores },
        "options": opts.to_json(),
        "figures": report::figures_json(figures),
        "details": extra,
    });
    std::fs::write(&path, serde_json::to_string_pretty(&doc)? + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Removes the bench's containers from both sides, also when a scenario
/// failed half-way.
struct Cleanup {
    sockets: Vec<PathBuf>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for s in &self.sockets {
            run::cleanup(s);
        }
    }
}
