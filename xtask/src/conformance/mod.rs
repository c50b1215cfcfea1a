//! `cargo xtask conformance`: the client scenarios under `conformance/` run
//! against the all-in-one (sockerless with its Azure emulator) and against
//! the emulator's own dockerd, side by side; one table, one JSON file, and a
//! comparison with the committed expectations that fails CI on regressions.

// unsafe: SIGINT handling for the scenarios' process groups.
#![allow(unsafe_code)]

mod discover;
mod expect;
mod memory;
mod prepare;
mod runner;
mod table;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::engine::Engine;
use crate::{engine, images, registry, run, shell};

/// Runs of one scenario on both sides at once, by default: what keeps the
/// whole table (90 scenarios) within ~3 minutes on 2 cores without starving
/// the all-in-one.
const DEFAULT_JOBS: usize = 3;
/// A scenario still running after this is killed and fails.
const TIMEOUT: Duration = Duration::from_secs(180);
/// The same under the emulator's azure profile, where each container waits
/// 5–40 s (rarely minutes) to be scheduled.
const AZURE_TIMEOUT: Duration = Duration::from_secs(900);

/// The scenarios CI runs under the emulator's azure profile (the whole table
/// takes too long for CI there; `cargo xtask conformance --profile azure`
/// runs it all): one or two of each client, covering run, exit codes, logs,
/// exec, stdin, stop, volumes, networks and ports.
pub const AZURE_CI_SUBSET: &[&str] = &[
    "cli/run-exit-code",
    "cli/run-stdout-stderr",
    "cli/logs-follow",
    "cli/exec-exit-code",
    "cli/run-stdin",
    "cli/stop-timeout-137",
    "cli/volume-shared",
    "cli/network-alias",
    "compose/up-down",
    "python-sdk/run-exit-code",
    "testcontainers/wait-for-logs",
    "bollard/port-binding",
];

/// Command-line options of `cargo xtask conformance`.
#[derive(Debug, Clone)]
pub struct Options {
    /// Run only the scenarios whose id starts with one of these.
    pub only: Vec<String>,
    /// Rewrite `conformance/expected.json` from this run.
    pub record: bool,
    pub jobs: usize,
    /// The emulator's timing profile (`fast` or `azure`).
    pub profile: Profile,
}

/// The emulator profile a run uses (see sockerless-azure-sim's `--profile`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    #[default]
    Fast,
    Azure,
}

impl Profile {
    fn name(self) -> &'static str {
        match self {
            Profile::Fast => "fast",
            Profile::Azure => "azure",
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            only: Vec::new(),
            record: false,
            jobs: DEFAULT_JOBS,
            profile: Profile::Fast,
        }
    }
}

impl Options {
    pub fn parse(args: &[&str]) -> Result<Options> {
        let mut opts = Options::default();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match *arg {
                "--only" => opts.only.push(
                    args.next()
                        .context("--only needs a scenario id prefix (cli/, compose/up-down)")?
                        .to_string(),
                ),
                "--record" => opts.record = true,
                "--profile" => {
                    opts.profile = match args.next().copied() {
                        Some("fast") => Profile::Fast,
                        Some("azure") => Profile::Azure,
                        other => bail!("--profile needs fast or azure, not {other:?}"),
                    }
                }
                "--jobs" | "-j" => {
                    let n = args.next().context("--jobs needs a number")?;
                    opts.jobs = n
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .with_context(|| format!("--jobs: not a positive number: {n}"))?;
                }
                other => bail!(
                    "conformance: unknown option {other:?} (--only PREFIX, --record, --jobs N, --profile fast|azure)"
                ),
            }
        }
        Ok(opts)
    }
}

/// `cargo xtask conformance`: prepares the engine, the registry and the test
/// images like `cargo xtask test`, runs the table, and stops what it started.
pub fn main(args: &[&str]) -> Result<()> {
    let opts = Options::parse(args)?;
    let agent = images::build_agent()?;
    let (engine, engine_started) = engine::ensure()?;
    let registry_started = registry::ensure()?;
    let registry = registry::addr();
    let result = (|| {
        if !run::has_test_images(&registry) {
            images::build_and_push(&engine, &registry, &agent)?;
        }
        run_prepared(&engine, &registry, &agent, &opts)
    })();
    if registry_started {
        registry::stop()?;
    }
    if engine_started {
        engine::stop()?;
    }
    result
}

/// The conformance directory of the repository.
fn root() -> PathBuf {
    shell::workspace_root().join("conformance")
}

