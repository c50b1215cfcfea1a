//! Tests of the stacked tars with whiteouts.

use super::*;

enum E<'a> {
    Dir(&'a str),
    File(&'a str, &'a str),
    Link(&'a str, &'a str),
    Hard(&'a str, &'a str),
}

fn layer(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o755);
        h.set_mtime(1);
        match e {
            E::Dir(p) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                b.append_data(&mut h, p, &[][..]).expect("dir");
            }
            E::File(p, data) => {
                h.set_size(data.len() as u64);
                b.append_data(&mut h, p, data.as_bytes()).expect("file");
            }
            E::Link(p, t) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                b.append_link(&mut h, p, t).expect("symlink");
            }
            E::Hard(p, t) => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_size(0);
                b.append_link(&mut h, p, t).expect("hardlink");
            }
        }
    }
    b.into_inner().expect("tar")
}

/// Index of `layers` (top first).
fn index(layers: &[Vec<u8>]) -> Index {
    let mut idx = Index::default();
    for (i, l) in layers.iter().enumerate() {
        idx.add_layer(i, &l[..]).expect("layer");
    }
    idx
}

/// The archive of `root` as (name, content) pairs, sorted.
fn archive(layers: &[Vec<u8>], root: &str, prefix: &str) -> Vec<(String, String)> {
    let idx = index(layers);
    let mut out = tar::Builder::new(Vec::new());
    for l in idx.layers_under(root) {
        let pending = idx
            .emit_layer(l, &layers[l][..], root, prefix, &mut out)
            .expect("emit");
        idx.emit_targets(&layers[l][..], &pending, &mut out)
            .expect("targets");
    }
    let data = out.into_inner().expect("tar");
    let mut got = Vec::new();
    let mut a = tar::Archive::new(&data[..]);
    for e in a.entries().expect("entries") {
        let mut e = e.expect("entry");
        let name = e.path().expect("path").to_string_lossy().into_owned();
        let mut s = String::new();
        match e.header().entry_type() {
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let t = e.link_name().expect("link").expect("some");
                s = format!("-> {}", t.display());
            }
            _ => {
                e.read_to_string(&mut s).expect("read");
            }
        }
        got.push((name.trim_end_matches('/').to_owned(), s));
    }
    got.sort();
    got
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<_> = v
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    v.sort();
    v
}

#[test]
fn names_are_normalized_and_escapes_dropped() {
    assert_eq!(normalize("./a/b/").as_deref(), Some("/a/b"));
    assert_eq!(normalize("/a//b").as_deref(), Some("/a/b"));
    assert_eq!(normalize("./"), None);
    assert_eq!(normalize("a/../../b"), None);
    assert!(under("/a/b", "/a"));
    assert!(!under("/ab", "/a"));
    assert!(under("/x", "/"));
    assert_eq!(rebase("/data/sub/b", "/data", "data"), "data/sub/b");
    assert_eq!(rebase("/data", "/data", "data"), "data");
}

#[test]
fn upper_layers_win_and_directories_merge() {
    let image = layer(&[
        E::Dir("etc"),
        E::File("etc/a", "image-a"),
        E::File("etc/b", "image-b"),
    ]);
    let changes = layer(&[E::Dir("etc"), E::File("etc/a", "changed-a")]);
    let got = archive(&[changes, image], "/etc", "etc");
    assert_eq!(
        got,
        pairs(&[("etc", ""), ("etc/a", "changed-a"), ("etc/b", "image-b")])
    );
}

#[test]
fn whiteouts_remove_files_and_directories() {
    let image = layer(&[
        E::Dir("d"),
        E::File("d/keep", "k"),
        E::File("d/gone", "g"),
        E::Dir("d/sub"),
        E::File("d/sub/x", "x"),
    ]);
    let changes = layer(&[E::File("d/.wh.gone", ""), E::File("d/.wh.sub", "")]);
    let idx = index(&[changes.clone(), image.clone()]);
    assert!(idx.get("/d/gone").is_none());
    assert!(idx.get("/d/sub/x").is_none());
    assert!(idx.resolve("/d/sub/x", false).is_none());
    let got = archive(&[changes, image], "/d", "d");
    assert_eq!(got, pairs(&[("d", ""), ("d/keep", "k")]));
}

