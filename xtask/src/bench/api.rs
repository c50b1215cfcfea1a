//! API latency (ping, inspect, `ps -a` with many containers, create) and the
//! daemon's RSS with many created and with running containers, on one side.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::json;

use super::docker::{self, busybox};
use super::http::Client;

/// Latency samples of one side.
#[derive(Debug, Default)]
pub struct Latencies {
    pub ping: Vec<Duration>,
    pub create: Vec<Duration>,
    pub inspect: Vec<Duration>,
    pub ps: Vec<Duration>,
    /// Containers `ps -a` listed (the engine's include other users').
    pub ps_count: usize,
    /// RSS (MB) of the daemon process with the containers created.
    pub rss_created_mb: f64,
}

fn timed<T>(f: impl FnOnce() -> Result<T>) -> Result<(Duration, T)> {
    let t = Instant::now();
    let v = f()?;
    Ok((t.elapsed(), v))
}

/// Measures one side: `samples` pings; `containers` creates, one after the
/// other (each one a create sample); `samples` inspects over them; `ps_samples`
/// `ps -a`; the RSS of `pid` with them all; then removes them.
pub fn measure(
    socket: &Path,
    pid: u32,
    containers: usize,
    samples: usize,
    ps_samples: usize,
    clients: usize,
) -> Result<Latencies> {
    let mut c = Client::new(socket);
    let mut l = Latencies::default();
    // A warm connection, as every measured request after it has.
    c.get("/_ping")?.ok()?;
    for _ in 0..samples {
        let (d, r) = timed(|| c.get("/_ping"))?;
        r.ok()?;
        l.ping.push(d);
    }
    eprintln!(
        "xtask: bench: creating {containers} containers on {}",
        socket.display()
    );
    let body = busybox(&["true"], json!({}));
    let mut ids = Vec::with_capacity(containers);
    let result = (|| {
        for _ in 0..containers {
            let (d, id) = timed(|| docker::create(&mut c, &body))?;
            l.create.push(d);
            ids.push(id);
        }
        for i in 0..samples {
            let id = &ids[i % ids.len().max(1)];
            let (d, r) = timed(|| c.get(&format!("/containers/{id}/json")))?;
            r.ok()?;
            l.inspect.push(d);
        }
        for _ in 0..ps_samples {
            let (d, r) = timed(|| c.get("/containers/json?all=1"))?;
            l.ps_count = r.json()?.as_array().map_or(0, Vec::len);
            l.ps.push(d);
        }
        l.rss_created_mb = super::daemon::rss_mb(pid)?;
        Ok(())
    })();
    eprintln!("xtask: bench: removing them");
    docker::parallel(socket, clients, ids, |c, id| docker::remove(c, &id))?;
    result.map(|()| l)
}

/// RSS (MB) of `pid` with `n` containers running `sleep` started on the
/// daemon at `socket` by `clients` parallel clients; removes them after.
pub fn rss_running(socket: &Path, pid: u32, n: usize, clients: usize) -> Result<f64> {
    eprintln!(
        "xtask: bench: starting {n} containers on {}",
        socket.display()
    );
    let body = busybox(&["sleep", "3600"], json!({}));
    let started = docker::parallel(socket, clients, (0..n).collect(), |c, _| {
        let id = docker::create(c, &body)?;
        docker::start(c, &id)?;
        Ok(id)
    });
    let rss = started.and_then(|_| super::daemon::rss_mb(pid));
    eprintln!("xtask: bench: removing them");
    docker::remove_labelled(socket, clients)?;
    rss
}
