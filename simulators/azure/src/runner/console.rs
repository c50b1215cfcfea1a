//! A replica container's output, followed on the engine and ingested as
//! console-log rows, line by line.

use std::collections::HashMap;
use std::sync::Arc;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptions;
use futures_util::StreamExt;

use crate::loganalytics::{ConsoleLine, LineSource, LogStore};

/// Longest console row: output without a newline is split into rows of at
/// most this many bytes (a bound of the emulator's own: a process printing
/// no newline must not grow a buffer without end).
const MAX_CONSOLE_LINE: usize = 16 << 10;

/// Follows container `id`'s output until it ends, ingesting each line.
pub fn follow(
    docker: Docker,
    logs: LogStore,
    source: Arc<LineSource>,
    id: String,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let opts = LogsOptions {
            follow: true,
            stdout: true,
            stderr: true,
            ..Default::default()
        };
        let mut stream = docker.logs(&id, Some(opts));
        let mut partial: HashMap<&'static str, String> = HashMap::new();
        while let Some(Ok(chunk)) = stream.next().await {
            let (kind, bytes) = match chunk {
                LogOutput::StdOut { message } => ("stdout", message),
                LogOutput::StdErr { message } => ("stderr", message),
                LogOutput::Console { message } => ("stdout", message),
                LogOutput::StdIn { .. } => continue,
            };
            let buf = partial.entry(kind).or_default();
            buf.push_str(&String::from_utf8_lossy(&bytes));
            while let Some(pos) = buf.find('\n') {
                let text: String = buf.drain(..=pos).collect();
                logs.ingest(ConsoleLine {
                    source: source.clone(),
                    stream: kind,
                    log: text.trim_end_matches(['\n', '\r']).to_string(),
                });
            }
            // Output without newlines becomes rows of a bounded length
            // instead of one buffer that grows as long as it prints.
            while buf.len() >= MAX_CONSOLE_LINE {
                let mut cut = MAX_CONSOLE_LINE;
                while !buf.is_char_boundary(cut) {
                    cut -= 1;
                }
                let text: String = buf.drain(..cut).collect();
                logs.ingest(ConsoleLine {
                    source: source.clone(),
                    stream: kind,
                    log: text,
                });
            }
        }
        for (kind, rest) in partial {
            if !rest.is_empty() {
                logs.ingest(ConsoleLine {
                    source: source.clone(),
                    stream: kind,
                    log: rest,
                });
            }
        }
    })
}
