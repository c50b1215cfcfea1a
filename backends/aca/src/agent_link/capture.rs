//! The main process's output on its way from the agent to the log store and
//! the live subscribers (attach, `logs -f`). A burst is stored in one
//! transaction (what the session holds already, up to [`MAX_BATCH_CHUNKS`]
//! chunks or [`MAX_BATCH_BYTES`]), with the agent's stream offsets; only
//! then is it acknowledged to the agent, so a crash of this process loses
//! nothing the agent let go of.

use bytes::Bytes;
use futures_util::FutureExt;
use sockerless_agent::peer::{OutputStream, Session, SessionEvent};
use sockerless_api::StreamKind;

use crate::AcaBackend;
use crate::clock::now_nanos;
use crate::runtime::state::{ContainerRuntime, LiveChunk};
use crate::store::logs::{self as log_store, Chunk};

/// Most chunks stored in one transaction.
pub const MAX_BATCH_CHUNKS: usize = 64;
/// Most bytes stored in one transaction (a chunk is at most 1 MiB, so a
/// batch stays under twice this).
pub const MAX_BATCH_BYTES: usize = 1 << 20;

/// One chunk read from the session.
struct Received {
    stream: OutputStream,
    data: Bytes,
    end: u64,
}

/// Reads the main session until its exit code (`Some`) or the end of the
/// connection (`None`), storing and acknowledging its output as it goes.
pub(super) async fn read_main(
    backend: &AcaBackend,
    rt: &ContainerRuntime,
    session: &mut Session,
) -> Option<i32> {
    let mut next = None;
    loop {
        let event = match next.take() {
            Some(event) => event,
            None => session.recv().await?,
        };
        let first = match event {
            SessionEvent::Output {
                stream,
                offset,
                data,
            } => Received {
                stream,
                end: offset + data.len() as u64,
                data,
            },
            SessionEvent::Exit(code) => return Some(code),
            SessionEvent::Error(message) => {
                tracing::info!(container = %rt.id, %message, "agent reported an error");
                continue;
            }
        };
        let mut bytes = first.data.len();
        let mut batch = vec![first];
        let mut closed = false;
        // What the session holds already joins the batch; `recv` is
        // cancel-safe, so polling it once loses nothing.
        while batch.len() < MAX_BATCH_CHUNKS && bytes < MAX_BATCH_BYTES {
            match session.recv().now_or_never() {
                Some(Some(SessionEvent::Output {
                    stream,
                    offset,
                    data,
                })) => {
                    bytes += data.len();
                    batch.push(Received {
                        stream,
                        end: offset + data.len() as u64,
                        data,
                    });
                }
                Some(Some(other)) => {
                    next = Some(other);
                    break;
                }
                Some(None) => {
                    closed = true;
                    break;
                }
                None => break,
            }
        }
        let acks = last_offsets(&batch);
        store_and_publish(backend, rt, batch).await;
        for (stream, end) in acks {
            // A closed connection: the agent resends from the stored offsets.
            let _ = session.ack_output(stream, end);
        }
        if closed {
            return None;
        }
    }
}

/// The offset to acknowledge per stream: the end of its last chunk.
fn last_offsets(batch: &[Received]) -> Vec<(OutputStream, u64)> {
    let mut acks: Vec<(OutputStream, u64)> = Vec::with_capacity(2);
    for r in batch {
        match acks.iter_mut().find(|(s, _)| *s == r.stream) {
            Some((_, end)) => *end = (*end).max(r.end),
            None => acks.push((r.stream, r.end)),
        }
    }
    acks
}

/// Adds a line of the backend's own to the container's stderr (`docker logs`, attach).
pub async fn log_line(backend: &AcaBackend, rt: &ContainerRuntime, line: &str) {
    let data = Bytes::copy_from_slice(line.as_bytes());
    let chunk = Received {
        stream: OutputStream::Stderr,
        data,
        end: 0,
    };
    store_batch(backend, rt, vec![chunk], false).await;
}

async fn store_and_publish(backend: &AcaBackend, rt: &ContainerRuntime, batch: Vec<Received>) {
    store_batch(backend, rt, batch, true).await;
}

async fn store_batch(
    backend: &AcaBackend,
    rt: &ContainerRuntime,
    batch: Vec<Received>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stream_is_acknowledged_up_to_its_last_chunk() {
        let r = |stream, end| Received {
            stream,
            data: Bytes::new(),
            end,
        };
        let batch = [
            r(OutputStream::Stdout, 10),
            r(OutputStream::Stderr, 4),
            r(OutputStream::Stdout, 25),
        ];
        assert_eq!(
            last_offsets(&batch),
            vec![(OutputStream::Stdout, 25), (OutputStream::Stderr, 4)]
        );
    }
}
