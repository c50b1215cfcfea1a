//! EXPORT: the root filesystem as a tar, as `docker export` gives it:
//! every mount point other than `/` (`/proc`, `/sys`, `/dev`, volumes, the
//! replica's hosts file) is kept as an empty directory or empty file, its
//! contents left out; the agent's own directory is left out entirely.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Mount points from `/proc/self/mountinfo` (field 5, octal escapes undone).
pub(crate) fn parse_mountinfo(text: &str) -> HashSet<PathBuf> {
    text.lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .map(|p| PathBuf::from(unescape(p)))
        .collect()
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Most entries exported (a bound on the walk's memory).
const MAX_ENTRIES: usize = 2_000_000;

/// Writes the tar of `root` to `out`; `mounts` are kept empty, `skip` left out.
pub(crate) fn write_export(
    root: &Path,
    mounts: &HashSet<PathBuf>,
    skip: &[PathBuf],
    out: impl Write,
) -> std::io::Result<u64> {
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    let mut stack = vec![root.to_path_buf()];
    let mut count = 0u64;
    while let Some(dir) = stack.pop() {
        let Ok(items) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<PathBuf> = items.flatten().map(|e| e.path()).collect();
        names.sort();
        let mut subdirs = Vec::new();
        for path in names {
            if skip.iter().any(|s| &path == s) {
                continue;
            }
            let Ok(rel) = path.strip_prefix(root) else {
                continue;
            };
            // Vanished since the listing: not exported.
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let kind = meta.file_type();
            count += 1;
            if count as usize > MAX_ENTRIES {
                return Err(std::io::Error::other(format!(
                    "more than {MAX_ENTRIES} entries in the root filesystem"
                )));
            }
            if mounts.contains(&path) && !kind.is_dir() {
                let mut h = tar::Header::new_gnu();
                h.set_metadata(&meta);
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(0);
                tar.append_data(&mut h, rel, std::io::empty())?;
                continue;
            }
            if std::os::unix::fs::FileTypeExt::is_socket(&kind) {
                continue;
            }
            tar.append_path_with_name(&path, rel)?;
            if kind.is_dir() && !mounts.contains(&path) {
                subdirs.push(path);
            }
        }
        stack.extend(subdirs.into_iter().rev());
    }
    tar.into_inner()?.flush()?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_points() {
        let text = "22 1 0:21 / / rw - overlay overlay rw\n\
                    23 22 0:22 / /proc rw - proc proc rw\n\
                    24 22 8:1 /x /my\\040vol rw - ext4 /dev/sda1 rw\n";
        let m = parse_mountinfo(text);
        assert!(m.contains(Path::new("/proc")));
        assert!(m.contains(Path::new("/my vol")));
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn mounts_are_empty_and_skips_absent() {
        let dir = tempfile::tempdir().expect("tmp");
        let root = dir.path();
        for d in ["bin", "proc/1", "agent", "data"] {
            std::fs::create_dir_all(root.join(d)).expect("mkdir");
        }
        std::fs::write(root.join("bin/busybox"), b"elf").expect("write");
        std::fs::write(root.join("proc/1/stat"), b"x").expect("write");
        std::fs::write(root.join("agent/sockerless-agent"), b"x").expect("write");
        std::fs::write(root.join("hosts"), b"127.0.0.1 x").expect("write");
        std::fs::write(root.join("data/kept"), b"k").expect("write");
        std::os::unix::fs::symlink("busybox", root.join("bin/sh")).expect("link");
        let mounts: HashSet<PathBuf> = [root.join("proc"), root.join("hosts")].into();
        let mut out = Vec::new();
        write_export(root, &mounts, &[root.join("agent")], &mut out).expect("export");
        let mut archive = tar::Archive::new(&out[..]);
        let mut seen = Vec::new();
        for e in archive.entries().expect("entries") {
            let e = e.expect("entry");
            let name = e.path().expect("path").to_string_lossy().into_owned();
            seen.push((name, e.header().size().expect("size")));
        }
        let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"bin/busybox"), "{names:?}");
        assert!(names.contains(&"bin/sh"), "{names:?}");
        assert!(names.contains(&"data/kept"), "{names:?}");
        assert!(
            names.iter().any(|n| n.trim_end_matches('/') == "proc"),
            "{names:?}"
        );
        assert!(!names.iter().any(|n| n.starts_with("proc/1")), "{names:?}");
        assert!(!names.iter().any(|n| n.starts_with("agent")), "{names:?}");
        assert!(seen.contains(&("hosts".to_owned(), 0)), "{seen:?}");
    }
}
