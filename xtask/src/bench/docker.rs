//! Docker API calls the scenarios share, on either daemon, and a pool of
//! parallel clients.

use std::path::Path;
use std::sync::Mutex;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use super::http::Client;

/// Label on every container the bench creates (value: this process's PID),
/// so cleanup removes exactly those.
pub const LABEL: &str = "sockerless-bench";

pub fn label_value() -> String {
    std::process::id().to_string()
}

/// `busybox` running `cmd`, labelled, with `extra` merged into the body.
pub fn busybox(cmd: &[&str], extra: Value) -> Value {
    let mut body = json!({
        "Image": "busybox",
        "Cmd": cmd,
        "Labels": { LABEL: label_value() },
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    body
}

/// `POST /containers/create`; the new container's ID.
pub fn create(c: &mut Client, body: &Value) -> Result<String> {
    let r = c.post("/containers/create", body)?.json()?;
    r["Id"]
        .as_str()
        .map(str::to_owned)
        .context("create answered no Id")
}

pub fn start(c: &mut Client, id: &str) -> Result<()> {
    c.request("POST", &format!("/containers/{id}/start"), None)?
        .ok()
        .with_context(|| format!("starting {id}"))
}

/// `POST /containers/{id}/wait`: the exit code.
pub fn wait(c: &mut Client, id: &str) -> Result<i64> {
    let r = c
        .request("POST", &format!("/containers/{id}/wait"), None)?
        .json()?;
    r["StatusCode"]
        .as_i64()
        .context("wait answered no StatusCode")
}

/// `DELETE /containers/{id}?force=1&v=1` (a container already gone is fine).
pub fn remove(c: &mut Client, id: &str) -> Result<()> {
    let r = c.request("DELETE", &format!("/containers/{id}?force=1&v=1"), None)?;
    if r.status == 404 {
        return Ok(());
    }
    r.ok().with_context(|| format!("removing {id}"))
}

/// IDs of the containers carrying this run's label.
pub fn labelled(c: &mut Client) -> Result<Vec<String>> {
    let filter = json!({ "label": [format!("{LABEL}={}", label_value())] }).to_string();
    let list = c
        .get(&format!(
            "/containers/json?all=1&filters={}",
            encode(&filter)
        ))?
        .json()?;
    Ok(list
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|c| c["Id"].as_str().map(str::to_owned))
        .collect())
}

/// Removes every container of this run on the daemon at `socket`.
pub fn remove_labelled(socket: &Path, clients: usize) -> Result<usize> {
    let ids = labelled(&mut Client::new(socket))?;
    let n = ids.len();
    parallel(socket, clients, ids, |c, id| remove(c, &id))?;
    Ok(n)
}

/// Pulls `busybox:latest` (progress read to its end).
pub fn pull_busybox(c: &mut Client) -> Result<()> {
    let r = c.request("POST", "/images/create?fromImage=busybox&tag=latest", None)?;
    r.ok()?;
    if String::from_utf8_lossy(&r.body).contains("\"error\"") {
        bail!("pull failed: {}", String::from_utf8_lossy(&r.body));
    }
    Ok(())
}

/// Percent-encodes a query value.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Runs `f` on every item with `clients` connections to `socket` in
/// parallel; the results in no particular order, or the first error.
pub fn parallel<T: Send, R: Send>(
    socket: &Path,
    clients: usize,
    items: Vec<T>,
    f: impl Fn(&mut Client, T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let queue = Mutex::new(items.into_iter());
    let results = Mutex::new(Vec::new());
    let first_error = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..clients.max(1) {
            s.spawn(|| {
                let mut c = Client::new(socket);
                loop {
                    if first_error
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .is_some()
                    {
                        return;
                    }
                    let Some(item) = queue.lock().unwrap_or_else(|p| p.into_inner()).next() else {
                        return;
                    };
                    match f(&mut c, item) {
                        Ok(r) => results.lock().unwrap_or_else(|p| p.into_inner()).push(r),
                        Err(e) => {
                            first_error
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .get_or_insert(e);
                            return;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    Ok(results.into_inner().unwrap_or_else(|p| p.into_inner()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            super::encode(r#"{"label":["a=1"]}"#),
            "%7B%22label%22%3A%5B%22a%3D1%22%5D%7D"
        );
    }
}
