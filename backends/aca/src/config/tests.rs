//! Tests of loading the configuration: precedence of flags, environment
//! and YAML, the missing-keys error, secrets and their files.

use super::*;
use clap::Parser;

fn required_env() -> Vec<(String, String)> {
    [
        ("SOCKERLESS_ACA_SUBSCRIPTION_ID", "env-sub"),
        ("SOCKERLESS_ACA_RESOURCE_GROUP", "env-rg"),
        ("SOCKERLESS_ACA_MANAGED_ENVIRONMENT_NAME", "env-env"),
        ("SOCKERLESS_ACA_LOCATION", "env-loc"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

fn write_yaml(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, text).expect("write yaml");
    (dir, path)
}

#[test]
fn defaults_apply_with_only_required_keys() {
    let config = Config::from_sources(&CliArgs::default(), required_env()).expect("config");
    assert_eq!(
        config,
        Config::new("env-sub", "env-rg", "env-env", "env-loc")
    );
    assert_eq!(config.listen, "unix:///var/run/sockerless-backend.sock");
    assert_eq!(
        config.arm_endpoint.as_str(),
        "https://management.azure.com/"
    );
    assert_eq!(
        config.authority_host.as_str(),
        "https://login.microsoftonline.com/"
    );
    assert_eq!(
        config.log_analytics_endpoint.as_str(),
        "https://api.loganalytics.io/"
    );
    assert_eq!(config.agent_listen, "tcp://127.0.0.1:9112");
    assert_eq!(config.log_format, LogFormat::Text);
    assert_eq!(config.log_level, "info");
}

#[test]
fn file_under_aca_section_is_read() {
    let (_dir, path) = write_yaml(
        "aca:\n  subscription_id: \"00000000-0000-0000-0000-000000000000\"\n  resource_group: sockerless-rg\n  \
         managed_environment_name: sockerless-env\n  location: eastus\n  storage_account_key: \"\"\n  \
         registry_password: hunter2\n  registry_mirrors:\n    docker.io: http://127.0.0.1:5000\n",
    );
    let args = CliArgs {
        config: Some(path),
        ..Default::default()
    };
    let config = Config::from_sources(&args, no_env()).expect("config");
    assert_eq!(
        config.subscription_id,
        "00000000-0000-0000-0000-000000000000"
    );
    assert_eq!(config.location, "eastus");
    assert_eq!(config.storage_account_key, None, "empty string is unset");
    assert_eq!(config.registry_password, Some(SecretString::new("hunter2")));
    assert_eq!(
        config.registry_mirrors["docker.io"].as_str(),
        "http://127.0.0.1:5000/"
    );
}

#[test]
fn flags_beat_env_beat_file_beat_defaults() {
    let (_dir, path) = write_yaml(
        "subscription_id: file-sub\nresource_group: file-rg\nmanaged_environment_name: file-env\n\
         location: file-loc\nlog_level: debug\nagent_image: file-agent\n",
    );
    let mut env = required_env();
    env.retain(|(k, _)| k != "SOCKERLESS_ACA_LOCATION");
    env.push(("SOCKERLESS_ACA_LOG_LEVEL".into(), "warn".into()));
    env.push(("SOCKERLESS_ACA_LOG_FORMAT".into(), "json".into()));
    env.push(("UNRELATED".into(), "x".into()));
    let args = CliArgs {
        config: Some(path),
        subscription_id: Some("flag-sub".into()),
        log_format: Some("text".into()),
        ..Default::default()
    };
    let config = Config::from_sources(&args, env).expect("config");
    assert_eq!(
        config.subscription_id, "flag-sub",
        "flag beats env and file"
    );
    assert_eq!(config.resource_group, "env-rg", "env beats file");
    assert_eq!(
        config.location, "file-loc",
        "file used when env and flag unset"
    );
    assert_eq!(config.log_level, "warn", "env beats file");
    assert_eq!(config.log_format, LogFormat::Text, "flag beats env");
    assert_eq!(config.agent_image.as_deref(), Some("file-agent"));
    assert_eq!(
        config.listen, DEFAULT_LISTEN,
        "default when no source sets it"
    );
}

#[test]
fn missing_keys_are_all_named_in_one_line() {
    let env = vec![("SOCKERLESS_ACA_RESOURCE_GROUP".to_owned(), "rg".to_owned())];
    let err = Config::from_sources(&CliArgs::default(), env).expect_err("must fail");
    let ConfigError::Missing(keys) = &err else {
        panic!("wrong error {err:?}");
    };
    assert_eq!(
        keys,
        &["subscription_id", "managed_environment_name", "location"]
    );
    let line = err.to_string();
    assert!(!line.contains('\n'));
    assert!(
        line.contains("subscription_id (--subscription-id or SOCKERLESS_ACA_SUBSCRIPTION_ID)"),
        "{line}"
    );
    assert!(
        line.contains("location (--location or SOCKERLESS_ACA_LOCATION)"),
        "{line}"
    );
    assert!(!line.contains("resource_group"), "{line}");
}

#[test]
fn empty_required_value_counts_as_missing() {
    let mut env = required_env();
    env.push(("SOCKERLESS_ACA_LOCATION".into(), String::new()));
    let args = CliArgs {
        location: Some(" ".into()),
        ..Default::default()
    };
    let err = Config::from_sources(&args, env).expect_err("must fail");
    assert!(
        matches!(err, ConfigError::Missing(ref k) if k == &["location"]),
        "{err}"
    );
}

#[test]
fn registry_mirrors_from_env_and_flags() {
    let mut env = required_env();
    env.push((
        "SOCKERLESS_ACA_REGISTRY_MIRRORS".into(),
        "docker.io=http://127.0.0.1:5000, ghcr.io=https://mirror.example".into(),
    ));
    let config = Config::from_sources(&CliArgs::default(), env.clone()).expect("config");
    assert_eq!(config.registry_mirrors.len(), 2);
    assert_eq!(
        config.registry_mirrors["ghcr.io"].as_str(),
        "https://mirror.example/"
    );

    let args = CliArgs {
        registry_mirrors: vec!["docker.io=http://127.0.0.1:6000".into()],
        ..Default::default()
    };
    let config = Config::from_sources(&args, env).expect("config");
    assert_eq!(
        config.registry_mirrors["docker.io"].as_str(),
        "http://127.0.0.1:6000/"
    );
}

#[test]
fn invalid_values_are_rejected() {
    let mut env = required_env();
    env.push(("SOCKERLESS_ACA_REGISTRY_MIRRORS".into(), "docker.io".into()));
    assert!(matches!(
        Config::from_sources(&CliArgs::default(), env),
        Err(ConfigError::Invalid(_))
    ));
    let args = CliArgs {
        log_format: Some("xml".into()),
        ..Default::default()
    };
    assert!(matches!(
        Config::from_sources(&args, required_env()),
        Err(ConfigError::Invalid(_))
    ));
    let args = CliArgs {
        arm_endpoint: Some("not a url".into()),
        ..Default::default()
    };
    assert!(matches!(
        Config::from_sources(&args, required_env()),
        Err(ConfigError::Invalid(_))
    ));
    let args = CliArgs {
        config: Some("/nonexistent/sockerless.yaml".into()),
        ..Default::default()
    };
    assert!(matches!(
        Config::from_sources(&args, required_env()),
        Err(ConfigError::Invalid(_))
    ));
    let (_dir, path) = write_yaml("subscripton_id: typo\n");
    let args = CliArgs {
        config: Some(path),
        ..Default::default()
    };
    let err = Config::from_sources(&args, required_env()).expect_err("unknown key");
    assert!(err.to_string().contains("subscripton_id"), "{err}");
}

#[test]
fn secrets_are_redacted_in_debug() {
    let mut config = Config::new("s", "r", "e", "l");
    config.storage_account_key = Some(SecretString::new("storage-secret-value"));
    config.registry_password = Some(SecretString::new("registry-secret-value"));
    let text = format!("{config:?}");
    assert!(
        !text.contains("storage-secret-value") && !text.contains("registry-secret-value"),
        "{text}"
    );
    assert!(text.contains("<redacted>"));
}

#[test]
fn secrets_given_as_flags_are_refused_naming_the_file_flag_and_the_variable() {
    for (flag, file_flag, var) in [
        (
            "--registry-password",
            "--registry-password-file",
            "SOCKERLESS_ACA_REGISTRY_PASSWORD",
        ),
        (
            "--storage-account-key",
            "--storage-account-key-file",
            "SOCKERLESS_ACA_STORAGE_ACCOUNT_KEY",
        ),
    ] {
        let args = CliArgs::try_parse_from(["sockerless-backend-aca", flag, "flag-secret-value"])
            .expect("parse");
        assert!(!format!("{args:?}").contains("flag-secret-value"));
        let err = Config::from_sources(&args, required_env())
            .expect_err(flag)
            .to_string();
        assert!(err.contains(file_flag) && err.contains(var), "{err}");
        assert!(!err.contains("flag-secret-value"), "{err}");
    }
}

#[test]
fn secret_files_beat_env_and_are_redacted_in_args_debug() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (password, key) = (dir.path().join("pw"), dir.path().join("key"));
    std::fs::write(&password, "flag-password-value\n").expect("write");
    std::fs::write(&key, "ZmxhZy1rZXktdmFsdWU=").expect("write");
    let args = CliArgs::try_parse_from([
        "sockerless-backend-aca",
        "--registry-password-file",
        password.to_str().expect("utf-8"),
        "--storage-account-key-file",
        key.to_str().expect("utf-8"),
    ])
    .expect("parse");
    let mut env = required_env();
    env.push((
        "SOCKERLESS_ACA_REGISTRY_PASSWORD".into(),
        "env-password".into(),
    ));
    let config = Config::from_sources(&args, env).expect("config");
    assert_eq!(
        config.registry_password,
        Some(SecretString::new("flag-password-value"))
    );
    assert_eq!(
        config.storage_account_key,
        Some(SecretString::new("ZmxhZy1rZXktdmFsdWU="))
    );
}

#[test]
fn cli_parses_every_key() {
    let args = CliArgs::try_parse_from([
        "sockerless-backend-aca",
        "--subscription-id",
        "s",
        "--resource-group",
        "r",
        "--managed-environment-name",
        "e",
        "--location",
        "l",
        "--listen",
        "unix:///tmp/x.sock",
        "--data-dir",
        "/tmp/d",
        "--registry-mirror",
        "docker.io=http://127.0.0.1:5000",
        "--log-format",
        "json",
    ])
    .expect("parse");
    let config = Config::from_sources(&args, no_env()).expect("config");
    assert_eq!(config.listen, "unix:///tmp/x.sock");
    assert_eq!(config.data_dir, PathBuf::from("/tmp/d"));
    assert_eq!(config.log_format, LogFormat::Json);
    assert_eq!(config.database_path(), PathBuf::from("/tmp/d/state.db"));
}

#[test]
fn runtime_keys_default_and_layer() {
    let config = Config::from_sources(&CliArgs::default(), required_env()).expect("config");
    assert_eq!(config.arm_scope(), "https://management.azure.com/.default");
    assert_eq!(
        config.log_analytics_scope(),
        "https://api.loganalytics.io/.default"
    );
    assert_eq!(config.replica_timeout_secs, 86_400);
    assert_eq!(config.agent_connect_timeout_secs, 600);
    assert_eq!(config.log_max_bytes, 16 * 1024 * 1024);
    assert_eq!(config.agent_grace_secs, 30);

    // The ARM endpoint is an emulator, the audience stays Azure's.
    let mut env = required_env();
    env.push((
        "SOCKERLESS_ACA_ARM_ENDPOINT".into(),
        "http://127.0.0.1:8443".into(),
    ));
    env.push(("SOCKERLESS_ACA_REPLICA_TIMEOUT_SECS".into(), "120".into()));
    env.push(("SOCKERLESS_ACA_LOG_MAX_BYTES".into(), "4096".into()));
    let (_dir, path) = write_yaml(
        "agent_connect_timeout_secs: 30\narm_audience: https://management.core.windows.net/\n",
    );
    let args = CliArgs {
        config: Some(path),
        agent_grace_secs: Some("7".into()),
        replica_timeout_secs: Some("60".into()),
        ..Default::default()
    };
    let config = Config::from_sources(&args, env).expect("config");
    assert_eq!(
        config.arm_scope(),
        "https://management.core.windows.net/.default"
    );
    assert_eq!(config.replica_timeout_secs, 60, "flag beats env");
    assert_eq!(config.log_max_bytes, 4096);
    assert_eq!(config.agent_connect_timeout_secs, 30, "YAML number");
    assert_eq!(config.agent_grace_secs, 7);
}

#[test]
fn runtime_keys_are_validated() {
    for (key, value) in [
        ("SOCKERLESS_ACA_REPLICA_TIMEOUT_SECS", "soon"),
        ("SOCKERLESS_ACA_REPLICA_TIMEOUT_SECS", "0"),
        ("SOCKERLESS_ACA_LOG_MAX_BYTES", "-1"),
        ("SOCKERLESS_ACA_ARM_AUDIENCE", "not a url"),
    ] {
        let mut env = required_env();
        env.push((key.into(), value.into()));
        let err = Config::from_sources(&CliArgs::default(), env).expect_err(value);
        assert!(
            matches!(err, ConfigError::Invalid(_)),
            "{key}={value}: {err}"
        );
    }
}

#[test]
fn bind_limits_default_and_layer() {
    let config = Config::from_sources(&CliArgs::default(), required_env()).expect("config");
    assert_eq!(config.bind_max_bytes, 1 << 30);
    assert_eq!(config.bind_sync_timeout_secs, 120);
    let mut env = required_env();
    env.push(("SOCKERLESS_ACA_BIND_MAX_BYTES".into(), "1000".into()));
    let args = CliArgs::try_parse_from(["x", "--bind-sync-timeout-secs", "9"]).expect("flags");
    let config = Config::from_sources(&args, env).expect("config");
    assert_eq!(
        (config.bind_max_bytes, config.bind_sync_timeout_secs),
        (1000, 9)
    );
    let mut env = required_env();
    env.push(("SOCKERLESS_ACA_BIND_MAX_BYTES".into(), "a lot".into()));
    assert!(Config::from_sources(&CliArgs::default(), env).is_err());
}

#[test]
fn ro_binds_default_to_mounts_and_can_be_copies() {
    let config = Config::from_sources(&CliArgs::default(), required_env()).expect("config");
    assert_eq!(config.ro_binds, ReadOnlyBinds::Mount);
    let mut env = required_env();
    env.push(("SOCKERLESS_ACA_RO_BINDS".into(), "Copy".into()));
    let config = Config::from_sources(&CliArgs::default(), env).expect("config");
    assert_eq!(config.ro_binds, ReadOnlyBinds::Copy);
    let args = CliArgs::try_parse_from(["x", "--ro-binds", "mount"]).expect("flags");
    let mut env = required_env();
    env.push(("SOCKERLESS_ACA_RO_BINDS".into(), "copy".into()));
    let config = Config::from_sources(&args, env).expect("config");
    assert_eq!(config.ro_binds, ReadOnlyBinds::Mount, "the flag wins");
    let args = CliArgs::try_parse_from(["x", "--ro-binds", "writable"]).expect("flags");
    let err = Config::from_sources(&args, required_env()).expect_err("unknown mode");
    assert!(err.to_string().contains("ro_binds"), "{err}");
}

#[test]
fn linger_defaults_to_off_and_layers() {
    let config = Config::from_sources(&CliArgs::default(), required_env()).expect("config");
    assert_eq!(config.linger_secs, 0);
    let mut env = required_env();
    env.push(("SOCKERLESS_ACA_LINGER_SECS".into(), "30".into()));
    let config = Config::from_sources(&CliArgs::default(), env.clone()).expect("config");
    assert_eq!(config.linger_secs, 30);
    let args = CliArgs::try_parse_from(["x", "--linger-secs", "60"]).expect("flags");
    assert_eq!(
        Config::from_sources(&args, env)
            .expect("config")
            .linger_secs,
        60
    );
}

#[test]
fn agent_liveness_defaults_layers_and_is_validated() {
    let config = Config::from_sources(&CliArgs::default(), required_env()).expect("config");
    assert_eq!(
        (config.agent_ping_secs, config.agent_liveness_timeout_secs),
        (10, 30)
    );
    assert_eq!(
        config.agent_liveness(),
        sockerless_agent::transport::Liveness::DEFAULT
    );
    let mut env = required_env();
    env.push(("SOCKERLESS_ACA_AGENT_PING_SECS".into(), "1".into()));
    let args = CliArgs::try_parse_from(["x", "--agent-liveness-timeout-secs", "3"]).expect("flags");
    let config = Config::from_sources(&args, env).expect("config");
    assert_eq!(
        (config.agent_ping_secs, config.agent_liveness_timeout_secs),
        (1, 3)
    );
    assert_eq!(
        config.agent_liveness().timeout(),
        std::time::Duration::from_secs(3)
    );
    for (ping, timeout) in [
        ("0", "30"),
        ("10", "0"),
        ("10", "10"),
        ("30", "10"),
        ("x", "30"),
    ] {
        let mut env = required_env();
        env.push(("SOCKERLESS_ACA_AGENT_PING_SECS".into(), ping.into()));
        env.push((
            "SOCKERLESS_ACA_AGENT_LIVENESS_TIMEOUT_SECS".into(),
            timeout.into(),
        ));
        let err = Config::from_sources(&CliArgs::default(), env).expect_err(ping);
        assert!(
            matches!(err, ConfigError::Invalid(_)),
            "{ping}/{timeout}: {err}"
        );
    }
}
