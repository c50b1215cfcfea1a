//! The backend's side of the container operations (TOP, STATS, PAUSE,
//! UNPAUSE, EXPORT; see `protocol/ops.rs`).

use super::{AgentConnection, PeerError, Session, SessionEvent};
use crate::protocol::{Frame, Op, OutputStream};

impl AgentConnection {
    /// Starts `op`: a session whose stdout carries the answer and which
    /// exits 0 once it is complete. Fails at once when the agent refuses
    /// it, or predates these operations (its hello did not offer them).
    pub async fn op(&self, op: Op) -> Result<Session, PeerError> {
        if !self.info().ops {
            return Err(PeerError::Agent(
                "the container's agent is older than this backend and cannot do this; \
                 recreate the container with the current agent image"
                    .into(),
            ));
        }
        let mut s = self.new_session()?;
        self.inner.send(Frame::Op { session: s.id, op })?;
        s.await_started().await?;
        Ok(s)
    }
}

/// Reads a session's whole stdout (a JSON answer), at most `max` bytes;
/// the agent's error when it exits non-zero.
pub async fn read_answer(session: &mut Session, max: usize) -> Result<Vec<u8>, PeerError> {
    let mut out = Vec::new();
    let mut error = None;
    loop {
        match session.recv().await {
            Some(SessionEvent::Output {
                stream: OutputStream::Stdout,
                data,
                ..
            }) => {
                if out.len() + data.len() > max {
                    return Err(PeerError::Protocol(format!(
                        "the agent's answer passed {max} bytes"
                    )));
                }
                out.extend_from_slice(&data);
            }
            Some(SessionEvent::Output { .. }) => {}
            Some(SessionEvent::Error(m)) => error = Some(m),
            Some(SessionEvent::Exit(0)) => return Ok(out),
            Some(SessionEvent::Exit(code)) => {
                return Err(PeerError::Agent(
                    error.unwrap_or_else(|| format!("exit code {code}")),
                ));
            }
            None => return Err(PeerError::Closed),
        }
    }
}
