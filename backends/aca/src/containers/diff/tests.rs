//! `docker diff`'s classification of a changes tar (pure).

use super::*;

fn shown(changes: &[FilesystemChange]) -> Vec<String> {
    changes
        .iter()
        .map(|c| {
            let k = match c.kind {
                ChangeType::_0 => "C",
                ChangeType::_1 => "A",
                ChangeType::_2 => "D",
            };
            format!("{k} {}", c.path)
        })
        .collect()
}

fn image(path: &str) -> bool {
    [
        "/bin",
        "/bin/sh",
        "/bin/vi",
        "/etc",
        "/etc/passwd",
        "/tmp",
        "/a",
    ]
    .contains(&path)
}

#[test]
fn added_changed_deleted_with_parents_sorted_by_components() {
    let entries = [
        "x",
        "tmp/d/f",
        "tmp/d/",
        "etc/passwd",
        "bin/.wh.vi",
        "a-b",
        "a/c",
    ];
    let changes = classify(entries, image);
    assert_eq!(
        shown(&changes),
        [
            "C /a",
            "A /a/c",
            "A /a-b",
            "C /bin",
            "D /bin/vi",
            "C /etc",
            "C /etc/passwd",
            "C /tmp",
            "A /tmp/d",
            "A /tmp/d/f",
            "A /x",
        ]
    );
}

#[test]
fn root_entries_and_opaque_directories() {
    let changes = classify(["./", "./tmp/.wh..wh..opq", "/new/"], image);
    assert_eq!(shown(&changes), ["A /new", "C /tmp"]);
}

#[test]
fn nothing_changed_is_an_empty_list() {
    assert!(classify(std::iter::empty(), image).is_empty());
}
