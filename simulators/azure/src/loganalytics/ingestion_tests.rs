//! Tests of ingestion timing: the per-row jitter that makes rows arrive out
//! of order, and the console table that exists only from a workspace's
//! first queryable row (through the query handler itself).

use std::net::SocketAddr;

use axum::http::header::AUTHORIZATION;

use super::*;
use crate::config::SimConfig;

fn line(workspace: &str, log: &str) -> ConsoleLine {
    ConsoleLine {
        source: Arc::new(LineSource {
            workspace_id: workspace.into(),
            job_name: "j".into(),
            ..LineSource::default()
        }),
        stream: "stdout",
        log: log.into(),
    }
}

#[test]
fn without_jitter_every_row_waits_the_delay_exactly() {
    let store = LogStore::new(Duration::from_secs(20));
    for i in 0..20 {
        store.ingest(line("w", &i.to_string()));
    }
    let rows = store.visible(&["w".into()], Utc::now() + TimeDelta::days(1));
    assert_eq!(rows.len(), 20);
    for r in &rows {
        assert_eq!(r.time_received - r.time_generated, TimeDelta::seconds(20));
    }
}

#[test]
fn jitter_makes_rows_queryable_out_of_order() {
    let timing = Timing {
        ingestion_jitter_ms: 160_000,
        ..Timing::default()
    };
    let store = LogStore::new(Duration::from_secs(20)).with_timing(&timing);
    for i in 0..50 {
        store.ingest(line("w", &i.to_string()));
    }
    let all = store.visible(&["w".into()], Utc::now() + TimeDelta::days(1));
    assert_eq!(all.len(), 50);
    for r in &all {
        let lag = r.time_received - r.time_generated;
        assert!(
            lag >= TimeDelta::seconds(20) && lag <= TimeDelta::seconds(180),
            "{lag}"
        );
    }
    // 50 independent draws in printing order: the chance they come out
    // sorted is 1/50!, so this cannot flake in practice.
    assert!(
        all.windows(2)
            .any(|w| w[0].time_received > w[1].time_received),
        "rows arrive out of order"
    );
    // Halfway through, what is queryable is not the first half printed.
    let mut received: Vec<_> = all.iter().map(|r| r.time_received).collect();
    received.sort();
    let middle = received[24];
    let seen: Vec<String> = store
        .visible(&["w".into()], middle)
        .iter()
        .map(|r| r.line.log.clone())
        .collect();
    let first_half: Vec<String> = (0..seen.len()).map(|i| i.to_string()).collect();
    assert_eq!(seen.len(), 25);
    assert_ne!(seen, first_half);
}

#[test]
fn the_table_exists_from_the_first_queryable_row_on() {
    let timing = Timing {
        table_absent_until_first_row: true,
        ..Timing::default()
    };
    let store = LogStore::new(Duration::from_secs(20)).with_timing(&timing);
    let now = Utc::now();
    let w = ["W".to_string()];
    assert!(!store.table_exists(&w, now));
    store.ingest(line("w", "first"));
    assert!(!store.table_exists(&w, now), "ingested, not yet queryable");
    let later = now + TimeDelta::seconds(30);
    assert!(store.table_exists(&w, later));
    assert!(!store.table_exists(&["other".into()], later));
    // Without the knob the table is always there.
    assert!(LogStore::new(Duration::ZERO).table_exists(&w, now));
}

async fn post_query(state: &Arc<AppState>, workspace: &str, kql: &str) -> (StatusCode, Value) {
    let (token, _) = state
        .tokens
        .issue(LOG_ANALYTICS_AUDIENCES[0], "tester", "aad");
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        format!("Bearer {token}").parse().expect("header"),
    );
    let body = serde_json::to_vec(&json!({ "query": kql })).expect("json");
    let resp = query(
        State(state.clone()),
        Path(workspace.into()),
        Method::POST,
        headers,
        Query(HashMap::new()),
        Bytes::from(body),
    )
    .await;
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .expect("body");
    (status, serde_json::from_slice(&bytes).expect("json body"))
}

#[tokio::test]
async fn a_query_before_the_first_row_is_a_semantic_error_then_rows_come() {
    let dir = std::env::temp_dir().join(format!("sim-la-{}", uuid::Uuid::new_v4()));
    let mut config = SimConfig {
        ingestion_delay: Duration::ZERO,
        ..SimConfig::default()
    };
    config.timing.table_absent_until_first_row = true;
    let workspace = config.environments[0].log_analytics_workspace_id.clone();
    let state = Arc::new(AppState::new(
        config,
        SocketAddr::from(([127, 0, 0, 1], 0)),
        dir.clone(),
    ));
    let kql = "ContainerAppConsoleLogs_CL | where ContainerJobName_s == 'j' | project Log_s";
    let (status, body) = post_query(&state, &workspace, kql).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "BadArgumentError");
    assert_eq!(body["error"]["innererror"]["code"], "SemanticError");
    assert_eq!(
        body["error"]["innererror"]["innererror"],
        json!({"code": "SEM0100", "message": "'where' operator: Failed to resolve table or column expression named 'ContainerAppConsoleLogs_CL'"})
    );
    state.logs.ingest(line(&workspace, "hello"));
    let (status, body) = post_query(&state, &workspace, kql).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["tables"][0]["rows"], json!([["hello"]]));
    // A table of another name is never there.
    let (status, body) = post_query(&state, &workspace, "Other_CL").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"]["innererror"]["innererror"]["message"],
        "Failed to resolve table or column expression named 'Other_CL'"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
