//! Sync back: makes a host path mirror the tar of a bind's target that the
//! agent sent (ARCHIVE_GET: every entry under the target's base name).
//!
//! Safety rules, whatever the tar holds (the container is not trusted):
//! - an entry whose path has `..`, is absolute, or names another base
//!   fails the whole sync, before anything is deleted;
//! - nothing is ever followed: a symlink is recreated as a symlink with the
//!   same target text; files are written to a fresh temporary file and
//!   renamed over the old entry (a rename replaces a symlink, never writes
//!   through it); an entry under a parent that is not a real directory on
//!   the host fails the sync;
//! - hard links only to a regular file already written inside the bind;
//!   devices, FIFOs and sockets are skipped;
//! - modes are kept without setuid, setgid and sticky bits; ownership is
//!   the daemon's;
//! - deletions (what is on the host but not in the tar) are applied only
//!   after the whole tar was read without error.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use tar::EntryType;

/// What a sync did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Files, links and directories written.
    pub written: u64,
    /// Entries unchanged (same size and modification time).
    pub unchanged: u64,
    /// Entries deleted from the host.
    pub removed: u64,
    /// Bytes of file content written.
    pub bytes: u64,
    /// Entries left out (devices, FIFOs, sockets, odd hard links).
    pub skipped: Vec<String>,
}

/// Why a sync failed (nothing is deleted then).
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// The tar has an entry that would land outside the bind.
    #[error("archive entry {0:?} escapes the bind")]
    Escape(String),
    /// The target is no longer a directory in the container (or the tar
    /// does not start with it).
    #[error("the target is no longer a directory in the container")]
    NotADirectory,
    /// More content than allowed.
    #[error("more than {0} bytes of files")]
    TooLarge(u64),
    /// Reading the tar or writing the host failed.
    #[error("{0}")]
    Io(String),
}

fn io(what: &str, path: &Path, e: std::io::Error) -> MirrorError {
    MirrorError::Io(format!("{what} {}: {e}", path.display()))
}

/// The path of an entry relative to the bind: its first component (the
/// target's base name) dropped; refused when it could leave the bind.
fn relative(raw: &Path) -> Result<PathBuf, MirrorError> {
    let escape = || MirrorError::Escape(raw.display().to_string());
    let mut parts = raw.components().filter(|c| !matches!(c, Component::CurDir));
    match parts.next() {
        Some(Component::Normal(_)) => {}
        _ => return Err(escape()),
    }
    let mut rel = PathBuf::new();
    for c in parts {
        match c {
            Component::Normal(n) => rel.push(n),
            _ => return Err(escape()),
        }
    }
    Ok(rel)
}

/// Removes whatever is at `path` (a directory with its content), never following links.
fn remove_any(path: &Path) -> std::io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Checks that every parent of `rel` below `root` is a real directory.
fn parents_are_dirs(root: &Path, rel: &Path) -> Result<(), MirrorError> {
    let mut at = root.to_path_buf();
    let parents: Vec<_> = rel
        .parent()
        .map(|p| p.components().collect())
        .unwrap_or_default();
    for c in parents {
        at.push(c);
        match fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(MirrorError::Escape(format!(
                    "{} (under a non-directory)",
                    rel.display()
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::create_dir(&at).map_err(|e| io("create", &at, e))?;
            }
            Err(e) => return Err(io("stat", &at, e)),
        }
    }
    Ok(())
}

fn safe_mode(mode: u32) -> u32 {
    mode & 0o777
}

fn mtime_of(header: &tar::Header) -> u64 {
    header.mtime().unwrap_or(0)
}

/// Writes a regular file's content to `dst` through a temporary file renamed over it.
fn write_file(
    entry: &mut impl Read,
    dst: &Path,
    mode: u32,
    mtime: u64,
) -> Result<u64, MirrorError> {
    let dir = dst.parent().unwrap_or(Path::new("/"));
    let name = dst
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.sockerless-sync.{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc_nofollow())
        .open(&tmp)
        .map_err(|e| io("create", &tmp, e))?;
    let copied = std::io::copy(entry, &mut file);
    let done = copied.map_err(|e| io("write", &tmp, e)).and_then(|n| {
        file.set_permissions(fs::Permissions::from_mode(safe_mode(mode)))
            .map_err(|e| io("chmod", &tmp, e))?;
        let when = UNIX_EPOCH + Duration::from_secs(mtime);
        file.set_times(fs::FileTimes::new().set_modified(when))
            .map_err(|e| io("set times of", &tmp, e))?;
        Ok(n)
    });
    drop(file);
    let n = match done {
        Ok(n) => n,
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
    };
    if fs::symlink_metadata(dst).is_ok_and(|m| m.is_dir()) {
        fs::remove_dir_all(dst).map_err(|e| io("remove", dst, e))?;
    }
    fs::rename(&tmp, dst).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io("rename into", dst, e)
    })?;
    Ok(n)
}

