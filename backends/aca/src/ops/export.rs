//! `docker export`: the agent streams a tar of the root filesystem (mount
//! points kept empty, the agent's directory left out), through the
//! session's flow control: neither side holds the tar. A container that
//! has exited is exported from its kept changes over its image's layers,
//! as `docker cp` out of it is (`containers::exited`; entries are then
//! named `./…`); one never started has no filesystem yet to export.

use bytes::Bytes;
use sockerless_agent::peer::{OutputStream, Session, SessionEvent};
use sockerless_agent::protocol::Op;
use sockerless_api::{ApiError, ByteStream, Result};

use crate::AcaBackend;
use crate::runtime::find_container;

/// `Backend::container_export`.
pub async fn export(backend: &AcaBackend, id: &str) -> Result<ByteStream> {
    let record = find_container(backend, id).await?;
    let rt = backend.runtimes().get(&record);
    if !rt.state.borrow().running {
        if record.started_at.is_none() {
            return Err(ApiError::Conflict(format!(
                "container {} has never run: sockerless has no filesystem of it to export \
                 before its first start",
                record.name
            )));
        }
        let (_, tar) = crate::containers::archive_get(backend, &record.id, "/").await?;
        return Ok(tar);
    }
    let live = super::live(backend, id).await?;
    let session = live
        .link
        .op(Op::Export)
        .await
        .map_err(|e| super::agent_error("export", &live.record, e))?;
    Ok(tar_stream(session, live.record.name))
}

/// The session's stdout; an agent failure mid-way ends the stream with an
/// error, so a truncated tar is never taken for a whole one.
fn tar_stream(session: Session, name: String) -> ByteStream {
    let state = (session, name, None::<String>, false);
    Box::pin(futures_util::stream::unfold(
        state,
        |(mut session, name, mut error, done)| async move {
            if done {
                return None;
            }
            loop {
                let fail = |why: String| {
                    ApiError::Internal(format!("exporting container {name} failed: {why}"))
                };
                match session.recv().await {
                    Some(SessionEvent::Output {
                        stream: OutputStream::Stdout,
                        data,
                        ..
                    }) => {
                        return Some((Ok::<Bytes, ApiError>(data), (session, name, error, false)));
                    }
                    Some(SessionEvent::Output { .. }) => {}
                    Some(SessionEvent::Error(m)) => error = Some(m),
                    Some(SessionEvent::Exit(0)) => return None,
                    Some(SessionEvent::Exit(code)) => {
                        let why = error.take().unwrap_or_else(|| format!("exit code {code}"));
                        let err = fail(why);
                        return Some((Err(err), (session, name, None, true)));
                    }
                    None => {
                        let err = fail("the agent connection closed".into());
                        return Some((Err(err), (session, name, error, true)));
                    }
                }
            }
        },
    ))
}
