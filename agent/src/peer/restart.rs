//! Restarting the main process of a lingering agent (RESTART), or letting
//! the agent go (END). See `protocol/restart.rs`.

use super::{AgentConnection, PeerError, Session};
use crate::protocol::{Frame, MAIN_SESSION};

impl AgentConnection {
    /// Runs the exited main process again in the same agent (same filesystem)
    /// and returns the main session of the new run, once the agent reported
    /// it started (or, when it could not start, with its output and exit
    /// queued). The previous main session handle must have been dropped.
    /// Fails when the agent refuses: it does not linger, or the previous
    /// exit and output were not all acknowledged yet.
    pub async fn restart_main(&self) -> Result<Session, PeerError> {
        // The agent resets the new run's stdin to offset 0; what the
        // previous run was not given is not for this one.
        self.inner.resume.keep_stdin(MAIN_SESSION).reset(0);
        let mut session = Session::open_at(&self.inner, MAIN_SESSION, Some(0))?;
        self.inner.send(Frame::Restart)?;
        session.await_restarted().await?;
        Ok(session)
    }

    /// Tells a lingering agent to exit now (the execution then ends).
    pub fn end(&self) -> Result<(), PeerError> {
        self.inner.send(Frame::End)
    }
}
