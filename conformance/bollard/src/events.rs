//! The events stream replays a container's life cycle between since and until.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use bollard::models::EventMessageTypeEnum;
use bollard::query_parameters::{EventsOptions, RemoveContainerOptions};
use futures_util::TryStreamExt;

use crate::ctx::{Ctx, GUARD, expect_eq};

fn now() -> Result<u64> {
    Ok(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs())
}

pub async fn events_stream(ctx: &Ctx) -> Result<()> {
    let since = now()? - 1;
    let id = ctx
        .run_detached("ev", ctx.body(&["sh", "-c", "exit 2"]))
        .await?;
    expect_eq(ctx.wait_code(&id).await?, 2, "exit code")?;
    ctx.docker
        .remove_container(&id, None::<RemoveContainerOptions>)
        .await?;
    // An until in the past makes the daemon replay and end the stream.
    let until = now()? + 1;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let stream = ctx.docker.events(Some(EventsOptions {
        since: Some(since.to_string()),
        until: Some(until.to_string()),
        filters: Some(HashMap::from([("container".to_owned(), vec![id.clone()])])),
    }));
    let events: Vec<_> = tokio::time::timeout(GUARD, stream.try_collect())
        .await
        .context("hang guard: the events stream did not end")??;
    let actions: Vec<&str> = events
        .iter()
        .filter(|e| e.typ == Some(EventMessageTypeEnum::CONTAINER))
        .filter_map(|e| e.action.as_deref())
        .collect();
    expect_eq(
        actions,
        vec!["create", "start", "die", "destroy"],
        "container actions",
    )?;
    let die = events
        .iter()
        .find(|e| e.action.as_deref() == Some("die"))
        .context("no die event")?;
    let actor = die.actor.clone().context("die without Actor")?;
    expect_eq(actor.id.as_deref(), Some(id.as_str()), "Actor.ID")?;
    let attributes = actor.attributes.unwrap_or_default();
    expect_eq(
        attributes.get("exitCode").map(String::as_str),
        Some("2"),
        "exitCode",
    )?;
    expect_eq(
        attributes.get("name").cloned(),
        Some(ctx.name("ev")),
        "name",
    )?;
    Ok(())
}
