//! `docker cp` through the agent: stat, get (a tar streamed from the
//! agent's session as it comes) and put (the caller's tar streamed into the
//! agent's session with its stdin credit) while the container runs.
//! A container that does not run keeps what is put into it for its next
//! start (`crate::binds::files`); a created one (never started) answers
//! stat and get from those files. Once a container has exited, its replica
//! is gone: stat and get read its kept changes over its image's layers
//! (`super::exited`).

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use sockerless_agent::peer::{self, OutputStream, PeerError, Session, SessionEvent};
use sockerless_api::{ApiError, ByteStream, PathStat, Result};

use crate::AcaBackend;
use crate::agent_link::pump::AgentLink;
use crate::runtime::{StoredConfig, find_container};

/// The kind of operation, for mapping the agent's errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Stat or get: the path is read.
    Read,
    /// Put: a tar is extracted into the path.
    Write,
}

/// The message of a copy refused because the container does not run.
pub fn not_running(name: &str) -> ApiError {
    ApiError::Conflict(format!(
        "container {name} is not running: sockerless can copy files only while the container runs"
    ))
}

/// Maps an agent error of `op` on `path` to Docker's status and message.
pub fn map_error(op: Op, err: PeerError, path: &str, name: &str) -> ApiError {
    match err {
        PeerError::Agent(m) => {
            // The agent's own wording: `stat P: …` (stat, get) and
            // `extraction point P: …` (put) mean the path itself is missing.
            let about_path = m.starts_with("stat ") || m.starts_with("extraction point ");
            let missing = m.contains("os error 2)") || m.contains("os error 20)");
            if about_path && missing {
                ApiError::NotFound(format!(
                    "Could not find the file {path} in container {name}"
                ))
            } else if op == Op::Write {
                ApiError::InvalidParameter(m)
            } else {
                ApiError::Internal(format!("{path} in container {name}: {m}"))
            }
        }
        other => ApiError::Internal(format!(
            "agent connection of container {name} failed during the copy: {other}"
        )),
    }
}

/// Absolute path of `path` (relative paths are taken from the working directory).
fn absolute(path: &str, working_dir: Option<&str>) -> Result<String> {
    if path.is_empty() {
        return Err(ApiError::InvalidParameter("path is required".into()));
    }
    if path.starts_with('/') {
        return Ok(path.to_owned());
    }
    let base = working_dir.filter(|w| w.starts_with('/')).unwrap_or("/");
    Ok(format!("{}/{path}", base.trim_end_matches('/')))
}

/// Where a copy goes.
enum Target {
    /// The running container's agent link, its name and the absolute path.
    Live(Arc<AgentLink>, String, String),
    /// A container that does not run: its ID, name, absolute path, and
    /// whether it was ever started.
    Kept(String, String, String, bool),
}

async fn target(backend: &AcaBackend, id: &str, path: &str) -> Result<Target> {
    let record = find_container(backend, id).await?;
    let body = StoredConfig::of(&record)?.body;
    let rt = backend.runtimes().get(&record);
    if !rt.state.borrow().running {
        let path = absolute(path, body.working_dir.as_deref())?;
        let started = record.started_at.is_some();
        return Ok(Target::Kept(record.id, record.name, path, started));
    }
    let link = rt.agent().ok_or_else(|| {
        ApiError::Conflict(format!(
            "container {} runs but its agent is reconnecting; try the copy again",
            record.name
        ))
    })?;
    let path = absolute(path, body.working_dir.as_deref())?;
    Ok(Target::Live(link, record.name, path))
}

/// Where a stat or get reads from.
enum Source {
    /// The running container's agent link, its name and the absolute path.
    Live(Arc<AgentLink>, String, String),
    /// A created container's kept files: its ID, name and the absolute path.
    Created(String, String, String),
    /// An exited container: its ID and the absolute path.
    Exited(String, String),
}

async fn live(backend: &AcaBackend, id: &str, path: &str) -> Result<Source> {
    Ok(match target(backend, id, path).await? {
        Target::Live(link, name, path) => Source::Live(link, name, path),
        Target::Kept(id, name, path, false) => Source::Created(id, name, path),
        Target::Kept(id, _, path, true) => Source::Exited(id, path),
    })
}

fn docker_stat(s: peer::PathStat) -> PathStat {
    PathStat {
        name: s.name,
        size: s.size,
        mode: s.mode,
        mtime: s.mtime,
        link_target: s.link_target,
    }
}

/// `Backend::container_archive_stat`.
pub async fn stat(backend: &AcaBackend, id: &str, path: &str) -> Result<PathStat> {
    let (link, name, path) = match live(backend, id, path).await? {
        Source::Live(link, name, path) => (link, name, path),
        Source::Created(id, name, path) => {
            return crate::binds::files::stat(backend, &id, &name, &path);
        }
        Source::Exited(id, path) => return super::exited::stat(backend, &id, &path).await,
    };
    link.stat(&path)
        .await
        .map(docker_stat)
        .map_err(|e| map_error(Op::Read, e, &path, &name))
}

/// `Backend::container_archive_get`: the stat and the tar, streamed.
pub async fn get(backend: &AcaBackend, id: &str, path: &str) -> Result<(PathStat, ByteStream)> {
    let (link, name, path) = match live(backend, id, path).await? {
        Source::Live(link, name, path) => (link, name, path),
        Source::Created(id, name, path) => {
            return crate::binds::files::get(backend, &id, &name, &path);
        }
        Source::Exited(id, path) => return super::exited::get(backend, &id, &path).await,
    };
    let (stat, session) = link
        .get_archive(&path)
        .await
        .map_err(|e| map_error(Op::Read, e, &path, &name))?;
    Ok((docker_stat(stat), tar_stream(session, name)))
}

