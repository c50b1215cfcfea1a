//! Tests of `changes.rs`: the baseline walk and the changes tar (added, changed, whiteouts).

use std::io::Read;
use std::path::{Path, PathBuf};

use super::*;
use crate::protocol::PutOptions;

fn write(root: &Path, rel: &str, content: &str) {
    let p = root.join(rel);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("dirs");
    }
    std::fs::write(p, content).expect("write");
}

/// An "image": a few files and directories.
fn image(root: &Path) {
    write(root, "etc/conf", "orig");
    write(root, "etc/keep", "same");
    write(root, "usr/share/doc/a", "doc a");
    write(root, "usr/share/doc/b", "doc b");
    write(root, "bin/tool", "tool");
    std::fs::create_dir_all(root.join("tmp")).expect("tmp");
    std::fs::create_dir_all(root.join("agent")).expect("agent");
}

fn entries(tar_bytes: &[u8]) -> Vec<(String, String)> {
    let mut archive = tar::Archive::new(tar_bytes);
    let mut out = Vec::new();
    for e in archive.entries().expect("entries") {
        let mut e = e.expect("entry");
        let path = e.path().expect("path").to_string_lossy().into_owned();
        let mut body = String::new();
        if e.header().entry_type().is_file() {
            e.read_to_string(&mut body).expect("body");
        }
        out.push((path, body));
    }
    out
}

fn record(base: &Baseline, max: u64) -> (Vec<u8>, Stats) {
    let mut buf = Vec::new();
    let stats = write_changes(base, &mut buf, max).expect("record");
    (buf, stats)
}

#[test]
fn added_changed_and_deleted_paths_make_the_record() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path();
    image(root);
    let base = Baseline::take(root, &[PathBuf::from("/agent")]).expect("baseline");
    // The run: changes, additions, deletions; the skipped dir is ignored.
    write(root, "etc/conf", "changed!");
    write(root, "tmp/n", "1\n");
    write(root, "tmp/new/dir/f", "deep");
    std::fs::remove_file(root.join("bin/tool")).expect("rm");
    std::fs::remove_dir_all(root.join("usr/share/doc")).expect("rm -r");
    write(root, "agent/state", "not recorded");

    let (tar_bytes, stats) = record(&base, 1 << 20);
    let got = entries(&tar_bytes);
    let names: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
    assert!(
        got.contains(&("etc/conf".into(), "changed!".into())),
        "{names:?}"
    );
    assert!(got.contains(&("tmp/n".into(), "1\n".into())), "{names:?}");
    assert!(
        names.contains(&"tmp/new/") || names.contains(&"tmp/new"),
        "{names:?}"
    );
    assert!(
        got.contains(&("tmp/new/dir/f".into(), "deep".into())),
        "{names:?}"
    );
    assert!(names.contains(&"bin/.wh.tool"), "{names:?}");
    // One whiteout for the removed directory, none for what it held.
    assert!(names.contains(&"usr/share/.wh.doc"), "{names:?}");
    assert!(
        !names
            .iter()
            .any(|n| n.contains(".wh.a") || n.contains(".wh.b")),
        "{names:?}"
    );
    assert!(
        !names
            .iter()
            .any(|n| n.contains("etc/keep") || n.starts_with("agent")),
        "{names:?}"
    );
    assert_eq!(stats.deleted, 2);
    assert_eq!(stats.bytes, 8 + 2 + 4);

    // Applied to a fresh copy of the image, it gives the same tree.
    let fresh = tempfile::tempdir().expect("fresh");
    image(fresh.path());
    crate::archive::extract(
        &tar_bytes[..],
        fresh.path(),
        PutOptions {
            whiteouts: true,
            ..Default::default()
        },
    )
    .expect("extract");
    let f = fresh.path();
    assert_eq!(
        std::fs::read_to_string(f.join("etc/conf")).expect("conf"),
        "changed!"
    );
    assert_eq!(std::fs::read_to_string(f.join("tmp/n")).expect("n"), "1\n");
    assert_eq!(
        std::fs::read_to_string(f.join("tmp/new/dir/f")).expect("f"),
        "deep"
    );
    assert!(!f.join("bin/tool").exists());
    assert!(!f.join("usr/share/doc").exists());
    assert!(f.join("usr/share").is_dir());
    assert!(
        !f.join("bin/.wh.tool").exists(),
        "a whiteout was written as a file"
    );
}

#[test]
fn nothing_changed_is_an_empty_record_and_size_is_bounded() {
    let dir = tempfile::tempdir().expect("tmp");
    image(dir.path());
    let base = Baseline::take(dir.path(), &[]).expect("baseline");
    let (tar_bytes, stats) = record(&base, 1 << 20);
    assert!(entries(&tar_bytes).is_empty());
    assert_eq!(stats, Stats::default());

    write(dir.path(), "tmp/big", &"x".repeat(4096));
    let err = write_changes(&base, std::io::sink(), 1000).expect_err("too large");
    assert!(matches!(err, ChangesError::TooLarge(1000)), "{err:?}");
}

#[test]
fn whiteouts_are_plain_files_without_the_option_and_never_escape() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path();
    write(root, "d/victim", "v");
    let mut tar_bytes = Vec::new();
    {
        let mut b = tar::Builder::new(&mut tar_bytes);
        let mut h = tar::Header::new_gnu();
        h.set_size(0);
        h.set_mode(0o600);
        b.append_data(&mut h, "d/.wh.victim", std::io::empty())
            .expect("wh");
        b.finish().expect("finish");
    }
    crate::archive::extract(&tar_bytes[..], root, PutOptions::default()).expect("plain");
    assert!(root.join("d/victim").exists() && root.join("d/.wh.victim").exists());

    std::fs::remove_file(root.join("d/.wh.victim")).expect("rm");
    let opts = || PutOptions {
        whiteouts: true,
        ..Default::default()
    };
    crate::archive::extract(&tar_bytes[..], root, opts()).expect("whiteout");
    assert!(!root.join("d/victim").exists());

    // A whiteout through a symlink pointing outside removes nothing there.
    let outside = tempfile::tempdir().expect("outside");
    write(outside.path(), "victim", "keep");
    std::os::unix::fs::symlink(outside.path(), root.join("link")).expect("symlink");
    let mut evil = Vec::new();
    {
        let mut b = tar::Builder::new(&mut evil);
        let mut h = tar::Header::new_gnu();
        h.set_size(0);
        h.set_mode(0o600);
        b.append_data(&mut h, "link/.wh.victim", std::io::empty())
            .expect("wh");
        b.finish().expect("finish");
    }
    let err = crate::archive::extract(&evil[..], root, opts()).expect_err("escape");
    assert!(err.contains("escapes"), "{err}");
    assert!(outside.path().join("victim").exists());
}
