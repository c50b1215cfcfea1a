//! The main process's output on its way from the agent to the link's
//! observer (which stores it and hands it to the live subscribers). A burst goes as
//! one batch (what the session holds already, up to [`MAX_BATCH_CHUNKS`]
//! chunks or [`MAX_BATCH_BYTES`]), stored in one transaction with the
//! agent's stream offsets; only then is it acknowledged to the agent, so a
//! crash of this process loses nothing the agent let go of.

use futures_util::FutureExt;
use sockerless_agent::peer::{OutputStream, Session, SessionEvent};

use super::process::Output;

/// Most chunks stored in one transaction.
pub const MAX_BATCH_CHUNKS: usize = 64;
/// Most bytes stored in one transaction (a chunk is at most 1 MiB, so a
/// batch stays under twice this).
pub const MAX_BATCH_BYTES: usize = 1 << 20;

/// Reads the main session until its exit code (`Some`) or the end of the
/// connection (`None`), storing and acknowledging its output as it goes.
/// `store` stores a batch; it is acknowledged to the agent once `store` returned.
pub(super) async fn read_main<F>(
    id: &str,
    session: &mut Session,
    mut store: impl FnMut(Vec<Output>) -> F,
) -> Option<i32>
where
    F: std::future::Future<Output = ()>,
{
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
            } => Output {
                stream,
                end: offset + data.len() as u64,
                data,
            },
            SessionEvent::Exit(code) => return Some(code),
            SessionEvent::Error(message) => {
                tracing::info!(container = %id, %message, "agent reported an error");
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
                    batch.push(Output {
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
        store(batch).await;
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
fn last_offsets(batch: &[Output]) -> Vec<(OutputStream, u64)> {
    let mut acks: Vec<(OutputStream, u64)> = Vec::with_capacity(2);
    for r in batch {
        match acks.iter_mut().find(|(s, _)| *s == r.stream) {
            Some((_, end)) => *end = (*end).max(r.end),
            None => acks.push((r.stream, r.end)),
        }
    }
    acks
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn each_stream_is_acknowledged_up_to_its_last_chunk() {
        let r = |stream, end| Output {
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
