//! The wire protocol shared by the agent and its peer (see `agent/PROTOCOL.md`).
//!
//! Every WebSocket binary message carries exactly one [`Frame`]:
//! `kind: u8 | session: u32 (big endian) | payload`. Bulk data (stdin, stdout,
//! stderr) travels as raw bytes behind a `u64` byte offset; control payloads
//! are small JSON documents.

use bytes::{BufMut, Bytes, BytesMut};
mod changes;
mod delimited;
mod ops;
mod payload;
mod reader;
mod restart;

pub use delimited::{DelimitedDecoder, encode_delimited};
pub use ops::{NetDev, Op, StatsSample, TopAnswer};
pub use payload::{
    AcceptedOn, ExecConfig, HealthReport, Hello, Listening, PathStat, PeerHost, PeersUpdate,
    PutOptions, ResumeEntry, SessionInfo, TcpTarget, UnixListen,
};
use payload::{MessagePayload, PathPayload, PutPayload};
use reader::Reader;
pub use restart::RESTART_REFUSED;

/// Version of the protocol spoken by this crate, exchanged in [`Hello`].
pub const PROTOCOL_VERSION: u32 = 1;
/// Largest frame either side accepts (header included).
pub const MAX_FRAME_LEN: usize = 1 << 20;
/// Largest data chunk either side puts in one stdin/stdout/stderr frame.
pub const MAX_CHUNK: usize = 32 * 1024;
/// Session id of the container's main process.
pub const MAIN_SESSION: u32 = 0;
/// Session ids at or above this one are chosen by the agent (TCP_ACCEPTED, UNIX_ACCEPTED);
/// the peer's ids stay below.
pub const AGENT_SESSION_BASE: u32 = 0x8000_0000;
const HEADER_LEN: usize = 5;

/// Errors decoding a frame.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The frame is shorter than its kind requires.
    #[error("frame truncated")]
    Truncated,
    /// The frame is longer than [`MAX_FRAME_LEN`].
    #[error("frame too large ({0} bytes)")]
    TooLarge(usize),
    /// The kind byte is not one this version knows.
    #[error("unknown frame kind 0x{0:02x}")]
    UnknownKind(u8),
    /// A field holds a value outside its domain.
    #[error("invalid frame: {0}")]
    Invalid(String),
}

/// Output streams of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputStream {
    /// Standard output (and the terminal, in TTY mode).
    Stdout,
    /// Standard error.
    Stderr,
}

/// What an [`Frame::Ack`] acknowledges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckStream {
    /// Stdin bytes written to the process (agent to peer).
    Stdin,
    /// Stdout bytes received by the peer.
    Stdout,
    /// Stderr bytes received by the peer.
    Stderr,
    /// The session's exit code was received by the peer.
    Exit,
}

impl AckStream {
    fn to_byte(self) -> u8 {
        match self {
            AckStream::Stdin => 0,
            AckStream::Stdout => 1,
            AckStream::Stderr => 2,
            AckStream::Exit => 3,
        }
    }
    fn from_byte(b: u8) -> Result<Self, DecodeError> {
        Ok(match b {
            0 => AckStream::Stdin,
            1 => AckStream::Stdout,
            2 => AckStream::Stderr,
            3 => AckStream::Exit,
            other => return Err(DecodeError::Invalid(format!("ack stream {other}"))),
        })
    }
}

impl From<OutputStream> for AckStream {
    fn from(s: OutputStream) -> Self {
        match s {
            OutputStream::Stdout => AckStream::Stdout,
            OutputStream::Stderr => AckStream::Stderr,
        }
    }
}

