//! `docker ps` filters: `label`, `name`, `id`, `status`, `ancestor`,
//! `network`, `volume`, `exited`, `before`, `since`, `health`. Values of one filter are
//! alternatives (OR), except `label`'s, which must all hold (dockerd's
//! `MatchKVList`: compose finds its project's containers by two labels);
//! different filters must all hold (AND), as in Docker.

use sockerless_api::{ApiError, Filters, Result};

use crate::runtime::StoredConfig;
use crate::store::ContainerRecord;

const KNOWN: &[&str] = &[
    "label", "name", "id", "status", "ancestor", "network", "volume", "exited", "before", "since",
    "health",
];
const HEALTH: &[&str] = &["starting", "healthy", "unhealthy", "none"];
const STATUSES: &[&str] = &[
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];

/// Parsed filters.
#[derive(Debug, Clone, Default)]
pub struct ContainerFilter {
    filters: Filters,
}

fn name_matches(pattern: &str, name: &str) -> bool {
    let name = name.trim_start_matches('/');
    let (start, p) = match pattern.strip_prefix('^') {
        Some(rest) => (true, rest.trim_start_matches('/')),
        None => (false, pattern.trim_start_matches('/')),
    };
    let (end, p) = match p.strip_suffix('$') {
        Some(rest) => (true, rest),
        None => (false, p),
    };
    match (start, end) {
        (true, true) => name == p,
        (true, false) => name.starts_with(p),
        (false, true) => name.ends_with(p),
        (false, false) => name.contains(p),
    }
}

impl ContainerFilter {
    /// Validates the filter names and values.
    pub fn parse(filters: &Filters) -> Result<Self> {
        for (key, values) in filters {
            if !KNOWN.contains(&key.as_str()) {
                return Err(ApiError::InvalidParameter(format!(
                    "invalid filter '{key}'"
                )));
            }
            for v in values {
                if key == "status" && !STATUSES.contains(&v.as_str()) {
                    return Err(ApiError::InvalidParameter(format!(
                        "invalid filter 'status={v}'"
                    )));
                }
                if key == "health" && !HEALTH.contains(&v.as_str()) {
                    return Err(ApiError::InvalidParameter(format!(
                        "Unrecognised filter value for health: {v}"
                    )));
                }
                if key == "exited" && v.parse::<i64>().is_err() {
                    return Err(ApiError::InvalidParameter(format!(
                        "invalid filter 'exited={v}'"
                    )));
                }
            }
        }
        Ok(Self {
            filters: filters.clone(),
        })
    }

    /// Whether the filters ask for stopped containers too (`status`, `exited`).
    pub fn wants_stopped(&self) -> bool {
        self.filters.get("exited").is_some_and(|v| !v.is_empty())
            || self
                .filters
                .get("status")
                .is_some_and(|v| v.iter().any(|s| s != "running"))
    }

    fn any(&self, key: &str, test: impl Fn(&str) -> bool) -> bool {
        match self.filters.get(key) {
            None => true,
            Some(values) if values.is_empty() => true,
            Some(values) => values.iter().any(|v| test(v)),
        }
    }

    /// Every value of `key` holds (no value: true).
    fn all(&self, key: &str, test: impl Fn(&str) -> bool) -> bool {
        self.filters
            .get(key)
            .is_none_or(|values| values.iter().all(|v| test(v)))
    }

    /// Whether a container whose health is `value` (`starting`, `healthy`,
    /// `unhealthy` or `none`) passes the `health` filter.
    pub fn matches_health(&self, value: &str) -> bool {
        self.any("health", |v| v == value)
    }

