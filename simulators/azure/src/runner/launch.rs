//! Executions started and ended against the emulator's state: `launch`
//! runs one in the background and records its end; `set_status` writes an
//! execution's status into the ARM store.

use std::sync::Arc;

use tokio::sync::watch;

use super::{LaunchSpec, Runner, StopKind, execution};
use crate::arm::store::ExecStatus;
use crate::state::AppState;
use crate::util;

impl Runner {
    /// Starts an execution in the background.
    pub fn launch(&self, state: Arc<AppState>, spec: LaunchSpec) {
        let (tx, rx) = watch::channel(StopKind::None);
        self.stops().insert(spec.exec_key.clone(), tx);
        let task = async move {
            let key = spec.exec_key.clone();
            let (status, reason) = execution::run(&state, &spec, rx).await;
            if let Some(r) = &reason {
                tracing::info!(execution = %spec.exec_name, status = status.as_str(), reason = %r, "execution ended");
            }
            set_status(&state, &key, status);
            state.runner.stops().remove(&key);
        };
        match self.tasks.try_lock() {
            Ok(mut set) => {
                while set.try_join_next().is_some() {}
                set.spawn(task);
            }
            Err(_) => {
                tokio::spawn(task);
            }
        }
    }
}

/// Records a status change (and the end time of terminal states).
pub fn set_status(state: &AppState, exec_key: &str, status: ExecStatus) {
    let mut arm = state.arm();
    if let Some(e) = arm.executions.get_mut(exec_key) {
        if e.status.is_terminal() {
            return;
        }
        e.status = status;
        if status.is_terminal() {
            e.end_time = Some(util::now_rfc3339());
        }
    }
}