/// The session's stdout as a byte stream; an agent failure mid-way ends it
/// with an error, so a truncated tar is never taken for a whole one.
fn tar_stream(session: Session, name: String) -> ByteStream {
    struct State {
        session: Session,
        name: String,
        error: Option<String>,
        done: bool,
    }
    let state = State {
        session,
        name,
        error: None,
        done: false,
    };
    Box::pin(futures_util::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        loop {
            match st.session.recv().await {
                Some(SessionEvent::Output {
                    stream: OutputStream::Stdout,
                    data,
                    ..
                }) => return Some((Ok::<Bytes, ApiError>(data), st)),
                Some(SessionEvent::Output { .. }) => {}
                Some(SessionEvent::Error(m)) => st.error = Some(m),
                Some(SessionEvent::Exit(0)) => return None,
                Some(SessionEvent::Exit(code)) => {
                    st.done = true;
                    let why = st
                        .error
                        .take()
                        .unwrap_or_else(|| format!("exit code {code}"));
                    let err = ApiError::Internal(format!(
                        "copying from container {} failed: {why}",
                        st.name
                    ));
                    return Some((Err(err), st));
                }
                None => {
                    st.done = true;
                    let err = ApiError::Internal(format!(
                        "agent connection of container {} closed during the copy",
                        st.name
                    ));
                    return Some((Err(err), st));
                }
            }
        }
    }))
}

/// `Backend::container_archive_put`: extracts the caller's tar into the
/// existing directory `path`; returns once the agent has extracted it.
pub async fn put(backend: &AcaBackend, id: &str, path: &str, mut tar: ByteStream) -> Result<()> {
    let (link, name, path) = match target(backend, id, path).await? {
        Target::Live(link, name, path) => (link, name, path),
        Target::Kept(id, name, path, _) => {
            return crate::binds::files::put(backend, &id, &name, &path, tar).await;
        }
    };
    let mut session = link
        .put_archive(&path)
        .await
        .map_err(|e| map_error(Op::Write, e, &path, &name))?;
    let input = session.input();
    // Written while the session is read: an agent that fails early (an
    // escaping entry) stops granting stdin credit, and its error must win.
    // A failed write also closes stdin, so the agent always finishes.
    let write = async {
        let mut failed = None;
        while let Some(chunk) = tar.next().await {
            let written = match chunk {
                Ok(data) => input
                    .write(&data)
                    .await
                    .map_err(|e| map_error(Op::Write, e, &path, &name)),
                Err(e) => Err(e),
            };
            if let Err(e) = written {
                failed = Some(e);
                break;
            }
        }
        let closed = input.close();
        match failed {
            Some(e) => Err(e),
            None => closed.map_err(|e| map_error(Op::Write, e, &path, &name)),
        }
    };
    let finish = session.finish();
    tokio::pin!(write, finish);
    let (written, finished) = tokio::select! {
        written = &mut write => (written, finish.await),
        finished = &mut finish => (Ok(()), finished),
    };
    match finished {
        Err(e) => Err(map_error(Op::Write, e, &path, &name)),
        Ok(_) if written.is_err() => written,
        Ok(0) => Ok(()),
        Ok(code) => Err(ApiError::Internal(format!(
            "extracting into {path} in container {name} failed with exit code {code}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "web";

    #[test]
    fn missing_paths_are_404_with_dockers_message() {
        let e = map_error(
            Op::Read,
            PeerError::Agent("stat /nope: No such file or directory (os error 2)".into()),
            "/nope",
            NAME,
        );
        assert!(
            matches!(e, ApiError::NotFound(ref m) if m == "Could not find the file /nope in container web"),
            "{e:?}"
        );
        let e = map_error(
            Op::Write,
            PeerError::Agent("extraction point /x: No such file or directory (os error 2)".into()),
            "/x",
            NAME,
        );
        assert!(matches!(e, ApiError::NotFound(_)), "{e:?}");
        let e = map_error(
            Op::Read,
            PeerError::Agent("stat /f/x: Not a directory (os error 20)".into()),
            "/f/x",
            NAME,
        );
        assert!(matches!(e, ApiError::NotFound(_)), "{e:?}");
    }

    #[test]
    fn bad_tars_and_escapes_are_400() {
        for m in [
            "archive entry ../x escapes the target directory",
            "reading archive: unexpected EOF",
            "extraction point /etc/passwd is not a directory",
            // Missing inside the tar's own tree is not the path missing.
            "extracting a/b: No such file or directory (os error 2)",
        ] {
            let e = map_error(Op::Write, PeerError::Agent(m.into()), "/x", NAME);
            assert!(
                matches!(e, ApiError::InvalidParameter(ref got) if got == m),
                "{e:?}"
            );
        }
    }

    #[test]
    fn other_failures_are_500() {
        let e = map_error(Op::Read, PeerError::Closed, "/x", NAME);
        assert!(matches!(e, ApiError::Internal(_)), "{e:?}");
        let e = map_error(
            Op::Read,
            PeerError::Agent("archive: permission denied".into()),
            "/x",
            NAME,
        );
        assert!(matches!(e, ApiError::Internal(_)), "{e:?}");
        assert!(matches!(not_running(NAME), ApiError::Conflict(ref m)
            if m == "container web is not running: sockerless can copy files only while the container runs"));
    }

    #[test]
    fn relative_paths_start_at_the_working_directory() {
        assert_eq!(absolute("/a", Some("/w")).expect("abs"), "/a");
        assert_eq!(absolute("a/b", Some("/w/")).expect("abs"), "/w/a/b");
        assert_eq!(absolute("a", None).expect("abs"), "/a");
        assert_eq!(absolute("a", Some("")).expect("abs"), "/a");
        assert!(absolute("", None).is_err());
    }
}
