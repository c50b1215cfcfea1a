//! The end of a run: recorded once ([`record_exit`]), waking waiters and
//! ending attached streams; then the container is removed (AutoRemove) or
//! its restart policy starts it again.

use std::sync::Arc;

use super::restart_policy::auto_remove_of;
use super::state::ContainerRuntime;
use crate::AcaBackend;
use crate::clock::now_nanos;

/// Exit code recorded when a run is stopped without the agent reporting one.
pub const EXIT_STOPPED: i64 = 137;

/// Records the end of a run with `code`; wakes waiters, ends attached streams,
/// and removes the container when it was created with AutoRemove.
pub async fn record_exit(backend: &AcaBackend, rt: &Arc<ContainerRuntime>, code: i64) {
    record_exit_then(backend, rt, code, || {}).await;
}

/// [`record_exit`], calling `stored` once the exit is in the store (or was
/// already recorded), before anyone waiting on the container wakes: the
/// agent's exit is acknowledged there.
pub async fn record_exit_then(
    backend: &AcaBackend,
    rt: &Arc<ContainerRuntime>,
    code: i64,
    stored: impl FnOnce(),
) {
    if !rt.state.borrow().running {
        stored();
        return;
    }
    let (id, now, arm) = (rt.id.clone(), now_nanos(), rt.arm.counts());
    let stopped = rt.stop_requested.load(std::sync::atomic::Ordering::SeqCst);
    let recorded = backend
        .store()
        .call(move |c| {
            crate::store::records::record_exit(c, &id, code, now, (arm.reads, arm.writes), stopped)
        })
        .await;
    stored();
    if let Ok(Some(record)) = &recorded {
        crate::events::actors::die(backend, record, code).await;
    }
    let (auto_remove, exited) = match recorded {
        Ok(Some(record)) => (auto_remove_of(&record), Some(record)),
        Ok(None) => {
            tracing::warn!(container = %rt.id, "exit of an unknown container");
            (false, None)
        }
        Err(e) => {
            tracing::warn!(container = %rt.id, error = %e, "cannot record the exit");
            (false, None)
        }
    };
    tracing::info!(container = %rt.id, code, "container exited");
    tracing::debug!(target: super::TIMELINE, container = %rt.id, code, "exited");
    crate::relay::gone(backend, &rt.id);
    crate::ports::close(rt).await;
    rt.close_subscribers();
    rt.drain_commands();
    // The token and link go before the state changes: a start seeing the
    // exit may restart in the lingering execution at once, and its token
    // and link must not be revoked after it set them.
    let pump_is_caller = rt.agent().is_some();
    if !pump_is_caller {
        rt.end_run();
    } else {
        // The pump calling us ends with this function; only revoke the token.
        rt.revoke();
    }
    rt.state.send_modify(|s| {
        s.running = false;
        s.exit_code = Some(code);
        s.exits += 1;
    });
    if auto_remove {
        crate::runtime::lifecycle::spawn_auto_remove(backend, &rt.id);
    } else if let Some(record) = &exited {
        crate::runtime::policy_starts::schedule(backend, rt, record, code);
    }
}
