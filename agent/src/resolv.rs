//! Docker's `Dns`, `DnsSearch` and `DnsOptions` (`--dns`, `--dns-search`,
//! `--dns-option`), given as JSON arrays in `SOCKERLESS_DNS`,
//! `SOCKERLESS_DNS_SEARCH` and `SOCKERLESS_DNS_OPTIONS`: written into the
//! container's `/etc/resolv.conf` before its process starts. As dockerd
//! does, each given list replaces that kind of line; kinds not given keep
//! the platform's lines.

use std::path::PathBuf;

const DEFAULT_RESOLV_FILE: &str = "/etc/resolv.conf";
/// Most entries of one kind (glibc reads 3 nameservers and 6 search domains).
const MAX_ENTRIES: usize = 32;

/// What to write, from the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Resolv {
    nameservers: Option<Vec<String>>,
    search: Option<Vec<String>>,
    options: Option<Vec<String>>,
    file: PathBuf,
}

impl Resolv {
    pub(crate) fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let list = |k: &str| -> Result<Option<Vec<String>>, String> {
            let Some(json) = get(k).filter(|v| !v.is_empty()) else {
                return Ok(None);
            };
            let items: Vec<String> =
                serde_json::from_str(&json).map_err(|e| format!("{k}: {e}"))?;
            if items.len() > MAX_ENTRIES
                || items
                    .iter()
                    .any(|i| i.is_empty() || i.contains(|c: char| c.is_whitespace() || c == '#'))
            {
                return Err(format!("{k}: bad entries {items:?}"));
            }
            Ok(Some(items))
        };
        Ok(Resolv {
            nameservers: list("SOCKERLESS_DNS")?,
            search: list("SOCKERLESS_DNS_SEARCH")?,
            options: list("SOCKERLESS_DNS_OPTIONS")?,
            file: get("SOCKERLESS_RESOLV_FILE")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_RESOLV_FILE)),
        })
    }

    fn is_empty(&self) -> bool {
        self.nameservers.is_none() && self.search.is_none() && self.options.is_none()
    }

    /// The file's new content from its current one.
    fn rewrite(&self, existing: &str) -> String {
        let replaced = |line: &str| {
            let key = line.split_whitespace().next().unwrap_or("");
            match key {
                "nameserver" => self.nameservers.is_some(),
                "search" | "domain" => self.search.is_some(),
                "options" => self.options.is_some(),
                _ => false,
            }
        };
        let mut out: String = existing
            .lines()
            .filter(|l| !replaced(l))
            .map(|l| format!("{l}\n"))
            .collect();
        for ns in self.nameservers.iter().flatten() {
            out.push_str(&format!("nameserver {ns}\n"));
        }
        if let Some(search) = self.search.as_ref().filter(|s| !s.is_empty()) {
            out.push_str(&format!("search {}\n", search.join(" ")));
        }
        if let Some(options) = self.options.as_ref().filter(|o| !o.is_empty()) {
            out.push_str(&format!("options {}\n", options.join(" ")));
        }
        out
    }

    /// Rewrites the file in place (it is often a mount point: no rename).
    pub(crate) fn apply(&self) -> Result<(), String> {
        if self.is_empty() {
            return Ok(());
        }
        let existing = std::fs::read_to_string(&self.file).unwrap_or_default();
        std::fs::write(&self.file, self.rewrite(&existing))
            .map_err(|e| format!("writing {}: {e}", self.file.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolv(vars: &[(&str, &str)]) -> Result<Resolv, String> {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Resolv::from_lookup(|k| m.get(k).cloned())
    }

    const PLATFORM: &str =
        "# platform\nnameserver 10.0.0.10\nsearch svc.cluster.local\noptions ndots:5\n";

    #[test]
    fn given_kinds_replace_the_platforms_lines_others_stay() {
        let r = resolv(&[("SOCKERLESS_DNS", r#"["8.8.8.8","1.1.1.1"]"#)]).expect("dns");
        assert_eq!(
            r.rewrite(PLATFORM),
            "# platform\nsearch svc.cluster.local\noptions ndots:5\nnameserver 8.8.8.8\nnameserver 1.1.1.1\n"
        );
        let r = resolv(&[
            ("SOCKERLESS_DNS_SEARCH", r#"["example.com"]"#),
            ("SOCKERLESS_DNS_OPTIONS", r#"["ndots:2","timeout:1"]"#),
        ])
        .expect("search");
        assert_eq!(
            r.rewrite(PLATFORM),
            "# platform\nnameserver 10.0.0.10\nsearch example.com\noptions ndots:2 timeout:1\n"
        );
    }

    #[test]
    fn nothing_given_touches_nothing_and_bad_input_is_an_error() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("resolv.conf");
        let r = resolv(&[("SOCKERLESS_RESOLV_FILE", file.to_str().expect("utf-8"))]).expect("none");
        r.apply().expect("no-op");
        assert!(!file.exists());
        for bad in [r#"["a b"]"#, "[", r#"[""]"#] {
            assert!(resolv(&[("SOCKERLESS_DNS", bad)]).is_err(), "{bad}");
        }
        let r = resolv(&[
            ("SOCKERLESS_DNS", r#"["9.9.9.9"]"#),
            ("SOCKERLESS_RESOLV_FILE", file.to_str().expect("utf-8")),
        ])
        .expect("dns");
        r.apply().expect("written");
        assert_eq!(
            std::fs::read_to_string(&file).expect("read"),
            "nameserver 9.9.9.9\n"
        );
    }
}
