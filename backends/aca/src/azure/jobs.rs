//! Container Apps Jobs and their executions (Microsoft.App 2025-01-01).

use serde_json::Value;
use sockerless_api::ApiError;

use super::arm::ArmClient;
use super::models::{APP_API_VERSION, Job, JobExecution, JobExecutionBase, JobExecutionTemplate};
use crate::errors::CallContext;

/// Jobs of one resource group.
#[derive(Debug, Clone)]
pub struct JobsClient {
    arm: ArmClient,
    subscription_id: String,
    resource_group: String,
}

impl JobsClient {
    /// Jobs in `resource_group` of `subscription_id`.
    pub fn new(
        arm: ArmClient,
        subscription_id: impl Into<String>,
        resource_group: impl Into<String>,
    ) -> Self {
        Self {
            arm,
            subscription_id: subscription_id.into(),
            resource_group: resource_group.into(),
        }
    }

    /// ARM path of job `name`.
    pub fn job_path(&self, name: &str) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.App/jobs/{name}",
            self.subscription_id, self.resource_group
        )
    }

    fn ctx(&self, what: impl std::fmt::Display) -> CallContext {
        CallContext::new(
            format!("aca: {what}"),
            format!(
                "Container Apps Contributor (or Contributor) on resource group {}",
                self.resource_group
            ),
        )
    }

    /// Creates or replaces a job and waits until it is provisioned.
    pub async fn put_job(&self, name: &str, job: &Job) -> Result<Job, ApiError> {
        self.arm
            .put(
                &self.ctx(format!("put job {name}")),
                &self.job_path(name),
                APP_API_VERSION,
                job,
            )
            .await
    }

    /// The job, or `None` if it does not exist.
    pub async fn get_job(&self, name: &str) -> Result<Option<Job>, ApiError> {
        self.arm
            .get_optional(
                &self.ctx(format!("get job {name}")),
                &self.job_path(name),
                APP_API_VERSION,
            )
            .await
    }

    /// Deletes a job and waits until it is gone; `false` if it did not exist.
    pub async fn delete_job(&self, name: &str) -> Result<bool, ApiError> {
        self.arm
            .delete(
                &self.ctx(format!("delete job {name}")),
                &self.job_path(name),
                APP_API_VERSION,
            )
            .await
    }

    /// Starts an execution, optionally overriding the template. The POST is
    /// sent once and never retried (a retry could start a second execution).
    pub async fn start(
        &self,
        name: &str,
        template: Option<&JobExecutionTemplate>,
    ) -> Result<JobExecutionBase, ApiError> {
        let ctx = self.ctx(format!("start job {name}"));
        let body = template
            .map(serde_json::to_value)
            .transpose()
            .map_err(|e| {
                ApiError::Internal(format!("{}: cannot encode template: {e}", ctx.operation))
            })?;
        let response = self
            .arm
            .post_once(
                &ctx,
                &format!("{}/start", self.job_path(name)),
                APP_API_VERSION,
                body.as_ref(),
            )
            .await?;
        let execution: JobExecutionBase = response.json(&ctx)?;
        if execution.name.is_none() {
            return Err(ApiError::Internal(format!(
                "{}: Azure accepted the start but returned no execution name",
                ctx.operation
            )));
        }
        Ok(execution)
    }

    /// An execution, or `None` if it does not exist.
    pub async fn get_execution(
        &self,
        job: &str,
        execution: &str,
    ) -> Result<Option<JobExecution>, ApiError> {
        self.arm
            .get_optional(
                &self.ctx(format!("get execution {execution} of job {job}")),
                &format!("{}/executions/{execution}", self.job_path(job)),
                APP_API_VERSION,
            )
            .await
    }

    /// Stops an execution and waits for the stop to be accepted.
    pub async fn stop_execution(&self, job: &str, execution: &str) -> Result<(), ApiError> {
        let ctx = self.ctx(format!("stop execution {execution} of job {job}"));
        let path = format!("{}/executions/{execution}/stop", self.job_path(job));
        self.arm
            .post(&ctx, &path, APP_API_VERSION, None::<&Value>)
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure::pipeline::AzureOptions;
    use crate::azure::test_support::{StaticCredential, Stub, StubReply};
    use std::sync::Arc;

    const JOB: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.App/jobs/sl-abc";

    fn jobs(stub: &Stub) -> JobsClient {
        let options = AzureOptions {
            poll_interval: std::time::Duration::from_millis(10),
            ..Default::default()
        };
        JobsClient::new(
            ArmClient::new(stub.base.clone(), Arc::new(StaticCredential), options),
            "s",
            "rg",
        )
    }

    #[tokio::test]
    async fn start_follows_location_to_the_execution_name() {
        let stub = Stub::start(|base, method, path, _| match (method, path) {
            ("POST", p) if p == format!("{JOB}/start") => {
                StubReply::json(202, "").header("location", format!("{base}ops/start"))
            }
            ("GET", "/ops/start") => StubReply::json(200, r#"{"name":"sl-abc-x1y2z3","id":"/x"}"#),
            _ => StubReply::json(404, "{}"),
        })
        .await;
        let exec = jobs(&stub).start("sl-abc", None).await.expect("start");
        assert_eq!(exec.name.as_deref(), Some("sl-abc-x1y2z3"));
        assert_eq!(
            stub.calls(),
            vec![format!("POST {JOB}/start"), "GET /ops/start".into()]
        );
    }

    #[tokio::test]
    async fn get_missing_job_is_none_and_execution_status_is_read() {
        let stub = Stub::start(|_, method, path, _| match (method, path) {
            ("GET", p) if p.ends_with("/executions/e1") => {
                StubReply::json(200, r#"{"name":"e1","properties":{"status":"Succeeded"}}"#)
            }
            _ => StubReply::json(
                404,
                r#"{"error":{"code":"ResourceNotFound","message":"not found"}}"#,
            ),
        })
        .await;
        let client = jobs(&stub);
        assert_eq!(client.get_job("sl-abc").await.expect("get"), None);
        let exec = client
            .get_execution("sl-abc", "e1")
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(exec.status(), Some("Succeeded"));
        let err = client
            .stop_execution("sl-abc", "nope")
            .await
            .expect_err("missing");
        assert!(
            matches!(err, ApiError::NotFound(ref m) if m.starts_with("aca: stop execution nope of job sl-abc")),
            "{err:?}"
        );
    }
}
