//! Liveness of the WebSocket link (`WsTransport::with_liveness`, used by
//! both the agent and the backend): over an in-memory pipe, on paused time,
//! a far side that stops answering is found silent at the timeout, one that
//! reads (tungstenite answers the pings) keeps the link alive, and a writer
//! waiting for room in the pipe is neither forgotten by the pings nor left
//! hanging when the link dies.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use sockerless_agent::peer::{self, PeerError, ResumeState};
use sockerless_agent::protocol::{Frame, Hello, PROTOCOL_VERSION};
use sockerless_agent::transport::{LinkSilent, Liveness, TransportError, websocket};
use tokio::io::DuplexStream;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;

/// Hang guard only (paused time: it passes in no time when something hangs).
const GUARD: Duration = Duration::from_secs(600);
const TOKEN: &str = "liveness-test-token-0123456789";

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Ping every second, dead after three silent seconds.
fn liveness() -> Liveness {
    Liveness::new(secs(1), secs(3)).expect("valid")
}

/// Two WebSocket ends of one in-memory pipe holding `buffer` bytes each way.
async fn pair(buffer: usize) -> (WebSocketStream<DuplexStream>, WebSocketStream<DuplexStream>) {
    let (a, b) = tokio::io::duplex(buffer);
    let near = WebSocketStream::from_raw_socket(a, Role::Client, None).await;
    let far = WebSocketStream::from_raw_socket(b, Role::Server, None).await;
    (near, far)
}

fn assert_silent(err: &TransportError) {
    assert!(err.is::<LinkSilent>(), "not a silent link: {err}");
}

#[tokio::test(start_paused = true)]
async fn a_far_side_that_stops_answering_is_found_silent_at_the_timeout() {
    let (near, _far) = pair(64 << 10).await;
    let mut near = websocket(near).with_liveness(liveness());
    let start = Instant::now();
    let item = timeout(GUARD, near.next()).await.expect("hang guard");
    let err = item.expect("an item").expect_err("the link is silent");
    assert_silent(&err);
    let waited = start.elapsed();
    assert!(
        waited >= secs(3) && waited < secs(4),
        "found silent after {waited:?}"
    );
    assert!(near.next().await.is_none(), "the stream ended");
    let refused = near.send(Bytes::from_static(b"x")).await;
    assert_silent(&refused.expect_err("a silent link refuses to send"));
}

#[tokio::test(start_paused = true)]
async fn a_far_side_that_reads_keeps_the_link_alive_and_gets_the_pings() {
    let (near, mut far) = pair(64 << 10).await;
    let mut near = websocket(near).with_liveness(liveness());
    // Reading is all it takes: tungstenite answers each ping with a pong.
    let far_side = tokio::spawn(async move {
        let mut pings = 0;
        while let Some(Ok(message)) = far.next().await {
            pings += usize::from(message.is_ping());
        }
        pings
    });
    let alive = timeout(secs(60), near.next()).await;
    assert!(alive.is_err(), "the link ended: {:?}", alive.map(|_| ()));
    drop(near);
    let pings = timeout(GUARD, far_side)
        .await
        .expect("hang guard")
        .expect("join");
    assert!(pings >= 30, "{pings} pings in 60 s");
}

#[tokio::test(start_paused = true)]
async fn two_watching_ends_stay_alive_without_any_traffic_of_their_own() {
    let (near, far) = pair(64 << 10).await;
    let mut near = websocket(near).with_liveness(liveness());
    let mut far = websocket(far).with_liveness(liveness());
    let (a, b) = tokio::join!(
        timeout(secs(60), near.next()),
        timeout(secs(60), far.next())
    );
    assert!(a.is_err() && b.is_err(), "a link ended");
}

#[tokio::test(start_paused = true)]
async fn a_writer_waiting_for_room_is_refused_when_the_link_dies() {
    // The far side never reads: the frame cannot leave.
    let (near, _far) = pair(1024).await;
    let (mut sink, mut stream) = websocket(near).with_liveness(liveness()).split();
    let writer = tokio::spawn(async move { sink.send(Bytes::from(vec![0u8; 256 << 10])).await });
    let item = timeout(GUARD, stream.next()).await.expect("hang guard");
    assert_silent(&item.expect("an item").expect_err("silent"));
    let sent = timeout(GUARD, writer)
        .await
        .expect("the writer was left waiting")
        .expect("join");
    assert_silent(&sent.expect_err("refused"));
}

#[tokio::test(start_paused = true)]
async fn pings_sent_while_the_writer_waits_do_not_lose_its_wakeup() {
    const FRAMES: usize = 16;
    const FRAME: usize = 64 << 10;
    let (near, mut far) = pair(1024).await;
    let patient = Liveness::new(secs(1), secs(100)).expect("valid");
    let (mut sink, mut stream) = websocket(near).with_liveness(patient).split();
    // The reader runs the clock: a ping each second, through the sink the
    // writer waits on.
    let _reader = tokio::spawn(async move { while stream.next().await.is_some() {} });
    let writer = tokio::spawn(async move {
        for _ in 0..FRAMES {
            sink.send(Bytes::from(vec![7u8; FRAME])).await?;
        }
        Ok::<_, TransportError>(())
    });
    tokio::time::sleep(secs(5)).await;
    assert!(!writer.is_finished(), "the far side read nothing yet");
    let received = timeout(GUARD, async {
        let mut received = 0;
        while received < FRAMES * FRAME {
            match far.next().await {
                Some(Ok(Message::Binary(b))) => received += b.len(),
                Some(Ok(_)) => {}
                other => panic!("the link ended: {other:?}"),
            }
        }
        received
    })
    .await
    .expect("the writer was never woken again");
    assert_eq!(received, FRAMES * FRAME);
    timeout(GUARD, writer)
        .await
        .expect("hang guard")
        .expect("join")
        .expect("every frame sent");
}

#[tokio::test(start_paused = true)]
async fn the_peer_library_closes_the_connection_of_an_agent_gone_silent() {
    let (near, mut agent) = pair(64 << 10).await;
    let hello = Hello {
        version: PROTOCOL_VERSION,
        token: Some(TOKEN.into()),
        container_id: Some("frozen".into()),
        window: 64 << 10,
        stdin_window: 64 << 10,
        ..Default::default()
    };
    agent
        .send(Message::Binary(Frame::Hello(hello).encode()))
        .await
        .expect("hello");
    let conn = peer::accept(
        websocket(near).with_liveness(liveness()),
        TOKEN,
        ResumeState::new(),
    )
    .await
    .expect("accepted");
    // From here the agent answers nothing (a frozen replica).
    let start = Instant::now();
    let mut main = conn.main_session().expect("main");
    let event = timeout(GUARD, main.recv()).await.expect("hang guard");
    assert!(event.is_none(), "{event:?}");
    let waited = start.elapsed();
    assert!(waited < secs(4), "closed after {waited:?}");
    match conn.closed() {
        Some(PeerError::Transport(why)) => assert!(why.contains("nothing received"), "{why}"),
        other => panic!("{other:?}"),
    }
    drop(agent);
}
