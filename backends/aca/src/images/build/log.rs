//! An ACR Tasks run's log read as a Docker client expects a build's output
//! (pure): the builder's lines are shown; ACR's own timestamped lines, the
//! builder's "Sending build context" and "Successfully built/tagged" (the
//! ID and names there are ACR's, the backend prints the client's) and
//! everything after the build (the push) are not; a failing `RUN`'s line
//! becomes the build's error.

/// Longest line kept whole; the rest of a longer line is dropped.
pub const MAX_LINE: usize = 64 * 1024;

/// What a line of the log is to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEvent {
    /// Builder output, shown (with its newline).
    Show(String),
    /// The builder's error: it ends the build.
    Error {
        /// dockerd's message.
        message: String,
        /// A failing `RUN`'s exit code.
        code: Option<i64>,
    },
}

/// Reads the log's bytes as they come.
#[derive(Debug, Default)]
pub struct LogReader {
    partial: Vec<u8>,
    /// The builder said "Successfully built", or failed: what follows is
    /// ACR's.
    built: bool,
    /// The error line seen, if any.
    error: Option<(String, Option<i64>)>,
}

impl LogReader {
    /// The events of `bytes`, the next part of the log.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<LogEvent> {
        let mut events = Vec::new();
        for piece in bytes.split_inclusive(|b| *b == b'\n') {
            if self.partial.len() < MAX_LINE {
                let room = MAX_LINE - self.partial.len();
                self.partial
                    .extend_from_slice(&piece[..piece.len().min(room)]);
            }
            if piece.ends_with(b"\n") {
                let line = String::from_utf8_lossy(&self.partial).trim_end().to_owned();
                self.partial.clear();
                events.extend(self.line(line));
            }
        }
        events
    }

    /// The events of a last line without its newline.
    pub fn finish(&mut self) -> Vec<LogEvent> {
        let line = String::from_utf8_lossy(&std::mem::take(&mut self.partial))
            .trim_end()
            .to_owned();
        self.line(line).into_iter().collect()
    }

    /// The builder's error line, when one was seen.
    pub fn error(&self) -> Option<(String, Option<i64>)> {
        self.error.clone()
    }

    fn line(&mut self, line: String) -> Option<LogEvent> {
        if line.is_empty() || self.built || is_acr_line(&line) {
            if !line.is_empty() {
                tracing::debug!(line = %line, "acr tasks log");
            }
            return None;
        }
        if line.starts_with("Successfully built ") {
            self.built = true;
            return None;
        }
        if line.starts_with("Sending build context to Docker daemon")
            || line.starts_with("Successfully tagged ")
        {
            return None;
        }
        if let Some(code) = failed_run_code(&line) {
            // The build ended here: what follows is ACR's account of it.
            self.built = true;
            self.error = Some((line.clone(), Some(code)));
            return Some(LogEvent::Error {
                message: line,
                code: Some(code),
            });
        }
        Some(LogEvent::Show(format!("{line}\n")))
    }
}

/// ACR's own lines: `2026/12/06 07:30:00 Downloading source code...` and
/// the run's last `Run ID: ca1 was successful after 6s`.
fn is_acr_line(line: &str) -> bool {
    let b = line.as_bytes();
    let timestamped = b.len() > 20
        && b[..19].iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'/',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
        && b[19] == b' ';
    timestamped || line.starts_with("Run ID: ")
}

/// The exit code of the classic builder's failing `RUN` line: `The command
/// '/bin/sh -c false' returned a non-zero code: 1`.
fn failed_run_code(line: &str) -> Option<i64> {
    let rest = line.strip_prefix("The command ")?;
    let (_, code) = rest.rsplit_once(" returned a non-zero code: ")?;
    code.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "2026/12/06 07:30:00 Downloading source code...\n\
2026/12/06 07:30:01 Launching container with name: build\n\
Sending build context to Docker daemon  3.072kB\r\n\
Step 1/3 : FROM busybox\n\
\x20---> 6d3e4188a38a\n\
Step 2/3 : RUN echo built\n\
\x20---> Running in 1a2b\n\
built\n\
\n\
Successfully built 0123456789ab\n\
Successfully tagged 127.0.0.1:5000/library/app:1\n\
2026/12/06 07:30:05 Successfully executed container: build\n\
The push refers to repository [127.0.0.1:5000/library/app]\n\
Run ID: ca1 was successful after 6s\n";

    fn shown(events: &[LogEvent]) -> Vec<String> {
        events
            .iter()
            .filter_map(|e| match e {
                LogEvent::Show(s) => Some(s.clone()),
                LogEvent::Error { .. } => None,
            })
            .collect()
    }

    #[test]
    fn only_the_builders_steps_are_shown() {
        let mut reader = LogReader::default();
        let events = reader.feed(LOG.as_bytes());
        assert_eq!(
            shown(&events),
            [
                "Step 1/3 : FROM busybox\n",
                " ---> 6d3e4188a38a\n",
                "Step 2/3 : RUN echo built\n",
                " ---> Running in 1a2b\n",
                "built\n"
            ]
        );
        assert!(reader.error().is_none());
    }

    #[test]
    fn lines_split_anywhere_read_the_same() {
        let whole = LogReader::default().feed(LOG.as_bytes());
        for cut in [1, 7, 50, 100, 200] {
            let mut reader = LogReader::default();
            let mut events = Vec::new();
            for chunk in LOG.as_bytes().chunks(cut) {
                events.extend(reader.feed(chunk));
            }
            events.extend(reader.finish());
            assert_eq!(events, whole, "chunks of {cut}");
        }
    }

    #[test]
    fn a_failing_run_is_the_error() {
        let mut reader = LogReader::default();
        let events = reader.feed(
            b"Step 2/2 : RUN echo oops && exit 3\n ---> Running in 1\noops\n\
The command '/bin/sh -c echo oops && exit 3' returned a non-zero code: 3\n\
2026/12/06 07:30:05 Container failed during run: build. No retries remaining.\n\
failed to run step ID: build: exit status 3\n",
        );
        assert!(
            !shown(&events)
                .iter()
                .any(|l| l.contains("failed to run step")),
            "ACR's account of the failure is not the builder's output: {events:?}"
        );
        assert_eq!(shown(&events).last().map(String::as_str), Some("oops\n"));
        let (message, code) = reader.error().expect("error");
        assert_eq!(code, Some(3));
        assert!(message.ends_with("returned a non-zero code: 3"));
    }

    #[test]
    fn a_line_without_end_is_bounded() {
        let mut reader = LogReader::default();
        assert!(reader.feed(&vec![b'x'; MAX_LINE * 3]).is_empty());
        let events = reader.finish();
        assert!(matches!(&events[..], [LogEvent::Show(s)] if s.len() == MAX_LINE + 1));
    }
}
