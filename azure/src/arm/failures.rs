//! How an ARM call or operation went wrong, and which failures are worth
//! another try: an operation that ended `Failed` or `Canceled` (a PUT is
//! sent again), a write refused with `ContainerAppLockConflict` (sent again
//! once the lock is gone).

use std::time::Duration;

use serde_json::Value;

use crate::{AzureError, CallContext};

/// Why an operation ended without success, as the caller's error.
pub(super) fn lro_failure(ctx: &CallContext, state: &str, body: &Value) -> AzureError {
    let error = body
        .get("error")
        .or_else(|| body.get("properties").and_then(|p| p.get("error")));
    let code = error.and_then(|e| e.get("code")).and_then(Value::as_str);
    let message = error
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("operation {state}"));
    AzureError::failure(ctx, None, code, &message)
}

/// Times a PUT is sent when its operation ends `Failed` or `Canceled`.
pub(super) const PUT_ATTEMPTS: u32 = 3;

/// How waiting for an operation went wrong.
pub(super) enum WaitError {
    /// The operation ended `Failed` or `Canceled`.
    Ended(AzureError),
    /// A call (a poll, the final GET) failed.
    Call(AzureError),
}

impl WaitError {
    pub(super) fn into_error(self) -> AzureError {
        match self {
            WaitError::Ended(e) | WaitError::Call(e) => e,
        }
    }
}

impl From<AzureError> for WaitError {
    fn from(e: AzureError) -> Self {
        WaitError::Call(e)
    }
}

/// First and longest pause before sending a write refused for a lock again.
pub(super) const LOCK_RETRY_FIRST: Duration = Duration::from_millis(500);
pub(super) const LOCK_RETRY_MAX: Duration = Duration::from_secs(8);

/// Whether `err` is ARM's 409 for a resource another operation is changing
/// (`ContainerAppLockConflict`, in the error code or the body).
pub(super) fn is_lock_conflict(err: &azure_core::Error) -> bool {
    const CODE: &str = "ContainerAppLockConflict";
    let azure_core::error::ErrorKind::HttpResponse {
        status,
        error_code,
        raw_response,
    } = err.kind()
    else {
        return false;
    };
    u16::from(*status) == 409
        && (error_code.as_deref() == Some(CODE)
            || raw_response.as_ref().is_some_and(|raw| {
                serde_json::from_slice::<Value>(raw.body().as_ref())
                    .ok()
                    .and_then(|b| {
                        b.pointer("/error/code")
                            .and_then(Value::as_str)
                            .map(|c| c == CODE)
                    })
                    .unwrap_or(false)
            }))
}
