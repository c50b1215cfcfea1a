//! `docker stop` and `docker kill`: signals through the agent; without an
//! agent (or after the timeout), the execution is stopped through ARM.

use std::sync::Arc;
use std::time::Duration;

use sockerless_api::{ApiError, Result};

use super::exit::{EXIT_STOPPED, record_exit};
use super::running::{wait_not_running, wait_synced};
use super::state::{Command, ContainerRuntime};
use super::{StoredConfig, find_container};
use crate::AcaBackend;
use crate::errors::map_azure_error;
use sockerless_azure::pipeline::count_arm_calls;

/// Docker signal names and numbers → number (`SIGTERM`, `TERM`, `15`).
pub fn parse_signal(s: &str) -> Result<i32> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i32>() {
        return if (1..=64).contains(&n) {
            Ok(n)
        } else {
            Err(ApiError::InvalidParameter(format!("Invalid signal: {s}")))
        };
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let n = match name {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ILL" => 4,
        "TRAP" => 5,
        "ABRT" | "IOT" => 6,
        "BUS" => 7,
        "FPE" => 8,
        "KILL" => 9,
        "USR1" => 10,
        "SEGV" => 11,
        "USR2" => 12,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        "STKFLT" => 16,
        "CHLD" => 17,
        "CONT" => 18,
        "STOP" => 19,
        "TSTP" => 20,
        "TTIN" => 21,
        "TTOU" => 22,
        "URG" => 23,
        "XCPU" => 24,
        "XFSZ" => 25,
        "VTALRM" => 26,
        "PROF" => 27,
        "WINCH" => 28,
        "IO" | "POLL" => 29,
        "PWR" => 30,
        "SYS" => 31,
        _ => return Err(ApiError::InvalidParameter(format!("Invalid signal: {s}"))),
    };
    Ok(n)
}

/// Stops the execution through ARM and records `EXIT_STOPPED` unless the
/// agent reports an exit within a short while.
async fn stop_execution(backend: &AcaBackend, rt: &Arc<ContainerRuntime>) -> Result<()> {
    let record = find_container(backend, &rt.id).await?;
    if let Some(execution) = &record.execution_name {
        match backend
            .azure()
            .jobs
            .stop_execution(&record.job_name, execution)
            .await
        {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(map_azure_error(e)),
        }
    }
    if !wait_not_running(rt, Duration::from_secs(10)).await {
        record_exit(backend, rt, EXIT_STOPPED).await;
    }
    Ok(())
}

/// `docker stop`: the stop signal through the agent, then after the timeout
/// SIGKILL and `stopExecution`.
pub async fn stop(
    backend: &AcaBackend,
    id: &str,
    signal: Option<String>,
    timeout_secs: Option<i64>,
) -> Result<()> {
    let record = find_container(backend, id).await?;
    let rt = backend.runtimes().get(&record);
    crate::ops::pause::on_signal(&rt);
    rt.stop_requested
        .store(true, std::sync::atomic::Ordering::SeqCst);
    if rt.restarting.load(std::sync::atomic::Ordering::SeqCst) {
        // Its policy may be starting it: once that start is done, it is
        // stopped if it ran.
        drop(rt.op_lock.lock().await);
    }
    if !rt.state.borrow().running {
        return Err(ApiError::NotModified("container already stopped".into()));
    }
    let stored = StoredConfig::of(&record)?;
    let signal = signal
        .or(stored.body.stop_signal.clone())
        .unwrap_or_else(|| "SIGTERM".to_owned());
    let signal = parse_signal(&signal)?;
    let timeout = timeout_secs.or(stored.body.stop_timeout).unwrap_or(10);
    count_arm_calls(rt.arm.clone(), async {
        if rt.agent().is_some() {
            crate::events::actors::kill(backend, &record, signal);
            rt.send(Command::Signal(signal));
            // A negative timeout waits forever, as in Docker.
            let within = u64::try_from(timeout).map_or(Duration::MAX, Duration::from_secs);
            if wait_not_running(&rt, within).await || wait_synced(backend, &rt).await {
                return Ok(());
            }
            crate::events::actors::kill(backend, &record, 9);
            rt.send(Command::Signal(9));
            if wait_not_running(&rt, Duration::from_secs(2)).await
                || wait_synced(backend, &rt).await
            {
                return Ok(());
            }
        }
        stop_execution(backend, &rt).await
    })
    .await
    .inspect(|()| crate::events::actors::container(backend, &record, "stop", &[]))
}

/// `docker kill`: any signal, delivered by the agent (SIGKILL without an
/// agent stops the execution).
pub async fn kill(backend: &AcaBackend, id: &str, signal: Option<String>) -> Result<()> {
    let record = find_container(backend, id).await?;
    let rt = backend.runtimes().get(&record);
    let n = parse_signal(signal.as_deref().unwrap_or("SIGKILL"))?;
    crate::ops::pause::on_signal(&rt);
    // A kill meant to end it (not a reload signal) stops the restart policy.
    if matches!(n, 2 | 9 | 15) {
        rt.stop_requested
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
    if !rt.state.borrow().running {
        return Err(ApiError::Conflict(format!(
            "Container {} is not running",
            record.id
        )));
    }
    crate::events::actors::kill(backend, &record, n);
    if rt.agent().is_some() {
        rt.send(Command::Signal(n));
        return Ok(());
    }
    if n == 9 {
        return count_arm_calls(rt.arm.clone(), stop_execution(backend, &rt)).await;
    }
    Err(ApiError::Unavailable(format!(
        "cannot deliver signal {n} to container {}: its agent is not connected",
        record.id
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(parse_signal("SIGTERM"), Ok(15));
        assert_eq!(parse_signal("term"), Ok(15));
        assert_eq!(parse_signal("USR1"), Ok(10));
        assert_eq!(parse_signal("9"), Ok(9));
        assert!(parse_signal("0").is_err());
        assert!(parse_signal("SIGNOPE").is_err());
    }
}
