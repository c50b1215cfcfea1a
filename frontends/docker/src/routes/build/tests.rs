//! The build query as the Docker CLI's classic builder sends it.

use axum::http::{HeaderMap, HeaderValue};
use base64::Engine;

use super::*;

/// What `docker build -t app:1 --build-arg X=y .` sends (Docker CLI 28).
const CLI_QUERY: &str = "buildargs=%7B%22X%22%3A%22y%22%2C%22UNSET%22%3Anull%7D&cachefrom=%5B%5D&cgroupparent=&cpuperiod=0&cpuquota=0&cpusetcpus=&cpusetmems=&cpushares=0&dockerfile=Dockerfile&labels=%7B%22a%22%3A%22b%22%7D&memory=0&memswap=0&networkmode=default&rm=1&shmsize=0&t=app%3A1&t=app%3Alatest&target=&ulimits=null&version=1";

#[test]
fn the_clis_neutral_values_pass_and_the_rest_is_read() {
    let opts = build_options(Some(CLI_QUERY), &HeaderMap::new()).expect("options");
    assert_eq!(opts.tags, ["app:1", "app:latest"]);
    assert_eq!(opts.dockerfile, "Dockerfile");
    assert_eq!(opts.build_args.len(), 1, "a null argument is left unset");
    assert_eq!(opts.build_args["X"], "y");
    assert_eq!(opts.labels["a"], "b");
    assert_eq!(opts.target, None);
    assert!(!opts.quiet && !opts.no_cache && !opts.pull);
}

#[test]
fn options_nothing_here_honours_are_refused_by_name() {
    for (query, name) in [
        ("memory=1048576", "memory"),
        ("networkmode=host", "networkmode"),
        ("extrahosts=%5B%22a%3A1.2.3.4%22%5D", "extrahosts"),
        ("squash=True", "squash"),
        ("remote=https%3A%2F%2Fexample.com%2Fx.git", "remote"),
        ("cachefrom=%5B%22img%22%5D", "cachefrom"),
    ] {
        let err = build_options(Some(query), &HeaderMap::new()).expect_err(query);
        assert_eq!(err.status(), 400, "{query}");
        assert!(err.message().contains(name), "{query}: {}", err.message());
    }
    let err = build_options(Some("version=2"), &HeaderMap::new()).expect_err("buildkit");
    assert!(
        err.message().contains("DOCKER_BUILDKIT=0"),
        "{}",
        err.message()
    );
}

#[test]
fn bad_tags_and_json_are_400s() {
    for query in ["t=a%20b", "buildargs=%7Bnot", "labels=%5B1%5D"] {
        let err = build_options(Some(query), &HeaderMap::new()).expect_err(query);
        assert_eq!(err.status(), 400, "{query}");
    }
}

#[test]
fn registry_config_is_read_and_never_echoed() {
    let json = r#"{"registry.example":{"username":"u","password":"hunter2","serveraddress":"registry.example"},"empty.example":{}}"#;
    let mut headers = HeaderMap::new();
    let encoded = base64::engine::general_purpose::URL_SAFE.encode(json);
    headers.insert(
        "x-registry-config",
        HeaderValue::from_str(&encoded).expect("header"),
    );
    let opts = build_options(None, &headers).expect("options");
    assert_eq!(opts.registry_config.len(), 1);
    assert_eq!(
        opts.registry_config["registry.example"].password.as_deref(),
        Some("hunter2")
    );
    assert!(!format!("{opts:?}").contains("hunter2"));
    headers.insert("x-registry-config", HeaderValue::from_static("%%%"));
    let err = build_options(None, &headers).expect_err("bad header");
    assert!(!err.message().contains("%%%"));
}

#[test]
fn lines_are_dockerds() {
    let line = build_line(&BuildProgress::line("Step 1/2 : FROM busybox\n"));
    assert_eq!(
        &line[..],
        b"{\"stream\":\"Step 1/2 : FROM busybox\\n\"}\r\n"
    );
    let line = build_line(&BuildProgress::image_id("sha256:abc"));
    assert_eq!(&line[..], b"{\"aux\":{\"ID\":\"sha256:abc\"}}\r\n");
    let line = build_line(&BuildProgress::failed("boom", Some(1)));
    assert_eq!(
        &line[..],
        b"{\"errorDetail\":{\"code\":1,\"message\":\"boom\"},\"error\":\"boom\"}\r\n"
    );
}

#[test]
fn docker_pys_python_booleans_are_read() {
    // docker-py sends `rm=False` by default and Python's spelling of booleans.
    let query = "t=app&q=False&nocache=True&rm=False&forcerm=False&pull=True&dockerfile=Dockerfile";
    let opts = build_options(Some(query), &HeaderMap::new()).expect("options");
    assert!(!opts.quiet && opts.no_cache && opts.pull);
    assert_eq!(opts.tags, ["app"]);
}
