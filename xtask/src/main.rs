//! Dev tasks for sockerless: `cargo xtask <task>`.
//!
//! Tasks shell out to the tools they drive (dockerd, the docker CLI, cargo);
//! each prints what it runs, so a failing CI log says where it stopped.

mod bench;
mod conformance;
mod deny;
mod engine;
mod images;
mod packages;
mod registry;
mod run;
mod shell;
mod tidy;

use anyhow::{Result, bail};

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  tidy            check the rules of the house: crate import rules, module import cycles,
                  module docs, file length, no #[path], workspace dependency versions
                  and lints (xtask/src/tidy/)
  test            run every check CI runs: fmt, tidy, clippy, deny, and all tests with a
                  container engine and test images prepared, then the conformance
                  table (the README's test command)
  engine start    start a private dockerd for the emulator (data under target/engine)
  engine stop     stop it (first removing the emulators' containers and networks)
  engine env      print the SOCKERLESS_SIM_ENGINE line for the running engine
  registry start  start the test registry (docker-registry on 127.0.0.1:5000, or
                  SOCKERLESS_TEST_REGISTRY), standing in for Docker Hub
  registry stop   stop it
  images          build the test images (busybox and alpine from Debian's busybox-static,
                  sockerless-test/busybox-unix with a Unix socket client, and the agent
                  image) into the engine and push them to the test registry
  deny            check the dependency policy (deny.toml: licences, bans, sources) with
                  cargo-deny, installing it on first use
  agent           build the static agent binary (target/x86_64-unknown-linux-gnu/release)
  run [ARGS...]   run sockerless (release build) with the embedded Azure emulator in
                  the foreground (installs docker.io, docker-registry, busybox-static
                  and curl if missing, builds the agent, starts the engine and the registry, pushes the
                  test images if missing); prints `export DOCKER_HOST=...`. ARGS go
                  to sockerless (default -H unix:///var/run/sockerless.sock)
  conformance [--only PREFIX]... [--record] [--jobs N] [--profile fast|azure]
                  run the client scenarios under conformance/ against the all-in-one
                  and against the engine, print the table (target/conformance/results.json;
                  results-azure.json under the emulator's azure profile, which is as slow
                  as Azure) and fail on a regression from conformance/expected.json
  bench [--quick] [FLAGS]
                  measure a release all-in-one against the engine (API latency, docker run
                  breakdown, ARM calls, attach/logs, RSS); print the table with the goals
                  and write target/bench/results.json (`cargo xtask bench --help`)
";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["test"] => test_all(),
        ["tidy"] => tidy::main(),
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
        ["deny"] => deny::check(),
        ["agent"] => images::build_agent().map(|p| println!("{}", p.display())),
        ["run", extra @ ..] => run::run(extra),
        ["conformance", opts @ ..] => conformance::main(opts),
        ["bench", "--help"] => {
            println!("{}", bench::USAGE);
            Ok(())
        }
        ["bench", opts @ ..] => bench::bench(opts),
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
    tidy::main()?;
    shell::run(shell::cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    deny::check()?;
    let agent = images::build_agent()?;
    let (engine, engine_started) = engine::ensure()?;
    let registry_started = registry::ensure()?;
    let registry = registry::addr();
    let result = (|| {
        images::build_and_push(&engine, &registry, &agent)?;
        let tests = shell::run(
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
        );
        // The table runs even when a test failed: CI shows all, and fails on any.
        let table =
            conformance::run_prepared(&engine, &registry, &agent, &conformance::Options::default());
        let azure = azure_profile(&engine, &registry, &agent);
        let mut failures = [tests, table, azure].into_iter().filter_map(Result::err);
        match failures.next() {
            None => Ok(()),
            Some(first) => Err(failures.fold(first, |all, e| all.context(format!("{e:#}")))),
        }
    })();
    if registry_started {
        registry::stop()?;
    }
    if engine_started {
        engine::stop()?;
    }
    result
}

/// Issue 6's scenarios run under the emulator's azure profile in CI (the
/// rest: `SOCKERLESS_SIM_PROFILE=azure cargo test -p sockerless --test
/// scenarios -- --include-ignored`).
const AZURE_CI_SCENARIOS: &[&str] = &[
    "exit_code_and_stdout_stderr_split",
    "exec_stop_kill_and_force_remove",
    "stdin_piped_to_run",
    "twenty_parallel_runs_print_and_leave_nothing",
];

/// CI's run under the emulator's azure profile (as slow and strict as
/// Azure): a subset of the conformance table and of issue 6's scenarios.
fn azure_profile(engine: &engine::Engine, registry: &str, agent: &std::path::Path) -> Result<()> {
    let opts = conformance::Options {
        only: conformance::AZURE_CI_SUBSET
            .iter()
            .map(|s| s.to_string())
            .collect(),
        profile: conformance::Profile::Azure,
        ..conformance::Options::default()
    };
    let table = conformance::run_prepared(engine, registry, agent, &opts);
    let scenarios = shell::run(
        shell::cargo()
            .args(["test", "-p", "sockerless", "--test", "scenarios", "--"])
            .arg("--include-ignored")
            .args(AZURE_CI_SCENARIOS)
            .env("SOCKERLESS_SIM_PROFILE", "azure")
            .env("SOCKERLESS_SIM_ENGINE", engine.url())
            .env("SOCKERLESS_AGENT_BIN", agent)
            .env("SOCKERLESS_TEST_REGISTRY", registry)
            .env(
                "SOCKERLESS_AGENT_IMAGE",
                format!("{registry}/{}", images::AGENT_REPO),
            ),
    );
    table.and(scenarios)
}
