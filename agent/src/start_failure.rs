//! The main process could not start: the message dockerd fails the start
//! with (runc's wording) and the exit code the Docker CLI then ends
//! `docker run` with. The backend's start has already answered when the
//! agent finds out, so the message goes to the container's stderr and the
//! code becomes the run's exit code.

use std::io;

/// How runc's failures to start the container process begin, as dockerd
/// (containerd's shim) reports them.
const RUNC: &str = "failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process";

/// Errors of `execve` itself, which runc reports as `exec: "CMD": <error>`.
const EXEC_ERRNOS: [i32; 9] = [
    libc::ENOENT,
    libc::EACCES,
    libc::ENOEXEC,
    libc::ENOTDIR,
    libc::EISDIR,
    libc::ELOOP,
    libc::ETXTBSY,
    libc::ENAMETOOLONG,
    libc::E2BIG,
];

/// Why the main process did not start.
#[derive(Debug)]
pub(crate) enum StartFailure {
    /// `User` could not be resolved (the lookup's message, as dockerd's).
    User(String),
    /// `WorkingDir` could not be created.
    Workdir(String, io::Error),
    /// The spawn failed: exec of the command, or setting up the process.
    Spawn(io::Error),
}

impl StartFailure {
    /// dockerd's message for this failure to run `program`.
    pub(crate) fn message(&self, program: &str) -> String {
        match self {
            Self::User(message) => message.clone(),
            Self::Workdir(dir, e) => format!("mkdir {dir}: {}", go_text(e)),
            Self::Spawn(e) => match e.raw_os_error() {
                Some(libc::ENOENT) if program.contains('/') => format!(
                    "{RUNC}: exec: {program:?}: stat {program}: no such file or directory: unknown"
                ),
                Some(libc::ENOENT) => format!(
                    "{RUNC}: exec: {program:?}: executable file not found in $PATH: unknown"
                ),
                Some(n) if EXEC_ERRNOS.contains(&n) => {
                    format!("{RUNC}: exec: {program:?}: {}: unknown", go_text(e))
                }
                _ => format!("{RUNC}: {}: unknown", go_text(e)),
            },
        }
    }
}

/// The exit code the Docker CLI gives `docker run` when the start fails
/// with `message` (docker/cli `runStartContainerErr`): 127 for a missing
/// command, 126 for one that cannot be run, 125 otherwise.
pub(crate) fn cli_exit_code(message: &str) -> i32 {
    if message.contains("executable file not found")
        || message.contains("no such file or directory")
        || message.contains("system cannot find the file specified")
    {
        127
    } else if message.contains("permission denied") || message.contains("is a directory") {
        126
    } else {
        125
    }
}

/// An error as Go words it: `strerror` in lower case, without Rust's
/// ` (os error N)`.
fn go_text(e: &io::Error) -> String {
    let text = e.to_string();
    let text = match e.raw_os_error() {
        Some(n) => text
            .strip_suffix(&format!(" (os error {n})"))
            .unwrap_or(&text)
            .to_owned(),
        None => text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spawn(errno: i32) -> StartFailure {
        StartFailure::Spawn(io::Error::from_raw_os_error(errno))
    }

    /// The texts and codes are dockerd's and the CLI's, as `docker run` ends.
    #[test]
    fn missing_commands_are_127_with_runcs_message() {
        let m = spawn(libc::ENOENT).message("no-such-binary");
        assert_eq!(
            m,
            "failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"no-such-binary\": executable file not found in $PATH: unknown"
        );
        assert_eq!(cli_exit_code(&m), 127);
        let m = spawn(libc::ENOENT).message("/no/such");
        assert_eq!(
            m,
            "failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"/no/such\": stat /no/such: no such file or directory: unknown"
        );
        assert_eq!(cli_exit_code(&m), 127);
    }

    #[test]
    fn commands_that_cannot_run_are_126() {
        let m = spawn(libc::EACCES).message("/etc");
        assert_eq!(
            m,
            "failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"/etc\": permission denied: unknown"
        );
        assert_eq!(cli_exit_code(&m), 126);
        let m = spawn(libc::ENOEXEC).message("/bin/script");
        assert!(
            m.ends_with("exec: \"/bin/script\": exec format error: unknown"),
            "{m}"
        );
        assert_eq!(cli_exit_code(&m), 125);
    }

    #[test]
    fn other_failures_are_125() {
        let user = "unable to find user nosuch: no matching entries in passwd file";
        let m = StartFailure::User(user.to_owned()).message("true");
        assert_eq!((m.as_str(), cli_exit_code(&m)), (user, 125));
        let m = StartFailure::Workdir(
            "/etc/passwd/x".into(),
            io::Error::from_raw_os_error(libc::ENOTDIR),
        )
        .message("true");
        assert_eq!(m, "mkdir /etc/passwd/x: not a directory");
        assert_eq!(cli_exit_code(&m), 125);
        let m = spawn(libc::EMFILE).message("true");
        assert!(m.ends_with("process: too many open files: unknown"), "{m}");
        assert_eq!(cli_exit_code(&m), 125);
        let m = StartFailure::Spawn(io::Error::new(io::ErrorKind::InvalidInput, "empty command"))
            .message("");
        assert!(m.ends_with("process: empty command: unknown"), "{m}");
    }
}
