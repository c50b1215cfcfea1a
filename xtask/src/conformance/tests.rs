//! The harness itself, on scenarios that need no Docker: the real discovery,
//! runner and comparison against fake sides.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::discover;
use super::memory::{self, Check, Memory};
use super::runner::{self, Outcome, Settings, Side, Status};
use super::{Report, expect};

/// A scratch scenario root, removed when dropped.
struct Root(PathBuf);

impl Root {
    fn new(scripts: &[(&str, &str)], expected: Option<&str>) -> Root {
        let dir =
            std::env::temp_dir().join(format!("xtask-conformance-test-{}", runner::new_prefix()));
        std::fs::create_dir_all(&dir).expect("creating the scenario root");
        for (id, body) in scripts {
            let path = dir.join(format!("{id}.sh"));
            std::fs::create_dir_all(path.parent().expect("scenario has a parent"))
                .expect("creating scenario dir");
            std::fs::write(&path, body).expect("writing scenario");
        }
        if let Some(json) = expected {
            std::fs::write(dir.join("expected.json"), json).expect("writing expected.json");
        }
        Root(dir)
    }

    /// Runs every scenario on two fake sides and compares with `expected.json`;
    /// returns the outcomes and why the run would fail (None: exit 0).
    fn run(&self, timeout: Duration, record: bool) -> (Vec<Outcome>, Option<String>) {
        let scenarios = discover::discover(&self.0, None).expect("discovery");
        let known: Vec<String> = scenarios.iter().map(|s| s.id.clone()).collect();
        // No Docker daemon: these scenarios never call one.
        let sides = ["sockerless", "engine"].map(|name| Side {
            name: name.into(),
            docker_host: "unix:///nonexistent/docker.sock".into(),
        });
        let settings = Settings {
            jobs: 2,
            timeout,
            logs: self.0.join("logs"),
            python: "python3".into(),
            image: "busybox:latest".into(),
            registry: "127.0.0.1:5000".into(),
        };
        let outcomes = runner::run_all(&scenarios, &sides, &settings, &AtomicBool::new(false));
        let report = Report {
            root: &self.0,
            results: self.0.join("results.json"),
            known: &known,
            only: &[],
            memory: None,
        };
        let failed = report.finish(&outcomes, &sides, record).expect("report");
        (outcomes, failed)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const PASSES: &str = "exit 0\n";
const BROKEN: &str = "echo 'expected hi, got nothing' >&2\nexit 1\n";
const BOTH_PASS: &str = r#"{
  "cli/broken": {"engine": "pass", "sockerless": "pass"},
  "cli/ok": {"engine": "pass", "sockerless": "pass"}
}"#;
const LONG: Duration = Duration::from_secs(60);

fn statuses(outcome: &Outcome) -> Vec<Status> {
    outcome.cells.iter().map(|c| c.status).collect()
}

#[test]
fn a_broken_scenario_recorded_as_passing_fails_the_run() {
    let root = Root::new(
        &[("cli/ok", PASSES), ("cli/broken", BROKEN)],
        Some(BOTH_PASS),
    );
    let (outcomes, failed) = root.run(LONG, false);
    let ids: Vec<&str> = outcomes.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, ["cli/broken", "cli/ok"]);
    assert_eq!(statuses(&outcomes[0]), [Status::Fail, Status::Fail]);
    assert_eq!(statuses(&outcomes[1]), [Status::Pass, Status::Pass]);
    let why = failed.expect("a regression must fail the run");
    assert!(why.contains("regressed on sockerless: cli/broken"), "{why}");
    assert!(why.contains("regressed on engine: cli/broken"), "{why}");
    assert!(!why.contains("cli/ok"), "{why}");
    // The log named in the message holds the scenario's own output.
    let log = root.path().join("logs/engine/cli/broken.log");
    assert!(why.contains(&log.display().to_string()), "{why}");
    let text = std::fs::read_to_string(&log).expect("log written");
    assert!(text.contains("expected hi, got nothing"), "{text}");
    let results = std::fs::read_to_string(root.path().join("results.json")).expect("results");
    let results: serde_json::Value = serde_json::from_str(&results).expect("results JSON");
    assert_eq!(results["scenarios"][0]["engine"]["status"], "fail");
    assert_eq!(results["regressions"].as_array().map(Vec::len), Some(2));
}

