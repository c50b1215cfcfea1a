//! Container operations served by the agent (issue 16): TOP, STATS, PAUSE,
//! UNPAUSE and EXPORT (peer → agent, on a fresh session of the peer's).
//!
//! Each is answered like CHANGES_GET: STARTED, then the answer on the
//! session's stdout, then EXIT 0; or an ERROR and EXIT 1 (before STARTED
//! when the request is refused outright). TOP answers a [`TopAnswer`] JSON
//! document, STATS a [`StatsSample`], PAUSE and UNPAUSE nothing, EXPORT a
//! tar of the root filesystem. See `crate::ops`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{DecodeError, Frame};

/// Kind byte of [`Op::Top`].
pub(super) const TOP: u8 = 0x73;
/// Kind byte of [`Op::Stats`].
pub(super) const STATS: u8 = 0x74;
/// Kind byte of [`Op::Pause`].
pub(super) const PAUSE: u8 = 0x75;
/// Kind byte of [`Op::Unpause`].
pub(super) const UNPAUSE: u8 = 0x76;
/// Kind byte of [`Op::Export`].
pub(super) const EXPORT: u8 = 0x77;

/// An operation on the whole container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// List the container's processes, `ps_args` as `docker top` passes them.
    Top {
        /// `ps` arguments (empty: `-ef`).
        ps_args: String,
    },
    /// One sample of the container's resource figures.
    Stats,
    /// Stop every process of the container (but the agent).
    Pause,
    /// Continue them.
    Unpause,
    /// A tar of the root filesystem.
    Export,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct Payload {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    ps_args: String,
}

/// The kind byte and payload of `op`.
pub(super) fn encode(op: &Op) -> (u8, Payload) {
    match op {
        Op::Top { ps_args } => (
            TOP,
            Payload {
                ps_args: ps_args.clone(),
            },
        ),
        Op::Stats => (STATS, Payload::default()),
        Op::Pause => (PAUSE, Payload::default()),
        Op::Unpause => (UNPAUSE, Payload::default()),
        Op::Export => (EXPORT, Payload::default()),
    }
}

/// Whether `kind` is one of these frames.
pub(super) fn is_op(kind: u8) -> bool {
    (TOP..=EXPORT).contains(&kind)
}

pub(super) fn decode(kind: u8, session: u32, payload: &[u8]) -> Result<Frame, DecodeError> {
    let p: Payload = super::from_json(payload)?;
    let op = match kind {
        TOP => Op::Top { ps_args: p.ps_args },
        STATS => Op::Stats,
        PAUSE => Op::Pause,
        UNPAUSE => Op::Unpause,
        _ => Op::Export,
    };
    Ok(Frame::Op { session, op })
}

/// TOP's answer: dockerd's `ContainerTopResponse` shape.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TopAnswer {
    /// Column titles.
    pub titles: Vec<String>,
    /// One row per process, a value per title.
    pub processes: Vec<Vec<String>>,
}

/// STATS's answer: the raw figures of one moment; the peer shapes
/// dockerd's JSON from two of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsSample {
    /// When it was read, nanoseconds since the epoch (the agent's clock).
    pub read_nanos: i64,
    /// `1` or `2`: the cgroup version read (0: none readable).
    pub cgroup_version: u8,
    /// CPU time of the container, nanoseconds.
    pub cpu_total_ns: u64,
    /// Of which in user mode, nanoseconds.
    pub cpu_user_ns: u64,
    /// Of which in kernel mode, nanoseconds.
    pub cpu_system_ns: u64,
    /// Per CPU (cgroup v1 only), nanoseconds.
    #[serde(default)]
    pub cpu_percpu_ns: Vec<u64>,
    /// CFS periods, throttled periods, throttled time (ns).
    pub throttling: (u64, u64, u64),
    /// The host's CPU time (`/proc/stat`), nanoseconds.
    pub system_cpu_ns: u64,
    /// CPUs online.
    pub online_cpus: u32,
    /// Memory in use, bytes.
    pub memory_usage: u64,
    /// Peak memory (cgroup v1 `max_usage_in_bytes`), when known.
    pub memory_max_usage: Option<u64>,
    /// Memory limit, bytes (the host's memory when unlimited).
    pub memory_limit: u64,
    /// `memory.stat`.
    pub memory_stat: BTreeMap<String, u64>,
    /// Processes in the cgroup.
    pub pids_current: Option<u64>,
    /// Their limit, when set.
    pub pids_limit: Option<u64>,
    /// Block I/O bytes: (major, minor, op, value); op as dockerd spells it
    /// (`read`, `write` for v2; `Read`, `Write`, `Sync`, `Async`, `Total` for v1).
    pub blkio: Vec<(u64, u64, String, u64)>,
    /// Interfaces (`/proc/net/dev`), loopback left out.
    pub networks: BTreeMap<String, NetDev>,
    /// Processes seen in `/proc` (the agent excluded).
    pub num_procs: u32,
}

/// One interface's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetDev {
    /// Received bytes.
    pub rx_bytes: u64,
    /// Received packets.
    pub rx_packets: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Received packets dropped.
    pub rx_dropped: u64,
    /// Sent bytes.
    pub tx_bytes: u64,
    /// Sent packets.
    pub tx_packets: u64,
    /// Send errors.
    pub tx_errors: u64,
    /// Sent packets dropped.
    pub tx_dropped: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for op in [
            Op::Top {
                ps_args: "aux".into(),
            },
            Op::Top {
                ps_args: String::new(),
            },
            Op::Stats,
            Op::Pause,
            Op::Unpause,
            Op::Export,
        ] {
            let f = Frame::Op { session: 9, op };
            let bytes = f.encode();
            assert!(is_op(bytes[0]));
            assert_eq!(Frame::decode(&bytes), Ok(f));
        }
    }

    #[test]
    fn bad_payloads_are_refused() {
        let bytes = bytes::Bytes::from(vec![TOP, 0, 0, 0, 1, b'{']);
        assert!(matches!(
            Frame::decode(&bytes),
            Err(DecodeError::Invalid(_))
        ));
    }
}