/// `O_NOFOLLOW`: a file is never opened through a link.
fn libc_nofollow() -> i32 {
    libc::O_NOFOLLOW
}

fn unchanged(dst: &Path, header: &tar::Header) -> bool {
    match fs::symlink_metadata(dst) {
        Ok(m) => {
            m.is_file()
                && header.size().is_ok_and(|s| s == m.len())
                && u64::try_from(m.mtime()).is_ok_and(|t| t == mtime_of(header))
                && m.mode() & 0o777 == safe_mode(header.mode().unwrap_or(0o644))
        }
        Err(_) => false,
    }
}

fn read_error(e: std::io::Error) -> MirrorError {
    MirrorError::Io(format!("reading archive: {e}"))
}

/// A tar entry's path as written (for messages) and as a path under the
/// bind (escapes refused).
fn entry_path<R: Read>(entry: &tar::Entry<'_, R>) -> Result<(String, PathBuf), MirrorError> {
    let raw = entry.path().map_err(entry_error)?;
    Ok((raw.display().to_string(), relative(&raw)?))
}

/// A link entry's target as written (empty when it has none).
fn link_name<R: Read>(entry: &tar::Entry<'_, R>) -> Result<PathBuf, MirrorError> {
    Ok(entry
        .link_name()
        .map_err(entry_error)?
        .unwrap_or_default()
        .into_owned())
}

fn entry_error(e: std::io::Error) -> MirrorError {
    MirrorError::Io(format!("archive entry: {e}"))
}

