//! `network connect` and `network disconnect`: attachments recorded on the
//! network, addresses assigned to running containers, peers told at once.
//!
//! Each reads, changes and writes its network in one store call: connects and
//! disconnects on one network at once (compose starts a project's services
//! in parallel, each disconnected and connected again) must not undo each
//! other's change.

use sockerless_api::docker::{NetworkConnectRequest, NetworkDisconnectRequest};
use sockerless_api::{ApiError, Result};

use super::{Network, all, configured_networks, endpoints, find};
use crate::AcaBackend;
use crate::clock::random_id;
use crate::runtime::pick_container;
use crate::store::{ContainerRecord, records};

/// Runs `change` on every network and the container `container` names, and
/// writes the network it returns, in one store transaction.
async fn update<F>(backend: &AcaBackend, container: String, change: F) -> Result<()>
where
    F: FnOnce(&[Network], Result<ContainerRecord>) -> Result<Option<Network>> + Send + 'static,
{
    all(backend).await?; // the predefined networks exist
    backend
        .store()
        .call(move |c| {
            let tx = c.transaction()?;
            let networks = endpoints::load(&tx)?;
            let found = pick_container(records::lookup_container(&tx, &container)?, &container);
            match change(&networks, found) {
                Ok(Some(network)) => {
                    records::put_network(&tx, &endpoints::encode(&network)?)?;
                    tx.commit()?;
                    Ok(Ok(()))
                }
                Ok(None) => Ok(Ok(())),
                Err(e) => Ok(Err(e)),
            }
        })
        .await?
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

fn copy(network: &Network) -> Network {
    Network {
        record: network.record.clone(),
        stored: network.stored.clone(),
    }
}

/// `Backend::network_connect`.
pub async fn connect(backend: &AcaBackend, id: &str, req: NetworkConnectRequest) -> Result<()> {
    let id = id.to_owned();
    let (event_net, event_container) = (id.clone(), req.container.clone());
    let endpoint_id = random_id()?;
    let mut endpoint = req.endpoint_config.unwrap_or_default();
    update(backend, req.container, move |networks, container| {
        let network = find(networks, &id)?;
        refuse_host_none(network, "connected to")?;
        let container = container?;
        let mut network = copy(network);
        if network.attaches(&container) {
            return Err(ApiError::Conflict(format!(
                "endpoint with name {} already exists in network {}",
                container.name, network.record.name
            )));
        }
        endpoint.network_id = Some(network.record.id.clone());
        endpoint.endpoint_id = Some(endpoint_id);
        network.stored.detached.remove(&container.id);
        network
            .stored
            .endpoints
            .insert(container.id.clone(), endpoint);
        if container.state == "running" {
            endpoints::assign(&mut network, &container)?;
        }
        Ok(Some(network))
    })
    .await?;
    attach_event(backend, "connect", &event_net, &event_container).await;
    crate::relay::changed(backend);
    Ok(())
}

/// `Backend::network_disconnect`.
pub async fn disconnect(
    backend: &AcaBackend,
    id: &str,
    req: NetworkDisconnectRequest,
) -> Result<()> {
    let id = id.to_owned();
    let (event_net, event_container) = (id.clone(), req.container.clone());
    let (key, force) = (req.container.clone(), req.force == Some(true));
    update(backend, req.container, move |networks, container| {
        let network = find(networks, &id)?;
        refuse_host_none(network, "disconnected from")?;
        let mut network = copy(network);
        let container = match container {
            Ok(c) => c,
            // `force` cleans up an endpoint whose container is gone.
            Err(e) if force && e.kind() == sockerless_api::ErrorKind::NotFound => {
                return Ok(network.stored.endpoints.remove(&key).map(|_| network));
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
        Ok(Some(network))
    })
    .await?;
    attach_event(backend, "disconnect", &event_net, &event_container).await;
    crate::relay::changed(backend);
    Ok(())
}

/// The `connect` / `disconnect` event of `container` (ID or name) on
/// network `net` (ID or name), both looked up now.
async fn attach_event(backend: &AcaBackend, action: &str, net: &str, container: &str) {
    let found = match super::inspect(backend, net).await {
        Ok(found) => found,
        Err(e) => {
            return tracing::debug!(network = net, error = %e, "network event without its network");
        }
    };
    let container_id = crate::runtime::find_container(backend, container)
        .await
        .map_or_else(|_| container.to_owned(), |c| c.id);
    let (id, name) = (found.id.unwrap_or_default(), found.name.unwrap_or_default());
    crate::events::actors::network(backend, action, &id, &name, Some(&container_id));
}