/// The run proper, with the engine and the registry (holding the test
/// images) up: venv, builds, the all-in-one, the table, the comparison.
pub fn run_prepared(engine: &Engine, registry: &str, agent: &Path, opts: &Options) -> Result<()> {
    let root = root();
    let python = prepare::venv(&root.join("requirements.txt"))?;
    let (sockerless, bollard) = prepare::build(&root)?;
    let all = discover::discover(&root, bollard.as_deref())?;
    let known: Vec<String> = all.iter().map(|s| s.id.clone()).collect();
    let scenarios = discover::filter(all, &opts.only);
    if scenarios.is_empty() {
        bail!(
            "no scenario under {} matches {:?}",
            root.display(),
            opts.only
        );
    }
    let out = prepare::dir();
    let logs = out.join("logs");
    // Logs of an earlier run would pass for this one's.
    let _ = std::fs::remove_dir_all(&logs);
    let aio = prepare::AllInOne::start(
        &sockerless,
        engine,
        agent,
        registry,
        opts.profile.name(),
        &logs.join("sockerless-daemon.log"),
    )?;
    let sides = [
        runner::Side {
            name: "sockerless".into(),
            docker_host: aio.url(),
        },
        runner::Side {
            name: "engine".into(),
            docker_host: engine.url(),
        },
    ];
    let settings = runner::Settings {
        jobs: opts.jobs,
        timeout: match opts.profile {
            Profile::Fast => TIMEOUT,
            Profile::Azure => AZURE_TIMEOUT,
        },
        logs,
        python,
        image: "busybox:latest".into(),
        registry: registry.to_owned(),
    };
    eprintln!(
        "conformance: {} scenario(s) × {} sides, {} at a time, emulator profile {}",
        scenarios.len(),
        sides.len(),
        settings.jobs,
        opts.profile.name()
    );
    let interrupted = on_ctrl_c();
    // Memory is measured on the fast profile only: the azure profile's
    // scheduling delays would make the warm-up take minutes and measure nothing new.
    let baseline = match opts.profile {
        Profile::Fast => {
            eprintln!(
                "conformance: {} containers through sockerless before its baseline memory",
                memory::WARM_UP_CONTAINERS
            );
            memory::warm_up(
                &aio.url(),
                &settings.image,
                memory::WARM_UP_CONTAINERS,
                &settings.logs.join("sockerless-warm-up.log"),
            )?;
            Some(memory::read(aio.pid())?)
        }
        Profile::Azure => None,
    };
    let outcomes = runner::run_all(&scenarios, &sides, &settings, interrupted);
    // A daemon gone by now fails its scenarios; the table still gets printed.
    let memory = match baseline {
        Some(baseline) => {
            std::thread::sleep(memory::SETTLE);
            match memory::read(aio.pid()) {
                Ok(after) => Some(memory::Check {
                    baseline,
                    after,
                    limit_kib: memory::MAX_GROWTH_KIB,
                }),
                Err(e) => {
                    eprintln!("conformance: sockerless's memory after the run: {e:#}");
                    None
                }
            }
        }
        None => None,
    };
    drop(aio);
    let report = Report {
        root: &root,
        results: out.join(match opts.profile {
            Profile::Fast => "results.json",
            Profile::Azure => "results-azure.json",
        }),
        known: &known,
        only: &opts.only,
        memory,
    };
    let failed = report.finish(&outcomes, &sides, opts.record)?;
    if interrupted.load(Ordering::SeqCst) {
        bail!("conformance: interrupted");
    }
    if let Some(message) = failed {
        bail!("{message}");
    }
    Ok(())
}

/// Where a run's outcomes go and what they are compared with.
pub struct Report<'a> {
    /// The scenarios' directory (holding `expected.json`).
    pub root: &'a Path,
    /// `results.json`.
    pub results: PathBuf,
    /// Every discovered scenario id, whatever `only` selected.
    pub known: &'a [String],
    pub only: &'a [String],
    /// The all-in-one's memory readings, when it was measured.
    pub memory: Option<memory::Check>,
}

impl Report<'_> {
    /// Prints the table, writes the JSON, compares with (or with `record`
    /// rewrites) the expectations. Returns why the run fails, if it does.
    pub fn finish(
        &self,
        outcomes: &[runner::Outcome],
        sides: &[runner::Side],
        record: bool,
    ) -> Result<Option<String>> {
        let path = self.root.join("expected.json");
        let expected = expect::load(&path)?;
        let only = self.only;
        let selected =
            |id: &str| only.is_empty() || only.iter().any(|p| id.starts_with(p.as_str()));
        let cmp = expect::compare(&expected, outcomes, sides, selected);
        print!("{}", table::render(outcomes, sides, &cmp));
        if let Some(memory) = &self.memory {
            print!("{}", memory.render());
        }
        table::write_json(&self.results, outcomes, sides, &cmp, self.memory.as_ref())?;
        println!("results: {}", self.results.display());
        // Memory kept is a regression of the daemon whatever the scenarios did.
        let kept = self.memory.as_ref().and_then(memory::Check::verdict);
        if record {
            let mut updated = expect::record(&expected, outcomes, sides);
            expect::prune(&mut updated, self.known);
            expect::save(&path, &updated)?;
            println!(
                "recorded {} scenario(s) in {}",
                updated.len(),
                path.display()
            );
            return Ok(kept.map(|why| format!("conformance: {why}")));
        }
        for (id, side) in &cmp.improved {
            println!("now passes on {side}, recorded as failing: {id} (update with --record)");
        }
        if !cmp.failed() {
            return Ok(kept.map(|why| format!("conformance: {why}")));
        }
        let mut why = String::from("conformance: the run differs from conformance/expected.json:");
        for r in &cmp.regressions {
            why.push_str(&format!(
                "\n  regressed on {}: {} (log {})",
                r.side,
                r.id,
                r.log.display()
            ));
        }
        for id in &cmp.unrecorded {
            why.push_str(&format!(
                "\n  new, not recorded: {id} (record it with --record)"
            ));
        }
        for id in &cmp.vanished {
            why.push_str(&format!(
                "\n  recorded but not found: {id} (drop it with --record)"
            ));
        }
        if let Some(kept) = kept {
            why.push_str(&format!("\n  {kept}"));
        }
        Ok(Some(why))
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn interrupt(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// From now on Ctrl-C sets the returned flag instead of killing xtask, so
/// the runner can kill the scenarios' process groups and the all-in-one
/// gets stopped (they would otherwise outlive us, holding containers).
fn on_ctrl_c() -> &'static AtomicBool {
    // SAFETY: installs a handler that only stores to an atomic.
    unsafe {
        libc::signal(
            libc::SIGINT,
            interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    }
    &INTERRUPTED
}
