//! Dev tasks for sockerless: `cargo xtask <task>`.
//!
//! Tasks shell out to the tools they drive (dockerd, the docker CLI, cargo);
//! each prints what it runs, so a failing CI log says where it stopped.

mod engine;
mod images;
mod shell;

use anyhow::{Result, bail};

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  test            run every check CI runs: fmt, clippy, and all tests with a
                  container engine and test images prepared (the README's test command)
  engine start    start a private dockerd for the emulator (data under target/engine)
  engine stop     stop it
  engine env      print the SOCKERLESS_SIM_ENGINE line for the running engine
  images          build the test images (busybox from Debian's busybox-static) into the engine
  agent           build the static agent binary (target/x86_64-unknown-linux-gnu/release)
";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["test"] => test_all(),
        ["engine", "start"] => engine::start().map(|e| println!("{}", e.env_line())),
        ["engine", "stop"] => engine::stop(),
        ["engine", "env"] => engine::running().map(|e| println!("{}", e.env_line())),
        ["images"] => images::build(&engine::running()?),
        ["agent"] => images::build_agent().map(|p| println!("{}", p.display())),
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
    let (engine, started_here) = engine::ensure()?;
    let result = (|| {
        images::build(&engine)?;
        shell::run(
            shell::cargo()
                .args(["test", "--workspace", "--no-fail-fast"])
                .env("SOCKERLESS_SIM_ENGINE", engine.url())
                .env("SOCKERLESS_AGENT_BIN", &agent),
        )
    })();
    if started_here {
        engine::stop()?;
    }
    result
}
