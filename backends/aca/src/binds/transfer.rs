//! Moving bytes between the daemon host and the agent: a tar built on the
//! host streamed into ARCHIVE_PUT, and an ARCHIVE_GET tar streamed into a
//! blocking consumer (the mirror).

use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use sockerless_agent::peer::{OutputStream, PeerError, PutOptions, Session, SessionEvent};
use tokio::sync::mpsc;

use super::pipe;
use crate::agent_link::pump::AgentLink;

/// Sum of the sizes of regular files under `path` (links not followed);
/// stops counting past `limit`.
pub fn tree_size(path: &Path, limit: u64) -> std::io::Result<u64> {
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.is_dir() {
        return Ok(if meta.is_file() { meta.len() } else { 0 });
    }
    let mut total = 0u64;
    let mut stack: Vec<PathBuf> = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for item in std::fs::read_dir(&dir)? {
            let item = item?;
            let m = item.metadata()?; // DirEntry::metadata does not follow links
            if m.is_dir() {
                stack.push(item.path());
            } else if m.is_file() {
                total += m.len();
                if total > limit {
                    return Ok(total);
                }
            }
        }
    }
    Ok(total)
}

/// Builds the tar of `host` (a directory, as `.`, or one file, as `name`):
/// links stored as links.
fn build(host: &Path, name: &str, out: pipe::ChunkWriter) -> std::io::Result<()> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    let meta = std::fs::symlink_metadata(host)?;
    if meta.is_dir() {
        builder.append_dir_all(name, host)?;
    } else {
        builder.append_path_with_name(host, name)?;
    }
    let mut out = builder.into_inner()?;
    std::io::Write::flush(&mut out)
}

/// Writes the chunks of `rx` into an ARCHIVE_PUT of `/` and waits for the
/// agent's answer. `produced` resolves with the producer's result.
async fn put_stream(
    link: &AgentLink,
    dir: &str,
    options: PutOptions,
    mut rx: mpsc::Receiver<bytes::Bytes>,
    produced: impl std::future::Future<Output = Result<(), String>>,
) -> Result<(), String> {
    let mut session = link
        .put_archive_with(dir, options)
        .await
        .map_err(|e| format!("agent: {e}"))?;
    let input = session.input();
    let write = async {
        let mut failed = None;
        while let Some(chunk) = rx.recv().await {
            if let Err(e) = input.write(&chunk).await {
                failed = Some(format!("agent: {e}"));
                break;
            }
        }
        rx.close();
        let _ = input.close();
        failed
    };
    let finish = session.finish();
    let (written, produced, finished) = tokio::join!(write, produced, finish);
    // The agent's own error explains a broken pipe on our side.
    match finished {
        Ok(0) => {}
        Ok(code) => return Err(format!("extraction failed with exit code {code}")),
        Err(e) => return Err(format!("extraction failed: {e}")),
    }
    produced?;
    written.map_or(Ok(()), Err)
}

/// Copies `host` into the container at `target` (created with its parents
/// when missing; a directory's former content is removed first, as a bind
/// hides it). Fails past `limit` bytes of tar.
pub async fn copy_in(
    link: &AgentLink,
    host: &Path,
    target: &str,
    limit: u64,
) -> Result<(), String> {
    let target = Path::new(target);
    let (dir, name, options) = if host.is_dir() {
        let options = PutOptions {
            create: true,
            clear: true,
            owners: true,
            whiteouts: false,
        };
        (target.to_path_buf(), ".".to_owned(), options)
    } else {
        let (Some(parent), Some(name)) = (target.parent(), target.file_name()) else {
            return Err("the target cannot be /".into());
        };
        let options = PutOptions {
            create: true,
            clear: false,
            owners: true,
            whiteouts: false,
        };
        (
            parent.to_path_buf(),
            name.to_string_lossy().into_owned(),
            options,
        )
    };
    let dir = dir.to_string_lossy().into_owned();
    let (writer, rx) = pipe::writer(limit);
    let host = host.to_path_buf();
    let producer = tokio::task::spawn_blocking(move || build(&host, &name, writer));
    let produced = async move {
        match producer.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) if e.get_ref().is_some_and(|i| i.is::<pipe::TooLarge>()) => {
                Err(format!("larger than {limit} bytes (bind_max_bytes)"))
            }
            Ok(Err(e)) => Err(format!("reading the host path: {e}")),
            Err(e) => Err(format!("reading the host path: {e}")),
        }
    };
    put_stream(link, &dir, options, rx, produced).await
}

