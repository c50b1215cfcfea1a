//! `docker cp` support: stat a path, stream a path out as tar, extract a tar
//! into a directory while refusing entries that would land outside it.

use std::fs::File;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path};
use std::sync::Arc;

use crate::exec::{pump, spawn_stdin_writer};
use crate::hub::Hub;
use crate::process;
use crate::protocol::{Frame, OutputStream, PathStat};
use crate::timefmt;

const GO_MODE_DIR: u32 = 1 << 31;
const GO_MODE_SYMLINK: u32 = 1 << 27;
const GO_MODE_DEVICE: u32 = 1 << 26;
const GO_MODE_PIPE: u32 = 1 << 25;
const GO_MODE_SOCKET: u32 = 1 << 24;
const GO_MODE_SETUID: u32 = 1 << 23;
const GO_MODE_SETGID: u32 = 1 << 22;
const GO_MODE_CHARDEV: u32 = 1 << 21;
const GO_MODE_STICKY: u32 = 1 << 20;

/// Converts a Unix `st_mode` to Go's `os.FileMode`, which Docker's PathStat carries.
pub(crate) fn go_file_mode(mode: u32) -> u32 {
    let mut m = mode & 0o777;
    m |= match mode & libc::S_IFMT {
        libc::S_IFDIR => GO_MODE_DIR,
        libc::S_IFLNK => GO_MODE_SYMLINK,
        libc::S_IFIFO => GO_MODE_PIPE,
        libc::S_IFSOCK => GO_MODE_SOCKET,
        libc::S_IFBLK => GO_MODE_DEVICE,
        libc::S_IFCHR => GO_MODE_DEVICE | GO_MODE_CHARDEV,
        _ => 0,
    };
    if mode & libc::S_ISUID != 0 {
        m |= GO_MODE_SETUID;
    }
    if mode & libc::S_ISGID != 0 {
        m |= GO_MODE_SETGID;
    }
    if mode & libc::S_ISVTX != 0 {
        m |= GO_MODE_STICKY;
    }
    m
}

/// Docker's PathStat of `path` (not following a final symlink).
pub(crate) fn stat(path: &str) -> Result<PathStat, String> {
    let p = Path::new(path);
    let meta = std::fs::symlink_metadata(p).map_err(|e| format!("stat {path}: {e}"))?;
    let link_target = if meta.file_type().is_symlink() {
        std::fs::read_link(p)
            .map(|t| t.to_string_lossy().into_owned())
            .unwrap_or_default()
    } else {
        String::new()
    };
    Ok(PathStat {
        name: p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "/".into()),
        size: meta.len() as i64,
        mode: go_file_mode(meta.permissions().mode()),
        mtime: timefmt::rfc3339(meta.mtime(), meta.mtime_nsec() as u32),
        link_target,
    })
}

fn build_tar(path: &Path, out: File) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| ".".into());
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_dir() {
        builder.append_dir_all(&name, path)?;
    } else {
        builder.append_path_with_name(path, &name)?;
    }
    builder.into_inner()?;
    Ok(())
}

fn escapes(p: &Path) -> bool {
    p.components().any(|c| matches!(c, Component::ParentDir))
}

