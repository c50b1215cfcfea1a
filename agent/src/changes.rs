//! The container's changes against its image, so they outlive the replica
//! (issue 11): a [`Baseline`] of the root filesystem is taken when the
//! agent starts, before anything runs or is copied in; [`write_changes`]
//! later writes what differs as an OCI-layer-style tar: files added or
//! changed, and `.wh.<name>` whiteouts for paths deleted. Extracting it
//! with whiteouts honoured (see `archive::extract`) over a fresh replica
//! of the same image gives back the filesystem the user left.
//!
//! Only the root filesystem counts: other mounts (volumes, /proc, the
//! replica's hosts file) are never entered, and paths given as `skip`
//! (the agent's own directory, bind targets, which sync elsewhere) are
//! left out. Sizes are bounded: entries walked and bytes recorded.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::hub::Hub;

/// Most paths one baseline (or one walk) holds (about 30 MiB of baseline).
pub(crate) const MAX_ENTRIES: usize = 250_000;
/// Prefix of a whiteout entry (OCI image layer format).
pub(crate) const WHITEOUT: &str = ".wh.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Meta {
    mode: u32,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    ino: u64,
    uid: u32,
    gid: u32,
}

impl Meta {
    fn of(m: &std::fs::Metadata) -> Self {
        Meta {
            mode: m.mode(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
            ino: m.ino(),
            uid: m.uid(),
            gid: m.gid(),
        }
    }

    fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }
}

/// What the root filesystem held at start (paths relative to the root).
#[derive(Debug)]
pub(crate) struct Baseline {
    root: PathBuf,
    skip: Vec<PathBuf>,
    entries: HashMap<PathBuf, Meta>,
}

/// Why no record could be written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ChangesError {
    #[error("more than {MAX_ENTRIES} paths in the root filesystem")]
    TooManyPaths,
    #[error("the changes exceed {0} bytes")]
    TooLarge(u64),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What a record holds.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Stats {
    pub changed: usize,
    pub deleted: usize,
    pub bytes: u64,
}

/// Walks `root` on its own filesystem, outside `skip`, in pre-order.
fn walk(
    root: &Path,
    skip: &[PathBuf],
    mut visit: impl FnMut(&Path, &std::fs::Metadata) -> Result<(), ChangesError>,
) -> Result<(), ChangesError> {
    let dev = std::fs::symlink_metadata(root)?.dev();
    let mut stack = vec![PathBuf::new()];
    let mut seen = 0usize;
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        let Ok(items) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut children = Vec::new();
        for item in items.flatten() {
            let rel_child = rel.join(item.file_name());
            if skip.iter().any(|s| rel_child.starts_with(s)) {
                continue;
            }
            let Ok(meta) = item.metadata() else { continue };
            if meta.dev() != dev {
                continue;
            }
            seen += 1;
            if seen > MAX_ENTRIES {
                return Err(ChangesError::TooManyPaths);
            }
            visit(&rel_child, &meta)?;
            if meta.is_dir() {
                children.push(rel_child);
            }
        }
        // Reverse so the stack pops them in directory order.
        children.sort();
        stack.extend(children.into_iter().rev());
    }
    Ok(())
}

/// `skip` paths are absolute container paths; kept relative to `root`.
fn relative(skip: &[PathBuf]) -> Vec<PathBuf> {
    skip.iter()
        .filter_map(|p| p.strip_prefix("/").ok().map(Path::to_path_buf))
        .filter(|p| !p.as_os_str().is_empty())
        .collect()
}

impl Baseline {
    /// Records what `root` holds now.
    pub(crate) fn take(root: &Path, skip: &[PathBuf]) -> Result<Self, ChangesError> {
        let skip = relative(skip);
        let mut entries = HashMap::new();
        walk(root, &skip, |rel, meta| {
            entries.insert(rel.to_path_buf(), Meta::of(meta));
            Ok(())
        })?;
        Ok(Baseline {
            root: root.to_path_buf(),
            skip,
            entries,
        })
    }
}

