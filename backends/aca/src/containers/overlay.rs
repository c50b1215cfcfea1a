//! A filesystem seen through stacked tars (pure): the image's layers with
//! the container's kept changes on top, OCI whiteouts honoured (`.wh.name`
//! removes `name` from the layers below, `.wh..wh..opq` hides everything
//! below in its directory). [`Index`] is built from the tars top-down, one
//! pass each, keeping only metadata (which layer each visible path comes
//! from); [`Index::emit_layer`] then copies the visible entries under a
//! path out of one layer, rebased as dockerd's archive names them.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};

const WHITEOUT: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";
/// Symlinks followed while resolving one path, as Linux's `MAXSYMLINKS`.
const MAX_LINKS: usize = 40;

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link to its target.
    Symlink(String),
    /// A hard link to another path of the same layer.
    Hardlink(String),
    /// A device, FIFO or other special file.
    Other,
}

/// A visible entry: its layer (0 is the top) and metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// Index of the tar it comes from, 0 the topmost.
    pub layer: usize,
    /// Its kind.
    pub kind: Kind,
    /// Size in bytes (files).
    pub size: u64,
    /// Permission bits (`0o7777`).
    pub mode: u32,
    /// Modification time, seconds since the epoch.
    pub mtime: u64,
}

/// `/a/b` from a tar name (`./a/b`, `a/b/`, `/a/b`); `None` for names
/// leaving the root (`..`) and for the root itself.
pub fn normalize(name: &str) -> Option<String> {
    let mut out = String::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            p => {
                out.push('/');
                out.push_str(p);
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Strict ancestors of `/a/b/c`: `/a`, `/a/b`.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/')
        .filter(|(i, _)| *i > 0)
        .map(move |(i, _)| &path[..i])
}

/// Whether `path` is `root` or under it.
pub fn under(path: &str, root: &str) -> bool {
    root == "/"
        || path == root
        || (path.starts_with(root) && path.as_bytes().get(root.len()) == Some(&b'/'))
}

/// The visible filesystem of stacked tars.
#[derive(Debug, Default)]
pub struct Index {
    entries: HashMap<String, Meta>,
    /// Paths removed by whiteouts of the layers indexed so far.
    removed: HashSet<String>,
    /// Directories made opaque by the layers indexed so far.
    opaque: HashSet<String>,
}

fn meta_of(header: &tar::Header, layer: usize, name: &str) -> Result<Meta, String> {
    let link = || -> Result<String, String> {
        let l = header
            .link_name()
            .map_err(|e| format!("{name}: {e}"))?
            .ok_or_else(|| format!("{name}: link without a target"))?;
        Ok(l.to_string_lossy().into_owned())
    };
    let kind = match header.entry_type() {
        tar::EntryType::Directory => Kind::Dir,
        tar::EntryType::Regular | tar::EntryType::Continuous => Kind::File,
        tar::EntryType::Symlink => Kind::Symlink(link()?),
        tar::EntryType::Link => Kind::Hardlink(
            normalize(&link()?).ok_or_else(|| format!("{name}: hard link out of the root"))?,
        ),
        _ => Kind::Other,
    };
    Ok(Meta {
        layer,
        kind,
        size: header.size().unwrap_or(0),
        mode: header.mode().unwrap_or(0) & 0o7777,
        mtime: header.mtime().unwrap_or(0),
    })
}

impl Index {
    /// Whether a path of a lower layer is hidden by the layers above.
    fn hidden(&self, path: &str) -> bool {
        if self.entries.contains_key(path) || self.removed.contains(path) {
            return true;
        }
        ancestors(path).any(|a| {
            self.removed.contains(a)
                || self.opaque.contains(a)
                || self.entries.get(a).is_some_and(|m| m.kind != Kind::Dir)
        })
    }

    /// Adds the next lower layer (call top-down, `layer` counting from 0).
    pub fn add_layer(&mut self, layer: usize, tar: impl Read) -> Result<(), String> {
        let mut archive = tar::Archive::new(tar);
        let mut removed = Vec::new();
        let mut opaque = Vec::new();
        let mut added: HashMap<String, Meta> = HashMap::new();
        for entry in archive.entries().map_err(|e| format!("reading: {e}"))? {
            let entry = entry.map_err(|e| format!("reading: {e}"))?;
            let raw = entry.path().map_err(|e| format!("reading: {e}"))?;
            let raw = raw.to_string_lossy().into_owned();
            let Some(path) = normalize(&raw) else {
                continue;
            };
            let name = base(&path);
            if name == OPAQUE {
                opaque.push(parent(&path).to_owned());
                continue;
            }
            if let Some(gone) = name.strip_prefix(WHITEOUT) {
                let dir = parent(&path);
                let dir = if dir == "/" { "" } else { dir };
                removed.push(format!("{dir}/{gone}"));
                continue;
            }
            if self.hidden(&path) {
                continue;
            }
            // Within a layer, a later entry replaces an earlier one.
            added.insert(path, meta_of(entry.header(), layer, &raw)?);
        }
        self.entries.extend(added);
        self.removed.extend(removed);
        self.opaque.extend(opaque);
        Ok(())
    }

    /// The visible entry at `path` (normalized).
    pub fn get(&self, path: &str) -> Option<&Meta> {
        self.entries.get(path)
    }

    /// `path` with the symlinks of its directories followed (and of its
    /// last component when `follow_last`); `None` when it does not exist.
    pub fn resolve(&self, path: &str, follow_last: bool) -> Option<String> {
        let mut todo: Vec<String> = path
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .rev()
            .map(str::to_owned)
            .collect();
        let mut at = String::new();
        let mut links = 0;
        while let Some(part) = todo.pop() {
            if part == ".." {
                at = match at.rfind('/') {
                    Some(i) => at[..i].to_owned(),
                    None => String::new(),
                };
                continue;
            }
            let next = format!("{at}/{part}");
            let meta = self.entries.get(&next)?;
            let last = todo.is_empty();
            match &meta.kind {
                Kind::Symlink(target) if !last || follow_last => {
                    links += 1;
                    if links > MAX_LINKS {
                        return None;
                    }
                    if target.starts_with('/') {
                        at.clear();
                    }
                    todo.extend(
                        target
                            .split('/')
                            .filter(|p| !p.is_empty() && *p != ".")
                            .rev()
                            .map(str::to_owned),
                    );
                }
                Kind::Dir => at = next,
                _ if last => at = next,
                _ => return None,
            }
        }
        Some(if at.is_empty() { "/".to_owned() } else { at })
    }

    /// The layers holding something visible at or under `root`.
    pub fn layers_under(&self, root: &str) -> Vec<usize> {
        let mut layers: Vec<usize> = self
            .entries
            .iter()
            .filter(|(p, _)| under(p, root))
            .map(|(_, m)| m.layer)
            .collect();
        layers.sort_unstable();
        layers.dedup();
        layers
    }

    /// Copies the visible entries of `layer` at or under `root` into `out`,
    /// named `prefix` + their path below `root`. Hard links whose target is
    /// not copied along are returned (their name in the archive and
    /// target), for [`Self::emit_targets`] to write as files.
    pub fn emit_layer<W: Write>(
        &self,
        layer: usize,
        tar: impl Read,
        root: &str,
        prefix: &str,
        out: &mut tar::Builder<W>,
    ) -> Result<Vec<(String, String)>, String> {
        let mut archive = tar::Archive::new(tar);
        let mut pending = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for entry in archive.entries().map_err(|e| format!("reading: {e}"))? {
            let mut entry = entry.map_err(|e| format!("reading: {e}"))?;
            let raw = entry.path().map_err(|e| format!("reading: {e}"))?;
            let Some(path) = normalize(&raw.to_string_lossy()) else {
                continue;
            };
            if !under(&path, root) || self.entries.get(&path).map(|m| m.layer) != Some(layer) {
                continue;
            }
            let name = rebase(&path, root, prefix);
            let mut header = entry.header().clone();
            if let Some(Kind::Hardlink(target)) = self.entries.get(&path).map(|m| &m.kind) {
                let along = under(target, root)
                    && seen.contains(target)
                    && self.entries.get(target).map(|m| m.layer) == Some(layer);
                if !along {
                    pending.push((name, target.clone()));
                    continue;
                }
                header.set_size(0);
                out.append_link(&mut header, &name, rebase(target, root, prefix))
                    .map_err(|e| format!("writing: {e}"))?;
                continue;
            }
            seen.insert(path.clone());
            write_entry(out, &mut header, &name, &mut entry)?;
        }
        Ok(pending)
    }

    /// Writes each pending hard link of `layer` as a copy of its target,
    /// read from the layer again.
    pub fn emit_targets<W: Write>(
        &self,
        tar: impl Read,
        pending: &[(String, String)],
        out: &mut tar::Builder<W>,
    ) -> Result<(), String> {
        if pending.is_empty() {
            return Ok(());
        }
        let mut archive = tar::Archive::new(tar);
        let mut done = 0;
        for entry in archive.entries().map_err(|e| format!("reading: {e}"))? {
            let mut entry = entry.map_err(|e| format!("reading: {e}"))?;
            let raw = entry.path().map_err(|e| format!("reading: {e}"))?;
            let Some(path) = normalize(&raw.to_string_lossy()) else {
                continue;
            };
            let names: Vec<&String> = pending
                .iter()
                .filter(|(_, t)| *t == path)
                .map(|(n, _)| n)
                .collect();
            if names.is_empty() || entry.header().entry_type() != tar::EntryType::Regular {
                continue;
            }
            // The first copy carries the data; the others link to it.
            let mut header = entry.header().clone();
            write_entry(out, &mut header, names[0], &mut entry)?;
            for other in &names[1..] {
                let mut link = tar::Header::new_gnu();
                link.set_entry_type(tar::EntryType::Link);
                link.set_size(0);
                link.set_mode(header.mode().unwrap_or(0o644));
                link.set_mtime(header.mtime().unwrap_or(0));
                out.append_link(&mut link, other, names[0])
                    .map_err(|e| format!("writing: {e}"))?;
            }
            done += names.len();
        }
        if done < pending.len() {
            return Err("a hard link's target is missing from its layer".into());
        }
        Ok(())
    }
}

fn write_entry<W: Write>(
    out: &mut tar::Builder<W>,
    header: &mut tar::Header,
    name: &str,
    data: &mut impl Read,
) -> Result<(), String> {
    let kind = header.entry_type();
    let written = if kind == tar::EntryType::Symlink {
        let target = header
            .link_name()
            .ok()
            .flatten()
            .map(|t| t.into_owned())
            .unwrap_or_default();
        out.append_link(header, name, target)
    } else {
        out.append_data(header, name, data)
    };
    written.map_err(|e| format!("writing: {e}"))
}

/// `path` (at or under `root`) named in the archive: `prefix` then the rest.
pub fn rebase(path: &str, root: &str, prefix: &str) -> String {
    let rest = if root == "/" {
        path
    } else {
        &path[root.len().min(path.len())..]
    };
    format!("{prefix}{rest}")
}

#[cfg(test)]
mod tests;
