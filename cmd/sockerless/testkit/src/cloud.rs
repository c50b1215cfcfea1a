//! What the emulator and its engine hold behind a running all-in-one:
//! ARM jobs, the request log, faults, the replica network and containers,
//! and the check that a test left nothing behind.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use super::{DOCKER, GUARD, Out, RESOURCE_GROUP, SUBSCRIPTION, Sockerless, run};

impl Sockerless {
    fn curl(&self, args: &[&str]) -> Out {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--max-time", "30"]).args(args);
        run(cmd, None)
    }

    /// The emulator's managed-identity header, random per start: read from
    /// the credentials file it writes (0600) in its data dir.
    fn identity_header(&self) -> String {
        let file = self.sim_data_dir.join("credentials.json");
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let body: serde_json::Value = serde_json::from_str(&text).expect("credentials JSON");
        body["identity_header"]
            .as_str()
            .expect("identity_header")
            .to_owned()
    }

    fn arm_token(&self) -> String {
        let header = self.identity_header();
        let out = self
            .curl(&[
                "-f",
                "-H",
                &format!("X-IDENTITY-HEADER: {header}"),
                &format!(
                    "{}/msi/token?api-version=2019-08-01&resource=https://management.azure.com",
                    self.azure
                ),
            ])
            .ok();
        let body: serde_json::Value = serde_json::from_str(&out.stdout).expect("token JSON");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// Jobs in the resource group, as the emulator's ARM API lists them
    /// (every page, following `nextLink`).
    pub fn arm_jobs(&self) -> Vec<serde_json::Value> {
        let token = self.arm_token();
        let mut url = format!(
            "{}/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.App/jobs?api-version=2025-01-01",
            self.azure
        );
        let mut jobs = Vec::new();
        loop {
            let out = self
                .curl(&["-f", "-H", &format!("Authorization: Bearer {token}"), &url])
                .ok();
            let body: serde_json::Value = serde_json::from_str(&out.stdout).expect("jobs JSON");
            jobs.extend(body["value"].as_array().cloned().unwrap_or_default());
            match body["nextLink"].as_str() {
                Some(next) => url = next.to_owned(),
                None => return jobs,
            }
        }
    }

    /// The emulator's request log (`GET /_sim/requests`): `method`, `path`,
    /// `status`, … of every Azure call so far.
    pub fn sim_requests(&self) -> Vec<serde_json::Value> {
        let out = self
            .curl(&["-f", &format!("{}/_sim/requests", self.azure)])
            .ok();
        serde_json::from_str(&out.stdout).expect("request log JSON")
    }

    /// The emulator's replica network (`GET /_sim/network`): `name`,
    /// `subnet`, `gateway` (the host's address as replicas see it).
    pub fn sim_network(&self) -> serde_json::Value {
        let out = self
            .curl(&["-f", &format!("{}/_sim/network", self.azure)])
            .ok();
        serde_json::from_str(&out.stdout).expect("network JSON")
    }

    /// The emulator's effective timing and faults (`GET /_sim/config`).
    pub fn sim_config(&self) -> serde_json::Value {
        let out = self
            .curl(&["-f", &format!("{}/_sim/config", self.azure)])
            .ok();
        serde_json::from_str(&out.stdout).expect("config JSON")
    }

    /// `PUT /_sim/{what}` with `body` (e.g. `timing`).
    pub fn put_sim(&self, what: &str, body: &serde_json::Value) {
        self.curl(&[
            "-f",
            "-X",
            "PUT",
            "-H",
            "content-type: application/json",
            "-d",
            &body.to_string(),
            &format!("{}/_sim/{what}", self.azure),
        ])
        .ok();
    }

    /// Sets the emulator's faults (`PUT /_sim/faults`, camelCase).
    pub fn set_faults(&self, faults: &serde_json::Value) {
        self.put_sim("faults", faults);
    }

    /// The agent callback URLs of every job the backend created or updated,
    /// from the emulator's request log.
    pub fn callback_urls(&self) -> Vec<String> {
        let out = self
            .curl(&["-f", &format!("{}/_sim/requests", self.azure)])
            .ok();
        let log: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).expect("requests JSON");
        log.iter()
            .filter(|r| {
                r["method"] == "PUT" && r["path"].as_str().is_some_and(|p| p.contains("/jobs/"))
            })
            .flat_map(|r| {
                r["body"]["properties"]["template"]["containers"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .flat_map(|c| c["env"].as_array().cloned().unwrap_or_default())
            .filter(|e| e["name"] == "SOCKERLESS_CALLBACK_URL")
            .filter_map(|e| e["value"].as_str().map(str::to_owned))
            .collect()
    }

    fn owner(&self) -> PathBuf {
        self.sim_data_dir
            .canonicalize()
            .unwrap_or_else(|_| self.sim_data_dir.clone())
    }

    /// Names of the engine's networks that belong to this daemon's emulator.
    pub fn engine_networks(&self) -> Vec<String> {
        let mut cmd = Command::new(DOCKER);
        cmd.arg("-H").arg(&self.engine).args([
            "network",
            "ls",
            "-q",
            "--filter",
            &format!(
                "label=sockerless-azure-sim.owner={}",
                self.owner().display()
            ),
        ]);
        run(cmd, None)
            .ok()
            .stdout
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }

    /// IDs of the engine's containers that belong to this daemon's emulator.
    pub fn engine_containers(&self) -> Vec<String> {
        let mut cmd = Command::new(DOCKER);
        cmd.arg("-H").arg(&self.engine).args([
            "ps",
            "-aq",
            "--filter",
            &format!(
                "label=sockerless-azure-sim.owner={}",
                self.owner().display()
            ),
        ]);
        run(cmd, None)
            .ok()
            .stdout
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }

    /// Running engine containers of this emulator (replicas and their sandboxes).
    pub fn engine_running(&self) -> Vec<String> {
        let mut cmd = Command::new(DOCKER);
        cmd.arg("-H").arg(&self.engine).args([
            "ps",
            "-q",
            "--filter",
            &format!(
                "label=sockerless-azure-sim.owner={}",
                self.owner().display()
            ),
        ]);
        run(cmd, None)
            .ok()
            .stdout
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }

    /// Waits (hang guard) until the emulator has no job, the engine no
    /// container of this emulator, and `docker ps -a` no container.
    pub fn assert_nothing_left(&self) {
        let deadline = Instant::now() + GUARD;
        loop {
            let jobs = self.arm_jobs();
            let containers = self.engine_containers();
            let records = self.docker(&["ps", "-aq"]).ok().stdout;
            if jobs.is_empty() && containers.is_empty() && records.trim().is_empty() {
                return;
            }
            if Instant::now() > deadline {
                let names: Vec<&str> = jobs.iter().filter_map(|j| j["name"].as_str()).collect();
                panic!(
                    "left behind after {} s: jobs {names:?}, engine containers {containers:?}, docker ps -a {records:?}",
                    GUARD.as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}