/// One protocol frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// Handshake (session 0).
    Hello(Hello),
    /// An error about a session; ends an exec or archive session that has not started.
    Error {
        /// Session id.
        session: u32,
        /// Human-readable message.
        message: String,
    },
    /// Peer asks to (re)receive a session's output from these offsets.
    Attach {
        /// Session id.
        session: u32,
        /// Stdout offset.
        stdout: u64,
        /// Stderr offset.
        stderr: u64,
    },
    /// Peer starts an exec session under a fresh id.
    ExecStart {
        /// Session id chosen by the peer.
        session: u32,
        /// What to run.
        config: ExecConfig,
    },
    /// Agent: the exec session's process started.
    Started {
        /// Session id.
        session: u32,
        /// Process id inside the container.
        pid: u32,
    },
    /// Peer: stdin bytes at `offset` of the session's stdin.
    Stdin {
        /// Session id.
        session: u32,
        /// Offset of the first byte.
        offset: u64,
        /// The bytes.
        data: Bytes,
    },
    /// Peer: no more stdin (the process reads EOF).
    CloseStdin {
        /// Session id.
        session: u32,
    },
    /// Peer: resize the session's terminal.
    Resize {
        /// Session id.
        session: u32,
        /// Rows.
        rows: u16,
        /// Columns.
        cols: u16,
    },
    /// Peer: send a signal to the session's process.
    Signal {
        /// Session id.
        session: u32,
        /// Signal number.
        signal: i32,
    },
    /// Agent: output bytes at `offset` of one stream.
    Output {
        /// Session id.
        session: u32,
        /// Which stream.
        stream: OutputStream,
        /// Offset of the first byte.
        offset: u64,
        /// The bytes.
        data: Bytes,
    },
    /// Acknowledges everything of `stream` below `offset` (or the exit code).
    Ack {
        /// Session id.
        session: u32,
        /// What is acknowledged.
        stream: AckStream,
        /// First byte not acknowledged (0 for [`AckStream::Exit`]).
        offset: u64,
    },
    /// Agent: the session ended with this code (128+n when killed by signal n).
    Exit {
        /// Session id.
        session: u32,
        /// Exit code.
        code: i32,
    },
    /// Agent: a health-check result (session 0).
    Health(HealthReport),
    /// Peer: send `path` as a tar stream on this session's stdout.
    ArchiveGet {
        /// Session id chosen by the peer.
        session: u32,
        /// Absolute path in the container.
        path: String,
    },
    /// Peer: extract the tar stream sent as this session's stdin into directory `path`.
    ArchivePut {
        /// Session id chosen by the peer.
        session: u32,
        /// Absolute path of an existing directory (unless `options.create`).
        path: String,
        /// Create or clear the directory first.
        options: PutOptions,
    },
    /// Peer: stat `path`.
    ArchiveStat {
        /// Session id chosen by the peer.
        session: u32,
        /// Absolute path in the container.
        path: String,
    },
    /// Agent: stat result (answer to stat, and first answer to archive get).
    PathStat {
        /// Session id.
        session: u32,
        /// The stat.
        stat: PathStat,
    },
    /// Peer: open a socket session connected to `target` inside the container.
    TcpConnect {
        /// Session id chosen by the peer (below [`AGENT_SESSION_BASE`]).
        session: u32,
        /// Where to connect.
        target: TcpTarget,
    },
    /// Agent: a relay listener accepted a connection; the socket session is open.
    TcpAccepted {
        /// Session id chosen by the agent (at least [`AGENT_SESSION_BASE`]).
        session: u32,
        /// The relay listener's address.
        on: AcceptedOn,
    },
    /// Agent: the container's listening ports and addresses (session 0).
    Listening(Listening),
    /// Peer: the full relay state (session 0).
    Peers(PeersUpdate),
    /// Peer: the Unix sockets the agent serves (session 0).
    UnixListen(UnixListen),
    /// Agent: a Unix listener accepted a connection; the socket session is open.
    UnixAccepted {
        /// Session id chosen by the agent (at least [`AGENT_SESSION_BASE`]).
        session: u32,
        /// The listener's socket path.
        path: String,
    },
    /// Peer: the container's changes as a tar (see `changes.rs`).
    ChangesGet {
        /// Session carrying the tar.
        session: u32,
        /// Most bytes of file content to record.
        max_bytes: u64,
    },
    /// Peer: run the exited main process again (session 0; see `restart.rs`).
    Restart,
    /// Peer: a lingering agent exits now (session 0).
    End,
    /// Peer: an operation on the whole container (see `ops.rs`).
    Op {
        /// Session carrying the answer.
        session: u32,
        /// The operation.
        op: Op,
    },
}

mod kind;

impl Frame {
    /// Session the frame belongs to.
    pub fn session(&self) -> u32 {
        match self {
            Frame::Hello(_)
            | Frame::Health(_)
            | Frame::Listening(_)
            | Frame::Peers(_)
            | Frame::UnixListen(_)
            | Frame::Restart
            | Frame::End => MAIN_SESSION,
            Frame::Error { session, .. }
            | Frame::Attach { session, .. }
            | Frame::ExecStart { session, .. }
            | Frame::Started { session, .. }
            | Frame::Stdin { session, .. }
            | Frame::CloseStdin { session }
            | Frame::Resize { session, .. }
            | Frame::Signal { session, .. }
            | Frame::Output { session, .. }
            | Frame::Ack { session, .. }
            | Frame::Exit { session, .. }
            | Frame::ArchiveGet { session, .. }
            | Frame::ArchivePut { session, .. }
            | Frame::ArchiveStat { session, .. }
            | Frame::ChangesGet { session, .. }
            | Frame::Op { session, .. }
            | Frame::PathStat { session, .. }
            | Frame::TcpConnect { session, .. }
            | Frame::TcpAccepted { session, .. }
            | Frame::UnixAccepted { session, .. } => *session,
        }
    }

