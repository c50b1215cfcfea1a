//! An agent's connection as the runtime sees it: [`attach`] makes an
//! authenticated connection the container's live link and starts its pump;
//! [`LinkEvents`] is what the link reports to (output stored, health,
//! the exit with the binds synced back and the changes recorded, the end
//! of the connection). The link itself (`agent_link`) knows nothing of
//! this: the dependency runs from here to it.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use sockerless_agent::peer::{AgentConnection, HealthReport, Session};
use tokio::sync::{Mutex, mpsc};

use super::state::{Command, ContainerRuntime};
use crate::AcaBackend;
use crate::agent_link::cut::LinkCut;
use crate::agent_link::process::Output;
use crate::agent_link::pump::{AgentLink, LinkObserver};

/// Makes `conn` the container's live connection and starts its pump;
/// `cut` fails its transport on request. The run is prepared (binds,
/// files, sockets put in) unless it was already.
pub fn attach(
    backend: AcaBackend,
    rt: Arc<ContainerRuntime>,
    conn: Arc<AgentConnection>,
    cut: LinkCut,
) {
    let main = conn.main_session();
    crate::ops::pause::on_connect(&rt, conn.info().paused);
    if let Some(events) = conn.take_events() {
        crate::relay::serve_events(backend.clone(), rt.id.clone(), events);
    }
    if Arc::strong_count(&conn) > 1 {
        tracing::warn!(container = %rt.id, "agent connection is shared: health reports are not read");
    }
    let observer: Arc<dyn LinkObserver> = Arc::new(LinkEvents {
        backend: backend.clone(),
        rt: rt.clone(),
    });
    let link = AgentLink::spawn(conn, observer.clone(), cut);
    rt.run_main(observer, link.clone(), main);
    tokio::spawn(async move {
        if !rt.prepared.load(Ordering::SeqCst) {
            if let Err(e) = crate::containers::prepare::run(
                &backend,
                &rt,
                &link,
                crate::containers::prepare::Replica::Fresh,
            )
            .await
            {
                tracing::warn!(container = %rt.id, error = %e, "preparing the container failed");
            }
            rt.prepared.store(true, Ordering::SeqCst);
        }
        crate::relay::connected(&backend, &rt.id);
    });
}

/// What one container's agent link reports to.
pub struct LinkEvents {
    backend: AcaBackend,
    rt: Arc<ContainerRuntime>,
}

#[async_trait::async_trait]
impl LinkObserver for LinkEvents {
    fn container_id(&self) -> &str {
        &self.rt.id
    }

    fn commands(&self) -> &Mutex<mpsc::Receiver<Command>> {
        &self.rt.commands_rx
    }

    fn input(&self) -> &Mutex<mpsc::Receiver<Command>> {
        &self.rt.input_rx
    }

    async fn output(&self, batch: Vec<Output>) {
        super::output::store_and_publish(&self.backend, &self.rt, batch).await;
    }

    async fn health(&self, report: HealthReport) {
        let rt = &self.rt;
        let before = rt.health().map(|h| h.status);
        rt.record_health(report);
        store_health(&self.backend, rt).await;
        crate::events::actors::health_changed(
            self.backend.event_hub(),
            &rt.id,
            before,
            rt.health().map(|h| h.status),
        )
        .await;
    }

    async fn exited(self: Arc<Self>, link: Arc<AgentLink>, code: i32, session: Session) {
        let observer: Arc<dyn LinkObserver> = self.clone();
        exited(&self.backend, &self.rt, link, observer, code, session).await;
    }

    fn disconnected(&self, link: &Arc<AgentLink>) {
        disconnected(&self.backend, &self.rt, link);
    }
}

/// The main process exited with `code`: the binds are synced back and the
/// changes recorded while the replica is still there, then the exit is
/// recorded and acknowledged (`session`).
async fn exited(
    backend: &AcaBackend,
    rt: &Arc<ContainerRuntime>,
    link: Arc<AgentLink>,
    observer: Arc<dyn LinkObserver>,
    code: i32,
    session: Session,
) {
    let synced = crate::binds::has_rw(rt);
    let mut failures = Vec::new();
    if synced {
        // Reset even when this task is aborted (a newer connection).
        struct Syncing<'a>(&'a ContainerRuntime);
        impl Drop for Syncing<'_> {
            fn drop(&mut self) {
                self.0.syncing.send_replace(false);
            }
        }
        rt.syncing.send_replace(true);
        let _syncing = Syncing(rt);
        failures = crate::binds::sync_back(backend, rt, &link).await;
    }
    // Before the acknowledgement: the replica's files are still there.
    failures.extend(crate::changes::record(backend, rt, &link).await);
    if synced && session.is_closed() {
        // The agent resends the exit on its next connection, whose
        // pump syncs again.
        tracing::info!(container = %rt.id, "connection lost while syncing binds back");
        disconnected(backend, rt, &link);
        return;
    }
    crate::binds::report(backend, rt, &failures).await;
    // Offered before the exit is recorded: a `docker start` right
    // after the exit (`docker restart`) finds the execution.
    let offered = super::restart::offer(backend, rt, &link, observer).await;
    // Acknowledged once stored (a crash in between: the agent resends
    // it to the restarted backend), before waiters wake (a restart
    // needs the exit acknowledged), and the session's handle closed
    // with it (a restart opens session 0 anew on this connection).
    super::exit::record_exit_then(backend, rt, i64::from(code), move || {
        let _ = session.ack_exit();
        drop(session);
    })
    .await;
    if offered {
        super::restart::linger(backend, rt, link).await;
    }
}

fn disconnected(backend: &AcaBackend, rt: &Arc<ContainerRuntime>, link: &Arc<AgentLink>) {
    if rt.clear_agent(link) {
        tracing::info!(container = %rt.id, "agent disconnected before reporting an exit");
        super::poller::watch_disconnected(backend.clone(), rt.clone());
    }
}

/// Keeps the run's health in the store (awaited here, so reports are
/// stored in order): `docker inspect` shows it across a backend restart.
async fn store_health(backend: &AcaBackend, rt: &ContainerRuntime) {
    let Some(health) = rt.health() else { return };
    let (id, state) = (rt.id.clone(), health.to_stored());
    if let Err(e) = backend
        .store()
        .call(move |c| crate::store::records::save_health(c, &id, &state))
        .await
    {
        tracing::warn!(container = %rt.id, error = %e, "cannot store the health report");
    }
}
