//! Tests of the bind mirror: trees, files, links and the refused escapes.

use std::os::unix::fs::symlink;

use super::*;

/// A tar as ARCHIVE_GET of `/w` makes it: entries under `w/`.
struct TarBuilder(tar::Builder<Vec<u8>>);

impl TarBuilder {
    fn new() -> Self {
        let mut b = Self(tar::Builder::new(Vec::new()));
        b.dir("w");
        b
    }
    fn header(kind: EntryType, size: u64, mode: u32) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(mode);
        h.set_mtime(1_700_000_000);
        h
    }
    fn dir(&mut self, path: &str) -> &mut Self {
        let mut h = Self::header(EntryType::Directory, 0, 0o755);
        self.0
            .append_data(&mut h, path, std::io::empty())
            .expect("dir");
        self
    }
    fn file(&mut self, path: &str, data: &str) -> &mut Self {
        let mut h = Self::header(EntryType::Regular, data.len() as u64, 0o644);
        self.0
            .append_data(&mut h, path, data.as_bytes())
            .expect("file");
        self
    }
    fn link(&mut self, kind: EntryType, path: &str, target: &str) -> &mut Self {
        let mut h = Self::header(kind, 0, 0o777);
        self.0.append_link(&mut h, path, target).expect("link");
        self
    }
    /// An entry whose raw name is written as given (the builder refuses `..`).
    fn raw(&mut self, name: &str, data: &str) -> &mut Self {
        let mut h = Self::header(EntryType::Regular, data.len() as u64, 0o644);
        let bytes = name.as_bytes();
        h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
        h.set_cksum();
        self.0.append(&h, data.as_bytes()).expect("raw");
        self
    }
    fn bytes(&mut self) -> Vec<u8> {
        let b = std::mem::replace(&mut self.0, tar::Builder::new(Vec::new()));
        b.into_inner().expect("tar")
    }
}

fn read(p: &Path) -> String {
    fs::read_to_string(p).expect("read")
}

#[test]
fn new_and_changed_files_are_written_and_deletions_applied() {
    let host = tempfile::tempdir().expect("tmp");
    let root = host.path();
    fs::write(root.join("x"), "old").expect("x");
    fs::write(root.join("keep"), "old").expect("keep");
    fs::create_dir(root.join("gone")).expect("gone");
    fs::write(root.join("gone/f"), "f").expect("gone/f");
    let tar = TarBuilder::new()
        .file("w/keep", "new content")
        .file("w/out", "new\n")
        .dir("w/sub")
        .file("w/sub/deep", "deep")
        .bytes();
    let stats = mirror_dir(&tar[..], root, 1 << 20).expect("mirror");
    assert_eq!(read(&root.join("out")), "new\n");
    assert_eq!(read(&root.join("keep")), "new content");
    assert_eq!(read(&root.join("sub/deep")), "deep");
    assert!(!root.join("x").exists());
    assert!(!root.join("gone").exists());
    assert_eq!(stats.removed, 2);
    // Unchanged on a second pass.
    let again = mirror_dir(&tar[..], root, 1 << 20).expect("again");
    assert_eq!((again.written, again.removed), (0, 0));
    assert_eq!(again.unchanged, 3); // files; existing directories are not counted
}

#[test]
fn a_symlink_to_etc_is_recreated_and_never_followed() {
    let host = tempfile::tempdir().expect("tmp");
    let outside = tempfile::tempdir().expect("outside");
    let root = host.path();
    fs::write(outside.path().join("passwd"), "untouched").expect("outside file");
    let target = outside.path().display().to_string();
    // The link, then entries that would write through it.
    let tar = TarBuilder::new()
        .link(EntryType::Symlink, "w/etc", &target)
        .file("w/etc", "replace the link itself")
        .bytes();
    mirror_dir(&tar[..], root, 1 << 20).expect("file over link");
    assert!(
        fs::symlink_metadata(root.join("etc"))
            .expect("etc")
            .is_file()
    );
    assert_eq!(read(&outside.path().join("passwd")), "untouched");

    let tar = TarBuilder::new()
        .link(EntryType::Symlink, "w/etc", &target)
        .bytes();
    mirror_dir(&tar[..], root, 1 << 20).expect("link");
    assert_eq!(
        fs::read_link(root.join("etc")).expect("link"),
        outside.path()
    );
    let through = TarBuilder::new()
        .link(EntryType::Symlink, "w/etc", &target)
        .file("w/etc/passwd", "owned")
        .bytes();
    let err = mirror_dir(&through[..], root, 1 << 20).expect_err("write through a link");
    assert!(matches!(err, MirrorError::Escape(_)), "{err}");
    assert_eq!(read(&outside.path().join("passwd")), "untouched");
    // A link on the host is removed as a link, its target stays.
    let empty = TarBuilder::new().bytes();
    mirror_dir(&empty[..], root, 1 << 20).expect("empty");
    assert!(fs::symlink_metadata(root.join("etc")).is_err());
    assert_eq!(read(&outside.path().join("passwd")), "untouched");
}

