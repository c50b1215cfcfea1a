//! Every `Backend` method through `RemoteBackend` against the in-process
//! server over a recording fake: each call must arrive with its arguments
//! and its answer come back (streams: a few items, with input where the
//! method takes some). The table of cases, the route table and the trait
//! (read from its source) must name the same methods, and so must the
//! README's route table.

mod answers;
mod build_case;
mod cases;
mod fake;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use sockerless_api::listen::{self, ListenAddr};
use sockerless_api::routes::{self, Verb};
use sockerless_api::{RemoteBackend, server};

/// The `Backend` trait's source, read for its method names.
const TRAIT_SOURCE: &str = include_str!("../../src/backend.rs");
/// The crate README, whose route table must match [`routes::ALL`].
const README: &str = include_str!("../../README.md");

fn trait_methods() -> BTreeSet<String> {
    let body = TRAIT_SOURCE
        .split_once("pub trait Backend")
        .map(|(_, b)| b)
        .expect("trait in backend.rs");
    body.lines()
        .filter_map(|l| l.trim().strip_prefix("async fn "))
        .map(|rest| rest.split(['(', '<']).next().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn every_backend_method_crosses_the_internal_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = ListenAddr::Unix(dir.path().join("internal.sock"));
    let fake = Arc::new(fake::Recorder::default());
    let listener = listen::bind(&addr).await.expect("bind");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(listen::serve(
        listener,
        server::router(fake.clone()),
        async move {
            let _ = stopped.await;
        },
        Duration::from_secs(5),
    ));
    let client = RemoteBackend::new(addr);

    let cases = cases::all();
    for case in &cases {
        let (got, want) = (case.run)(client.clone()).await;
        assert_eq!(got, want, "{}: the answer that came back", case.op);
        let calls = std::mem::take(&mut *fake.calls.lock().expect("lock"));
        assert_eq!(
            calls,
            vec![(case.op.to_owned(), case.args.clone())],
            "{}: the call that arrived",
            case.op
        );
    }

    let tested: BTreeSet<String> = cases.iter().map(|c| c.op.to_owned()).collect();
    let routed: BTreeSet<String> = routes::ALL.iter().map(|r| r.op.to_owned()).collect();
    let declared = trait_methods();
    assert!(
        declared.len() >= 58,
        "methods read from backend.rs: {declared:?}"
    );
    assert_eq!(tested, declared, "every trait method has a case");
    assert_eq!(routed, declared, "every trait method has a route");
    assert_eq!(tested.len(), cases.len(), "no method is tested twice");

    let _ = stop.send(());
    serving.await.expect("serve");
}

#[test]
fn readme_route_table_matches_the_routes() {
    let rows: BTreeSet<(String, String, String)> = README
        .lines()
        .filter_map(|l| {
            let cols: Vec<&str> = l.split(" | ").map(str::trim).collect();
            let verb = cols.first()?.strip_prefix("| ")?;
            if !matches!(verb, "GET" | "POST" | "WS") {
                return None;
            }
            let unquote = |s: &str| s.trim_matches(['`', '|', ' ']).to_owned();
            Some((verb.to_owned(), unquote(cols[1]), unquote(cols.last()?)))
        })
        .collect();
    let table: BTreeSet<(String, String, String)> = routes::ALL
        .iter()
        .map(|r| {
            let verb = match r.verb {
                Verb::Get => "GET",
                Verb::Post => "POST",
                Verb::Stream => "WS",
            };
            (verb.to_owned(), r.path.to_owned(), r.op.to_owned())
        })
        .collect();
    assert_eq!(rows, table);
}
