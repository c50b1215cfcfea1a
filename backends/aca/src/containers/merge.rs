//! Merging an image's config into a container's config, as Docker's daemon
//! does at create (`daemon.merge`): the container's values win; the image
//! fills what the container left unset.

use std::collections::HashMap;

use sockerless_api::ApiError;
use sockerless_api::docker::{ContainerCreateBody, HealthConfig, ImageConfig};

fn env_key(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(k, _)| k)
}

fn union(user: Option<Vec<String>>, image: &Option<Vec<String>>) -> Option<Vec<String>> {
    let mut out = user.unwrap_or_default();
    for item in image.iter().flatten() {
        if !out.contains(item) {
            out.push(item.clone());
        }
    }
    (!out.is_empty()).then_some(out)
}

fn merge_healthcheck(
    user: Option<HealthConfig>,
    image: &Option<HealthConfig>,
) -> Option<HealthConfig> {
    let Some(image) = image else { return user };
    let Some(mut user) = user else {
        return Some(image.clone());
    };
    if user.test.as_ref().is_none_or(Vec::is_empty) {
        user.test = image.test.clone();
    }
    let zero = |v: Option<i64>| v.is_none_or(|n| n == 0);
    if zero(user.interval) {
        user.interval = image.interval;
    }
    if zero(user.timeout) {
        user.timeout = image.timeout;
    }
    if zero(user.start_period) {
        user.start_period = image.start_period;
    }
    if zero(user.start_interval) {
        user.start_interval = image.start_interval;
    }
    if zero(user.retries) {
        user.retries = image.retries;
    }
    Some(user)
}

/// The container config with the image's config merged in.
pub fn merge_image_config(mut c: ContainerCreateBody, image: &ImageConfig) -> ContainerCreateBody {
    if c.user.as_deref().is_none_or(str::is_empty) {
        c.user = image.user.clone();
    }
    c.exposed_ports = union(c.exposed_ports.take(), &image.exposed_ports);
    c.volumes = union(c.volumes.take(), &image.volumes);
    // Env: the container's entries, then the image's whose key the container did not set.
    let mut env = c.env.take().unwrap_or_default();
    for entry in image.env.iter().flatten() {
        if !env.iter().any(|e| env_key(e) == env_key(entry)) {
            env.push(entry.clone());
        }
    }
    c.env = Some(env);
    let mut labels: HashMap<String, String> = image.labels.clone().unwrap_or_default();
    labels.extend(c.labels.take().unwrap_or_default());
    c.labels = Some(labels);
    // Entrypoint/Cmd: a container entrypoint replaces the image's and drops
    // the image's Cmd; `[""]` (`--entrypoint ""`) means no entrypoint at all.
    match c.entrypoint.as_deref() {
        Some([only]) if only.is_empty() => c.entrypoint = Some(Vec::new()),
        Some(e) if !e.is_empty() => {}
        _ => {
            if c.cmd.as_ref().is_none_or(Vec::is_empty) {
                c.cmd = image.cmd.clone();
            }
            c.entrypoint = image.entrypoint.clone();
        }
    }
    if c.working_dir.as_deref().is_none_or(str::is_empty) {
        c.working_dir = image.working_dir.clone();
    }
    if c.stop_signal.as_deref().is_none_or(str::is_empty) {
        c.stop_signal = image.stop_signal.clone();
    }
    if c.shell.as_ref().is_none_or(Vec::is_empty) {
        c.shell = image.shell.clone();
    }
    if c.on_build.as_ref().is_none_or(Vec::is_empty) {
        c.on_build = image.on_build.clone();
    }
    c.healthcheck = merge_healthcheck(c.healthcheck.take(), &image.healthcheck);
    c
}

