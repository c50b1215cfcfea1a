//! Docker list filters for images, and the helpers networks and volumes share
//! (`label`, boolean values, glob patterns).

use std::collections::HashMap;

use sockerless_api::{ApiError, Filters, Result};

use super::catalog::ImageGroup;
use super::reference::ImageRef;

const IMAGE_FILTERS: &[&str] = &["before", "dangling", "label", "reference", "since"];

/// 400 for filter names Docker would refuse (`invalid filter 'x'`).
pub fn check_filter_names(filters: &Filters, accepted: &[&str]) -> Result<()> {
    match filters.keys().find(|k| !accepted.contains(&k.as_str())) {
        Some(bad) => Err(ApiError::InvalidParameter(format!(
            "invalid filter '{bad}'"
        ))),
        None => Ok(()),
    }
}

/// Docker's boolean filter value (`true`/`1`, `false`/`0`).
pub fn parse_bool_filter(name: &str, values: &[String]) -> Result<Option<bool>> {
    let Some(value) = values.first() else {
        return Ok(None);
    };
    match value.as_str() {
        "true" | "1" => Ok(Some(true)),
        "false" | "0" => Ok(Some(false)),
        other => Err(ApiError::InvalidParameter(format!(
            "invalid filter '{name}={other}'"
        ))),
    }
}

/// Checks image list filters (names and boolean values).
pub fn validate_filters(filters: &Filters) -> Result<()> {
    check_filter_names(filters, IMAGE_FILTERS)?;
    if let Some(values) = filters.get("dangling") {
        parse_bool_filter("dangling", values)?;
    }
    Ok(())
}

/// Every `label` filter (`key` or `key=value`) holds for `labels`.
pub fn labels_match(labels: &HashMap<String, String>, wanted: Option<&Vec<String>>) -> bool {
    wanted.is_none_or(|wanted| {
        wanted.iter().all(|w| match w.split_once('=') {
            Some((k, v)) => labels.get(k).is_some_and(|have| have == v),
            None => labels.contains_key(w.as_str()),
        })
    })
}

/// No `label!` filter (`key` or `key=value`) holds for `labels`.
pub fn labels_exclude(labels: &HashMap<String, String>, unwanted: Option<&Vec<String>>) -> bool {
    unwanted.is_none_or(|unwanted| {
        !unwanted.iter().any(|w| match w.split_once('=') {
            Some((k, v)) => labels.get(k).is_some_and(|have| have == v),
            None => labels.contains_key(w.as_str()),
        })
    })
}

/// Whether an image passes the `reference`, `dangling` and `label` filters
/// (`before`/`since` are applied by the caller).
pub fn image_matches(group: &ImageGroup<'_>, filters: &Filters) -> bool {
    let tags = group.repo_tags();
    if let Some(dangling) = filters
        .get("dangling")
        .and_then(|v| parse_bool_filter("dangling", v).ok().flatten())
        && dangling != tags.is_empty()
    {
        return false;
    }
    if let Some(patterns) = filters.get("reference") {
        let refs: Vec<ImageRef> = group.entries.iter().map(|e| e.reference.clone()).collect();
        if !patterns
            .iter()
            .any(|p| refs.iter().any(|r| reference_matches(p, r)))
        {
            return false;
        }
    }
    labels_match(&group.labels(), filters.get("label"))
}

/// Docker's `reference` filter: the pattern is matched against the familiar
/// name with and without its tag (`busybox`, `busybox:latest`), and against
/// the full name.
pub fn reference_matches(pattern: &str, reference: &ImageRef) -> bool {
    let tag_pattern = pattern.rsplit('/').next().is_some_and(|l| l.contains(':'));
    let candidates = if tag_pattern {
        vec![reference.familiar(), reference.canonical()]
    } else {
        vec![reference.familiar_repository(), reference.repository()]
    };
    candidates.iter().any(|c| glob_match(pattern, c))
}

/// `path.Match`-style glob: `*` matches any run without `/`, `?` one such
/// character; everything else is literal.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // dp[j]: pattern prefix so far matches text prefix of length j.
    let mut dp = vec![false; t.len() + 1];
    dp[0] = true;
    for &pc in &p {
        let mut next = vec![false; t.len() + 1];
        match pc {
            '*' => {
                for j in 0..=t.len() {
                    next[j] = dp[j] || (j > 0 && next[j - 1] && t[j - 1] != '/');
                }
            }
            _ => {
                for j in 1..=t.len() {
                    next[j] = dp[j - 1] && (pc == t[j - 1] || (pc == '?' && t[j - 1] != '/'));
                }
            }
        }
        dp = next;
    }
    dp[t.len()]
}

/// Docker's `until` filter: RFC 3339, Unix seconds (with fraction), or a
/// Go-style duration before now (`24h`, `90m`, `30s`); nanoseconds since the epoch.
pub fn parse_until(value: &str) -> Result<i64> {
    let bad = || ApiError::InvalidParameter(format!("invalid filter 'until={value}'"));
    if let Ok(t) =
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
    {
        return i64::try_from(t.unix_timestamp_nanos()).map_err(|_| bad());
    }
    if let Ok(secs) = value.parse::<f64>() {
        return Ok((secs * 1e9) as i64);
    }
    let (num, unit) = value.split_at(
        value
            .find(|c: char| c.is_ascii_alphabetic())
            .ok_or_else(bad)?,
    );
    let n: f64 = num.parse().map_err(|_| bad())?;
    let scale = match unit {
        "h" => 3600e9,
        "m" => 60e9,
        "s" => 1e9,
        "ms" => 1e6,
        _ => return Err(bad()),
    };
    Ok(crate::clock::now_nanos().saturating_sub((n * scale) as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_follow_path_match() {
        assert!(glob_match("busy*", "busybox"));
        assert!(glob_match("*", "busybox"));
        assert!(!glob_match("*", "user/app"));
        assert!(glob_match("*/app", "user/app"));
        assert!(glob_match("b?sybox", "busybox"));
        assert!(!glob_match("busy", "busybox"));
        assert!(glob_match("", ""));
    }

    #[test]
    fn reference_filter_matches_with_and_without_tag() {
        let r = ImageRef::parse("busybox").expect("ref");
        assert!(reference_matches("busybox", &r));
        assert!(reference_matches("busybox:latest", &r));
        assert!(reference_matches("busy*", &r));
        assert!(reference_matches("docker.io/library/busybox", &r));
        assert!(!reference_matches("busybox:1", &r));
        assert!(!reference_matches("alpine", &r));
    }

    #[test]
    fn labels_and_bad_filters() {
        let labels = HashMap::from([("a".to_owned(), "1".to_owned())]);
        assert!(labels_match(&labels, None));
        assert!(labels_match(&labels, Some(&vec!["a".into()])));
        assert!(labels_match(&labels, Some(&vec!["a=1".into()])));
        assert!(!labels_match(&labels, Some(&vec!["a=2".into()])));
        assert!(!labels_match(&labels, Some(&vec!["b".into()])));
        let bad = Filters::from([("colour".to_owned(), vec!["x".to_owned()])]);
        assert!(
            matches!(validate_filters(&bad), Err(ApiError::InvalidParameter(m)) if m == "invalid filter 'colour'")
        );
        let bad = Filters::from([("dangling".to_owned(), vec!["maybe".to_owned()])]);
        assert!(validate_filters(&bad).is_err());
    }
}
