//! Keeps the agent's token out of the container: the user's process could
//! read it from `/proc/<agent>/environ` (the agent is usually PID 1) and then
//! talk to the backend as the agent. The variable is taken once at start,
//! its bytes in the initial environment block (what that file shows) are
//! overwritten, it leaves `environ`, and the process becomes non-dumpable.

// unsafe: the token's bytes overwritten in the process's environment block.
#![allow(unsafe_code)]

/// Takes `name` out of the environment and returns its value. Must run
/// before any other thread exists (it edits the environment in place).
pub fn take(name: &str) -> Option<String> {
    let value = std::env::var(name).ok();
    scrub(name);
    // SAFETY: called at start of `main`, before the runtime's threads exist,
    // so nothing reads the environment concurrently.
    unsafe { std::env::remove_var(name) };
    // SAFETY: prctl with PR_SET_DUMPABLE and 0 has no memory effects.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    value
}

/// Zeroes every `name=value` string that `environ` points at; the kernel's
/// `/proc/<pid>/environ` reads those same bytes from the initial block.
fn scrub(name: &str) {
    let prefix = format!("{name}=");
    // SAFETY: `environ` is a NULL-terminated array of NUL-terminated strings
    // owned by this process; we only overwrite bytes inside one string, up to
    // and excluding its terminator, with no other thread running.
    unsafe {
        let mut entry = libc::environ;
        if entry.is_null() {
            return;
        }
        while !(*entry).is_null() {
            let s = *entry;
            let len = libc::strlen(s);
            let bytes = std::slice::from_raw_parts_mut(s.cast::<u8>(), len);
            if bytes.starts_with(prefix.as_bytes()) {
                for b in bytes.iter_mut() {
                    std::ptr::write_volatile(b, 0);
                }
            }
            entry = entry.add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    /// Run in a child process (so the harness's threads do not matter):
    /// takes the variable and prints what `/proc/self/environ` then holds.
    #[test]
    fn child_half() {
        if std::env::var("SECRET_ENV_CHILD").is_err() {
            return;
        }
        let value = super::take("SOCKERLESS_TEST_SECRET");
        let environ = std::fs::read("/proc/self/environ").expect("environ");
        println!(
            "value={} leaked={} still_set={}",
            value.unwrap_or_default(),
            environ
                .windows(b"secret-value-123".len())
                .any(|w| w == b"secret-value-123"),
            std::env::var("SOCKERLESS_TEST_SECRET").is_ok()
        );
    }

    #[test]
    fn the_value_is_returned_and_gone_from_proc_environ() {
        let exe = std::env::current_exe().expect("test binary");
        let out = Command::new(exe)
            .args(["--exact", "secret_env::tests::child_half", "--nocapture"])
            .args(["--test-threads", "1"])
            .env("SECRET_ENV_CHILD", "1")
            .env("SOCKERLESS_TEST_SECRET", "secret-value-123")
            .output()
            .expect("run child");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("value=secret-value-123 leaked=false still_set=false"),
            "{stdout}"
        );
    }
}
