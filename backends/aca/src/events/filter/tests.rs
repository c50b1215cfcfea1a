//! The event filters against dockerd's rules.

use std::collections::BTreeMap;

use super::*;

fn event(typ: &str, action: &str, id: &str, attrs: &[(&str, &str)]) -> Event {
    Event {
        seq: 1,
        time_nano: 1,
        typ: typ.into(),
        action: action.into(),
        actor_id: id.into(),
        attributes: attrs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        scope: "local".into(),
    }
}

fn filters(pairs: &[(&str, &[&str])]) -> Filters {
    pairs
        .iter()
        .map(|(k, vs)| {
            (
                (*k).to_owned(),
                vs.iter().map(|v| (*v).to_owned()).collect(),
            )
        })
        .collect()
}

fn die() -> Event {
    event(
        "container",
        "die",
        "abc123",
        &[
            ("image", "busybox:latest"),
            ("name", "web"),
            ("exitCode", "3"),
            ("com.example.tier", "front"),
        ],
    )
}

#[test]
fn no_filters_match_everything() {
    assert!(matches(&Filters::new(), &die()));
}

#[test]
fn unknown_filter_names_are_refused() {
    let err = validate(&filters(&[("event", &["die"]), ("foo", &["x"])])).unwrap_err();
    assert_eq!(
        err,
        ApiError::InvalidParameter("invalid filter 'foo'".into())
    );
    for name in ACCEPTED {
        assert!(validate(&filters(&[(name, &["x"])])).is_ok(), "{name}");
    }
}

#[test]
fn event_values_or_and_filters_and() {
    assert!(matches(&filters(&[("event", &["start", "die"])]), &die()));
    assert!(!matches(&filters(&[("event", &["start"])]), &die()));
    assert!(matches(
        &filters(&[("event", &["die"]), ("type", &["container"])]),
        &die()
    ));
    assert!(!matches(
        &filters(&[("event", &["die"]), ("type", &["image"])]),
        &die()
    ));
}

#[test]
fn exec_and_health_actions_match_by_prefix() {
    let exec = event("container", "exec_start: sh -c true", "abc", &[]);
    assert!(matches(&filters(&[("event", &["exec_start"])]), &exec));
    let health = event("container", "health_status: healthy", "abc", &[]);
    assert!(matches(&filters(&[("event", &["health_status"])]), &health));
    // Other actions are exact: `di` is no prefix match for `die`.
    assert!(!matches(&filters(&[("event", &["di"])]), &die()));
}

#[test]
fn containers_by_id_or_name_prefix() {
    assert!(matches(&filters(&[("container", &["abc"])]), &die()));
    assert!(matches(&filters(&[("container", &["web"])]), &die()));
    assert!(matches(
        &filters(&[("container", &["other", "web"])]),
        &die()
    ));
    assert!(!matches(&filters(&[("container", &["xyz"])]), &die()));
    // A network event is no container's, even naming one in its attributes.
    let connect = event(
        "network",
        "connect",
        "net1",
        &[("container", "abc123"), ("name", "n")],
    );
    assert!(!matches(&filters(&[("container", &["abc123"])]), &connect));
    assert!(matches(&filters(&[("network", &["n"])]), &connect));
}

#[test]
fn images_by_reference_name_or_id() {
    for wanted in ["busybox", "busybox:latest"] {
        assert!(
            matches(&filters(&[("image", &[wanted])]), &die()),
            "{wanted}"
        );
    }
    assert!(!matches(&filters(&[("image", &["alpine"])]), &die()));
    let tag = event(
        "image",
        "tag",
        "sha256:983",
        &[("name", "docker.io/library/x:1")],
    );
    assert!(matches(&filters(&[("image", &["x"])]), &tag));
    assert!(matches(&filters(&[("image", &["sha256:983"])]), &tag));
    assert_eq!(
        strip_tag("registry:5000/team/app:2"),
        "registry:5000/team/app"
    );
    assert_eq!(strip_tag("registry:5000/app"), "registry:5000/app");
    assert_eq!(strip_tag("busybox@sha256:abc"), "busybox");
}

#[test]
fn labels_all_must_hold() {
    assert!(matches(
        &filters(&[("label", &["com.example.tier"])]),
        &die()
    ));
    assert!(matches(
        &filters(&[("label", &["com.example.tier=front"])]),
        &die()
    ));
    assert!(!matches(
        &filters(&[("label", &["com.example.tier=back"])]),
        &die()
    ));
    assert!(!matches(
        &filters(&[("label", &["com.example.tier", "missing"])]),
        &die()
    ));
}

#[test]
fn scope_and_volume() {
    assert!(matches(&filters(&[("scope", &["local"])]), &die()));
    assert!(!matches(&filters(&[("scope", &["swarm"])]), &die()));
    let vol = event("volume", "create", "data", &[("driver", "local")]);
    assert!(matches(&filters(&[("volume", &["data"])]), &vol));
    assert!(!matches(&filters(&[("volume", &["other"])]), &vol));
    assert!(!matches(&filters(&[("volume", &["data"])]), &die()));
}
