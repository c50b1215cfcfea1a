//! The store and Azure brought back into agreement, at startup and every
//! [`RECONCILE_INTERVAL`]: a crash or a cloud fault at the wrong moment
//! must neither leak a job (money) nor lose a run.
//!
//! Two steps. [`arm_recorded`] is local and runs before the agent endpoint
//! accepts anyone: every run recorded as running gets its agent's token back
//! and, should the agent not return, the poller. [`with_azure`] then lists
//! the jobs carrying this backend's instance tag (one paged list call; other
//! backends sharing the environment tag theirs with their own ID and are left
//! alone) and acts on what the store says about each:
//! - a job without a record (its container was removed, the deletion lost
//!   in a crash) is deleted, through the retried queue of [`super::collect`];
//! - at startup only, a start that was in flight when the process died
//!   (record `created` with an agent token): adopted as running when its job
//!   has an execution (the agent is accepted, the poller watches the
//!   execution), else its job is deleted and the token dropped;
//! - at startup only, an `--rm` container that exited without being removed
//!   is removed now.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use sockerless_agent::peer::ResumeState;
use sockerless_agent::protocol::MAIN_SESSION;
use sockerless_api::ApiError;

use super::template::TAG_INSTANCE;
use crate::AcaBackend;
use crate::errors::map_azure_error;
use crate::store::{ContainerRecord, records};

/// How often the jobs are listed again after startup.
pub const RECONCILE_INTERVAL: Duration = Duration::from_secs(300);

/// What a record tells reconciliation (the planning is pure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordView {
    /// Container ID.
    pub id: String,
    /// Its job's name.
    pub job_name: String,
    /// `created`, `running`, `exited`, …
    pub state: String,
    /// An agent token is recorded (a run was started).
    pub has_token: bool,
    /// Created with `--rm`.
    pub auto_remove: bool,
}

impl RecordView {
    fn of(record: &ContainerRecord) -> Self {
        Self {
            id: record.id.clone(),
            job_name: record.job_name.clone(),
            state: record.state.clone(),
            has_token: record.agent_token_hash.is_some(),
            auto_remove: super::restart_policy::auto_remove_of(record),
        }
    }
}

/// One thing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Delete this job: no record owns it.
    DeleteJob(String),
    /// A start in flight at the crash whose job exists: adopt its execution
    /// if it has one, else delete the job.
    AdoptStart(String),
    /// A start in flight at the crash whose job is gone: forget its token.
    ForgetStart(String),
    /// An exited `--rm` container: remove it.
    FinishAutoRemove(String),
}

/// What to do, from the jobs tagged with our instance, the records and the
/// deletions already queued. `startup`: no start of this process is in
/// flight, so a `created` record with a token is a start the crash cut.
pub fn plan(
    jobs: &BTreeSet<String>,
    records: &[RecordView],
    queued: &BTreeSet<String>,
    startup: bool,
) -> Vec<Action> {
    let owned: BTreeSet<&str> = records.iter().map(|r| r.job_name.as_str()).collect();
    let mut actions: Vec<Action> = jobs
        .iter()
        .filter(|job| !owned.contains(job.as_str()) && !queued.contains(*job))
        .map(|job| Action::DeleteJob(job.clone()))
        .collect();
    if startup {
        for record in records {
            match record.state.as_str() {
                "created" if record.has_token => actions.push(if jobs.contains(&record.job_name) {
                    Action::AdoptStart(record.id.clone())
                } else {
                    Action::ForgetStart(record.id.clone())
                }),
                "exited" if record.auto_remove => {
                    actions.push(Action::FinishAutoRemove(record.id.clone()))
                }
                _ => {}
            }
        }
    }
    actions
}

/// Local, before the agent endpoint accepts: containers recorded as running
/// get their agent's token, the output positions stored (the agent resends
/// from there), and a grace period for their agent to reconnect, then the
/// poller. A start the crash cut (`created` with a token) gets its token
/// too: its agent may connect before [`with_azure`] looks at its job.
pub async fn arm_recorded(backend: &AcaBackend) {
    let live = backend
        .store()
        .call(|c| {
            let mut live = Vec::new();
            for record in records::list_containers(c)? {
                let cut_start = record.state == "created" && record.agent_token_hash.is_some();
                if record.state == "running" || cut_start {
                    let offsets = crate::store::logs::output_offsets(c, &record.id)?;
                    live.push((record, offsets));
                }
            }
            Ok::<_, rusqlite::Error>(live)
        })
        .await;
    let live = match live {
        Ok(live) => live,
        Err(e) => {
            tracing::warn!(error = %e, "reconciliation: cannot list containers");
            return;
        }
    };
    for (record, (stdout, stderr)) in live {
        let rt = backend.runtimes().get(&record);
        if rt.agent().is_some() {
            continue;
        }
        rt.set_resume(ResumeState::starting_at(MAIN_SESSION, stdout, stderr));
        if record.state == "running" {
            super::poller::watch_disconnected(backend.clone(), rt);
        } else if let Some(token_hash) = record.agent_token_hash.clone() {
            rt.resume_run(token_hash);
        }
    }
}

/// Starts the Azure side: once now (startup) and then every
/// [`RECONCILE_INTERVAL`], for the backend's lifetime.
pub fn spawn(backend: &AcaBackend) {
    let backend = backend.clone();
    tokio::spawn(async move {
        let mut startup = true;
        loop {
            if backend.store().check_open().is_err() {
                return;
            }
            if let Err(e) = with_azure(&backend, startup).await {
                tracing::warn!(error = %e, "reconciliation with Azure failed; trying again later");
            } else {
                if startup {
                    crate::runtime::policy_starts::start_with_the_daemon(&backend).await;
                }
                startup = false;
            }
            tokio::time::sleep(RECONCILE_INTERVAL).await;
        }
    });
}

