//! The backend's side of CHANGES_GET (see `crate::changes`).

use super::{AgentConnection, PeerError, Session};
use crate::protocol::Frame;

impl AgentConnection {
    /// Starts reading the container's changes against its image: a session
    /// whose stdout carries the tar (at most `max_bytes` of file content)
    /// and which exits 0 when it is complete. Fails at once when the agent
    /// keeps no baseline (recording off or impossible).
    pub async fn get_changes(&self, max_bytes: u64) -> Result<Session, PeerError> {
        let mut s = self.new_session()?;
        self.inner.send(Frame::ChangesGet {
            session: s.id,
            max_bytes,
        })?;
        s.await_started().await?;
        Ok(s)
    }
}
