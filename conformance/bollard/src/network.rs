//! Volumes, networks with aliases, published ports.

use std::collections::HashMap;

use anyhow::{Context, Result, ensure};
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, NetworkConnectRequest, NetworkCreateRequest,
    NetworkingConfig, PortBinding, VolumeCreateRequest,
};
use bollard::query_parameters::{ListVolumesOptions, LogsOptions};

use crate::ctx::{Ctx, collect, expect_eq, expect_status, tcp_read};

async fn output_of(ctx: &Ctx, id: &str) -> Result<String> {
    let options = LogsOptions {
        stdout: true,
        stderr: true,
        tail: "all".into(),
        ..Default::default()
    };
    let out = collect(ctx.docker.logs(id, Some(options))).await?;
    Ok(out.stdout + &out.stderr)
}

/// create (labels), list by name filter, inspect, share between two
/// containers, remove, 404 afterwards.
pub async fn volumes(ctx: &Ctx) -> Result<()> {
    let name = ctx.name("vol");
    let labels = HashMap::from([(ctx.name("kind"), "conformance".to_owned())]);
    ctx.track_volume(&name);
    let v = ctx
        .docker
        .create_volume(VolumeCreateRequest {
            name: Some(name.clone()),
            labels: Some(labels.clone()),
            ..Default::default()
        })
        .await?;
    expect_eq(v.name.as_str(), name.as_str(), "created volume name")?;
    expect_eq(v.driver.as_str(), "local", "driver")?;
    let listed = ctx
        .docker
        .list_volumes(Some(ListVolumesOptions {
            filters: Some(HashMap::from([("name".to_owned(), vec![name.clone()])])),
        }))
        .await?;
    let names: Vec<String> = listed
        .volumes
        .unwrap_or_default()
        .into_iter()
        .map(|v| v.name)
        .collect();
    expect_eq(names, vec![name.clone()], "list by name")?;
    expect_eq(
        ctx.docker.inspect_volume(&name).await?.labels,
        labels,
        "inspect labels",
    )?;
    let with_volume = |mode: &str, cmd: &[&str]| ContainerCreateBody {
        host_config: Some(HostConfig {
            binds: Some(vec![format!("{name}:/data:{mode}")]),
            ..Default::default()
        }),
        ..ctx.body(cmd)
    };
    let w = ctx
        .run_detached(
            "writer",
            with_volume("rw", &["sh", "-c", "echo shared > /data/f"]),
        )
        .await?;
    expect_eq(ctx.wait_code(&w).await?, 0, "writer exit code")?;
    let r = ctx
        .run_detached("reader", with_volume("ro", &["cat", "/data/f"]))
        .await?;
    expect_eq(ctx.wait_code(&r).await?, 0, "reader exit code")?;
    expect_eq(
        output_of(ctx, &r).await?.as_str(),
        "shared\n",
        "reader output",
    )?;
    expect_status(
        ctx.docker
            .remove_volume(
                &name,
                None::<bollard::query_parameters::RemoveVolumeOptions>,
            )
            .await,
        409,
        "",
        "remove a volume in use",
    )?;
    for id in [&w, &r] {
        ctx.docker
            .remove_container(
                id,
                None::<bollard::query_parameters::RemoveContainerOptions>,
            )
            .await?;
    }
    ctx.docker
        .remove_volume(
            &name,
            None::<bollard::query_parameters::RemoveVolumeOptions>,
        )
        .await?;
    expect_status(
        ctx.docker.inspect_volume(&name).await,
        404,
        "",
        "inspect after remove",
    )?;
    Ok(())
}

async fn network(ctx: &Ctx, suffix: &str) -> Result<String> {
    let created = ctx
        .docker
        .create_network(NetworkCreateRequest {
            name: ctx.name(suffix),
            ..Default::default()
        })
        .await?;
    ctx.track_network(&created.id);
    Ok(created.id)
}

const SERVER: &str = "while true; do nc -l -p 8080 -e echo pong; done";

/// Retries while the server is not yet listening; `timeout` and the loop count are hang guards.
fn client(alias: &str) -> String {
    format!(
        "for i in $(seq 30); do if timeout 3 nc {alias} 8080; then exit 0; fi; sleep 1; done; exit 1"
    )
}