/// Writes the changes since `base` to `out` as a tar; at most `max_bytes`
/// of file content.
pub(crate) fn write_changes(
    base: &Baseline,
    out: impl Write,
    max_bytes: u64,
) -> Result<Stats, ChangesError> {
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    let mut stats = Stats::default();
    let mut present: HashSet<PathBuf> = HashSet::new();
    walk(&base.root, &base.skip, |rel, meta| {
        present.insert(rel.to_path_buf());
        let now = Meta::of(meta);
        let changed = match base.entries.get(rel) {
            None => true,
            // A directory's own times move when its entries do; only its
            // mode and owner are its own change.
            Some(was) if now.is_dir() && was.is_dir() => {
                (was.mode, was.uid, was.gid) != (now.mode, now.uid, now.gid)
            }
            Some(was) => *was != now,
        };
        let kind = meta.file_type();
        if !changed || !(kind.is_file() || kind.is_dir() || kind.is_symlink()) {
            return Ok(());
        }
        if kind.is_file() {
            stats.bytes += meta.len();
            if stats.bytes > max_bytes {
                return Err(ChangesError::TooLarge(max_bytes));
            }
        }
        tar.append_path_with_name(base.root.join(rel), rel)?;
        stats.changed += 1;
        Ok(())
    })?;
    let mut gone: Vec<&PathBuf> = base
        .entries
        .keys()
        .filter(|p| !present.contains(*p))
        .collect();
    gone.sort();
    let mut whited: Vec<&PathBuf> = Vec::new();
    for path in gone {
        // Under a directory already whited out: covered by it.
        if whited.last().is_some_and(|w| path.starts_with(w)) {
            continue;
        }
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            continue;
        };
        let mut name_os = std::ffi::OsString::from(WHITEOUT);
        name_os.push(name);
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(0);
        header.set_mode(0o600);
        tar.append_data(&mut header, parent.join(name_os), std::io::empty())?;
        stats.deleted += 1;
        whited.push(path);
    }
    tar.finish()?;
    Ok(stats)
}

/// Turns recording on (`1`); the backend sets it.
pub(crate) const ENV_RECORD: &str = "SOCKERLESS_RECORD_CHANGES";
/// Absolute container paths left out (JSON array): bind targets.
pub(crate) const ENV_SKIP: &str = "SOCKERLESS_CHANGES_SKIP";

/// The baseline of this replica, or why there is none.
static BASELINE: OnceLock<Result<Baseline, String>> = OnceLock::new();

/// Takes the baseline of `/` when recording is on: at start, before the
/// agent connects (nothing is copied in or run before it). The agent's
/// own directory is left out.
pub(crate) async fn take_baseline_from_env() {
    let on = std::env::var(ENV_RECORD).is_ok_and(|v| v == "1");
    if !on {
        return;
    }
    let mut skip: Vec<PathBuf> = std::env::var(ENV_SKIP)
        .ok()
        .and_then(|j| serde_json::from_str::<Vec<String>>(&j).ok())
        .unwrap_or_default()
        .into_iter()
        .map(PathBuf::from)
        .collect();
    if let Some(own) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        skip.push(own);
    }
    let started = std::time::Instant::now();
    let taken = tokio::task::spawn_blocking(move || Baseline::take(Path::new("/"), &skip))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    match &taken {
        Ok(b) => tracing::info!(
            paths = b.entries.len(),
            ms = started.elapsed().as_millis() as u64,
            "baseline of the root filesystem taken"
        ),
        Err(e) => tracing::warn!(error = %e, "no baseline: changes will not be recorded"),
    }
    let _ = BASELINE.set(taken);
}

/// A baseline is kept: CHANGES_GET can be answered (said in the hello).
pub(crate) fn recording() -> bool {
    matches!(BASELINE.get(), Some(Ok(_)))
}

/// Answers CHANGES_GET: the tar on the session's stdout, then exit 0.
pub(crate) fn serve(hub: &Arc<Hub>, id: u32, max_bytes: u64) -> Result<(), String> {
    let base = match BASELINE.get() {
        Some(Ok(b)) => b,
        Some(Err(e)) => return Err(format!("changes not recorded: {e}")),
        None => return Err("changes not recorded: recording is off".into()),
    };
    crate::ops::answer(hub, id, move |out| {
        let stats = write_changes(base, out, max_bytes)
            .map_err(|e| format!("changes not recorded: {e}"))?;
        tracing::info!(
            changed = stats.changed,
            deleted = stats.deleted,
            bytes = stats.bytes,
            "changes recorded"
        );
        Ok(())
    })
}

#[cfg(test)]
mod tests;