/// The command line the container runs: entrypoint followed by cmd.
pub fn command_line(c: &ContainerCreateBody) -> Result<Vec<String>, ApiError> {
    let argv: Vec<String> = c
        .entrypoint
        .iter()
        .flatten()
        .chain(c.cmd.iter().flatten())
        .cloned()
        .collect();
    if argv.is_empty() {
        return Err(ApiError::InvalidParameter(
            "no command specified".to_owned(),
        ));
    }
    Ok(argv)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> ImageConfig {
        ImageConfig {
            user: Some("app".into()),
            env: Some(vec!["PATH=/bin".into(), "A=image".into()]),
            entrypoint: Some(vec!["/entry".into()]),
            cmd: Some(vec!["serve".into()]),
            working_dir: Some("/srv".into()),
            labels: Some(HashMap::from([
                ("a".into(), "image".into()),
                ("b".into(), "image".into()),
            ])),
            exposed_ports: Some(vec!["80/tcp".into()]),
            stop_signal: Some("SIGQUIT".into()),
            healthcheck: Some(HealthConfig {
                test: Some(vec!["CMD".into(), "true".into()]),
                interval: Some(5),
                retries: Some(3),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn image_fills_what_the_container_left_unset() {
        let c = merge_image_config(ContainerCreateBody::default(), &image());
        assert_eq!(c.user.as_deref(), Some("app"));
        assert_eq!(c.working_dir.as_deref(), Some("/srv"));
        assert_eq!(c.entrypoint, Some(vec!["/entry".to_owned()]));
        assert_eq!(c.cmd, Some(vec!["serve".to_owned()]));
        assert_eq!(c.stop_signal.as_deref(), Some("SIGQUIT"));
        assert_eq!(command_line(&c).expect("argv"), ["/entry", "serve"]);
    }

    #[test]
    fn container_values_win_and_env_merges_by_key() {
        let user = ContainerCreateBody {
            env: Some(vec!["A=user".into(), "B=user".into()]),
            labels: Some(HashMap::from([("a".into(), "user".into())])),
            exposed_ports: Some(vec!["8080/tcp".into()]),
            cmd: Some(vec!["echo".into(), "hi".into()]),
            healthcheck: Some(HealthConfig {
                interval: Some(9),
                ..Default::default()
            }),
            ..Default::default()
        };
        let c = merge_image_config(user, &image());
        assert_eq!(
            c.env,
            Some(vec!["A=user".into(), "B=user".into(), "PATH=/bin".into()])
        );
        let labels = c.labels.clone().expect("labels");
        assert_eq!(labels["a"], "user");
        assert_eq!(labels["b"], "image");
        assert_eq!(
            c.exposed_ports,
            Some(vec!["8080/tcp".to_owned(), "80/tcp".to_owned()])
        );
        // Cmd given: the image entrypoint stays, the image cmd is replaced.
        assert_eq!(command_line(&c).expect("argv"), ["/entry", "echo", "hi"]);
        let hc = c.healthcheck.expect("healthcheck");
        assert_eq!(hc.interval, Some(9));
        assert_eq!(hc.retries, Some(3));
        assert_eq!(hc.test, Some(vec!["CMD".to_owned(), "true".to_owned()]));
    }

    #[test]
    fn container_entrypoint_resets_image_cmd() {
        let user = ContainerCreateBody {
            entrypoint: Some(vec!["sh".into()]),
            ..Default::default()
        };
        let c = merge_image_config(user, &image());
        assert_eq!(command_line(&c).expect("argv"), ["sh"]);
        let with_cmd = ContainerCreateBody {
            entrypoint: Some(vec!["sh".into()]),
            cmd: Some(vec!["-c".into(), "id".into()]),
            ..Default::default()
        };
        let c = merge_image_config(with_cmd, &image());
        assert_eq!(command_line(&c).expect("argv"), ["sh", "-c", "id"]);
    }

    #[test]
    fn empty_entrypoint_means_none_and_empty_command_is_rejected() {
        let user = ContainerCreateBody {
            entrypoint: Some(vec![String::new()]),
            cmd: Some(vec!["ls".into()]),
            ..Default::default()
        };
        let c = merge_image_config(user, &image());
        assert_eq!(command_line(&c).expect("argv"), ["ls"]);
        let bare = merge_image_config(ContainerCreateBody::default(), &ImageConfig::default());
        assert!(matches!(
            command_line(&bare),
            Err(ApiError::InvalidParameter(_))
        ));
    }
}