    /// Whether `r` passes every filter (`all` resolves `before`/`since`).
    pub fn matches(&self, r: &ContainerRecord, all: &[ContainerRecord]) -> Result<bool> {
        let stored = StoredConfig::of(r)?;
        let labels = stored.body.labels.clone().unwrap_or_default();
        let find = |key: &str| {
            all.iter()
                .find(|o| {
                    o.id == key || o.name == key.trim_start_matches('/') || o.id.starts_with(key)
                })
                .map(|o| o.created_at)
        };
        let networks: Vec<String> = {
            let mut n: Vec<String> = stored
                .body
                .networking_config
                .as_ref()
                .and_then(|c| c.endpoints_config.as_ref())
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            if let Some(mode) = stored
                .body
                .host_config
                .as_ref()
                .and_then(|h| h.network_mode.clone())
            {
                n.push(mode);
            }
            n
        };
        let binds: Vec<String> = stored
            .body
            .host_config
            .as_ref()
            .and_then(|h| h.binds.clone())
            .unwrap_or_default();
        let ok = self.all("label", |v| match v.split_once('=') {
            Some((k, val)) => labels.get(k).is_some_and(|x| x == val),
            None => labels.contains_key(v),
        }) && self.any("name", |v| name_matches(v, &r.name))
            && self.any("id", |v| r.id.starts_with(v))
            && self.any("status", |v| v == r.state)
            && self.any("ancestor", |v| {
                r.image == v
                    || stored.image_id == v
                    || stored
                        .image_id
                        .trim_start_matches("sha256:")
                        .starts_with(v.trim_start_matches("sha256:"))
                    || r.image.split(':').next() == Some(v)
            })
            && self.any("network", |v| networks.iter().any(|n| n == v))
            && self.any("volume", |v| {
                binds
                    .iter()
                    .any(|b| b.split(':').take(2).any(|part| part == v))
                    || stored.mounts.iter().any(|m| {
                        m.target() == v
                            || matches!(m, crate::containers::mounts::MountSpec::Volume { name, .. } if name == v)
                    })
            })
            && self.any("exited", |v| {
                r.state == "exited" && v.parse::<i64>().ok() == r.exit_code
            })
            && self.any("before", |v| find(v).is_some_and(|t| r.created_at < t))
            && self.any("since", |v| find(v).is_some_and(|t| r.created_at > t));
        Ok(ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockerless_api::docker::{ContainerCreateBody, HostConfig};
    use std::collections::HashMap;

    fn rec(
        id: &str,
        name: &str,
        state: &str,
        created: i64,
        labels: &[(&str, &str)],
    ) -> ContainerRecord {
        let stored = StoredConfig {
            body: ContainerCreateBody {
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                host_config: Some(HostConfig {
                    network_mode: Some("ci-net".into()),
                    binds: Some(vec!["data:/data".into()]),
                    ..Default::default()
                }),
                ..Default::default()
            },
            image_id: "sha256:beef".into(),
            ..Default::default()
        };
        ContainerRecord {
            id: id.into(),
            name: name.into(),
            image: "busybox:latest".into(),
            job_name: format!("sl-{id}"),
            execution_name: None,
            agent_address: None,
            agent_token_hash: None,
            state: state.into(),
            exit_code: (state == "exited").then_some(3),
            created_at: created,
            started_at: None,
            finished_at: None,
            config: serde_json::to_value(stored).expect("json"),
        }
    }

    fn f(pairs: &[(&str, &str)]) -> ContainerFilter {
        let mut m: Filters = HashMap::new();
        for (k, v) in pairs {
            m.entry(k.to_string()).or_default().push(v.to_string());
        }
        ContainerFilter::parse(&m).expect("parse")
    }

    #[test]
    fn every_filter() {
        let a = rec("aaa111", "web", "running", 1, &[("ci", "1"), ("job", "x")]);
        let b = rec("bbb222", "db", "exited", 2, &[("ci", "2")]);
        let all = vec![a.clone(), b.clone()];
        let m = |flt: ContainerFilter, r: &ContainerRecord| flt.matches(r, &all).expect("match");
        assert!(m(f(&[("label", "ci")]), &a) && m(f(&[("label", "ci")]), &b));
        assert!(m(f(&[("label", "ci=1")]), &a) && !m(f(&[("label", "ci=1")]), &b));
        assert!(!m(f(&[("label", "ci=1"), ("label", "job")]), &b));
        // Several labels must all hold (dockerd's MatchKVList), not any one.
        assert!(m(f(&[("label", "ci=1"), ("label", "job")]), &a));
        assert!(m(f(&[("label", "ci"), ("label", "job=x")]), &a));
        assert!(!m(f(&[("label", "ci"), ("label", "job")]), &b));
        assert!(!m(f(&[("label", "ci=2"), ("label", "ci")]), &a));
        assert!(m(f(&[("name", "we")]), &a) && !m(f(&[("name", "^/we$")]), &a));
        assert!(m(f(&[("name", "^web$")]), &a));
        assert!(m(f(&[("id", "aaa")]), &a) && !m(f(&[("id", "aaa")]), &b));
        assert!(m(f(&[("status", "exited")]), &b) && !m(f(&[("status", "exited")]), &a));
        assert!(m(f(&[("ancestor", "busybox")]), &a) && m(f(&[("ancestor", "sha256:be")]), &a));
        assert!(!m(f(&[("ancestor", "alpine")]), &a));
        assert!(m(f(&[("network", "ci-net")]), &a) && !m(f(&[("network", "other")]), &a));
        assert!(m(f(&[("volume", "data")]), &a) && !m(f(&[("volume", "nope")]), &a));
        assert!(m(f(&[("exited", "3")]), &b) && !m(f(&[("exited", "0")]), &b));
        assert!(m(f(&[("before", "db")]), &a) && !m(f(&[("before", "db")]), &b));
        assert!(m(f(&[("since", "web")]), &b) && !m(f(&[("since", "web")]), &a));
        assert!(f(&[("status", "exited")]).wants_stopped());
        assert!(f(&[("health", "healthy")]).matches_health("healthy"));
        assert!(f(&[("health", "none"), ("health", "starting")]).matches_health("starting"));
        assert!(!f(&[("health", "healthy")]).matches_health("none"));
        assert!(f(&[]).matches_health("unhealthy"));
        assert!(!f(&[("status", "running")]).wants_stopped());
    }

    #[test]
    fn bad_filters_are_400() {
        let bad = |k: &str, v: &str| {
            let m: Filters = HashMap::from([(k.to_string(), vec![v.to_string()])]);
            matches!(
                ContainerFilter::parse(&m),
                Err(ApiError::InvalidParameter(_))
            )
        };
        assert!(bad("colour", "x"));
        assert!(bad("status", "sleeping"));
        assert!(bad("exited", "x"));
        assert!(bad("health", "sick"));
    }
}
