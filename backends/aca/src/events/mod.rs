//! Docker events: the hub every part of the backend records into
//! ([`EventHub::record`], through the helpers of [`actors`]) and the feed of
//! `GET /events` (history in `since..until`, then live events until `until`).
//!
//! Recording never blocks: a live subscriber gets the event through a bounded
//! broadcast (one that lags behind is ended, as dockerd drops a slow one), the
//! newest [`RECENT`] stay in memory, and a writer task stores them in the
//! `events` table (`store::events`, the newest `store::events::KEPT`), so
//! `since` reaches back across a restart of the backend.

pub mod actors;
pub mod filter;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use sockerless_api::docker::{EventActor, EventMessage, EventMessageScopeEnum};
use sockerless_api::{ApiError, EventStream, Filters, Result};
use tokio::sync::{broadcast, mpsc, watch};

use crate::AcaBackend;
use crate::store::events::EventRow;
use crate::store::{Store, StoreError};

/// Events kept in memory for subscribers joining now (dockerd keeps 256).
pub const RECENT: usize = 256;
/// Live events queued per subscriber before it counts as lagging.
const LIVE_CAPACITY: usize = 1024;
/// Events waiting for the store; past this they are not stored (logged).
const WRITE_QUEUE: usize = 4096;
/// Rows read or written per store call.
const BATCH: usize = 256;

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Order of recording, increasing across restarts.
    pub seq: i64,
    /// Nanoseconds since the epoch.
    pub time_nano: i64,
    /// `container`, `image`, `network`, `volume` …
    pub typ: String,
    /// `create`, `die`, `exec_start: sh` …
    pub action: String,
    /// The actor's ID.
    pub actor_id: String,
    /// The actor's attributes.
    pub attributes: BTreeMap<String, String>,
    /// Always `local` here.
    pub scope: String,
}

impl Event {
    /// The event in the API's shape (the frontend adds the legacy fields).
    pub fn to_message(&self) -> EventMessage {
        EventMessage {
            typ: self.typ.parse().ok(),
            action: Some(self.action.clone()),
            actor: Some(EventActor {
                id: Some(self.actor_id.clone()),
                attributes: Some(self.attributes.clone().into_iter().collect()),
            }),
            scope: Some(EventMessageScopeEnum::LOCAL),
            time: Some(self.time_nano.div_euclid(1_000_000_000)),
            time_nano: Some(self.time_nano),
        }
    }

    fn to_row(&self) -> EventRow {
        EventRow {
            seq: self.seq,
            time_nano: self.time_nano,
            typ: self.typ.clone(),
            action: self.action.clone(),
            actor_id: self.actor_id.clone(),
            attributes: serde_json::to_string(&self.attributes).unwrap_or_else(|_| "{}".into()),
            scope: self.scope.clone(),
        }
    }

    fn from_row(row: EventRow) -> Self {
        Self {
            seq: row.seq,
            time_nano: row.time_nano,
            typ: row.typ,
            action: row.action,
            actor_id: row.actor_id,
            attributes: serde_json::from_str(&row.attributes).unwrap_or_default(),
            scope: row.scope,
        }
    }
}

struct HubState {
    next_seq: i64,
    recent: VecDeque<Arc<Event>>,
}

/// The events hub; cheap to clone.
#[derive(Clone)]
pub struct EventHub {
    state: Arc<Mutex<HubState>>,
    live: broadcast::Sender<Arc<Event>>,
    writer: mpsc::Sender<Arc<Event>>,
    stored: watch::Receiver<i64>,
    store: Store,
}

impl std::fmt::Debug for EventHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventHub").finish_non_exhaustive()
    }
}

