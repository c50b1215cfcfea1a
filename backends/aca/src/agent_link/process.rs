//! The main process as the link carries it: the commands queued for it
//! (stdin, signals, resizes) and the output read from it.

use bytes::Bytes;
use sockerless_agent::peer::OutputStream;

/// A command for the main process, delivered through the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Stdin bytes.
    Stdin(Bytes),
    /// End of stdin.
    CloseStdin,
    /// A signal number.
    Signal(i32),
    /// TTY size (rows, columns).
    Resize(u16, u16),
}

/// One chunk of the main process's output, read from its session.
#[derive(Debug, Clone)]
pub struct Output {
    /// Which stream.
    pub stream: OutputStream,
    /// The bytes.
    pub data: Bytes,
    /// The stream's offset after this chunk (what the agent is acknowledged).
    pub end: u64,
}