/// One pass against Azure (see the module documentation); returns what it did.
pub async fn with_azure(backend: &AcaBackend, startup: bool) -> Result<Vec<Action>, ApiError> {
    let jobs: BTreeSet<String> = backend
        .azure()
        .jobs
        .list_tagged(TAG_INSTANCE, backend.instance_id())
        .await
        .map_err(map_azure_error)?
        .into_iter()
        .filter_map(|job| job.name)
        .collect();
    let (records, queued) = backend
        .store()
        .call(|c| {
            Ok::<_, rusqlite::Error>((
                records::list_containers(c)?,
                records::queued_job_deletes(c)?,
            ))
        })
        .await?;
    let views: Vec<RecordView> = records.iter().map(RecordView::of).collect();
    let queued: BTreeSet<String> = queued.into_iter().collect();
    let actions = plan(&jobs, &views, &queued, startup);
    tracing::info!(
        jobs = jobs.len(),
        records = records.len(),
        actions = actions.len(),
        startup,
        "reconciled with Azure"
    );
    for action in &actions {
        match action {
            Action::DeleteJob(job) => {
                tracing::info!(%job, "job without a container record: deleting it");
                super::collect::queue(backend, job).await;
            }
            Action::AdoptStart(id) => adopt_start(backend, id).await,
            Action::ForgetStart(id) => forget_start(backend, id).await,
            Action::FinishAutoRemove(id) => {
                tracing::info!(container = %id, "finishing an interrupted auto-remove");
                super::lifecycle::spawn_auto_remove(backend, id);
            }
        }
    }
    Ok(actions)
}

/// A start cut by the crash whose job exists: its newest execution is
/// adopted (the container is running; the agent's token is accepted again
/// and the poller takes the exit if the agent does not come back); with no
/// execution, the job goes and the container stays created.
async fn adopt_start(backend: &AcaBackend, id: &str) {
    let Ok(record) = crate::runtime::find_container(backend, id).await else {
        return;
    };
    let rt = backend.runtimes().get(&record);
    let Ok(_guard) = rt.op_lock.try_lock() else {
        return; // a `docker start` of this process is at work on it
    };
    let executions = match backend.azure().jobs.list_executions(&record.job_name).await {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(container = %id, error = %e, "cannot list the executions of an interrupted start");
            return;
        }
    };
    let newest = record
        .execution_name
        .clone()
        .or_else(|| executions.first().and_then(|e| e.name.clone()));
    let (Some(execution), Some(token_hash)) = (newest, record.agent_token_hash.clone()) else {
        tracing::info!(container = %id, job = %record.job_name, "interrupted start never started an execution: deleting its job");
        super::collect::queue(backend, &record.job_name).await;
        forget_token(backend, record).await;
        return;
    };
    tracing::info!(container = %id, job = %record.job_name, %execution, "adopting the execution of an interrupted start");
    let (cid, exec) = (record.id.clone(), execution.clone());
    if let Err(e) = backend
        .store()
        .call(move |c| records::set_execution_name(c, &cid, &exec))
        .await
    {
        tracing::warn!(container = %id, error = %e, "cannot record the adopted execution");
        return;
    }
    rt.resume_run(token_hash);
    if let Err(e) = super::running::mark_running(backend, id).await {
        tracing::warn!(container = %id, error = %e, "cannot record the adopted run as running");
        return;
    }
    if rt.agent().is_none() {
        super::poller::watch_disconnected(backend.clone(), Arc::clone(&rt));
    }
}

async fn forget_start(backend: &AcaBackend, id: &str) {
    if let Ok(record) = crate::runtime::find_container(backend, id).await {
        tracing::info!(container = %id, "interrupted start without a job: the container stays created");
        forget_token(backend, record).await;
    }
}

async fn forget_token(backend: &AcaBackend, record: ContainerRecord) {
    if let Err(e) = backend
        .store()
        .call(move |c| records::set_token_hash(c, &record.id, None))
        .await
    {
        tracing::warn!(error = %e, "cannot drop the token of an interrupted start");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(id: &str, state: &str, has_token: bool, auto_remove: bool) -> RecordView {
        RecordView {
            id: id.into(),
            job_name: format!("sl-{id}"),
            state: state.into(),
            has_token,
            auto_remove,
        }
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn jobs_without_a_record_are_deleted_unless_already_queued() {
        let records = [view("a", "running", true, false)];
        let actions = plan(
            &set(&["sl-a", "sl-orphan", "sl-queued"]),
            &records,
            &set(&["sl-queued"]),
            false,
        );
        assert_eq!(actions, vec![Action::DeleteJob("sl-orphan".into())]);
    }

    #[test]
    fn interrupted_starts_and_auto_removes_are_handled_at_startup_only() {
        let records = [
            view("cut", "created", true, false),
            view("nojob", "created", true, false),
            view("never", "created", false, false),
            view("rm", "exited", false, true),
            view("kept", "exited", false, false),
            view("run", "running", true, true),
        ];
        let jobs = set(&["sl-cut", "sl-never", "sl-rm", "sl-kept", "sl-run"]);
        let none = set(&[]);
        assert_eq!(
            plan(&jobs, &records, &none, true),
            vec![
                Action::AdoptStart("cut".into()),
                Action::ForgetStart("nojob".into()),
                Action::FinishAutoRemove("rm".into()),
            ]
        );
        assert_eq!(plan(&jobs, &records, &none, false), vec![]);
    }
}