    /// Encodes the frame as one binary message.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(HEADER_LEN + 16);
        let json = |out: &mut BytesMut, kind: u8, session: u32, value: &dyn erased::Json| {
            out.put_u8(kind);
            out.put_u32(session);
            out.extend_from_slice(&value.to_json());
        };
        match self {
            Frame::Hello(h) => json(&mut out, kind::HELLO, 0, h),
            Frame::Error { session, message } => {
                let p = MessagePayload {
                    message: message.clone(),
                };
                json(&mut out, kind::ERROR, *session, &p)
            }
            Frame::Attach {
                session,
                stdout,
                stderr,
            } => {
                header(&mut out, kind::ATTACH, *session);
                out.put_u64(*stdout);
                out.put_u64(*stderr);
            }
            Frame::ExecStart { session, config } => {
                json(&mut out, kind::EXEC_START, *session, config)
            }
            Frame::Started { session, pid } => {
                header(&mut out, kind::STARTED, *session);
                out.put_u32(*pid);
            }
            Frame::Stdin {
                session,
                offset,
                data,
            } => {
                header(&mut out, kind::STDIN, *session);
                out.put_u64(*offset);
                out.extend_from_slice(data);
            }
            Frame::CloseStdin { session } => header(&mut out, kind::CLOSE_STDIN, *session),
            Frame::Resize {
                session,
                rows,
                cols,
            } => {
                header(&mut out, kind::RESIZE, *session);
                out.put_u16(*rows);
                out.put_u16(*cols);
            }
            Frame::Signal { session, signal } => {
                header(&mut out, kind::SIGNAL, *session);
                out.put_i32(*signal);
            }
            Frame::Output {
                session,
                stream,
                offset,
                data,
            } => {
                let k = match stream {
                    OutputStream::Stdout => kind::STDOUT,
                    OutputStream::Stderr => kind::STDERR,
                };
                header(&mut out, k, *session);
                out.put_u64(*offset);
                out.extend_from_slice(data);
            }
            Frame::Ack {
                session,
                stream,
                offset,
            } => {
                header(&mut out, kind::ACK, *session);
                out.put_u8(stream.to_byte());
                out.put_u64(*offset);
            }
            Frame::Exit { session, code } => {
                header(&mut out, kind::EXIT, *session);
                out.put_i32(*code);
            }
            Frame::Health(h) => json(&mut out, kind::HEALTH, 0, h),
            Frame::ArchiveGet { session, path } => json(
                &mut out,
                kind::ARCHIVE_GET,
                *session,
                &PathPayload { path: path.clone() },
            ),
            Frame::ArchivePut {
                session,
                path,
                options,
            } => json(
                &mut out,
                kind::ARCHIVE_PUT,
                *session,
                &PutPayload {
                    path: path.clone(),
                    options: *options,
                },
            ),
            Frame::ArchiveStat { session, path } => json(
                &mut out,
                kind::ARCHIVE_STAT,
                *session,
                &PathPayload { path: path.clone() },
            ),
            Frame::PathStat { session, stat } => json(&mut out, kind::PATH_STAT, *session, stat),
            Frame::TcpConnect { session, target } => {
                json(&mut out, kind::TCP_CONNECT, *session, target)
            }
            Frame::TcpAccepted { session, on } => json(&mut out, kind::TCP_ACCEPTED, *session, on),
            Frame::Listening(l) => json(&mut out, kind::LISTENING, 0, l),
            Frame::Peers(p) => json(&mut out, kind::PEERS, 0, p),
            Frame::UnixListen(u) => json(&mut out, kind::UNIX_LISTEN, 0, u),
            Frame::UnixAccepted { session, path } => json(
                &mut out,
                kind::UNIX_ACCEPTED,
                *session,
                &PathPayload { path: path.clone() },
            ),
            Frame::ChangesGet { session, max_bytes } => json(
                &mut out,
                changes::CHANGES_GET,
                *session,
                &changes::payload(*max_bytes),
            ),
            Frame::Restart => restart::encode(restart::RESTART, &mut out),
            Frame::End => restart::encode(restart::END, &mut out),
            Frame::Op { session, op } => {
                let (kind, payload) = ops::encode(op);
                json(&mut out, kind, *session, &payload)
            }
        }
        out.freeze()
    }

    /// Decodes one binary message. Never panics, whatever the input.
    pub fn decode(buf: &Bytes) -> Result<Frame, DecodeError> {
        if buf.len() > MAX_FRAME_LEN {
            return Err(DecodeError::TooLarge(buf.len()));
        }
        if buf.len() < HEADER_LEN {
            return Err(DecodeError::Truncated);
        }
        let k = buf[0];
        let session = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]);
        let p = buf.slice(HEADER_LEN..);
        let mut r = Reader(&p);
        let frame = match k {
            kind::HELLO => Frame::Hello(from_json(&p)?),
            kind::ERROR => Frame::Error {
                session,
                message: from_json::<MessagePayload>(&p)?.message,
            },
            kind::ATTACH => Frame::Attach {
                session,
                stdout: r.u64()?,
                stderr: r.u64()?,
            },
            kind::EXEC_START => Frame::ExecStart {
                session,
                config: from_json(&p)?,
            },
            kind::STARTED => Frame::Started {
                session,
                pid: r.u32()?,
            },
            kind::STDIN => Frame::Stdin {
                session,
                offset: r.u64()?,
                data: p.slice(8..),
            },
            kind::CLOSE_STDIN => Frame::CloseStdin { session },
            kind::RESIZE => Frame::Resize {
                session,
                rows: r.u16()?,
                cols: r.u16()?,
            },
            kind::SIGNAL => Frame::Signal {
                session,
                signal: r.u32()? as i32,
            },
            kind::STDOUT | kind::STDERR => Frame::Output {
                session,
                stream: if k == kind::STDOUT {
                    OutputStream::Stdout
                } else {
                    OutputStream::Stderr
                },
                offset: r.u64()?,
                data: p.slice(8..),
            },
            kind::ACK => Frame::Ack {
                session,
                stream: AckStream::from_byte(r.u8()?)?,
                offset: r.u64()?,
            },
            kind::EXIT => Frame::Exit {
                session,
                code: r.u32()? as i32,
            },
            kind::HEALTH => Frame::Health(from_json(&p)?),
            kind::ARCHIVE_GET => Frame::ArchiveGet {
                session,
                path: from_json::<PathPayload>(&p)?.path,
            },
            kind::ARCHIVE_PUT => {
                let put = from_json::<PutPayload>(&p)?;
                Frame::ArchivePut {
                    session,
                    path: put.path,
                    options: put.options,
                }
            }
            kind::ARCHIVE_STAT => Frame::ArchiveStat {
                session,
                path: from_json::<PathPayload>(&p)?.path,
            },
            kind::PATH_STAT => Frame::PathStat {
                session,
                stat: from_json(&p)?,
            },
            kind::TCP_CONNECT => Frame::TcpConnect {
                session,
                target: from_json(&p)?,
            },
            kind::TCP_ACCEPTED => Frame::TcpAccepted {
                session,
                on: from_json(&p)?,
            },
            kind::LISTENING => Frame::Listening(from_json(&p)?),
            kind::PEERS => Frame::Peers(from_json(&p)?),
            kind::UNIX_LISTEN => Frame::UnixListen(from_json(&p)?),
            kind::UNIX_ACCEPTED => Frame::UnixAccepted {
                session,
                path: from_json::<PathPayload>(&p)?.path,
            },
            changes::CHANGES_GET => changes::decode(session, &p)?,
            restart::RESTART | restart::END => restart::decode(k, session)?,
            k if ops::is_op(k) => ops::decode(k, session, &p)?,
            other => return Err(DecodeError::UnknownKind(other)),
        };
        Ok(frame)
    }
}

fn header(out: &mut BytesMut, kind: u8, session: u32) {
    out.put_u8(kind);
    out.put_u32(session);
}

fn from_json<T: serde::de::DeserializeOwned>(p: &[u8]) -> Result<T, DecodeError> {
    serde_json::from_slice(p).map_err(|e| DecodeError::Invalid(e.to_string()))
}

mod erased {
    pub trait Json {
        fn to_json(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> Vec<u8> {
            // Serializing these plain structs cannot fail (string keys, no maps with
            // non-string keys); fall back to an empty object rather than panic.
            serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec())
        }
    }
}