#[test]
fn a_whiteout_then_recreation_in_the_same_layer_shows_the_new_file() {
    let image = layer(&[E::Dir("d"), E::File("d/f", "old")]);
    let changes = layer(&[E::File("d/.wh.f", ""), E::File("d/f", "new")]);
    let got = archive(&[changes, image], "/d/f", "f");
    assert_eq!(got, pairs(&[("f", "new")]));
}

#[test]
fn opaque_directories_hide_lower_contents() {
    let image = layer(&[E::Dir("d"), E::File("d/old", "o")]);
    let changes = layer(&[
        E::Dir("d"),
        E::File("d/.wh..wh..opq", ""),
        E::File("d/new", "n"),
    ]);
    let got = archive(&[changes, image], "/d", "d");
    assert_eq!(got, pairs(&[("d", ""), ("d/new", "n")]));
}

#[test]
fn a_file_over_a_directory_hides_its_contents() {
    let image = layer(&[E::Dir("p"), E::File("p/x", "x")]);
    let changes = layer(&[E::File("p", "now a file")]);
    let idx = index(&[changes, image]);
    assert_eq!(idx.get("/p").map(|m| &m.kind), Some(&Kind::File));
    assert!(idx.get("/p/x").is_none());
}

#[test]
fn symlinks_in_directories_are_followed() {
    let image = layer(&[
        E::Dir("real"),
        E::File("real/f", "data"),
        E::Link("lnk", "real"),
        E::Link("rel", "./real/f"),
        E::Dir("a"),
        E::Link("a/up", "../real"),
        E::Link("loop", "loop"),
    ]);
    let idx = index(&[image]);
    assert_eq!(idx.resolve("/lnk/f", false).as_deref(), Some("/real/f"));
    assert_eq!(idx.resolve("/lnk", false).as_deref(), Some("/lnk"));
    assert_eq!(idx.resolve("/lnk", true).as_deref(), Some("/real"));
    assert_eq!(idx.resolve("/a/up/f", false).as_deref(), Some("/real/f"));
    assert_eq!(idx.resolve("/rel", true).as_deref(), Some("/real/f"));
    assert_eq!(idx.resolve("/loop/x", false), None);
    assert_eq!(idx.resolve("/real/f/x", false), None);
    assert_eq!(idx.resolve("/nope", false), None);
    assert_eq!(idx.resolve("/", false).as_deref(), Some("/"));
}

#[test]
fn hard_links_become_files_when_their_target_is_not_copied() {
    let image = layer(&[
        E::Dir("bin"),
        E::File("bin/busybox", "BB"),
        E::Hard("bin/ls", "bin/busybox"),
        E::Hard("bin/cat", "bin/busybox"),
    ]);
    let got = archive(std::slice::from_ref(&image), "/bin/ls", "ls");
    assert_eq!(got, pairs(&[("ls", "BB")]));
    let got = archive(&[image], "/bin", "bin");
    assert_eq!(
        got,
        pairs(&[
            ("bin", ""),
            ("bin/busybox", "BB"),
            ("bin/cat", "-> bin/busybox"),
            ("bin/ls", "-> bin/busybox"),
        ])
    );
}

#[test]
fn only_layers_with_visible_entries_are_read() {
    let image = layer(&[E::Dir("data"), E::File("data/x", "image")]);
    let changes = layer(&[E::Dir("new"), E::File("new/a.txt", "hello")]);
    let idx = index(&[changes, image]);
    assert_eq!(idx.layers_under("/new/a.txt"), vec![0]);
    assert_eq!(idx.layers_under("/data"), vec![1]);
    assert_eq!(idx.layers_under("/"), vec![0, 1]);
}
