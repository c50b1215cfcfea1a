//! The backend's way in: an axum WebSocket handler adapts `WebSocket` to a
//! `FrameTransport` (the snippet in `transport`'s docs) and runs `peer::accept`.

mod common;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use common::*;
use futures_util::{SinkExt, StreamExt};
use sockerless_agent::peer::{self, ResumeState};
use sockerless_agent::transport::{FrameTransport, TransportError, verify_bearer};
use tokio::sync::mpsc;

fn adapt(socket: WebSocket) -> impl FrameTransport {
    Box::pin(
        socket
            .sink_map_err(TransportError::from)
            .with(|b: Bytes| async move { Ok::<_, TransportError>(Message::Binary(b)) })
            .filter_map(|m| async move {
                match m {
                    Ok(Message::Binary(b)) => Some(Ok(b)),
                    Ok(Message::Close(_)) => Some(Err("closed".into())),
                    Ok(_) => None,
                    Err(e) => Some(Err(TransportError::from(e))),
                }
            }),
    )
}

type Outcome = (String, i32);

async fn connect_handler(
    ws: WebSocketUpgrade,
    headers: HeaderMap,
    done: mpsc::UnboundedSender<Outcome>,
) -> Response {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if !verify_bearer(auth, TOKEN) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    ws.on_upgrade(move |socket| async move {
        let conn = peer::accept(adapt(socket), TOKEN, ResumeState::new())
            .await
            .expect("accept");
        let mut main = conn.main_session().expect("main");
        let (out, _, code) = main.collect().await.expect("collect");
        let _ = done.send((String::from_utf8_lossy(&out).into_owned(), code));
        // Keep the connection until the agent closes it after the exit ack.
        while conn.closed().is_none() {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_websocket_handler_serves_the_agent() {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/agent/v1/connect",
        get(move |ws: WebSocketUpgrade, headers: HeaderMap| {
            connect_handler(ws, headers, done_tx.clone())
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let peer = TestPeer::new().await; // for its command builder only
    let mut cmd = peer.command(
        env!("CARGO_BIN_EXE_sockerless-agent"),
        &["sh", "-c", "echo via-axum; exit 6"],
        &[],
    );
    cmd.env(
        "SOCKERLESS_CALLBACK_URL",
        format!("ws://127.0.0.1:{port}/agent/v1/connect"),
    );
    let child = Agent::spawn(cmd);
    let outcome = tokio::time::timeout(GUARD, done_rx.recv())
        .await
        .expect("hang")
        .expect("outcome");
    assert_eq!(outcome, ("via-axum\n".to_string(), 6));
    assert_eq!(wait_exit(child).await, 6);
    server.abort();
}
