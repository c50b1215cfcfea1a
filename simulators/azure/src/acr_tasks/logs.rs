//! A run's log as ACR writes it (`rawtext.log`): ACR's own time-stamped
//! lines around the builder's output, which comes unprefixed, as plain text
//! from the engine's JSON progress. The log blob grows while the run goes
//! on; its `Complete` metadata is set when the run ends.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::io::AsyncWriteExt;

use crate::state::AppState;

/// Most bytes a run's log keeps; the builder's output past it is dropped
/// (a line says so) and ACR's closing lines still follow.
pub const MAX_LOG_BYTES: u64 = 16 << 20;

/// One line of ACR's own: `2026/12/06 07:30:00 text`.
pub fn acr_line(t: DateTime<Utc>, text: &str) -> String {
    format!("{} {text}\n", t.format("%Y/%m/%d %H:%M:%S"))
}

/// One message of the engine's build progress, the parts the log shows.
#[derive(Debug, Default)]
pub struct Progress<'a> {
    /// `stream`.
    pub stream: Option<&'a str>,
    /// `status`.
    pub status: Option<&'a str>,
    /// `id` (a layer's, with a status).
    pub id: Option<&'a str>,
    /// `errorDetail.message`.
    pub error: Option<&'a str>,
    /// Whether it carries a byte count (`progressDetail.current`).
    pub counting: bool,
}

/// The plain text of one message of the engine's build progress: the
/// `stream` text as is, a `status` line (with its layer ID), or the error.
pub fn progress_text(msg: &Progress<'_>) -> String {
    if let Some(s) = msg.stream {
        return s.to_string();
    }
    if let Some(e) = msg.error {
        return format!("{e}\n");
    }
    match (msg.id, msg.status) {
        // Download progress bars repeat per chunk; ACR's log keeps the steps.
        (_, Some(_)) if msg.counting => String::new(),
        (Some(id), Some(s)) => format!("{id}: {s}\n"),
        (None, Some(s)) => format!("{s}\n"),
        _ => String::new(),
    }
}

/// The builder's `Successfully tagged <temporary tag>` as ACR's log has it:
/// one line per image name the run was given (ACR builds with `-t` for
/// each), none without names; other text unchanged.
pub fn retag(text: &str, temporary: &str, names: &[String]) -> String {
    if text.trim_end() != format!("Successfully tagged {temporary}") {
        return text.to_string();
    }
    names
        .iter()
        .map(|n| format!("Successfully tagged {n}\n"))
        .collect()
}

/// ACR's lines before the builder starts.
pub fn opening(t: DateTime<Utc>, registry: &str, timeout_secs: u64) -> String {
    [
        "Downloading source code...".to_string(),
        "Finished downloading source code".into(),
        format!("Using acb_vol_{} as the home volume", uuid::Uuid::new_v4()),
        "Setting up Docker configuration...".into(),
        "Successfully set up Docker configuration".into(),
        format!("Logging in to registry: {registry}"),
        format!("Successfully logged into {registry}"),
        format!("Executing step ID: build. Timeout(sec): {timeout_secs}, Working directory: '', Network: ''"),
        "Scanning for dependencies...".into(),
        "Successfully scanned dependencies".into(),
        "Launching container with name: build".into(),
    ]
    .iter()
    .map(|l| acr_line(t, l))
    .collect()
}

/// The end of a successful build step.
pub fn build_succeeded(t: DateTime<Utc>, elapsed_secs: f64) -> String {
    acr_line(t, "Successfully executed container: build")
        + &acr_line(
            t,
            &format!(
                "Step ID: build marked as successful (elapsed time in seconds: {elapsed_secs:.6})"
            ),
        )
}

/// The lines of one pushed image.
pub fn pushed(t: DateTime<Utc>, reference: &str, tag: &str, digest: &str, size: usize) -> String {
    acr_line(t, &format!("Pushing image: {reference}, attempt 1"))
        + &format!("{tag}: digest: {digest} size: {size}\n")
        + &acr_line(t, &format!("Successfully pushed image: {reference}"))
}

/// ACR's last line for a run that ended with `status` after `secs`.
pub fn closing(
    t: DateTime<Utc>,
    run_id: &str,
    status: super::runs::RunStatus,
    secs: i64,
    error: Option<&str>,
) -> String {
    use super::runs::RunStatus;
    let text = match status {
        RunStatus::Succeeded => format!("Run ID: {run_id} was successful after {secs}s"),
        RunStatus::Canceled => format!("Run ID: {run_id} was canceled after {secs}s"),
        RunStatus::Timeout => format!("Run ID: {run_id} timed out after {secs}s"),
        _ => format!(
            "Run ID: {run_id} failed after {secs}s. Error: {}",
            error.unwrap_or("failed during run")
        ),
    };
    let mut out = String::new();
    if status == RunStatus::Failed {
        out += &acr_line(
            t,
            "Container failed during run: build. No retries remaining.",
        );
        out += &format!(
            "{}\n\n",
            error.map_or("failed to run step ID: build".to_owned(), |e| format!(
                "failed to run step ID: build: {}",
                e.strip_prefix("failed during run, err: ").unwrap_or(e)
            ))
        );
    }
    out + &acr_line(t, &text)
}

