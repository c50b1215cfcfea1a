//! `docker cp` support: stat a path, stream a path out as tar, extract a tar
//! into a directory while refusing entries that would land outside it.

use std::fs::File;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path};
use std::sync::Arc;

use crate::exec::{pump, spawn_stdin_writer};
use crate::hub::Hub;
use crate::process;
use crate::protocol::{Frame, OutputStream, PathStat, PutOptions};
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

/// Gives `dst` the mode and owner of the tar's `.` entry.
fn apply_root(dst: &Path, header: &tar::Header) -> Result<(), String> {
    let mode = header.mode().map_err(|e| format!("archive entry .: {e}"))?;
    std::fs::set_permissions(dst, std::fs::Permissions::from_mode(mode & 0o7777))
        .map_err(|e| format!("chmod {}: {e}", dst.display()))?;
    let (uid, gid) = (header.uid().unwrap_or(0), header.gid().unwrap_or(0));
    std::os::unix::fs::lchown(dst, u32::try_from(uid).ok(), u32::try_from(gid).ok())
        .map_err(|e| format!("chown {}: {e}", dst.display()))
}

/// Extracts a tar stream into `dst`, failing on the first entry that would escape it.
pub(crate) fn extract(
    input: impl std::io::Read,
    dst: &Path,
    options: PutOptions,
) -> Result<(), String> {
    let mut archive = tar::Archive::new(input);
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    archive.set_preserve_ownerships(options.owners);
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
        let is_root = path.components().all(|c| matches!(c, Component::CurDir));
        if is_root && options.owners && entry.header().entry_type().is_dir() {
            apply_root(dst, entry.header())?;
            continue;
        }
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
        if options.whiteouts && apply_whiteout(dst, &path)? {
            continue;
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

/// A whiteout entry (`dir/.wh.name`, OCI layers) removes `dir/name`
/// instead of being written; true when `path` was one. Never follows a
/// symlink out of `dst` (the parent is resolved inside it).
fn apply_whiteout(dst: &Path, path: &Path) -> Result<bool, String> {
    let Some(victim) = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix(crate::changes::WHITEOUT))
    else {
        return Ok(false);
    };
    if victim.is_empty() || victim == "." || victim == ".." || victim.starts_with(".wh.") {
        return Err(format!("archive entry {}: bad whiteout", path.display()));
    }
    let parent = path.parent().unwrap_or(Path::new(""));
    let target = dst.join(parent).join(victim);
    // The parent, resolved, must still be inside dst.
    let resolved_parent = match dst.join(parent).canonicalize() {
        Ok(p) => p,
        Err(_) => return Ok(true), // nothing there to remove
    };
    let root = dst
        .canonicalize()
        .map_err(|e| format!("{}: {e}", dst.display()))?;
    if !resolved_parent.starts_with(&root) {
        return Err(format!(
            "archive entry {} escapes the target directory",
            path.display()
        ));
    }
    let target = resolved_parent.join(target.file_name().unwrap_or_default());
    let removed = match std::fs::symlink_metadata(&target) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(&target),
        Ok(_) => std::fs::remove_file(&target),
        Err(_) => Ok(()),
    };
    removed.map_err(|e| format!("removing {}: {e}", target.display()))?;
    Ok(true)
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

/// Removes everything inside `dir` (not `dir` itself), never following
/// links and never entering another filesystem: a mount point below `dir`
/// (a volume, the replica's hosts file) and what it holds stay.
pub(crate) fn clear_dir(dir: &Path) -> std::io::Result<()> {
    let dev = std::fs::symlink_metadata(dir)?.dev();
    clear_on(dir, dev)
}

fn clear_on(dir: &Path, dev: u64) -> std::io::Result<()> {
    for item in std::fs::read_dir(dir)? {
        let item = item?;
        let meta = item.metadata()?;
        if meta.dev() != dev {
            continue;
        }
        if meta.is_dir() {
            clear_on(&item.path(), dev)?;
            match std::fs::remove_dir(item.path()) {
                // Not empty: it holds a mount point, which stays.
                Err(e) if e.raw_os_error() == Some(libc::ENOTEMPTY) => {}
                other => other?,
            }
        } else {
            std::fs::remove_file(item.path())?;
        }
    }
    Ok(())
}

/// Answers an archive-put: the tar arrives as the session's stdin; exit 0 when extracted.
pub(crate) fn put(
    hub: &Arc<Hub>,
    id: u32,
    path: String,
    options: PutOptions,
) -> Result<(), String> {
    let dst = Path::new(&path).to_path_buf();
    if options.create {
        std::fs::create_dir_all(&dst).map_err(|e| format!("extraction point {path}: {e}"))?;
    }
    if options.clear && std::fs::symlink_metadata(&dst).is_ok_and(|m| m.is_dir()) {
        clear_dir(&dst).map_err(|e| format!("clearing {path}: {e}"))?;
    }
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
        let done =
            tokio::task::spawn_blocking(move || extract(File::from(read_end), &dst, options)).await;
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
    fn clear_dir_empties_without_following_links() {
        let dir = tempfile::tempdir().expect("tmp");
        let outside = tempfile::tempdir().expect("outside");
        std::fs::write(outside.path().join("keep"), "k").expect("keep");
        let d = dir.path();
        std::fs::create_dir_all(d.join("a/b")).expect("dirs");
        std::fs::write(d.join("a/b/f"), "f").expect("f");
        std::fs::write(d.join("top"), "t").expect("top");
        std::os::unix::fs::symlink(outside.path(), d.join("link")).expect("link");
        clear_dir(d).expect("clear");
        assert_eq!(std::fs::read_dir(d).expect("list").count(), 0);
        assert!(outside.path().join("keep").exists(), "followed a link");
    }

    #[test]
    fn rejects_parent_components() {
        assert!(escapes(Path::new("../x")));
        assert!(escapes(Path::new("a/../../x")));
        assert!(!escapes(Path::new("a/b")));
    }
}
