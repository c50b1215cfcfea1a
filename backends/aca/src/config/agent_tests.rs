//! Tests of the listener security and agent-link settings (`agent.rs`).

use std::path::PathBuf;

use clap::Parser;

use crate::config::{CliArgs, Config, ConfigError, DEFAULT_AGENT_LISTEN};

fn env(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    [
        ("SOCKERLESS_ACA_SUBSCRIPTION_ID", "s"),
        ("SOCKERLESS_ACA_RESOURCE_GROUP", "r"),
        ("SOCKERLESS_ACA_MANAGED_ENVIRONMENT_NAME", "e"),
        ("SOCKERLESS_ACA_LOCATION", "l"),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

fn args(flags: &[&str]) -> CliArgs {
    CliArgs::try_parse_from(std::iter::once("sockerless-backend-aca").chain(flags.iter().copied()))
        .expect("flags")
}

fn invalid(result: Result<Config, ConfigError>) -> String {
    match result {
        Err(ConfigError::Invalid(m)) => m,
        other => panic!("expected an invalid configuration, got {other:?}"),
    }
}

#[test]
fn default_agent_listen_is_loopback_without_tls() {
    let config = Config::from_sources(&CliArgs::default(), env(&[])).expect("config");
    assert_eq!(DEFAULT_AGENT_LISTEN, "tcp://127.0.0.1:9112");
    assert_eq!(config.agent_listen, DEFAULT_AGENT_LISTEN);
    assert!(!config.agent_tls());
    assert_eq!(config.agent_tls_settings(), None);
    assert_eq!(config.agent_tls_ca, None);
    config.check_agent_listen().expect("loopback is allowed");
}

#[test]
fn non_loopback_without_tls_is_refused_with_the_options() {
    for listen in [
        "tcp://0.0.0.0:9112",
        "tcp://10.0.0.4:9112",
        "tcp://[::]:9112",
    ] {
        let msg = invalid(Config::from_sources(
            &CliArgs::default(),
            env(&[("SOCKERLESS_ACA_AGENT_LISTEN", listen)]),
        ));
        for needle in [
            "not a loopback address",
            "agent_tls_cert",
            "agent_tls_key",
            "agent_callback_url",
            "wss://",
        ] {
            assert!(msg.contains(needle), "{listen}: {needle} missing in {msg}");
        }
    }
    for listen in [
        "tcp://127.0.0.1:0",
        "tcp://localhost:9112",
        "tcp://[::1]:9112",
    ] {
        Config::from_sources(
            &CliArgs::default(),
            env(&[("SOCKERLESS_ACA_AGENT_LISTEN", listen)]),
        )
        .unwrap_or_else(|e| panic!("{listen}: {e}"));
    }
    let msg = invalid(Config::from_sources(
        &CliArgs::default(),
        env(&[("SOCKERLESS_ACA_AGENT_LISTEN", "unix:///tmp/a.sock")]),
    ));
    assert!(msg.contains("tcp://host:port"), "{msg}");
}

#[test]
fn non_loopback_with_tls_is_allowed() {
    let config = Config::from_sources(
        &args(&[
            "--agent-listen",
            "tcp://0.0.0.0:9112",
            "--agent-tls-cert",
            "/etc/s/cert.pem",
            "--agent-tls-key",
            "/etc/s/key.pem",
        ]),
        env(&[]),
    )
    .expect("config");
    assert!(config.agent_tls());
    let tls = config.agent_tls_settings().expect("tls");
    assert_eq!(tls.cert_chain_pem, PathBuf::from("/etc/s/cert.pem"));
    assert_eq!(tls.key_pem, PathBuf::from("/etc/s/key.pem"));
    assert_eq!(tls.client_ca_pem, None, "agents authenticate with tokens");
}

#[test]
fn half_configured_tls_names_the_missing_key() {
    let msg = invalid(Config::from_sources(
        &args(&["--agent-tls-cert", "/c.pem"]),
        env(&[]),
    ));
    assert!(
        msg.contains("agent_tls_key is missing") && msg.contains("--agent-tls-key"),
        "{msg}"
    );
    let msg = invalid(Config::from_sources(
        &CliArgs::default(),
        env(&[("SOCKERLESS_ACA_AGENT_TLS_KEY", "/k.pem")]),
    ));
    assert!(
        msg.contains("agent_tls_cert is missing") && msg.contains("SOCKERLESS_ACA_AGENT_TLS_CERT"),
        "{msg}"
    );
    // The refused key path is a path, but the message never quotes key material.
    assert!(!msg.contains("BEGIN"), "{msg}");
}

#[test]
fn tls_keys_layer_flags_over_env_over_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("c.yaml");
    std::fs::write(
        &file,
        "aca:\n  agent_tls_cert: /file/cert.pem\n  agent_tls_key: /file/key.pem\n  agent_tls_ca: /file/ca.pem\n",
    )
    .expect("write");
    let file_arg = file.to_string_lossy().into_owned();
    let from_file = Config::from_sources(&args(&["--config", &file_arg]), env(&[])).expect("file");
    assert_eq!(
        from_file.agent_tls_cert,
        Some(PathBuf::from("/file/cert.pem"))
    );
    assert_eq!(
        from_file.agent_tls_key,
        Some(PathBuf::from("/file/key.pem"))
    );
    assert_eq!(from_file.agent_tls_ca, Some(PathBuf::from("/file/ca.pem")));

    let e = env(&[
        ("SOCKERLESS_ACA_AGENT_TLS_CERT", "/env/cert.pem"),
        ("SOCKERLESS_ACA_AGENT_TLS_KEY", "/env/key.pem"),
        ("SOCKERLESS_ACA_AGENT_TLS_CA", ""),
    ]);
    let from_env = Config::from_sources(&args(&["--config", &file_arg]), e.clone()).expect("env");
    assert_eq!(
        from_env.agent_tls_cert,
        Some(PathBuf::from("/env/cert.pem"))
    );
    assert_eq!(from_env.agent_tls_key, Some(PathBuf::from("/env/key.pem")));
    assert_eq!(
        from_env.agent_tls_ca, None,
        "an empty value counts as unset"
    );

    let from_flags = Config::from_sources(
        &args(&[
            "--config",
            &file_arg,
            "--agent-tls-key",
            "/flag/key.pem",
            "--agent-tls-ca",
            "/flag/ca.pem",
        ]),
        e,
    )
    .expect("flags");
    assert_eq!(
        from_flags.agent_tls_cert,
        Some(PathBuf::from("/env/cert.pem"))
    );
    assert_eq!(
        from_flags.agent_tls_key,
        Some(PathBuf::from("/flag/key.pem"))
    );
    assert_eq!(from_flags.agent_tls_ca, Some(PathBuf::from("/flag/ca.pem")));
}

#[test]
fn a_config_built_in_code_is_checked_too() {
    let mut config = Config::new("s", "r", "e", "l");
    config.agent_listen = "tcp://0.0.0.0:9112".into();
    assert!(config.check_agent_listen().is_err());
    config.agent_tls_cert = Some("/c.pem".into());
    config.agent_tls_key = Some("/k.pem".into());
    config.check_agent_listen().expect("with TLS");
}

#[test]
fn callback_url_is_wss_unless_loopback() {
    let with = |url: &str| {
        Config::from_sources(
            &CliArgs::default(),
            env(&[("SOCKERLESS_ACA_AGENT_CALLBACK_URL", url)]),
        )
        .map(|_| ())
    };
    for ok in [
        "wss://agents.example.com/agent",
        "wss://10.0.0.5:9112/x",
        "ws://127.0.0.1:9112/agent",
        "ws://localhost/agent",
        "ws://[::1]:9112/agent",
    ] {
        with(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for bad in [
        "ws://10.0.0.5/x",
        "ws://agents.example.com/agent",
        "http://127.0.0.1/agent",
        "not a url",
    ] {
        let err = with(bad).expect_err(bad).to_string();
        assert!(err.contains("agent_callback_url"), "{bad}: {err}");
    }
}