/// Appends to a run's log blob.
pub struct LogWriter {
    state: Arc<AppState>,
    key: String,
    file: Option<tokio::fs::File>,
    written: u64,
    truncated: bool,
}

impl LogWriter {
    /// Creates the (empty) log blob `key` at `path`.
    pub async fn create(state: Arc<AppState>, key: String, path: std::path::PathBuf) -> Self {
        let file = async {
            if let Some(dir) = path.parent() {
                tokio::fs::create_dir_all(dir).await?;
            }
            tokio::fs::File::create(&path).await
        }
        .await;
        let file = match file {
            Ok(f) => {
                let (_, gone) = state.blobs().put(&key, path, 0, Default::default());
                tokio::task::spawn_blocking(move || crate::blob::store::delete_all(gone));
                Some(f)
            }
            Err(e) => {
                tracing::warn!(log = %key, error = %e, "cannot create a run's log");
                None
            }
        };
        LogWriter {
            state,
            key,
            file,
            written: 0,
            truncated: false,
        }
    }

    /// Appends builder output (dropped past [`MAX_LOG_BYTES`]).
    pub async fn builder(&mut self, text: &str) {
        if self.written + text.len() as u64 > MAX_LOG_BYTES {
            if !self.truncated {
                self.truncated = true;
                self.raw("... (the log is truncated here: it reached its size limit)\n")
                    .await;
            }
            return;
        }
        self.raw(text).await;
    }

    /// Appends text whatever the size (ACR's own lines).
    pub async fn raw(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        let Some(file) = self.file.as_mut() else {
            return;
        };
        match file
            .write_all(text.as_bytes())
            .await
            .and(file.flush().await)
        {
            Ok(()) => {
                self.written += text.len() as u64;
                self.state.blobs().grow(&self.key, text.len() as u64);
            }
            Err(e) => tracing::warn!(log = %self.key, error = %e, "cannot write a run's log"),
        }
    }

    /// Marks the log complete (`x-ms-meta-Complete`).
    pub fn complete(&self, value: &str) {
        self.state
            .blobs()
            .set_metadata(&self.key, "Complete", value);
    }
}

#[cfg(test)]
mod tests {
    use super::super::runs::RunStatus;
    use super::*;

    fn t() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-06T07:30:00Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("time")
    }

    #[test]
    fn acr_frames_the_builders_lines() {
        assert_eq!(
            acr_line(t(), "Downloading source code..."),
            "2026/12/06 07:30:00 Downloading source code...\n"
        );
        let open = opening(t(), "127.0.0.1:5000", 3600);
        assert!(open.starts_with("2026/12/06 07:30:00 Downloading source code...\n"));
        assert!(open.ends_with("2026/12/06 07:30:00 Launching container with name: build\n"));
        assert_eq!(
            closing(t(), "ca1", RunStatus::Succeeded, 6, None),
            "2026/12/06 07:30:00 Run ID: ca1 was successful after 6s\n"
        );
        let failed = closing(
            t(),
            "ca2",
            RunStatus::Failed,
            3,
            Some("failed during run, err: exit status 1"),
        );
        assert!(failed.contains("Container failed during run: build"));
        assert!(failed.ends_with(
            "Run ID: ca2 failed after 3s. Error: failed during run, err: exit status 1\n"
        ));
        assert!(
            pushed(t(), "h/app:1", "1", "sha256:ab", 525)
                .contains("1: digest: sha256:ab size: 525\n")
        );
    }

    #[test]
    fn the_temporary_tag_is_never_shown() {
        let names = vec!["h/app:1".to_string(), "h/app:latest".to_string()];
        assert_eq!(
            retag("Successfully tagged tmp/ca1:x\n", "tmp/ca1:x", &names),
            "Successfully tagged h/app:1\nSuccessfully tagged h/app:latest\n"
        );
        assert_eq!(
            retag("Successfully tagged tmp/ca1:x\n", "tmp/ca1:x", &[]),
            ""
        );
        assert_eq!(
            retag("Successfully built 1234\n", "tmp/ca1:x", &names),
            "Successfully built 1234\n"
        );
    }

    #[test]
    fn progress_becomes_plain_text() {
        let p = |stream, status, id, error, counting| {
            progress_text(&Progress {
                stream,
                status,
                id,
                error,
                counting,
            })
        };
        assert_eq!(
            p(Some("Step 1/3 : FROM busybox\n"), None, None, None, false),
            "Step 1/3 : FROM busybox\n"
        );
        assert_eq!(
            p(
                None,
                Some("Pulling from library/busybox"),
                Some("latest"),
                None,
                false
            ),
            "latest: Pulling from library/busybox\n"
        );
        assert_eq!(p(None, Some("Downloading"), Some("a"), None, true), "");
        assert_eq!(
            p(
                None,
                None,
                None,
                Some("The command '/bin/sh -c false' returned a non-zero code: 1"),
                false
            ),
            "The command '/bin/sh -c false' returned a non-zero code: 1\n"
        );
        assert_eq!(p(None, None, None, None, false), "");
    }
}
