//! Interactive latency and stream throughput through attach and logs, on
//! one side.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::json;

use super::docker::{self, busybox};
use super::http::{Client, read_frame};

/// Round trips before the measured ones (the process may still be starting).
const WARMUP: usize = 5;

/// Echo round trips through an attached `cat`: the client writes a line on
/// stdin, reads it back from stdout (agent → backend → client on ours). The
/// busybox image has no sub-second clock, so the one-way "process wrote →
/// client read" time cannot be stamped inside the container; the round trip
/// bounds it.
pub fn echo_rtt(socket: &Path, n: usize) -> Result<Vec<Duration>> {
    let mut c = Client::new(socket);
    let body = busybox(
        &["cat"],
        json!({"OpenStdin": true, "AttachStdin": true, "AttachStdout": true, "AttachStderr": true}),
    );
    let id = docker::create(&mut c, &body)?;
    let result = (|| {
        let mut conn = c.upgrade(
            "POST",
            &format!("/containers/{id}/attach?stream=1&stdin=1&stdout=1&stderr=1"),
        )?;
        docker::start(&mut c, &id)?;
        let mut samples = Vec::with_capacity(n);
        let mut buf = Vec::new();
        for i in 0..WARMUP + n {
            let t = Instant::now();
            conn.get_mut().write_all(b"x\n")?;
            let mut got = 0;
            while got < 2 {
                match read_frame(&mut conn, &mut buf)? {
                    Some(_) => got += buf.len(),
                    None => bail!("attach stream ended after {i} round trips"),
                }
            }
            if i >= WARMUP {
                samples.push(t.elapsed());
            }
        }
        conn.get_mut().shutdown(std::net::Shutdown::Write)?;
        Ok(samples)
    })();
    docker::remove(&mut c, &id)?;
    result
}

/// Throughput (MiB/s) of `mib` MiB written by the process: through an
/// attached client (`start` returned to end of stream), then through `docker
/// logs` of the exited container (request to end of body).
pub fn throughput(socket: &Path, mib: usize) -> Result<(f64, f64)> {
    let bytes = mib << 20;
    let mut c = Client::new(socket);
    let count = bytes.to_string();
    let body = busybox(
        &["head", "-c", &count, "/dev/zero"],
        json!({"AttachStdout": true, "AttachStderr": true}),
    );
    let id = docker::create(&mut c, &body)?;
    let result = (|| {
        let mut conn = c.upgrade(
            "POST",
            &format!("/containers/{id}/attach?stream=1&stdout=1&stderr=1"),
        )?;
        docker::start(&mut c, &id)?;
        // From `start` returned: on ours that is when the agent connected,
        // before the process runs; from the first byte instead, output the
        // agent held while the attach was set up would count as instant.
        let started = Instant::now();
        let mut buf = Vec::new();
        let mut got = 0;
        while read_frame(&mut conn, &mut buf)?.is_some() {
            got += buf.len();
        }
        let attach_secs = started.elapsed().as_secs_f64();
        if got != bytes {
            bail!("attach delivered {got} bytes of {bytes}");
        }
        docker::wait(&mut c, &id)?;
        let t = Instant::now();
        let r = c.get(&format!("/containers/{id}/logs?stdout=1&stderr=1"))?;
        let logs_secs = t.elapsed().as_secs_f64();
        r.ok()?;
        let mut rest = &r.body[..];
        let mut logged = 0;
        while read_frame(&mut rest, &mut buf)?.is_some() {
            logged += buf.len();
        }
        if logged != bytes {
            bail!("logs returned {logged} bytes of {bytes}");
        }
        let mibs = |secs: f64| {
            if secs > 0.0 {
                mib as f64 / secs
            } else {
                f64::INFINITY
            }
        };
        Ok((mibs(attach_secs), mibs(logs_secs)))
    })();
    docker::remove(&mut c, &id)?;
    result
}