/// Mirrors a directory bind: `root` (an existing host directory) ends up
/// holding exactly the tar's tree. `max_bytes` bounds the content written.
pub fn mirror_dir(input: impl Read, root: &Path, max_bytes: u64) -> Result<Stats, MirrorError> {
    let mut stats = Stats::default();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    let mut root_seen = false;
    let mut archive = tar::Archive::new(input);
    for entry in archive.entries().map_err(read_error)? {
        let mut entry = entry.map_err(read_error)?;
        let (_, rel) = entry_path(&entry)?;
        if rel.as_os_str().is_empty() {
            // The bind's own directory: replaced by something else (a link),
            // it would empty the host path.
            if entry.header().entry_type() != EntryType::Directory {
                return Err(MirrorError::NotADirectory);
            }
            root_seen = true;
            continue;
        }
        if !root_seen {
            return Err(MirrorError::NotADirectory);
        }
        let mut anc = rel.clone();
        while anc.pop() && !anc.as_os_str().is_empty() {
            seen.insert(anc.clone());
        }
        seen.insert(rel.clone());
        parents_are_dirs(root, &rel)?;
        let dst = root.join(&rel);
        let header = entry.header().clone();
        let mode = header.mode().unwrap_or(0o644);
        match header.entry_type() {
            EntryType::Directory => match fs::symlink_metadata(&dst) {
                Ok(m) if m.is_dir() => {}
                _ => {
                    remove_any(&dst).map_err(|e| io("remove", &dst, e))?;
                    fs::create_dir(&dst).map_err(|e| io("create", &dst, e))?;
                    let perms = fs::Permissions::from_mode(safe_mode(mode) | 0o700);
                    fs::set_permissions(&dst, perms).map_err(|e| io("chmod", &dst, e))?;
                    stats.written += 1;
                }
            },
            EntryType::Regular | EntryType::Continuous => {
                if unchanged(&dst, &header) {
                    stats.unchanged += 1;
                    continue;
                }
                let size = header.size().unwrap_or(0);
                if stats.bytes + size > max_bytes {
                    return Err(MirrorError::TooLarge(max_bytes));
                }
                stats.bytes += write_file(&mut entry, &dst, mode, mtime_of(&header))?;
                stats.written += 1;
            }
            EntryType::Symlink => {
                let target = link_name(&entry)?;
                if fs::read_link(&dst).is_ok_and(|t| t == target) {
                    stats.unchanged += 1;
                    continue;
                }
                remove_any(&dst).map_err(|e| io("remove", &dst, e))?;
                std::os::unix::fs::symlink(&target, &dst).map_err(|e| io("symlink", &dst, e))?;
                stats.written += 1;
            }
            EntryType::Link => {
                let name = link_name(&entry)?;
                let src = root.join(relative(&name)?);
                if !fs::symlink_metadata(&src).is_ok_and(|m| m.is_file()) {
                    stats.skipped.push(rel.display().to_string());
                    continue;
                }
                remove_any(&dst).map_err(|e| io("remove", &dst, e))?;
                fs::hard_link(&src, &dst).map_err(|e| io("link", &dst, e))?;
                stats.written += 1;
            }
            _ => {
                // Keep what the host has at that path; do not delete it either.
                stats.skipped.push(rel.display().to_string());
            }
        }
    }
    if !root_seen {
        return Err(MirrorError::NotADirectory);
    }
    stats.removed = remove_unseen(root, Path::new(""), &seen)?;
    Ok(stats)
}

/// Deletes what is under `root/rel` but not in `seen`; returns how many entries.
fn remove_unseen(root: &Path, rel: &Path, seen: &HashSet<PathBuf>) -> Result<u64, MirrorError> {
    let dir = root.join(rel);
    let mut removed = 0;
    let listing = fs::read_dir(&dir).map_err(|e| io("list", &dir, e))?;
    for item in listing {
        let item = item.map_err(|e| io("list", &dir, e))?;
        let child = rel.join(item.file_name());
        let path = root.join(&child);
        if !seen.contains(&child) {
            remove_any(&path).map_err(|e| io("remove", &path, e))?;
            removed += 1;
        } else if fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
            removed += remove_unseen(root, &child, seen)?;
        }
    }
    Ok(removed)
}

/// Mirrors a single-file bind: the tar's one regular file is written over
/// `dst` in place (the host file keeps its inode, as with a real bind).
/// Anything else (the container replaced the file with a link or a
/// directory) is skipped.
pub fn mirror_file(input: impl Read, dst: &Path, max_bytes: u64) -> Result<Stats, MirrorError> {
    let mut stats = Stats::default();
    let mut archive = tar::Archive::new(input);
    for entry in archive.entries().map_err(read_error)? {
        let mut entry = entry.map_err(read_error)?;
        let (raw, rel) = entry_path(&entry)?;
        if !rel.as_os_str().is_empty() {
            return Err(MirrorError::Escape(raw));
        }
        if !matches!(
            entry.header().entry_type(),
            EntryType::Regular | EntryType::Continuous
        ) {
            stats.skipped.push(raw);
            continue;
        }
        if entry.header().size().unwrap_or(0) > max_bytes {
            return Err(MirrorError::TooLarge(max_bytes));
        }
        let mut file: File = OpenOptions::new()
            .write(true)
            .truncate(true)
            .custom_flags(libc_nofollow())
            .open(dst)
            .map_err(|e| io("open", dst, e))?;
        stats.bytes += std::io::copy(&mut entry, &mut file).map_err(|e| io("write", dst, e))?;
        stats.written += 1;
    }
    Ok(stats)
}

#[cfg(test)]
mod tests;
