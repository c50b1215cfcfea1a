//! Dev tasks for sockerless: `cargo xtask <task>`.
//!
//! Tasks shell out to the tools they drive (dockerd, the docker CLI, cargo);
//! each prints what it runs, so a failing CI log says where it stopped.

mod engine;
mod images;
mod registry;
mod run;
mod shell;

use anyhow::{Result, bail};

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  test            run every check CI runs: fmt, clippy, and all tests with a
                  container engine and test images prepared (the README's test command)
  engine start    start a private dockerd for the emulator (data under target/engine)
  engine stop     stop it (first removing the emulators' containers and networks)
  engine env      print the SOCKERLESS_SIM_ENGINE line for the running engine
  registry start  start the test registry (docker-registry on 127.0.0.1:5000, or
                  SOCKERLESS_TEST_REGISTRY), standing in for Docker Hub
  registry stop   stop it
  images          build the test images (busybox and alpine from Debian's busybox-static,
                  sockerless-test/busybox-unix with a Unix socket client, and the agent
                  image) into the engine and push them to the test registry
  agent           build the static agent binary (target/x86_64-unknown-linux-gnu/release)
  run [ARGS...]   run sockerless with the embedded Azure emulator in the foreground
                  (builds the agent, starts the engine and the registry, pushes the
                  test images if missing); prints `export DOCKER_HOST=...`. ARGS go
                  to sockerless (default -H unix:///var/run/sockerless.sock)
";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["test"] => test_all(),
        ["engine", "start"] => engine::start().map(|e| println!("{}", e.env_line())),
        ["engine", "stop"] => engine::stop(),
        ["engine", "env"] => engine::running().map(|e| println!("{}", e.env_line())),
        ["registry", "start"] => registry::ensure().map(|_| println!("{}", registry::addr())),
        ["registry", "stop"] => registry::stop(),
        ["images"] => {
            let agent = images::build_agent()?;
            registry::ensure()?;
            images::build_and_push(&engine::running()?, &registry::addr(), &agent)
        }
        ["agent"] => images::build_agent().map(|p| println!("{}", p.display())),
        ["run", extra @ ..] => run::run(extra),
        ["help"] | ["--help"] | ["-h"] | [] => {
            print!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown task {other:?}\n{USAGE}"),
    }
}

/// Everything CI checks, in the order that fails fastest.
fn test_all() -> Result<()> {
    shell::run(shell::cargo().args(["fmt", "--all", "--check"]))?;
    shell::run(shell::cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    let agent = images::build_agent()?;
    let (engine, engine_started) = engine::ensure()?;
    let registry_started = registry::ensure()?;
    let registry = registry::addr();
    let result = (|| {
        images::build_and_push(&engine, &registry, &agent)?;
        shell::run(
            shell::cargo()
                // Tests that need this environment (engine, registry, agent, root) are
                // `#[ignore = "needs …"]` for a plain `cargo test`; here they run.
                .args([
                    "test",
                    "--workspace",
                    "--no-fail-fast",
                    "--",
                    "--include-ignored",
                ])
                .env("SOCKERLESS_SIM_ENGINE", engine.url())
                .env("SOCKERLESS_AGENT_BIN", &agent)
                .env("SOCKERLESS_TEST_REGISTRY", &registry)
                .env(
                    "SOCKERLESS_AGENT_IMAGE",
                    format!("{registry}/{}", images::AGENT_REPO),
                ),
        )
    })();
    if registry_started {
        registry::stop()?;
    }
    if engine_started {
        engine::stop()?;
    }
    result
}
