//! `network connect` and `network disconnect`: attachments recorded on the
//! network, addresses assigned to running containers, peers told at once.

use sockerless_api::docker::{NetworkConnectRequest, NetworkDisconnectRequest};
use sockerless_api::{ApiError, Result};

use super::{Network, all, configured_networks, endpoints, find, random_id, save};
use crate::AcaBackend;
use crate::store::{ContainerRecord, records};

async fn find_container(backend: &AcaBackend, id: &str) -> Result<ContainerRecord> {
    let key = id.to_owned();
    let found = backend
        .store()
        .call(move |c| {
            if let Some(r) = records::get_container(c, &key)? {
                return Ok(vec![r]);
            }
            records::containers_by_id_prefix(c, &key, 2)
        })
        .await?;
    match found.as_slice() {
        [one] if !id.is_empty() => Ok(one.clone()),
        [_, _, ..] => Err(ApiError::InvalidParameter(format!(
            "multiple containers match the ID prefix {id}"
        ))),
        _ => Err(ApiError::NotFound(format!("No such container: {id}"))),
    }
}

fn refuse_host_none(network: &Network, what: &str) -> Result<()> {
    if network.stored.predefined && network.record.name != "bridge" {
        return Err(ApiError::InvalidParameter(format!(
            "container cannot be {what} network {}",
            network.record.name
        )));
    }
    Ok(())
}

/// `Backend::network_connect`.
pub async fn connect(backend: &AcaBackend, id: &str, req: NetworkConnectRequest) -> Result<()> {
    let networks = all(backend).await?;
    let network = find(&networks, id)?;
    refuse_host_none(network, "connected to")?;
    let container = find_container(backend, &req.container).await?;
    let mut network = Network {
        record: network.record.clone(),
        stored: network.stored.clone(),
    };
    if network.attaches(&container) {
        return Err(ApiError::Conflict(format!(
            "endpoint with name {} already exists in network {}",
            container.name, network.record.name
        )));
    }
    let mut endpoint = req.endpoint_config.unwrap_or_default();
    endpoint.network_id = Some(network.record.id.clone());
    endpoint.endpoint_id = Some(random_id()?);
    network.stored.detached.remove(&container.id);
    network
        .stored
        .endpoints
        .insert(container.id.clone(), endpoint);
    if container.state == "running" {
        endpoints::assign(&mut network, &container)?;
    }
    save(backend, &network).await?;
    crate::relay::changed(backend);
    Ok(())
}

/// `Backend::network_disconnect`.
pub async fn disconnect(
    backend: &AcaBackend,
    id: &str,
    req: NetworkDisconnectRequest,
) -> Result<()> {
    let networks = all(backend).await?;
    let network = find(&networks, id)?;
    refuse_host_none(network, "disconnected from")?;
    let mut network = Network {
        record: network.record.clone(),
        stored: network.stored.clone(),
    };
    let container = match find_container(backend, &req.container).await {
        Ok(c) => c,
        // `force` cleans up an endpoint whose container is gone.
        Err(ApiError::NotFound(_)) if req.force == Some(true) => {
            if network.stored.endpoints.remove(&req.container).is_some() {
                return save(backend, &network).await;
            }
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    if !network.attaches(&container) {
        return Err(ApiError::Conflict(format!(
            "container {} is not connected to network {}",
            container.id, network.record.name
        )));
    }
    network.stored.endpoints.remove(&container.id);
    network.stored.addresses.remove(&container.id);
    if configured_networks(&container.config)
        .iter()
        .any(|n| n == &network.record.name || n == &network.record.id)
    {
        network.stored.detached.insert(container.id);
    }
    save(backend, &network).await?;
    crate::relay::changed(backend);
    Ok(())
}
