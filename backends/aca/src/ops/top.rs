//! `docker top`: the agent lists the container's processes (from `/proc`,
//! the agent itself left out) in `ps`'s columns for `ps_args`.

use sockerless_agent::protocol::{Op, TopAnswer};
use sockerless_api::Result;
use sockerless_api::docker::ContainerTopResponse;

use crate::AcaBackend;

/// `Backend::container_top`.
pub async fn top(
    backend: &AcaBackend,
    id: &str,
    ps_args: Option<String>,
) -> Result<ContainerTopResponse> {
    let live = super::live(backend, id).await?;
    let op = Op::Top {
        ps_args: ps_args.unwrap_or_default(),
    };
    let answer: TopAnswer = super::ask_json(&live.link, op)
        .await
        .map_err(|e| super::agent_error("top", &live.record, e))?;
    Ok(ContainerTopResponse {
        titles: Some(answer.titles),
        processes: Some(answer.processes),
    })
}
