//! Tests of image reference parsing, as the Docker CLI and dockerd parse them.

use super::*;
use proptest::prelude::*;

fn canonical(s: &str) -> String {
    ImageRef::parse(s).expect(s).canonical()
}

#[test]
fn docker_hub_short_names_are_normalised() {
    assert_eq!(canonical("busybox"), "docker.io/library/busybox:latest");
    assert_eq!(canonical("busybox:1.36"), "docker.io/library/busybox:1.36");
    assert_eq!(canonical("user/app"), "docker.io/user/app:latest");
    assert_eq!(
        canonical("index.docker.io/library/busybox"),
        "docker.io/library/busybox:latest"
    );
    assert_eq!(
        canonical("registry-1.docker.io/busybox"),
        "docker.io/library/busybox:latest"
    );
    assert_eq!(
        canonical("docker.io/busybox:musl"),
        "docker.io/library/busybox:musl"
    );
}

#[test]
fn registries_ports_and_digests() {
    let d = format!("sha256:{}", "ab".repeat(32));
    let r = ImageRef::parse(&format!("127.0.0.1:5000/library/busybox@{d}")).expect("ref");
    assert_eq!(r.registry, "127.0.0.1:5000");
    assert_eq!(r.path, "library/busybox");
    assert_eq!(r.tag, None);
    assert_eq!(r.digest.as_deref(), Some(d.as_str()));
    assert_eq!(r.familiar(), format!("127.0.0.1:5000/library/busybox@{d}"));
    let r = ImageRef::parse("localhost/app:v1").expect("ref");
    assert_eq!(r.registry, "localhost");
    let r = ImageRef::parse("localhost:5000/a/b/c:v1").expect("ref");
    assert_eq!(
        (r.registry.as_str(), r.path.as_str()),
        ("localhost:5000", "a/b/c")
    );
    let r = ImageRef::parse(&format!("busybox:1@{d}")).expect("tag and digest");
    assert_eq!(r.familiar(), format!("busybox:1@{d}"));
    let r = ImageRef::parse("myreg.azurecr.io/team/app:v2").expect("ref");
    assert_eq!(r.familiar(), "myreg.azurecr.io/team/app:v2");
    assert_eq!(r.familiar_repository(), "myreg.azurecr.io/team/app");
}

#[test]
fn familiar_names_hide_docker_hub() {
    assert_eq!(
        ImageRef::parse("busybox").expect("r").familiar(),
        "busybox:latest"
    );
    assert_eq!(
        ImageRef::parse("user/app:1").expect("r").familiar(),
        "user/app:1"
    );
    assert_eq!(
        ImageRef::parse("library/busybox").expect("r").familiar(),
        "busybox:latest"
    );
}

#[test]
fn invalid_references_are_refused() {
    for bad in [
        "",
        "BusyBox",
        "busybox:",
        ":latest",
        "busybox@sha256:abc",
        "busybox@sha256:ZZ",
        "a//b",
        "/a",
        "a/",
        "busy box",
        "-busybox",
        "busybox-",
        "busybox:-tag",
        "host:port/app",
        "busybox@",
    ] {
        let err = ImageRef::parse(bad).expect_err(bad);
        assert!(
            matches!(err, ApiError::InvalidParameter(ref m) if m.starts_with("invalid reference format")),
            "{bad}: {err:?}"
        );
    }
    let long_tag = format!("busybox:{}", "a".repeat(129));
    assert!(ImageRef::parse(&long_tag).is_err());
    let long_name = "a".repeat(256);
    assert!(ImageRef::parse(&long_name).is_err());
}

#[test]
fn ids_are_recognised() {
    assert_eq!(looks_like_id("sha256:abc"), Some("abc"));
    assert_eq!(looks_like_id("abc123"), Some("abc123"));
    assert_eq!(looks_like_id("busybox"), None);
    assert_eq!(looks_like_id("sha256:"), None);
    assert_eq!(looks_like_id(&"a".repeat(65)), None);
}

proptest! {
    #[test]
    fn parsing_never_panics(s in "\\PC{0,80}") {
        let _ = ImageRef::parse(&s);
        let _ = ImageRef::parse_loose(&s);
        let _ = looks_like_id(&s);
    }

    #[test]
    fn parsing_reference_like_text_never_panics(s in "[a-zA-Z0-9:/@._\\-\\[\\]]{0,60}") {
        let _ = ImageRef::parse(&s);
    }

    #[test]
    fn normalisation_is_idempotent(
        registry in prop::option::of("(docker\\.io|index\\.docker\\.io|localhost:5000|[a-z]{1,8}\\.example\\.com(:[0-9]{1,4})?)"),
        path in "[a-z0-9]{1,6}((\\.|_|__|-+)[a-z0-9]{1,4})?(/[a-z0-9]{1,6}){0,2}",
        tag in prop::option::of("[A-Za-z0-9_][A-Za-z0-9_.\\-]{0,10}"),
        digest in prop::option::of("[0-9a-f]{64}"),
    ) {
        let mut s = String::new();
        if let Some(r) = &registry {
            s.push_str(r);
            s.push('/');
        }
        s.push_str(&path);
        if let Some(t) = &tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &digest {
            s.push_str("@sha256:");
            s.push_str(d);
        }
        let once = ImageRef::parse(&s).expect("generated references are valid");
        let twice = ImageRef::parse(&once.canonical()).expect("canonical parses");
        prop_assert_eq!(&once, &twice);
        let familiar = ImageRef::parse(&once.familiar()).expect("familiar parses");
        prop_assert_eq!(&once, &familiar);
    }
}
