//! Container Apps Jobs and their executions (Microsoft.App 2025-01-01).

use serde_json::Value;

use crate::arm::ArmClient;
use crate::models::{APP_API_VERSION, Job, JobExecution, JobExecutionBase, JobExecutionTemplate};
use crate::{AzureError, CallContext};

/// How often a start that may or may not have happened (a 5xx) is looked
/// into and sent again when it did not.
const MAX_AMBIGUOUS_STARTS: u32 = 3;

/// Execution statuses of a run that is over.
const TERMINAL: [&str; 4] = ["Succeeded", "Failed", "Stopped", "Degraded"];

/// Most pages [`JobsClient::list_tagged`] reads (a loop in the links must end).
pub const MAX_LIST_PAGES: usize = 1000;

/// One page of `Jobs_ListByResourceGroup`.
#[derive(Debug, serde::Deserialize)]
struct JobsCollection {
    #[serde(default)]
    value: Vec<Job>,
    #[serde(rename = "nextLink", default)]
    next_link: Option<String>,
}

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
    pub async fn put_job(&self, name: &str, job: &Job) -> Result<Job, AzureError> {
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
    pub async fn get_job(&self, name: &str) -> Result<Option<Job>, AzureError> {
        self.arm
            .get_optional(
                &self.ctx(format!("get job {name}")),
                &self.job_path(name),
                APP_API_VERSION,
            )
            .await
    }

    /// Every job of the resource group carrying tag `key` = `value`, page by
    /// page (ARM's `nextLink`); the filter is applied here, as the jobs list
    /// takes no tag filter. At most [`MAX_LIST_PAGES`] pages are read.
    pub async fn list_tagged(&self, key: &str, value: &str) -> Result<Vec<Job>, AzureError> {
        let ctx = self.ctx("list jobs");
        let path = format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.App/jobs",
            self.subscription_id, self.resource_group
        );
        let mut page: JobsCollection = self.arm.get(&ctx, &path, APP_API_VERSION).await?;
        let mut jobs = Vec::new();
        for _ in 0..MAX_LIST_PAGES {
            jobs.extend(page.value.into_iter().filter(|job| {
                job.tags
                    .as_ref()
                    .and_then(|t| t.get(key))
                    .is_some_and(|v| v == value)
            }));
            match page.next_link.filter(|l| !l.is_empty()) {
                Some(link) => page = self.arm.get_next_link(&ctx, &link).await?,
                None => return Ok(jobs),
            }
        }
        Err(AzureError::other(format!(
            "{}: more than {MAX_LIST_PAGES} pages",
            ctx.operation
        )))
    }

    /// Deletes a job and waits until it is gone; `false` if it did not exist.
    pub async fn delete_job(&self, name: &str) -> Result<bool, AzureError> {
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
    ) -> Result<JobExecutionBase, AzureError> {
        let ctx = self.ctx(format!("start job {name}"));
        let body = template
            .map(serde_json::to_value)
            .transpose()
            .map_err(|e| {
                AzureError::other(format!("{}: cannot encode template: {e}", ctx.operation))
            })?;
        let path = format!("{}/start", self.job_path(name));
        let mut attempt = 0;
        let response = loop {
            match self
                .arm
                .post_once_telling(&ctx, &path, APP_API_VERSION, body.as_ref())
                .await
            {
                Ok(response) => break response,
                Err(failure) if failure.maybe_executed && attempt < MAX_AMBIGUOUS_STARTS => {
                    attempt += 1;
                    // Did it start? Our jobs run one execution at a time, so
                    // a live one is the one this POST started.
                    let live = self.list_executions(name).await.ok().and_then(|all| {
                        all.into_iter()
                            .find(|e| e.status().is_some_and(|s| !TERMINAL.contains(&s)))
                    });
                    if let Some(execution) = live {
                        tracing::info!(job = %name, execution = execution.name.as_deref().unwrap_or(""), error = %failure.error, "the start failed on the way back, but the execution runs: adopted");
                        return Ok(JobExecutionBase {
                            name: execution.name,
                            id: execution.id,
                        });
                    }
                    tracing::info!(job = %name, attempt, error = %failure.error, "the start failed and no execution runs; sending it again");
                    tokio::time::sleep(std::time::Duration::from_secs(u64::from(attempt))).await;
                }
                Err(failure) => return Err(failure.error),
            }
        };
        let execution: JobExecutionBase = response.json(&ctx)?;
        if execution.name.is_none() {
            return Err(AzureError::other(format!(
                "{}: Azure accepted the start but returned no execution name",
                ctx.operation
            )));
        }
        Ok(execution)
    }

    /// The executions of `job`, newest first (the first page: a job of ours
    /// runs one execution at a time, so the newest are on it).
    pub async fn list_executions(&self, job: &str) -> Result<Vec<JobExecution>, AzureError> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            value: Vec<JobExecution>,
        }
        let page: Page = self
            .arm
            .get(
                &self.ctx(format!("list executions of job {job}")),
                &format!("{}/executions", self.job_path(job)),
                APP_API_VERSION,
            )
            .await?;
        Ok(page.value)
    }

    /// An execution, or `None` if it does not exist.
    pub async fn get_execution(
        &self,
        job: &str,
        execution: &str,
    ) -> Result<Option<JobExecution>, AzureError> {
        self.arm
            .get_optional(
                &self.ctx(format!("get execution {execution} of job {job}")),
                &format!("{}/executions/{execution}", self.job_path(job)),
                APP_API_VERSION,
            )
            .await
    }

    /// Stops an execution and waits for the stop to be accepted.
    pub async fn stop_execution(&self, job: &str, execution: &str) -> Result<(), AzureError> {
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
    use crate::pipeline::AzureOptions;
    use crate::test_support::{Stub, StubReply, stub_arm};

    const JOB: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.App/jobs/sl-abc";

    fn jobs(stub: &Stub) -> JobsClient {
        let options = AzureOptions {
            poll_interval: std::time::Duration::from_millis(10),
            ..Default::default()
        };
        JobsClient::new(stub_arm(stub, options), "s", "rg")
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
            err.is_not_found()
                && err
                    .message()
                    .starts_with("aca: stop execution nope of job sl-abc"),
            "{err:?}"
        );
    }

    /// A 5xx on the start may hide a started execution: a live one is
    /// adopted, never started twice.
    #[tokio::test]
    async fn a_start_failing_on_the_way_back_adopts_the_running_execution() {
        let stub = Stub::start(|_, method, path, _| match (method, path) {
            ("POST", p) if p == format!("{JOB}/start") => StubReply::json(
                500,
                r#"{"error":{"code":"InternalServerError","message":"lost"}}"#,
            ),
            ("GET", p) if p == format!("{JOB}/executions") => StubReply::json(
                200,
                r#"{"value":[{"name":"sl-abc-new","properties":{"status":"Running"}},{"name":"sl-abc-old","properties":{"status":"Succeeded"}}]}"#,
            ),
            _ => StubReply::json(404, "{}"),
        })
        .await;
        let exec = jobs(&stub).start("sl-abc", None).await.expect("start");
        assert_eq!(exec.name.as_deref(), Some("sl-abc-new"));
        let posts = stub
            .calls()
            .iter()
            .filter(|c| c.starts_with("POST"))
            .count();
        assert_eq!(posts, 1, "{:?}", stub.calls());
    }

    /// A 503 with no execution behind it: the start is sent again.
    #[tokio::test]
    async fn a_start_failing_with_no_execution_behind_it_is_sent_again() {
        let stub = Stub::start(|_, method, path, n| match (method, path) {
            ("POST", p) if p == format!("{JOB}/start") && n == 0 => StubReply::json(
                503,
                r#"{"error":{"code":"ServiceUnavailable","message":"busy"}}"#,
            ),
            ("POST", p) if p == format!("{JOB}/start") => {
                StubReply::json(200, r#"{"name":"sl-abc-2","id":"/x"}"#)
            }
            ("GET", p) if p == format!("{JOB}/executions") => StubReply::json(
                200,
                r#"{"value":[{"name":"sl-abc-old","properties":{"status":"Failed"}}]}"#,
            ),
            _ => StubReply::json(404, "{}"),
        })
        .await;
        let exec = jobs(&stub).start("sl-abc", None).await.expect("start");
        assert_eq!(exec.name.as_deref(), Some("sl-abc-2"));
        let posts = stub
            .calls()
            .iter()
            .filter(|c| c.starts_with("POST"))
            .count();
        assert_eq!(posts, 2, "{:?}", stub.calls());
    }

    /// Pages are followed on the same endpoint only; tags are filtered here.
    #[tokio::test]
    async fn tagged_jobs_are_listed_across_pages_and_links_elsewhere_refused() {
        let stub = Stub::start(|base, method, path, _| match (method, path) {
            ("GET", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.App/jobs") => {
                StubReply::json(
                    200,
                    &format!(
                        r#"{{"value":[{{"name":"a","tags":{{"i":"me"}}}},{{"name":"b","tags":{{"i":"other"}}}}],"nextLink":"{base}page2?api-version=2025-01-01"}}"#
                    ),
                )
            }
            ("GET", "/page2") => StubReply::json(
                200,
                r#"{"value":[{"name":"c","tags":{"i":"me"}},{"name":"d"}],"nextLink":null}"#,
            ),
            _ => StubReply::json(404, "{}"),
        })
        .await;
        let names: Vec<String> = jobs(&stub)
            .list_tagged("i", "me")
            .await
            .expect("list")
            .into_iter()
            .filter_map(|j| j.name)
            .collect();
        assert_eq!(names, ["a", "c"]);

        let evil = Stub::start(|_, _, _, _| {
            StubReply::json(
                200,
                r#"{"value":[],"nextLink":"http://198.51.100.7/steal?api-version=1"}"#,
            )
        })
        .await;
        let err = jobs(&evil)
            .list_tagged("i", "me")
            .await
            .expect_err("refused");
        assert!(
            err.to_string().contains("outside the ARM endpoint"),
            "{err}"
        );
    }
}
