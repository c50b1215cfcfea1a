//! Module import cycles inside a crate, from its `crate::…` paths.
//!
//! A file is a module (`a/b.rs` or `a/b/mod.rs` is `a::b`); the crate root
//! and test modules (`tests.rs`, `*_tests.rs`, a `#[cfg(test)] mod` at the
//! end of a file) are left out. `crate::a::{b, c::d}` stands for `a::b` and
//! `a::c::d`; each path names the longest prefix that is a module. A
//! module's uses of its own ancestors or descendants are one unit and do
//! not count. The cycles are the strongly connected components (Tarjan).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result};

/// One module of a crate: its path below the crate root and its source.
pub struct Module {
    pub path: Vec<String>,
    pub text: String,
    /// A test module: a name others may use, not a user itself.
    pub test: bool,
}

/// Every module file below `src`.
pub fn read_crate(src: &Path) -> Result<Vec<Module>> {
    let mut modules = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| format!("read {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap_or(&path).with_extension("");
            let mut segs: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if segs.last().is_some_and(|s| s == "mod") {
                segs.pop();
            }
            if segs.is_empty() || segs == ["lib"] || segs == ["main"] {
                continue;
            }
            let file = segs.last().cloned().unwrap_or_default();
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("read {}", path.display()))?;
            modules.push(Module {
                test: file == "tests" || file.ends_with("_tests"),
                path: segs,
                text,
            });
        }
    }
    Ok(modules)
}

/// The source without comments and without a trailing `#[cfg(test)] mod`.
fn code_of(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim() == "#[cfg(test)]"
            && lines.get(i + 1).is_some_and(|next| {
                let next = next.trim_start();
                next.starts_with("mod ")
                    || next.starts_with("pub mod ")
                    || next.starts_with("pub(crate) mod ")
            })
        {
            break;
        }
        let code = line.find("//").map_or(*line, |at| &line[..at]);
        out.push_str(code);
        out.push('\n');
    }
    out
}

fn ident_at(s: &[u8], mut i: usize) -> (Option<String>, usize) {
    while i < s.len() && s[i].is_ascii_whitespace() {
        i += 1;
    }
    let start = i;
    while i < s.len() && (s[i].is_ascii_alphanumeric() || s[i] == b'_') {
        i += 1;
    }
    if i > start && !s[start].is_ascii_digit() {
        (Some(String::from_utf8_lossy(&s[start..i]).into_owned()), i)
    } else {
        (None, start)
    }
}

fn skip_ws(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && s[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// Parses the path (or use tree) at `i`, adding every full path it names to
/// `out`; returns where it ends.
fn use_tree(s: &[u8], mut i: usize, prefix: &[String], out: &mut Vec<Vec<String>>) -> usize {
    let mut segs = prefix.to_vec();
    loop {
        let (ident, next) = ident_at(s, i);
        if let Some(ident) = ident {
            segs.push(ident);
            i = skip_ws(s, next);
            if s[i..].starts_with(b"::") {
                // Another segment, or a `{…}` group taken by the branch below.
                i = skip_ws(s, i + 2);
                continue;
            }
            out.push(segs);
            return i;
        }
        if s.get(i) == Some(&b'{') {
            i += 1;
            loop {
                while i < s.len() && (s[i].is_ascii_whitespace() || s[i] == b',') {
                    i += 1;
                }
                if i >= s.len() {
                    return i;
                }
                if s[i] == b'}' {
                    return i + 1;
                }
                let (ident, next) = ident_at(s, i);
                if ident.as_deref() == Some("self") {
                    out.push(segs.clone());
                    i = next;
                    continue;
                }
                let before = i;
                i = use_tree(s, i, &segs, out);
                let (word, after) = ident_at(s, i);
                if word.as_deref() == Some("as") {
                    i = ident_at(s, after).1;
                }
                if i == before {
                    i += 1;
                }
            }
        }
        out.push(segs);
        return i;
    }
}

/// The modules each module uses through `crate::` paths.
pub fn graph(modules: &[Module]) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let known: BTreeSet<&Vec<String>> = modules.iter().map(|m| &m.path).collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for m in modules.iter().filter(|m| !m.test) {
        let code = code_of(&m.text);
        let bytes = code.as_bytes();
        let mut from = 0;
        while let Some(at) = code[from..].find("crate::") {
            let start = from + at;
            from = start + "crate::".len();
            let word_before =
                start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
            if word_before {
                continue;
            }
            let mut paths = Vec::new();
            use_tree(bytes, from, &[], &mut paths);
            for path in paths {
                let target = (1..=path.len())
                    .rev()
                    .map(|k| path[..k].to_vec())
                    .find(|p| known.contains(p));
                let Some(target) = target else { continue };
                let related = m.path.starts_with(&target) || target.starts_with(&m.path);
                if !related {
                    edges.entry(m.path.clone()).or_default().insert(target);
                }
            }
        }
    }
    edges
}

/// Each cycle: its modules and the edges between them, as `a → b` lines.
pub fn cycles(modules: &[Module]) -> Vec<String> {
    let edges = graph(modules);
    let mut nodes: BTreeSet<&Vec<String>> = edges.keys().collect();
    nodes.extend(edges.values().flatten());
    let mut tarjan = Tarjan {
        edges: &edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        components: Vec::new(),
    };
    for node in nodes {
        if !tarjan.index.contains_key(node) {
            tarjan.visit(node);
        }
    }
    tarjan
        .components
        .into_iter()
        .map(|component| {
            let inside: BTreeSet<&Vec<String>> = component.iter().collect();
            let mut lines = Vec::new();
            for from in &inside {
                for to in edges.get(*from).into_iter().flatten() {
                    if inside.contains(to) {
                        lines.push(format!("{} → {}", from.join("::"), to.join("::")));
                    }
                }
            }
            lines.join(", ")
        })
        .collect()
}

struct Tarjan<'a> {
    edges: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
    index: BTreeMap<Vec<String>, usize>,
    low: BTreeMap<Vec<String>, usize>,
    stack: Vec<Vec<String>>,
    on_stack: BTreeSet<Vec<String>>,
    next: usize,
    components: Vec<Vec<Vec<String>>>,
}

impl Tarjan<'_> {
    fn visit(&mut self, v: &Vec<String>) {
        self.index.insert(v.clone(), self.next);
        self.low.insert(v.clone(), self.next);
        self.next += 1;
        self.stack.push(v.clone());
        self.on_stack.insert(v.clone());
        for w in self.edges.get(v).into_iter().flatten() {
            if !self.index.contains_key(w) {
                self.visit(w);
                let low = self.low[v].min(self.low[w]);
                self.low.insert(v.clone(), low);
            } else if self.on_stack.contains(w) {
                let low = self.low[v].min(self.index[w]);
                self.low.insert(v.clone(), low);
            }
        }
        if self.low[v] == self.index[v] {
            let mut component = Vec::new();
            while let Some(w) = self.stack.pop() {
                self.on_stack.remove(&w);
                let done = w == *v;
                component.push(w);
                if done {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                self.components.push(component);
            }
        }
    }
}
