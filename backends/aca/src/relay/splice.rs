//! The byte pipe between two socket sessions (a relayed connection).
//!
//! Flow control is end to end: a session's output is acknowledged only when
//! it has been written to the other side, so a slow reader slows the writer
//! and nothing piles up here.

use sockerless_agent::peer::{Session, SessionEvent, SessionInput};

/// The signal that aborts a socket session (the agent resets its socket).
pub const ABORT_SIGNAL: i32 = 9;

/// How one direction of a pipe ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// The source reached end of stream; the sink was half-closed.
    Eof,
    /// The source ended abnormally: reset both ends.
    Reset,
}

/// Copies `from`'s output into `to` until `from` ends.
async fn session_to_session(mut from: Session, to: SessionInput) -> End {
    loop {
        match from.recv().await {
            Some(SessionEvent::Output { data, .. }) => {
                if to.write(&data).await.is_err() {
                    return End::Reset;
                }
            }
            Some(SessionEvent::Exit(0)) => {
                let _ = to.close();
                return End::Eof;
            }
            Some(SessionEvent::Error(message)) => {
                tracing::debug!(%message, "socket session reported an error");
            }
            Some(SessionEvent::Exit(_)) | None => return End::Reset,
        }
    }
}

/// Pipes two socket sessions into each other until both directions end;
/// a reset on either side resets both.
pub async fn splice(a: Session, b: Session) {
    let (a_in, b_in) = (a.input(), b.input());
    let ab = session_to_session(a, b_in.clone());
    let ba = session_to_session(b, a_in.clone());
    tokio::pin!(ab, ba);
    let (mut ab_done, mut ba_done) = (false, false);
    while !(ab_done && ba_done) {
        let end = tokio::select! {
            end = &mut ab, if !ab_done => { ab_done = true; end }
            end = &mut ba, if !ba_done => { ba_done = true; end }
        };
        if end == End::Reset {
            let _ = a_in.signal(ABORT_SIGNAL);
            let _ = b_in.signal(ABORT_SIGNAL);
            return;
        }
    }
}
