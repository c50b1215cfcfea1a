//! The hub: history and live feeds, the store across a reopen, lagging
//! subscribers.

use std::collections::BTreeMap;

use futures_util::StreamExt;

use super::*;

async fn hub(dir: &tempfile::TempDir) -> (Store, EventHub) {
    let store = Store::open_async(dir.path().join("state.db"))
        .await
        .expect("open");
    let hub = EventHub::open(store.clone()).await.expect("hub");
    (store, hub)
}

fn record(hub: &EventHub, action: &str, id: &str) {
    let attrs = BTreeMap::from([("name".to_owned(), format!("n-{id}"))]);
    hub.record("container", action, id, attrs);
}

async fn actions(stream: EventStream) -> Vec<String> {
    stream
        .map(|e| e.expect("event").action.unwrap_or_default())
        .collect()
        .await
}

#[tokio::test]
async fn history_is_replayed_within_since_and_until() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_store, hub) = hub(&dir).await;
    record(&hub, "create", "a");
    record(&hub, "start", "a");
    let now = crate::clock::now_nanos();
    let all = feed_of(&hub, Some(0), Some(now), Filters::new()).expect("feed");
    assert_eq!(actions(all).await, ["create", "start"]);
    // Only `until`: from the epoch, as dockerd.
    let upto = feed_of(&hub, None, Some(now), Filters::new()).expect("feed");
    assert_eq!(actions(upto).await, ["create", "start"]);
    let filters = Filters::from([("event".to_owned(), vec!["start".to_owned()])]);
    let started = feed_of(&hub, Some(0), Some(now), filters).expect("feed");
    assert_eq!(actions(started).await, ["start"]);
    let later = feed_of(&hub, Some(now + 1), Some(now + 1), Filters::new()).expect("feed");
    assert!(actions(later).await.is_empty());
}

#[tokio::test]
async fn since_after_until_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_store, hub) = hub(&dir).await;
    let Err(err) = feed_of(
        &hub,
        Some(5_000_000_000),
        Some(1_000_000_000),
        Filters::new(),
    ) else {
        panic!("accepted");
    };
    assert_eq!(
        err,
        ApiError::InvalidParameter("`since` time (5) cannot be after `until` time (1)".into())
    );
}

#[tokio::test]
async fn live_events_follow_history_once_each() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_store, hub) = hub(&dir).await;
    record(&hub, "create", "a");
    let mut feed = feed_of(&hub, Some(0), None, Filters::new()).expect("feed");
    record(&hub, "start", "a");
    record(&hub, "die", "a");
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(
            feed.next()
                .await
                .expect("item")
                .expect("event")
                .action
                .unwrap_or_default(),
        );
    }
    assert_eq!(got, ["create", "start", "die"]);
    // Without since or until: live only.
    let mut live = feed_of(&hub, None, None, Filters::new()).expect("feed");
    record(&hub, "destroy", "a");
    let next = live.next().await.expect("item").expect("event");
    assert_eq!(next.action.as_deref(), Some("destroy"));
    assert_eq!(next.actor.and_then(|a| a.id).as_deref(), Some("a"));
}

#[tokio::test]
async fn history_survives_a_reopen_and_seq_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (store, hub) = hub(&dir).await;
        record(&hub, "create", "a");
        record(&hub, "die", "a");
        hub.flush().await;
        store.close().await.expect("close");
    }
    let (_store, hub) = hub(&dir).await;
    record(&hub, "destroy", "a");
    let now = crate::clock::now_nanos();
    let all = feed_of(&hub, Some(0), Some(now), Filters::new()).expect("feed");
    assert_eq!(actions(all).await, ["create", "die", "destroy"]);
}

#[tokio::test]
async fn a_lagging_subscriber_is_ended() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_store, hub) = hub(&dir).await;
    let mut feed = feed_of(&hub, None, None, Filters::new()).expect("feed");
    for i in 0..LIVE_CAPACITY + 10 {
        record(&hub, "start", &i.to_string());
    }
    assert!(feed.next().await.is_none(), "ended, not grown");
}

#[test]
fn event_json_is_dockers() {
    let event = Event {
        seq: 1,
        time_nano: 1_700_000_000_123_456_789,
        typ: "container".into(),
        action: "die".into(),
        actor_id: "abc".into(),
        attributes: BTreeMap::from([("exitCode".to_owned(), "3".to_owned())]),
        scope: "local".into(),
    };
    let json = serde_json::to_value(event.to_message()).expect("json");
    assert_eq!(
        json,
        serde_json::json!({
            "Type": "container", "Action": "die",
            "Actor": {"ID": "abc", "Attributes": {"exitCode": "3"}},
            "scope": "local", "time": 1_700_000_000_i64, "timeNano": 1_700_000_000_123_456_789_i64
        })
    );
    assert_eq!(seconds(1_500_000_000), "1.5");
}