#[test]
fn a_run_matching_the_record_passes_even_with_recorded_failures() {
    let expected = r#"{
      "cli/broken": {"engine": "fail", "sockerless": "fail"},
      "cli/ok": {"engine": "pass", "sockerless": "pass"}
    }"#;
    let root = Root::new(
        &[("cli/ok", PASSES), ("cli/broken", BROKEN)],
        Some(expected),
    );
    let (_, failed) = root.run(LONG, false);
    assert_eq!(failed, None);
}

#[test]
fn a_recorded_failure_that_now_passes_does_not_fail_the_run() {
    let expected = r#"{"cli/ok": {"engine": "pass", "sockerless": "fail"}}"#;
    let root = Root::new(&[("cli/ok", PASSES)], Some(expected));
    let (_, failed) = root.run(LONG, false);
    assert_eq!(failed, None);
}

#[test]
fn a_new_scenario_fails_the_run_until_recorded() {
    let expected = r#"{"cli/ok": {"engine": "pass", "sockerless": "pass"}}"#;
    let root = Root::new(
        &[("cli/ok", PASSES), ("compose/new-one", PASSES)],
        Some(expected),
    );
    let (_, failed) = root.run(LONG, false);
    let why = failed.expect("an unrecorded scenario must fail the run");
    assert!(why.contains("new, not recorded: compose/new-one"), "{why}");
    assert!(why.contains("--record"), "{why}");

    // --record writes it (sorted), and the next run passes.
    let (_, failed) = root.run(LONG, true);
    assert_eq!(failed, None);
    let recorded = expect::load(&root.path().join("expected.json")).expect("recorded");
    let ids: Vec<&String> = recorded.keys().collect();
    assert_eq!(ids, ["cli/ok", "compose/new-one"]);
    assert_eq!(recorded["compose/new-one"]["sockerless"], Status::Pass);
    let (_, failed) = root.run(LONG, false);
    assert_eq!(failed, None);
}

#[test]
fn a_recorded_scenario_that_vanished_fails_the_run() {
    let root = Root::new(&[("cli/ok", PASSES)], Some(BOTH_PASS));
    let (_, failed) = root.run(LONG, false);
    let why = failed.expect("a vanished scenario must fail the run");
    assert!(why.contains("recorded but not found: cli/broken"), "{why}");
}

#[test]
fn scenarios_get_the_contract_environment_and_an_empty_workdir() {
    let check = r#"set -eu
[ "$(pwd)" = "$CONFORMANCE_WORKDIR" ] || { echo "cwd $(pwd) is not $CONFORMANCE_WORKDIR"; exit 1; }
[ -z "$(ls -A)" ] || { echo "workdir not empty"; exit 1; }
case "$CONFORMANCE_SIDE" in sockerless|engine) ;; *) echo "side $CONFORMANCE_SIDE"; exit 1;; esac
case "$CONFORMANCE_PREFIX" in cf?????-) ;; *) echo "prefix $CONFORMANCE_PREFIX"; exit 1;; esac
[ "$DOCKER_HOST" = unix:///nonexistent/docker.sock ] || exit 1
[ "$CONFORMANCE_IMAGE" = busybox:latest ] || exit 1
[ "$CONFORMANCE_REGISTRY" = 127.0.0.1:5000 ] || exit 1
[ "$TESTCONTAINERS_RYUK_DISABLED" = true ] || exit 1
command -v docker >/dev/null || { echo "no docker on PATH"; exit 1; }
"#;
    let expected = r#"{"cli/env": {"engine": "pass", "sockerless": "pass"}}"#;
    let root = Root::new(&[("cli/env", check)], Some(expected));
    let (outcomes, failed) = root.run(LONG, false);
    assert_eq!(
        statuses(&outcomes[0]),
        [Status::Pass, Status::Pass],
        "{failed:?}"
    );
}