/// Streams a stored tar file (entries relative to `/`) into the container.
pub async fn put_file(link: &AgentLink, file: &Path) -> Result<(), String> {
    put_file_with(link, file, PutOptions::default()).await
}

/// [`put_file`] with extraction options (owners, whiteouts).
pub async fn put_file_with(
    link: &AgentLink,
    file: &Path,
    options: PutOptions,
) -> Result<(), String> {
    use tokio::io::AsyncReadExt;
    let mut f = tokio::fs::File::open(file)
        .await
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let (tx, rx) = mpsc::channel(8);
    let produced = async move {
        loop {
            let mut buf = vec![0u8; 256 * 1024];
            let n = f
                .read(&mut buf)
                .await
                .map_err(|e| format!("reading stored files: {e}"))?;
            if n == 0 {
                return Ok(());
            }
            buf.truncate(n);
            if tx.send(bytes::Bytes::from(buf)).await.is_err() {
                return Ok(());
            }
        }
    };
    put_stream(link, "/", options, rx, produced).await
}

/// Feeds the stdout of an ARCHIVE_GET session into `tx` until its exit; an
/// error or a non-zero exit is sent as an `Err` chunk, so the consumer fails.
pub async fn pump_tar(mut session: Session, tx: pipe::ChunkSender) {
    let mut error = None;
    loop {
        let failure = match session.recv().await {
            Some(SessionEvent::Output {
                stream: OutputStream::Stdout,
                data,
                ..
            }) => {
                if tx.send(pipe::Chunk::Data(data)).await.is_err() {
                    return; // the consumer stopped (and reports why)
                }
                continue;
            }
            Some(SessionEvent::Output { .. }) => continue,
            Some(SessionEvent::Error(m)) => {
                error = Some(m);
                continue;
            }
            Some(SessionEvent::Exit(0)) => {
                let _ = tx.send(pipe::Chunk::End).await;
                return;
            }
            Some(SessionEvent::Exit(code)) => error
                .take()
                .unwrap_or_else(|| format!("archive exit code {code}")),
            None => PeerError::Closed.to_string(),
        };
        let _ = tx.send(pipe::Chunk::Fail(failure)).await;
        return;
    }
}

/// Re-emits a tar with every entry (and hard-link target) under `prefix`.
pub fn prefixed(
    input: impl std::io::Read,
    prefix: &Path,
    out: impl std::io::Write,
) -> Result<(), String> {
    let mut archive = tar::Archive::new(input);
    let mut builder = tar::Builder::new(out);
    let entries = archive
        .entries()
        .map_err(|e| format!("reading archive: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("reading archive: {e}"))?;
        let path = entry
            .path()
            .map_err(|e| format!("archive entry: {e}"))?
            .into_owned();
        if path.components().any(|c| {
            !matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        }) {
            return Err(format!(
                "archive entry {} escapes the target directory",
                path.display()
            ));
        }
        let mut header = entry.header().clone();
        let name = prefix.join(&path);
        let kind = header.entry_type();
        let written = if kind.is_hard_link() {
            let link = entry
                .link_name()
                .map_err(|e| format!("archive entry: {e}"))?
                .unwrap_or_default()
                .into_owned();
            if link
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
            {
                return Err(format!(
                    "archive link {} escapes the target directory",
                    link.display()
                ));
            }
            builder.append_link(&mut header, &name, prefix.join(link))
        } else if kind.is_symlink() {
            let link = entry
                .link_name()
                .map_err(|e| format!("archive entry: {e}"))?
                .unwrap_or_default()
                .into_owned();
            builder.append_link(&mut header, &name, link)
        } else if kind.is_pax_global_extensions()
            || kind.is_pax_local_extensions()
            || kind.is_gnu_longname()
            || kind.is_gnu_longlink()
        {
            continue;
        } else {
            builder.append_data(&mut header, &name, &mut entry)
        };
        written.map_err(|e| format!("archive entry {}: {e}", path.display()))?;
    }
    builder
        .into_inner()
        .map(|_| ())
        .map_err(|e| format!("writing archive: {e}"))
}

/// A `ByteStream` of chunks received from a blocking producer.
pub fn byte_stream(rx: mpsc::Receiver<bytes::Bytes>) -> sockerless_api::ByteStream {
    Box::pin(
        futures_util::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|b| (Ok(b), rx)) },
        )
        .fuse(),
    )
}
