//! The main process's output as the agent link reports it: stored in the
//! log store (one transaction per batch, with the agent's stream offsets,
//! so a restarted backend resumes from them) and handed to the live
//! subscribers (attach, `logs -f`); and the backend's own lines on the
//! container's stderr ([`log_line`]).

use bytes::Bytes;
use sockerless_agent::peer::OutputStream;
use sockerless_api::StreamKind;

use super::state::{ContainerRuntime, LiveChunk};
use crate::AcaBackend;
use crate::agent_link::process::Output;
use crate::clock::now_nanos;
use crate::store::logs::{self as log_store, Chunk};

/// Stores a batch read from the agent, then publishes it.
pub async fn store_and_publish(backend: &AcaBackend, rt: &ContainerRuntime, batch: Vec<Output>) {
    store_batch(backend, rt, batch, true).await;
}

/// Adds a line of the backend's own to the container's stderr (`docker logs`, attach).
pub async fn log_line(backend: &AcaBackend, rt: &ContainerRuntime, line: &str) {
    let data = Bytes::copy_from_slice(line.as_bytes());
    let chunk = Output {
        stream: OutputStream::Stderr,
        data,
        end: 0,
    };
    store_batch(backend, rt, vec![chunk], false).await;
}

async fn store_batch(
    backend: &AcaBackend,
    rt: &ContainerRuntime,
    batch: Vec<Output>,
    from_agent: bool,
) {
    let time_nanos = now_nanos();
    let id = rt.id.clone();
    let max = backend.config().log_max_bytes;
    let stored: Vec<(u8, Bytes, Option<u64>)> = batch
        .iter()
        .map(|r| {
            (
                stream_byte(r.stream),
                r.data.clone(),
                from_agent.then_some(r.end),
            )
        })
        .collect();
    let seqs = backend
        .store()
        .call(move |c| {
            let chunks: Vec<Chunk<'_>> = stored
                .iter()
                .map(|(stream, data, end)| Chunk {
                    stream: *stream,
                    time_nanos,
                    data,
                    stream_end: *end,
                })
                .collect();
            log_store::append_batch(c, &id, &chunks, max)
        })
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(container = %rt.id, error = %e, "cannot store output");
            Vec::new()
        });
    for (i, r) in batch.into_iter().enumerate() {
        rt.publish(LiveChunk {
            seq: seqs.get(i).copied().unwrap_or(i64::MAX),
            stream: match r.stream {
                OutputStream::Stdout => StreamKind::Stdout,
                OutputStream::Stderr => StreamKind::Stderr,
            },
            time_nanos,
            data: r.data,
        });
    }
}

fn stream_byte(stream: OutputStream) -> u8 {
    match stream {
        OutputStream::Stdout => 1,
        OutputStream::Stderr => 2,
    }
}
