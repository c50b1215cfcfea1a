//! An exec whose process could not start ends as dockerd ends it: an exit
//! code (126, as dockerd of API 1.44 gives for every failed exec start) and
//! runc's message written to
//! the exec's output (or, detached, a 400 with it), never a 500.
//!
//! The agent reports the failure as `exec "CMD": <io error> (os error N)`
//! (or its user lookup's message); std's spawn reports a failed `chdir` to
//! the working directory as the same `ENOENT` as a missing binary, so the
//! caller says whether the working directory exists.

/// How a failed exec start ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecFailure {
    /// The exec's exit code.
    pub exit_code: i64,
    /// dockerd's message, without the `\r\n` it ends the output with.
    pub message: String,
}

const RUNC: &str = "OCI runtime exec failed: exec failed";
const ENOENT: &str = "(os error 2)";
const EACCES: &str = "(os error 13)";
const ENOTDIR: &str = "(os error 20)";

/// A relative working directory, refused before anything runs (as runc does).
pub fn relative_workdir(workdir: &str) -> Option<ExecFailure> {
    (!workdir.starts_with('/')).then(|| ExecFailure {
        exit_code: 126,
        message: format!("{RUNC}: Cwd must be an absolute path: unknown"),
    })
}

/// The failure for the agent's `message` about starting `cmd` in `workdir`;
/// `workdir_missing`: the working directory does not exist.
pub fn classify(
    cmd: &str,
    workdir: Option<&str>,
    workdir_missing: bool,
    message: &str,
) -> ExecFailure {
    let start = format!("{RUNC}: unable to start container process");
    let fail = |exit_code, message: String| ExecFailure { exit_code, message };
    if message.starts_with("unable to find user") || message.starts_with("unable to find group") {
        return fail(126, message.to_owned());
    }
    if let Some(dir) = workdir.filter(|_| workdir_missing) {
        let why = if message.contains(ENOTDIR) {
            "not a directory"
        } else {
            "no such file or directory"
        };
        return fail(
            126,
            format!("{start}: chdir to cwd ({dir:?}) set in config.json failed: {why}: unknown"),
        );
    }
    if message.contains(ENOENT) {
        let what = if cmd.contains('/') {
            format!("stat {cmd}: no such file or directory")
        } else {
            "executable file not found in $PATH".to_owned()
        };
        // 126, not 127: dockerd up to Docker 27 (so the API 1.44 we speak,
        // Docker 25) ends a failed exec start with 126 whatever the cause
        // (moby#45795; Docker 28 answers 127).
        return fail(126, format!("{start}: exec: {cmd:?}: {what}: unknown"));
    }
    if message.contains(EACCES) {
        return fail(
            126,
            format!("{start}: exec: {cmd:?}: permission denied: unknown"),
        );
    }
    fail(126, format!("{start}: {message}: unknown"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOENT: &str = "exec \"nosuchbin\": No such file or directory (os error 2)";

    /// The texts are dockerd's (runc's), as `docker exec` prints them.
    #[test]
    fn missing_binary_is_126_with_runcs_message() {
        let f = classify("nosuchbin", None, false, NOENT);
        assert_eq!(f.exit_code, 126);
        assert_eq!(
            f.message,
            "OCI runtime exec failed: exec failed: unable to start container process: exec: \"nosuchbin\": executable file not found in $PATH: unknown"
        );
        let abs = classify("/nope/x", Some("/"), false, NOENT);
        assert_eq!(abs.exit_code, 126);
        assert!(
            abs.message
                .ends_with("exec: \"/nope/x\": stat /nope/x: no such file or directory: unknown")
        );
    }

    #[test]
    fn missing_workdir_and_non_executable_are_126() {
        let wd = classify("true", Some("/nope"), true, NOENT);
        assert_eq!(wd.exit_code, 126);
        assert_eq!(
            wd.message,
            "OCI runtime exec failed: exec failed: unable to start container process: chdir to cwd (\"/nope\") set in config.json failed: no such file or directory: unknown"
        );
        let denied = classify(
            "/etc",
            None,
            false,
            "exec \"/etc\": Permission denied (os error 13)",
        );
        assert_eq!(denied.exit_code, 126);
        assert!(
            denied
                .message
                .ends_with("exec: \"/etc\": permission denied: unknown")
        );
        let relative = relative_workdir("rel").expect("refused");
        assert_eq!(relative.exit_code, 126);
        assert_eq!(
            relative.message,
            "OCI runtime exec failed: exec failed: Cwd must be an absolute path: unknown"
        );
        assert!(relative_workdir("/abs").is_none());
    }

    #[test]
    fn unknown_user_keeps_the_lookup_message() {
        let msg = "unable to find user nosuchuser: no matching entries in passwd file";
        let f = classify("true", None, false, msg);
        assert_eq!((f.exit_code, f.message.as_str()), (126, msg));
    }
}
