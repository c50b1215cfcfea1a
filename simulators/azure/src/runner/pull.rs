//! Image pulls as a replica's node does them: with the job's registry
//! credentials, from registries the environment can reach, and retried with
//! the kubelet's back-off while they fail (the replica stays pending).

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::query_parameters::CreateImageOptions;
use futures_util::StreamExt;

use super::LaunchSpec;
use super::volumes;
use crate::state::AppState;

/// First wait after a failed pull or mount; doubled after each failure up to
/// [`MAX_BACKOFF`] (the kubelet's image pull back-off: 10 s to 5 min).
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(10);
/// Longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// The wait after `failures` failed attempts (1 for the first).
pub fn backoff(failures: u32) -> Duration {
    let factor = 1u32 << failures.saturating_sub(1).min(10);
    INITIAL_BACKOFF.saturating_mul(factor).min(MAX_BACKOFF)
}

/// Credentials for `image` from the job's `registries`.
pub fn credentials_for(
    state: &AppState,
    spec: &LaunchSpec,
    image: &str,
    secrets: &HashMap<String, String>,
) -> Option<DockerCredentials> {
    let host = volumes::registry_host(image);
    let own = state.registry_host();
    for r in spec.configuration["registries"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let server = r["server"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if server != host {
            continue;
        }
        if let (Some(user), Some(pw)) = (
            r["username"].as_str(),
            r["passwordSecretRef"].as_str().and_then(|p| secrets.get(p)),
        ) {
            return Some(DockerCredentials {
                username: Some(user.to_string()),
                password: Some(pw.clone()),
                serveraddress: Some(server),
                ..Default::default()
            });
        }
        if r["identity"].as_str().is_some() && host == own {
            // A managed identity granted AcrPull: the emulator's registry trusts it.
            return Some(DockerCredentials {
                username: Some(state.config.registry_username.clone()),
                password: Some(state.config.registry_password.clone()),
                serveraddress: Some(server),
                ..Default::default()
            });
        }
    }
    None
}

/// The error of a pull from a registry the environment cannot reach, worded
/// as containerd reports a registry behind a firewall (the dial times out).
pub fn unreachable_error(image: &str) -> String {
    let host = volumes::registry_host(image);
    let (repo, tag) = volumes::split_reference(image);
    let path = repo
        .strip_prefix(&format!("{host}/"))
        .unwrap_or(&repo)
        .to_string();
    format!(
        "Failed to pull image \"{image}\": rpc error: code = Unknown desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": failed to do request: Head \"https://{host}/v2/{path}/manifests/{tag}\": dial tcp {host}: i/o timeout"
    )
}

/// Whether `image` lives on a registry in `blocked` (host names compared
/// without case, as registries are).
pub fn is_blocked(image: &str, blocked: &[String]) -> bool {
    let host = volumes::registry_host(image);
    blocked.iter().any(|b| b.trim().eq_ignore_ascii_case(&host))
}

/// Pulls `image` once; the error is what the replica's events would show.
pub async fn pull(
    state: &AppState,
    docker: &Docker,
    image: &str,
    creds: Option<DockerCredentials>,
) -> Result<(), String> {
    if is_blocked(image, &state.faults_snapshot().pull_blocked_registries) {
        return Err(unreachable_error(image));
    }
    let (repo, tag) = volumes::split_reference(image);
    let opts = CreateImageOptions {
        from_image: Some(repo),
        tag: Some(tag),
        ..Default::default()
    };
    let mut stream = docker.create_image(Some(opts), None, creds);
    while let Some(item) = stream.next().await {
        item.map_err(|e| format!("Failed to pull image \"{image}\": {e}"))?;
    }
    if volumes::registry_host(image) == state.registry_host() {
        state.runner.note_own_image(image);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        assert_eq!(backoff(1), Duration::from_secs(10));
        assert_eq!(backoff(2), Duration::from_secs(20));
        assert_eq!(backoff(5), Duration::from_secs(160));
        assert_eq!(backoff(6), Duration::from_secs(300));
        assert_eq!(backoff(u32::MAX), Duration::from_secs(300));
    }

    #[test]
    fn blocked_registries_match_the_image_host() {
        let blocked = vec!["127.0.0.1:5000".to_string(), "MyAcr.azurecr.io".into()];
        assert!(is_blocked(
            "127.0.0.1:5000/library/busybox:latest",
            &blocked
        ));
        assert!(is_blocked("myacr.azurecr.io/app:1", &blocked));
        assert!(!is_blocked(
            "127.0.0.1:5001/library/busybox:latest",
            &blocked
        ));
        assert!(!is_blocked("busybox:latest", &blocked));
    }

    #[test]
    fn unreachable_error_names_image_and_host() {
        let e = unreachable_error("127.0.0.1:5000/library/busybox:latest");
        assert!(e.starts_with("Failed to pull image \"127.0.0.1:5000/library/busybox:latest\""));
        assert!(e.contains("https://127.0.0.1:5000/v2/library/busybox/manifests/latest"));
        assert!(e.ends_with("dial tcp 127.0.0.1:5000: i/o timeout"));
    }
}
