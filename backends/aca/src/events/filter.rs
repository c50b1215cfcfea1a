//! The `filters` of `GET /events`, matched as dockerd's `daemon/events`
//! filter does: several filters AND, several values of one filter OR
//! (labels excepted: every `label` must match), containers and other
//! objects by ID or name prefix, images by ID, reference or name without
//! the tag. Pure.

use sockerless_api::{ApiError, Filters};

use super::Event;

/// The filters of the v1.44 spec for `GET /events`.
pub const ACCEPTED: &[&str] = &[
    "config",
    "container",
    "daemon",
    "event",
    "image",
    "label",
    "network",
    "node",
    "plugin",
    "scope",
    "secret",
    "service",
    "type",
    "volume",
];

/// An unknown filter name is a 400, as dockerd's `filters.Validate` says it.
pub fn validate(filters: &Filters) -> Result<(), ApiError> {
    let mut names: Vec<&String> = filters.keys().collect();
    names.sort();
    match names.into_iter().find(|n| !ACCEPTED.contains(&n.as_str())) {
        Some(name) => Err(ApiError::InvalidParameter(format!(
            "invalid filter '{name}'"
        ))),
        None => Ok(()),
    }
}

fn values<'a>(filters: &'a Filters, key: &str) -> Option<&'a [String]> {
    filters
        .get(key)
        .map(Vec::as_slice)
        .filter(|v| !v.is_empty())
}

/// dockerd's `Args.ExactMatch`: no filter of that name matches everything.
fn exact(filters: &Filters, key: &str, source: &str) -> bool {
    values(filters, key).is_none_or(|vs| vs.iter().any(|v| v == source))
}

/// dockerd's `Args.FuzzyMatch`: exact, or a value is a prefix of `source`.
fn fuzzy(filters: &Filters, key: &str, source: &str) -> bool {
    values(filters, key).is_none_or(|vs| vs.iter().any(|v| source.starts_with(v.as_str())))
}

fn fuzzy_name(filters: &Filters, key: &str, event: &Event) -> bool {
    fuzzy(filters, key, &event.actor_id)
        || fuzzy(filters, key, attr(event, "name").unwrap_or_default())
}

fn attr<'a>(event: &'a Event, key: &str) -> Option<&'a str> {
    event.attributes.get(key).map(String::as_str)
}

/// `exec_create`, `exec_start` and `health_status` carry a detail after a
/// colon: a filter naming one of them matches by prefix, as in dockerd.
fn event_matches(filters: &Filters, event: &Event) -> bool {
    let Some(wanted) = values(filters, "event") else {
        return true;
    };
    let fuzzy_actions = ["health_status", "exec_create", "exec_start"];
    if wanted.iter().any(|w| fuzzy_actions.contains(&w.as_str())) {
        fuzzy(filters, "event", &event.action)
    } else {
        exact(filters, "event", &event.action)
    }
}

/// `busybox:latest` → `busybox`, `docker.io/library/busybox:1` → `busybox`;
/// IDs and digests unchanged (dockerd's `stripTag` via `FamiliarName`).
fn strip_tag(image: &str) -> String {
    if image.starts_with("sha256:") {
        return image.to_owned();
    }
    let name = image.split('@').next().unwrap_or(image);
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let name = match name[last_slash..].rfind(':') {
        Some(colon) => &name[..last_slash + colon],
        None => name,
    };
    let name = name
        .strip_prefix("docker.io/")
        .or_else(|| name.strip_prefix("index.docker.io/"))
        .unwrap_or(name);
    name.strip_prefix("library/")
        .filter(|rest| !rest.contains('/'))
        .unwrap_or(name)
        .to_owned()
}

fn image_matches(filters: &Filters, event: &Event) -> bool {
    if values(filters, "image").is_none() {
        return true;
    }
    let name_attr = if event.typ == "image" {
        "name"
    } else {
        "image"
    };
    let name = attr(event, name_attr).unwrap_or_default();
    exact(filters, "image", &event.actor_id)
        || exact(filters, "image", name)
        || exact(filters, "image", &strip_tag(&event.actor_id))
        || exact(filters, "image", &strip_tag(name))
}

/// dockerd's `Args.MatchKVList`: every `k` or `k=v` must hold.
fn labels_match(filters: &Filters, event: &Event) -> bool {
    let Some(wanted) = values(filters, "label") else {
        return true;
    };
    wanted.iter().all(|w| match w.split_once('=') {
        Some((k, v)) => attr(event, k) == Some(v),
        None => event.attributes.contains_key(w.as_str()),
    })
}

/// Whether `event` passes `filters` (already validated).
pub fn matches(filters: &Filters, event: &Event) -> bool {
    event_matches(filters, event)
        && exact(filters, "type", &event.typ)
        && exact(filters, "scope", &event.scope)
        && [
            "daemon",
            "container",
            "plugin",
            "volume",
            "network",
            "node",
            "service",
            "secret",
            "config",
        ]
        .iter()
        .all(|key| fuzzy_name(filters, key, event))
        && image_matches(filters, event)
        && labels_match(filters, event)
}

#[cfg(test)]
mod tests;