impl EventHub {
    /// The hub over `store`, going on from its last stored event; starts the
    /// writer task (needs a tokio runtime).
    pub async fn open(store: Store) -> Result<Self, StoreError> {
        let last = store.read(crate::store::events::max_seq).await?;
        let (live, _) = broadcast::channel(LIVE_CAPACITY);
        let (writer, queue) = mpsc::channel(WRITE_QUEUE);
        let (stored_tx, stored) = watch::channel(last);
        tokio::spawn(write_events(store.clone(), queue, stored_tx));
        Ok(Self {
            state: Arc::new(Mutex::new(HubState {
                next_seq: last + 1,
                recent: VecDeque::with_capacity(RECENT),
            })),
            live,
            writer,
            stored,
            store,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records an event now: to live subscribers, the recent ring and the
    /// store's queue. Never blocks.
    pub fn record(
        &self,
        typ: &str,
        action: &str,
        actor_id: &str,
        attributes: BTreeMap<String, String>,
    ) {
        let event = {
            let mut state = self.lock();
            let event = Arc::new(Event {
                seq: state.next_seq,
                time_nano: crate::clock::now_nanos(),
                typ: typ.to_owned(),
                action: action.to_owned(),
                actor_id: actor_id.to_owned(),
                attributes,
                scope: "local".to_owned(),
            });
            state.next_seq += 1;
            if state.recent.len() == RECENT {
                state.recent.pop_front();
            }
            state.recent.push_back(event.clone());
            // Under the lock: a subscriber sees each event either in its
            // snapshot of `recent` or live, never both or neither.
            let _ = self.live.send(event.clone());
            event
        };
        tracing::debug!(seq = event.seq, typ, action, actor = actor_id, "event");
        if let Err(e) = self.writer.try_send(event) {
            tracing::warn!(error = %e, "event not stored: the store's queue is full");
        }
    }

    /// Waits (bounded) until every event recorded so far is in the store:
    /// called before the store closes at shutdown.
    pub async fn flush(&self) {
        let last = self.lock().next_seq - 1;
        let mut stored = self.stored.clone();
        let _ = tokio::time::timeout(Duration::from_secs(5), stored.wait_for(|s| *s >= last)).await;
    }

    fn subscribe(&self) -> (broadcast::Receiver<Arc<Event>>, Vec<Arc<Event>>, i64) {
        let state = self.lock();
        let recent: Vec<_> = state.recent.iter().cloned().collect();
        let cut = recent.first().map_or(state.next_seq, |e| e.seq);
        (self.live.subscribe(), recent, cut)
    }
}

/// Stores queued events in batches, one transaction each, then says how far.
async fn write_events(
    store: Store,
    mut queue: mpsc::Receiver<Arc<Event>>,
    stored: watch::Sender<i64>,
) {
    while let Some(first) = queue.recv().await {
        let mut rows = vec![first.to_row()];
        while rows.len() < BATCH {
            match queue.try_recv() {
                Ok(event) => rows.push(event.to_row()),
                Err(_) => break,
            }
        }
        let last = rows.last().map_or(0, |r| r.seq);
        match store
            .call(move |c| crate::store::events::insert(c, &rows))
            .await
        {
            Ok(()) => {}
            Err(StoreError::Closed) => break,
            Err(e) => tracing::warn!(error = %e, "events not stored"),
        }
        stored.send_replace(last);
    }
}

/// Where a feed is: replaying the store, then the snapshot of recent
/// events, then live.
struct Feed {
    filters: Filters,
    store: Store,
    since: i64,
    until: i64,
    /// Next store page after this `seq` (while replaying the store).
    stored_after: Option<i64>,
    /// Stored events replayed are those before the snapshot.
    cut: i64,
    recent: Option<Vec<Arc<Event>>>,
    live: Option<broadcast::Receiver<Arc<Event>>>,
    deadline: Option<tokio::time::Instant>,
    pending: VecDeque<Arc<Event>>,
}

impl Feed {
    fn in_window(&self, event: &Event) -> bool {
        (self.since..=self.until).contains(&event.time_nano)
            && filter::matches(&self.filters, event)
    }

    async fn next(&mut self) -> Option<Result<EventMessage>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(Ok(event.to_message()));
            }
            if let Some(after) = self.stored_after {
                let (cut, since, until) = (self.cut, self.since, self.until);
                let page = self
                    .store
                    .read(move |c| crate::store::events::page(c, after, cut, since, until, BATCH))
                    .await;
                let rows = match page {
                    Ok(rows) => rows,
                    Err(e) => {
                        self.stored_after = None;
                        self.live = None;
                        self.recent = None;
                        return Some(Err(e.into()));
                    }
                };
                self.stored_after = (rows.len() == BATCH)
                    .then(|| rows.last().map(|r| r.seq))
                    .flatten();
                for row in rows {
                    let event = Event::from_row(row);
                    if self.in_window(&event) {
                        self.pending.push_back(Arc::new(event));
                    }
                }
                continue;
            }
            if let Some(recent) = self.recent.take() {
                let kept: Vec<_> = recent.into_iter().filter(|e| self.in_window(e)).collect();
                self.pending.extend(kept);
                continue;
            }
            let live = self.live.as_mut()?;
            let received = match self.deadline {
                Some(deadline) => tokio::select! {
                    r = live.recv() => r,
                    () = tokio::time::sleep_until(deadline) => return None,
                },
                None => live.recv().await,
            };
            match received {
                Ok(event) if filter::matches(&self.filters, &event) => {
                    self.pending.push_back(event);
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "events subscriber too slow: feed ended");
                    return None;
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// `Backend::events`: as dockerd, history is replayed when `since` or
/// `until` is given (from the epoch when only `until` is), live events
/// follow unless `until` has passed, and the feed ends at `until`.
pub async fn feed(
    backend: &AcaBackend,
    since_nanos: Option<i64>,
    until_nanos: Option<i64>,
    filters: Filters,
) -> Result<EventStream> {
    feed_of(backend.event_hub(), since_nanos, until_nanos, filters)
}

/// [`feed`] of `hub`.
pub fn feed_of(
    hub: &EventHub,
    since_nanos: Option<i64>,
    until_nanos: Option<i64>,
    filters: Filters,
) -> Result<EventStream> {
    filter::validate(&filters)?;
    if let (Some(since), Some(until)) = (since_nanos, until_nanos)
        && since > until
    {
        return Err(ApiError::InvalidParameter(format!(
            "`since` time ({}) cannot be after `until` time ({})",
            seconds(since),
            seconds(until)
        )));
    }
    let (live, recent, cut) = hub.subscribe();
    let now = crate::clock::now_nanos();
    let replay = since_nanos.is_some() || until_nanos.is_some();
    let deadline = until_nanos.map(|until| {
        let wait = u64::try_from(until.saturating_sub(now)).unwrap_or(0);
        tokio::time::Instant::now() + Duration::from_nanos(wait)
    });
    let feed = Feed {
        filters,
        store: hub.store.clone(),
        since: since_nanos.unwrap_or(0),
        until: until_nanos.unwrap_or(i64::MAX),
        stored_after: replay.then_some(0),
        cut,
        recent: replay.then_some(recent),
        live: until_nanos.is_none_or(|until| until >= now).then_some(live),
        deadline,
        pending: VecDeque::new(),
    };
    let stream = futures_util::stream::unfold(feed, |mut feed| async move {
        feed.next().await.map(|item| (item, feed))
    });
    Ok(stream.boxed())
}

/// `1700000000.5` for dockerd's wording of a time.
fn seconds(nanos: i64) -> String {
    let (secs, frac) = (
        nanos.div_euclid(1_000_000_000),
        nanos.rem_euclid(1_000_000_000),
    );
    if frac == 0 {
        secs.to_string()
    } else {
        format!("{secs}.{}", format!("{frac:09}").trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests;
