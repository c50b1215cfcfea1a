//! Restarting the all-in-one on the same data directory and socket: a
//! backend restart as an operator does one (SIGTERM, start again).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use super::{STARTUP_GUARD, Sockerless, TestEnv, guard};

impl Sockerless {
    /// Stops the daemon (SIGTERM) and starts it again with the same flags,
    /// data directory and socket; `extra` as given to `start_with`.
    pub fn restart(&mut self, env: &TestEnv, extra: &[&str]) {
        self.terminate();
        let socket = self.dir.path().join("docker.sock");
        let _ = std::fs::remove_file(&socket);
        let log = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(self.dir.path().join("sockerless.log"))
            .expect("log file");
        let mut cmd = Command::new(crate::sockerless_bin());
        cmd.arg("--emulator")
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .arg("--engine")
            .arg(&env.engine)
            .arg("--agent-bin")
            .arg(&env.agent_bin)
            .arg("--docker-io-mirror")
            .arg(format!("http://{}", env.registry))
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(extra)
            .env("SOCKERLESS_ACA_LOG_LEVEL", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        if let Some(image) = &env.agent_image {
            cmd.arg("--agent-image").arg(image);
        }
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("SOCKERLESS_ACA_")
                && key != "SOCKERLESS_ACA_LOG_LEVEL"
            {
                cmd.env_remove(key);
            }
        }
        let mut child = cmd.spawn().expect("restarting sockerless");
        let stdout = child.stdout.take().expect("stdout");
        self.child = child;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = rx.recv_timeout(STARTUP_GUARD).unwrap_or_else(|_| {
            panic!(
                "no DOCKER_HOST line after the restart; log:\n{}",
                self.log()
            )
        });
        assert_eq!(first, format!("export DOCKER_HOST={}", self.docker_host));
        let second = rx
            .recv_timeout(guard())
            .expect("SOCKERLESS_AZURE_ENDPOINT line");
        self.azure = second
            .strip_prefix("export SOCKERLESS_AZURE_ENDPOINT=")
            .unwrap_or_else(|| panic!("second stdout line: {second:?}"))
            .to_owned();
    }
}