#[test]
fn a_hanging_scenario_is_killed_with_its_children_and_fails() {
    // The background sleep must die with the scenario's process group.
    let hang = "sleep 1000 &\necho $! > \"$(dirname \"$0\")/$CONFORMANCE_SIDE.pid\"\nwait\n";
    let expected = r#"{"cli/hang": {"engine": "fail", "sockerless": "fail"}}"#;
    let root = Root::new(&[("cli/hang", hang)], Some(expected));
    let (outcomes, failed) = root.run(Duration::from_secs(2), false);
    assert_eq!(failed, None);
    for cell in &outcomes[0].cells {
        assert_eq!(cell.status, Status::Fail);
        assert!(cell.detail.contains("timed out"), "{}", cell.detail);
    }
    for side in ["sockerless", "engine"] {
        let pid = std::fs::read_to_string(root.path().join(format!("cli/{side}.pid")))
            .expect("the scenario wrote its child's pid");
        // Gone, or a zombie waiting for a reaper: either way no longer running.
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap_or_default();
        let state = stat.rsplit(") ").next().and_then(|s| s.chars().next());
        assert!(
            matches!(state, None | Some('Z') | Some('X')),
            "sleep {pid} still runs: {stat}"
        );
    }
}

#[test]
fn only_selects_by_id_prefix() {
    let root = Root::new(
        &[("cli/a", PASSES), ("cli/b", PASSES), ("compose/c", PASSES)],
        None,
    );
    let all = discover::discover(root.path(), None).expect("discovery");
    let picked = discover::filter(all, &["cli/b".into(), "compose/".into()]);
    let ids: Vec<&str> = picked.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["cli/b", "compose/c"]);
}

const MIB: u64 = 1024;

fn check(baseline_mib: u64, after_mib: u64) -> Check {
    Check {
        baseline: Memory {
            rss_kib: baseline_mib * MIB,
            private_dirty_kib: baseline_mib * MIB / 2,
        },
        after: Memory {
            rss_kib: after_mib * MIB,
            private_dirty_kib: after_mib * MIB / 2,
        },
        limit_kib: memory::MAX_GROWTH_KIB,
    }
}

#[test]
fn memory_growth_within_the_limit_passes_and_past_it_fails() {
    assert_eq!(check(47, 55).verdict(), None);
    assert_eq!(
        check(47, 47 + 32).verdict(),
        None,
        "the limit itself passes"
    );
    assert_eq!(check(60, 50).verdict(), None, "memory given back");
    let why = check(47, 47 + 33).verdict().expect("33 MiB more must fail");
    assert!(why.contains("+33.0 MiB"), "{why}");
    assert!(why.contains("47.0 MiB after 10 containers"), "{why}");
    assert!(why.contains("32.0 MiB allowed"), "{why}");
}

#[test]
fn smaps_rollup_gives_rss_and_private_dirty() {
    let text = "55d0c0a00000-7ffd5a1fe000 ---p 00000000 00:00 0                  [rollup]\n\
                Rss:               48312 kB\nPss:               47000 kB\n\
                Private_Clean:      9000 kB\nPrivate_Dirty:     39012 kB\n";
    assert_eq!(
        memory::parse_smaps_rollup(text),
        Some(Memory {
            rss_kib: 48312,
            private_dirty_kib: 39012
        })
    );
    assert_eq!(memory::parse_smaps_rollup("Rss: 1 kB\n"), None);
    // This very process has both.
    let own = memory::read(std::process::id()).expect("own smaps_rollup");
    assert!(
        own.rss_kib >= own.private_dirty_kib && own.rss_kib > 0,
        "{own:?}"
    );
}

#[test]
fn memory_kept_fails_the_run_and_is_in_the_results() {
    let root = Root::new(&[], Some("{}"));
    let mut report = Report {
        root: root.path(),
        results: root.path().join("results.json"),
        known: &[],
        only: &[],
        memory: Some(check(47, 100)),
    };
    let why = report.finish(&[], &[], false).expect("report");
    let why = why.expect("53 MiB kept must fail the run");
    assert!(why.contains("sockerless kept memory"), "{why}");
    let results = std::fs::read_to_string(root.path().join("results.json")).expect("results");
    let results: serde_json::Value = serde_json::from_str(&results).expect("results JSON");
    assert_eq!(results["memory"]["baseline"]["rss_kib"], 47 * MIB);
    assert_eq!(results["memory"]["after"]["private_dirty_kib"], 50 * MIB);
    assert_eq!(results["memory"]["growth_kib"], 53 * MIB);
    assert_eq!(results["memory"]["pass"], false);

    report.memory = Some(check(47, 50));
    assert_eq!(report.finish(&[], &[], false).expect("report"), None);
}
