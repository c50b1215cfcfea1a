//! JSON payloads of control frames.

use serde::{Deserialize, Serialize};

/// Resume point of one session: the peer already holds output below these offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ResumeEntry {
    /// Session id.
    pub session: u32,
    /// Stdout bytes already received.
    pub stdout: u64,
    /// Stderr bytes already received.
    pub stderr: u64,
}

/// A live session as announced by the agent in its hello.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    /// Session id.
    pub session: u32,
    /// Stdin bytes the agent has received for this session.
    pub stdin_offset: u64,
}

/// First frame in each direction (session 0). The side that opened the
/// connection sends its hello first, with the token; the other side checks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Hello {
    /// Protocol version of the sender.
    pub version: u32,
    /// Shared secret; present only in the hello of the connecting side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Container id (agent only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    /// Unacknowledged output bytes the agent keeps per stream (agent only).
    #[serde(default)]
    pub window: u64,
    /// Unacknowledged stdin bytes the agent accepts per session (agent only).
    #[serde(default)]
    pub stdin_window: u64,
    /// Main process runs with a TTY (agent only).
    #[serde(default)]
    pub tty: bool,
    /// Main process has an open stdin (agent only).
    #[serde(default)]
    pub open_stdin: bool,
    /// Live sessions (agent only).
    #[serde(default)]
    pub sessions: Vec<SessionInfo>,
    /// The agent keeps a baseline and answers CHANGES_GET (agent only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub records_changes: bool,
    /// The agent answers TOP, STATS, PAUSE, UNPAUSE and EXPORT (agent only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ops: bool,
    /// The container is paused (agent only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// Where to resume output (peer only).
    #[serde(default)]
    pub resume: Vec<ResumeEntry>,
}

/// Configuration of an exec session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ExecConfig {
    /// Command and arguments (no shell is implied).
    pub cmd: Vec<String>,
    /// Extra `KEY=VALUE` variables, added to the container's environment.
    #[serde(default)]
    pub env: Vec<String>,
    /// Working directory; the container's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    /// `user`, `user:group`, `uid` or `uid:gid`; the agent's user when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Run on a pseudo terminal.
    #[serde(default)]
    pub tty: bool,
    /// Keep stdin open until close-stdin (otherwise stdin is empty).
    #[serde(default)]
    pub stdin: bool,
    /// Initial terminal rows (TTY only).
    #[serde(default)]
    pub rows: u16,
    /// Initial terminal columns (TTY only).
    #[serde(default)]
    pub cols: u16,
}

/// One health-check result, after Docker's `HealthcheckResult` plus the new status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct HealthReport {
    /// `starting`, `healthy` or `unhealthy`.
    pub status: String,
    /// Consecutive failures.
    pub failing_streak: u32,
    /// Exit code of the probe (-1 when it timed out or could not start).
    pub exit_code: i32,
    /// First 4 KiB of the probe's output.
    pub output: String,
    /// RFC 3339 start time.
    pub start: String,
    /// RFC 3339 end time.
    pub end: String,
}

/// How an ARCHIVE_PUT treats its directory before extracting (both off by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PutOptions {
    /// Create the directory and its missing parents (mode 0755) first.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create: bool,
    /// Remove the directory's content first (never following symlinks; the
    /// directory itself stays), as a bind mount hides what the image had there.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub clear: bool,
    /// Keep the tar's numeric owners (and give the directory itself the
    /// mode and owner of the tar's `.` entry), as a bind shows the host's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub owners: bool,
    /// Honour OCI whiteouts: an entry `dir/.wh.name` removes `dir/name`
    /// (a container's recorded changes carry its deletions so).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub whiteouts: bool,
}

/// The ARCHIVE_PUT payload: the directory and its options.
#[derive(Serialize, Deserialize)]
pub(crate) struct PutPayload {
    pub(crate) path: String,
    #[serde(flatten)]
    pub(crate) options: PutOptions,
}

/// Docker's `PathStat` (the `X-Docker-Container-Path-Stat` header, decoded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PathStat {
    /// Base name.
    pub name: String,
    /// Size in bytes.
    pub size: i64,
    /// Go `os.FileMode` bits (permissions plus type bits).
    pub mode: u32,
    /// RFC 3339 modification time.
    pub mtime: String,
    /// Symlink target, empty when not a symlink.
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

/// Where a TCP_CONNECT session connects, inside the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TcpTarget {
    /// IP literal or name (resolved by the agent without the image's libc).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

/// The address a relay listener accepted a connection on (TCP_ACCEPTED).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AcceptedOn {
    /// Local IP of the relay listener (e.g. `127.18.0.3`).
    pub ip: String,
    /// Local port of the relay listener.
    pub port: u16,
}

/// What the container listens on (LISTENING, session 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Listening {
    /// TCP ports in LISTEN state on any local address, sorted, without the
    /// agent's own listeners.
    #[serde(default)]
    pub ports: Vec<u16>,
    /// The container's non-loopback IPv4 addresses.
    #[serde(default)]
    pub addresses: Vec<String>,
}

/// One peer container as the agent should see it (an entry of [`PeersUpdate`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PeerHost {
    /// Address the names resolve to (a 127.0.0.0/8 relay address, or the
    /// peer's own address in direct mode).
    pub ip: String,
    /// Host names written to `/etc/hosts` for `ip`.
    #[serde(default)]
    pub names: Vec<String>,
    /// Ports the agent relays on `ip` (empty in direct mode).
    #[serde(default)]
    pub ports: Vec<u16>,
}

/// The full desired relay state (PEERS, session 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PeersUpdate {
    /// Every peer; hosts and listeners not listed are removed.
    #[serde(default)]
    pub hosts: Vec<PeerHost>,
}

/// The Unix sockets the agent serves (UNIX_LISTEN, session 0): the full set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct UnixListen {
    /// Absolute socket paths in the container; listeners not listed are closed.
    #[serde(default)]
    pub paths: Vec<String>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct PathPayload {
    pub(super) path: String,
}

#[derive(Serialize, Deserialize)]
pub(super) struct MessagePayload {
    pub(super) message: String,
}
