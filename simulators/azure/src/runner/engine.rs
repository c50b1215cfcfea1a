//! The engine connection and the emulator-wide cleanup on it.

use std::collections::HashMap;

use bollard::Docker;
use bollard::query_parameters::{ListContainersOptions, RemoveContainerOptions};

use super::LABEL_OWNER;
use super::network;

/// Connects to a Docker engine given as `unix:///path` or a bare path, and
/// negotiates the API version (engines as old as 1.41 are fine).
pub async fn connect(endpoint: &str) -> Result<Docker, String> {
    let path = endpoint.strip_prefix("unix://").unwrap_or(endpoint);
    if !path.starts_with('/') {
        return Err(format!(
            "unsupported engine endpoint '{endpoint}' (only unix sockets)"
        ));
    }
    Docker::connect_with_unix(path, 120, bollard::API_DEFAULT_VERSION)
        .map_err(|e| format!("engine {endpoint}: {e}"))?
        .negotiate_version()
        .await
        .map_err(|e| format!("engine {endpoint}: {e}"))
}

/// Removes all containers, then all networks, labelled with `owner`.
pub async fn remove_owned(endpoint: &str, owner: &str) -> Result<(), String> {
    let docker = connect(endpoint).await?;
    let filters = HashMap::from([("label".to_string(), vec![format!("{LABEL_OWNER}={owner}")])]);
    let list = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .map_err(|e| e.to_string())?;
    for c in list {
        if let Some(id) = c.id {
            let _ = docker
                .remove_container(
                    &id,
                    Some(RemoveContainerOptions {
                        force: true,
                        v: true,
                        ..Default::default()
                    }),
                )
                .await;
        }
    }
    network::remove_owned(&docker, owner).await;
    Ok(())
}

/// Removes engine tags (not shared layers) of `images`.
pub async fn untag(endpoint: &str, images: &[String]) {
    if images.is_empty() {
        return;
    }
    let Ok(docker) = connect(endpoint).await else {
        return;
    };
    for image in images {
        let _ = docker
            .remove_image(
                image,
                None::<bollard::query_parameters::RemoveImageOptions>,
                None,
            )
            .await;
    }
}
