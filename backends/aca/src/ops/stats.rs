//! `docker stats`: samples asked of the agent, one at a time per client
//! (the agent answers requests, it never pushes), shaped as dockerd's
//! documents by `stats_shape`. `stream=false` waits ~1 s for a second
//! sample (its `precpu_stats`) as dockerd does; `one-shot` does not. A
//! container that does not run gets dockerd's zeroed document.

use std::time::Duration;

use futures_util::StreamExt;
use sockerless_agent::protocol::{Op, StatsSample};
use sockerless_api::{ApiError, Result, StatsStream};

use super::stats_shape::shape;
use crate::AcaBackend;
use crate::runtime::find_container;
use crate::runtime::state::ContainerRuntime;

/// Between two samples of a stream, and before the second of `stream=false`.
const INTERVAL: Duration = Duration::from_secs(1);

/// One sample of the running container; `None` when it does not run.
async fn sample(rt: &ContainerRuntime) -> Option<std::result::Result<StatsSample, String>> {
    if !rt.state.borrow().running {
        return None;
    }
    let link = rt.agent()?;
    Some(
        super::ask_json(&link, Op::Stats)
            .await
            .map_err(|e| e.to_string()),
    )
}

/// `Backend::container_stats`.
pub async fn stats(
    backend: &AcaBackend,
    id: &str,
    stream: bool,
    one_shot: bool,
) -> Result<StatsStream> {
    if stream && one_shot {
        return Err(ApiError::InvalidParameter(
            "cannot have stream=true and one-shot=true".into(),
        ));
    }
    let record = find_container(backend, id).await?;
    let rt = backend.runtimes().get(&record);
    let (name, id) = (record.name, record.id);
    if !stream {
        let first = sample(&rt).await.transpose().map_err(ApiError::Internal)?;
        let doc = match first {
            Some(first) if !one_shot => {
                tokio::time::sleep(INTERVAL).await;
                let cur = sample(&rt).await.transpose().map_err(ApiError::Internal)?;
                match cur {
                    Some(cur) => shape(Some(&cur), Some(&first), &name, &id),
                    None => shape(None, None, &name, &id),
                }
            }
            first => shape(first.as_ref(), None, &name, &id),
        };
        return Ok(Box::pin(futures_util::stream::once(async move { Ok(doc) })));
    }
    // Each document is made only when the client takes the previous one:
    // one sample in flight per client, however slow it reads.
    let state = (rt, None::<StatsSample>, true);
    Ok(Box::pin(
        futures_util::stream::unfold(state, move |(rt, prev, first)| {
            let (name, id) = (name.clone(), id.clone());
            async move {
                if !first {
                    tokio::time::sleep(INTERVAL).await;
                }
                // A run that ends mid-stream goes on with zeroed documents,
                // as dockerd streams them for a stopped container.
                let cur = match sample(&rt).await {
                    Some(Ok(s)) => Some(s),
                    Some(Err(e)) => {
                        tracing::debug!(container = %id, error = %e, "stats sample failed");
                        None
                    }
                    None => None,
                };
                let doc = shape(cur.as_ref(), prev.as_ref(), &name, &id);
                Some((Ok(doc), (rt, cur, false)))
            }
        })
        .fuse(),
    ))
}