#[test]
fn a_file_over_a_host_symlink_replaces_the_link() {
    let host = tempfile::tempdir().expect("tmp");
    let outside = tempfile::tempdir().expect("outside");
    let victim = outside.path().join("victim");
    fs::write(&victim, "untouched").expect("victim");
    symlink(&victim, host.path().join("f")).expect("symlink");
    let tar = TarBuilder::new().file("w/f", "data").bytes();
    mirror_dir(&tar[..], host.path(), 1 << 20).expect("mirror");
    assert_eq!(read(&victim), "untouched");
    assert_eq!(read(&host.path().join("f")), "data");
    assert!(
        !fs::symlink_metadata(host.path().join("f"))
            .expect("f")
            .is_symlink()
    );
}

#[test]
fn parent_dirs_and_absolute_paths_are_refused_before_any_deletion() {
    for name in ["w/../escape", "/etc/passwd", "../w/x"] {
        let host = tempfile::tempdir().expect("tmp");
        fs::write(host.path().join("keep"), "k").expect("keep");
        let tar = TarBuilder::new().raw(name, "evil").bytes();
        let err = mirror_dir(&tar[..], host.path(), 1 << 20).expect_err(name);
        assert!(matches!(err, MirrorError::Escape(_)), "{name}: {err}");
        assert!(
            host.path().join("keep").exists(),
            "{name}: deleted before failing"
        );
        assert!(!host.path().parent().expect("p").join("escape").exists());
    }
}

#[test]
fn a_truncated_tar_applies_no_deletions() {
    let host = tempfile::tempdir().expect("tmp");
    fs::write(host.path().join("keep"), "k").expect("keep");
    let tar = TarBuilder::new().file("w/big", &"x".repeat(4096)).bytes();
    let cut = &tar[..1024];
    assert!(mirror_dir(cut, host.path(), 1 << 20).is_err());
    assert!(host.path().join("keep").exists());
}

#[test]
fn hard_links_stay_inside_and_limits_hold() {
    let host = tempfile::tempdir().expect("tmp");
    let tar = TarBuilder::new()
        .file("w/a", "same")
        .link(EntryType::Link, "w/b", "w/a")
        .link(EntryType::Link, "w/c", "../../etc/passwd")
        .bytes();
    let err = mirror_dir(&tar[..], host.path(), 1 << 20).expect_err("escaping link");
    assert!(matches!(err, MirrorError::Escape(_)), "{err}");
    let tar = TarBuilder::new()
        .file("w/a", "same")
        .link(EntryType::Link, "w/b", "w/a")
        .bytes();
    mirror_dir(&tar[..], host.path(), 1 << 20).expect("links");
    assert_eq!(read(&host.path().join("b")), "same");
    let big = TarBuilder::new().file("w/f", "0123456789").bytes();
    let err = mirror_dir(&big[..], host.path(), 4).expect_err("limit");
    assert!(matches!(err, MirrorError::TooLarge(4)), "{err}");
}

#[test]
fn a_file_bind_is_written_in_place() {
    let host = tempfile::tempdir().expect("tmp");
    let f = host.path().join("app.conf");
    fs::write(&f, "old").expect("f");
    let mut b = tar::Builder::new(Vec::new());
    let mut h = TarBuilder::header(EntryType::Regular, 3, 0o644);
    b.append_data(&mut h, "app.conf", &b"new"[..])
        .expect("entry");
    let tar = b.into_inner().expect("tar");
    mirror_file(&tar[..], &f, 1 << 20).expect("mirror");
    assert_eq!(read(&f), "new");
    let mut b = tar::Builder::new(Vec::new());
    let mut h = TarBuilder::header(EntryType::Symlink, 0, 0o777);
    b.append_link(&mut h, "app.conf", "/etc/passwd")
        .expect("entry");
    let tar = b.into_inner().expect("tar");
    let stats = mirror_file(&tar[..], &f, 1 << 20).expect("skipped");
    assert_eq!(stats.skipped.len(), 1);
    assert_eq!(read(&f), "new");
}

#[test]
fn a_target_replaced_by_a_link_or_a_tar_without_it_empties_nothing() {
    let host = tempfile::tempdir().expect("tmp");
    fs::write(host.path().join("keep"), "k").expect("keep");
    let mut b = tar::Builder::new(Vec::new());
    let mut h = TarBuilder::header(EntryType::Symlink, 0, 0o777);
    b.append_link(&mut h, "w", "/etc").expect("link");
    let link = b.into_inner().expect("tar");
    let err = mirror_dir(&link[..], host.path(), 1 << 20).expect_err("link root");
    assert!(matches!(err, MirrorError::NotADirectory), "{err}");
    let empty = tar::Builder::new(Vec::new()).into_inner().expect("tar");
    let err = mirror_dir(&empty[..], host.path(), 1 << 20).expect_err("no root");
    assert!(matches!(err, MirrorError::NotADirectory), "{err}");
    assert!(host.path().join("keep").exists());
}