/// An alias given at create (networking_config) and one given by
/// `connect_network` to a running container; a peer reaches both.
pub async fn network_aliases(ctx: &Ctx) -> Result<()> {
    let (one, two) = (ctx.name("net1"), ctx.name("net2"));
    network(ctx, "net1").await?;
    network(ctx, "net2").await?;
    let endpoint = |aliases: &[&str]| EndpointSettings {
        aliases: Some(aliases.iter().map(|a| (*a).to_owned()).collect()),
        ..Default::default()
    };
    let server = ContainerCreateBody {
        host_config: Some(HostConfig {
            network_mode: Some(one.clone()),
            ..Default::default()
        }),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(one.clone(), endpoint(&["srv-one"]))])),
        }),
        ..ctx.body(&["sh", "-c", SERVER])
    };
    let srv = ctx.run_detached("srv", server).await?;
    ctx.docker
        .connect_network(
            &two,
            NetworkConnectRequest {
                container: srv.clone(),
                endpoint_config: Some(endpoint(&["srv-two"])),
            },
        )
        .await?;
    let networks = ctx
        .docker
        .inspect_container(&srv, None)
        .await?
        .network_settings
        .and_then(|n| n.networks)
        .context("NetworkSettings.Networks")?;
    for (net, alias) in [(&one, "srv-one"), (&two, "srv-two")] {
        let aliases = networks
            .get(net)
            .and_then(|e| e.aliases.clone())
            .unwrap_or_default();
        ensure!(
            aliases.iter().any(|a| a == alias),
            "aliases on {net}: {aliases:?}"
        );
    }
    for (net, alias) in [(&one, "srv-one"), (&two, "srv-two")] {
        let body = ContainerCreateBody {
            host_config: Some(HostConfig {
                network_mode: Some(net.clone()),
                ..Default::default()
            }),
            ..ctx.body(&["sh", "-c", &client(alias)])
        };
        let id = ctx.run_detached(&format!("client-{alias}"), body).await?;
        expect_eq(ctx.wait_code(&id).await?, 0, "client exit code")?;
        expect_eq(output_of(ctx, &id).await?.as_str(), "pong\n", alias)?;
    }
    Ok(())
}

/// `port_bindings` on 127.0.0.1 with a daemon-chosen port: inspect shows
/// it, a TCP round trip from Rust reads the reply.
pub async fn port_binding(ctx: &Ctx) -> Result<()> {
    // On a user-defined network: the reference engine runs without the default bridge.
    network(ctx, "net").await?;
    let body = ContainerCreateBody {
        exposed_ports: Some(vec!["8080/tcp".into()]),
        host_config: Some(HostConfig {
            network_mode: Some(ctx.name("net")),
            port_bindings: Some(HashMap::from([(
                "8080/tcp".to_owned(),
                Some(vec![PortBinding {
                    host_ip: Some("127.0.0.1".into()),
                    host_port: Some(String::new()),
                }]),
            )])),
            ..Default::default()
        }),
        ..ctx.body(&["sh", "-c", SERVER])
    };
    let id = ctx.run_detached("port", body).await?;
    let ports = ctx
        .docker
        .inspect_container(&id, None)
        .await?
        .network_settings
        .and_then(|n| n.ports)
        .context("NetworkSettings.Ports")?;
    let bindings = ports
        .get("8080/tcp")
        .cloned()
        .flatten()
        .context("no binding for 8080/tcp")?;
    expect_eq(bindings.len(), 1, "bindings")?;
    expect_eq(bindings[0].host_ip.as_deref(), Some("127.0.0.1"), "HostIp")?;
    let port: u16 = bindings[0]
        .host_port
        .as_deref()
        .unwrap_or("")
        .parse()
        .context("HostPort")?;
    ensure!(port > 0, "HostPort 0");
    let addr = format!("127.0.0.1:{port}");
    expect_eq(tcp_read(&addr).await?.as_str(), "pong\n", "reply")?;
    expect_eq(tcp_read(&addr).await?.as_str(), "pong\n", "second reply")?;
    Ok(())
}