/// Extracts a tar stream into `dst`, failing on the first entry that would escape it.
pub(crate) fn extract(input: impl std::io::Read, dst: &Path) -> Result<(), String> {
    let mut archive = tar::Archive::new(input);
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    let entries = archive
        .entries()
        .map_err(|e| format!("reading archive: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("reading archive: {e}"))?;
        let path = entry
            .path()
            .map_err(|e| format!("archive entry: {e}"))?
            .into_owned();
        if escapes(&path) {
            return Err(format!(
                "archive entry {} escapes the target directory",
                path.display()
            ));
        }
        let link = entry
            .link_name()
            .map_err(|e| format!("archive entry: {e}"))?;
        let hard_link = entry.header().entry_type().is_hard_link();
        if let Some(link) = link.filter(|l| hard_link && escapes(l)) {
            return Err(format!(
                "archive link {} escapes the target directory",
                link.display()
            ));
        }
        // unpack_in also refuses entries written through a symlink leading outside dst.
        match entry.unpack_in(dst) {
            Ok(true) => {}
            Ok(false) => {
                return Err(format!(
                    "archive entry {} escapes the target directory",
                    path.display()
                ));
            }
            Err(e) => return Err(format!("extracting {}: {e}", path.display())),
        }
    }
    Ok(())
}

/// Answers an archive-get: PathStat, then the tar on the session's stdout, then exit 0.
pub(crate) fn get(hub: &Arc<Hub>, id: u32, path: String) -> Result<(), String> {
    let st = stat(&path)?;
    hub.register(id, true)?;
    hub.push_control(Frame::PathStat {
        session: id,
        stat: st,
    });
    let (reader, write_end) = match process::async_pipe_reader() {
        Ok(p) => p,
        Err(e) => {
            hub.remove(id);
            return Err(format!("pipe: {e}"));
        }
    };
    hub.finish_stream(id, OutputStream::Stderr);
    let pump = tokio::spawn(pump(hub.clone(), id, OutputStream::Stdout, reader));
    let hub = hub.clone();
    tokio::spawn(async move {
        let built =
            tokio::task::spawn_blocking(move || build_tar(Path::new(&path), File::from(write_end)))
                .await;
        let _ = pump.await;
        match built {
            Ok(Ok(())) => hub.set_exit(id, 0),
            Ok(Err(e)) => finish_err(&hub, id, format!("archive: {e}")),
            Err(e) => finish_err(&hub, id, format!("archive: {e}")),
        }
    });
    Ok(())
}

/// Answers an archive-put: the tar arrives as the session's stdin; exit 0 when extracted.
pub(crate) fn put(hub: &Arc<Hub>, id: u32, path: String) -> Result<(), String> {
    let dst = Path::new(&path).to_path_buf();
    match std::fs::metadata(&dst) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(format!("extraction point {path} is not a directory")),
        Err(e) => return Err(format!("extraction point {path}: {e}")),
    }
    let (read_end, writer) = process::async_pipe_writer().map_err(|e| format!("pipe: {e}"))?;
    hub.register(id, true)?;
    let tx = spawn_stdin_writer(hub.clone(), id, writer);
    hub.set_process(id, None, None, Some(tx));
    hub.push_control(Frame::Started {
        session: id,
        pid: 0,
    });
    hub.finish_stream(id, OutputStream::Stdout);
    hub.finish_stream(id, OutputStream::Stderr);
    let hub = hub.clone();
    tokio::spawn(async move {
        let done = tokio::task::spawn_blocking(move || extract(File::from(read_end), &dst)).await;
        match done {
            Ok(Ok(())) => hub.set_exit(id, 0),
            Ok(Err(msg)) => finish_err(&hub, id, msg),
            Err(e) => finish_err(&hub, id, format!("archive: {e}")),
        }
    });
    Ok(())
}

fn finish_err(hub: &Hub, id: u32, message: String) {
    hub.push_control(Frame::Error {
        session: id,
        message,
    });
    hub.set_exit(id, 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_modes() {
        assert_eq!(go_file_mode(libc::S_IFDIR | 0o755), GO_MODE_DIR | 0o755);
        assert_eq!(go_file_mode(libc::S_IFREG | 0o644), 0o644);
        assert_eq!(go_file_mode(libc::S_IFLNK | 0o777), GO_MODE_SYMLINK | 0o777);
        assert_eq!(
            go_file_mode(libc::S_IFREG | libc::S_ISUID | 0o755),
            GO_MODE_SETUID | 0o755
        );
    }

    #[test]
    fn rejects_parent_components() {
        assert!(escapes(Path::new("../x")));
        assert!(escapes(Path::new("a/../../x")));
        assert!(!escapes(Path::new("a/b")));
    }
}
