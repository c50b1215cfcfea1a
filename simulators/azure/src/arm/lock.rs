//! The job lock: while an operation that changes a job (create, update,
//! delete) is in progress, Azure refuses another change to it with 409
//! `ContainerAppLockConflict`, and the client must retry once it is done.

use super::ArmError;
use super::store::{ArmStore, OpStatus};

/// Error code of a change that overlaps another.
pub const LOCK_CONFLICT: &str = "ContainerAppLockConflict";

/// The operation holding job `key`'s lock, if one is in progress.
pub fn holder<'a>(arm: &'a ArmStore, key: &str) -> Option<&'a str> {
    let op = arm.jobs.get(key)?.pending_op.as_deref()?;
    arm.operations
        .get(op)
        .is_some_and(|o| o.status == OpStatus::InProgress)
        .then_some(op)
}

/// Refuses a PUT/PATCH/DELETE of job `key` (named `name`) while another
/// change to it is in progress. Call it under the same [`ArmStore`] guard
/// as the write, so two overlapping writes cannot both pass.
pub fn check_job(arm: &ArmStore, key: &str, name: &str) -> Result<(), ArmError> {
    match holder(arm, key) {
        // Azure's wording for container apps (seen in ARM deployment
        // errors); jobs are the same resource provider and lock.
        Some(_) => Err(ArmError::conflict(
            LOCK_CONFLICT,
            format!(
                "Cannot modify container App '{name}' because another modification is in progress. Please retry the operation."
            ),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::arm::store::{JobRecord, OpEffect};
    use crate::config::FaultConfig;

    fn store_with_job(key: &str) -> ArmStore {
        let mut arm = ArmStore::default();
        arm.jobs.insert(
            key.into(),
            JobRecord {
                resource: json!({"properties": {"provisioningState": "Succeeded"}}),
                environment_key: "env".into(),
                pending_op: None,
            },
        );
        arm
    }

    #[test]
    fn a_job_is_locked_while_its_operation_runs() {
        let mut arm = store_with_job("k");
        assert!(check_job(&arm, "k", "j").is_ok());
        let slow = FaultConfig {
            lro_delay_ms: 3_600_000,
            ..FaultConfig::default()
        };
        let op = arm.begin_operation(
            "s",
            "eastus",
            OpEffect::JobProvisioned("k".into()),
            None,
            &slow,
        );
        assert_eq!(holder(&arm, "k"), Some(op.id.as_str()));
        let err = check_job(&arm, "k", "j").expect_err("locked");
        assert_eq!(
            (err.status.as_u16(), err.code.as_str()),
            (409, LOCK_CONFLICT)
        );
        assert!(err.message.contains("'j'"), "{}", err.message);
        // Other jobs are not locked by it.
        assert!(check_job(&arm, "other", "o").is_ok());
    }

    #[test]
    fn the_lock_goes_with_the_operation() {
        for (rate, state) in [(0.0, "Succeeded"), (1.0, "Failed")] {
            let mut arm = store_with_job("k");
            let instant = FaultConfig {
                lro_delay_ms: 0,
                lro_fail_rate: rate,
                ..FaultConfig::default()
            };
            arm.begin_operation(
                "s",
                "eastus",
                OpEffect::JobProvisioned("k".into()),
                None,
                &instant,
            );
            arm.settle();
            assert!(check_job(&arm, "k", "j").is_ok(), "{state}");
            assert_eq!(
                arm.jobs["k"].resource["properties"]["provisioningState"],
                state
            );
        }
    }
}
