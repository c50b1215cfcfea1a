//! `sockerless-agent [options] -- CMD [ARGS...]`: see README.md.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use sockerless_agent::agent;
use sockerless_agent::config::{Config, hosts_file};

const USAGE: &str = "usage: sockerless-agent [--help] [--version] -- CMD [ARGS...]\n\
       sockerless-agent --install DIR\n\
configuration comes from SOCKERLESS_* environment variables (see README.md)";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Mode {
    /// Wrap CMD as the container's main process.
    Run(Vec<String>),
    /// Copy this binary to DIR/sockerless-agent and exit: what the init
    /// container of the agent image does, since that image has no `cp`.
    Install(PathBuf),
    /// Print a message and exit with a code (help, version, usage errors).
    Print(String, i32),
}

fn parse_args(args: Vec<String>) -> Mode {
    let cmd = match args.first().map(String::as_str) {
        Some("--") => args[1..].to_vec(),
        Some("-h" | "--help") => return Mode::Print(USAGE.to_string(), 0),
        Some("-V" | "--version") => {
            return Mode::Print(format!("sockerless-agent {}", env!("CARGO_PKG_VERSION")), 0);
        }
        Some("--install") => {
            return match args.get(1..) {
                Some([dir]) if !dir.is_empty() => Mode::Install(PathBuf::from(dir)),
                _ => Mode::Print(format!("--install takes one directory\n{USAGE}"), 2),
            };
        }
        Some(s) if s.starts_with('-') => {
            return Mode::Print(format!("unknown option {s}\n{USAGE}"), 2);
        }
        _ => args,
    };
    if cmd.is_empty() {
        return Mode::Print(format!("no command given\n{USAGE}"), 2);
    }
    Mode::Run(cmd)
}

/// Copies the running executable to `dir/sockerless-agent` (mode 0755),
/// through a temporary name so a reader never sees a partial file.
fn install(dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let target = dir.join(BINARY_NAME);
    let partial = dir.join(format!(".{BINARY_NAME}.partial"));
    std::fs::copy("/proc/self/exe", &partial)
        .with_context(|| format!("copying the agent to {}", partial.display()))?;
    std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755))?;
    std::fs::rename(&partial, &target)
        .with_context(|| format!("moving the agent to {}", target.display()))?;
    Ok(target)
}

const BINARY_NAME: &str = "sockerless-agent";

fn main() -> anyhow::Result<()> {
    let argv = match parse_args(std::env::args().skip(1).collect()) {
        Mode::Run(argv) => argv,
        Mode::Install(dir) => {
            let target = install(&dir)?;
            eprintln!("sockerless-agent: installed {}", target.display());
            // ACA shares one hosts file per replica; the agent of a non-root
            // container rewrites its peers block later.
            sockerless_agent::make_hosts_writable(&hosts_file(&|k| std::env::var(k).ok()));
            return Ok(());
        }
        Mode::Print(msg, code) => {
            if code == 0 {
                println!("{msg}");
            } else {
                eprintln!("{msg}");
            }
            std::process::exit(code);
        }
    };
    // Before any thread exists: the token leaves the environment (and
    // `/proc/<pid>/environ`) so the user's process cannot read it.
    let token = sockerless_agent::secret_env::take("SOCKERLESS_AGENT_TOKEN");
    let cfg = Config::from_lookup(|k| match k {
        "SOCKERLESS_AGENT_TOKEN" => token.clone(),
        _ => std::env::var(k).ok(),
    })
    .context("configuration")?;
    let level = cfg
        .log
        .parse::<tracing::Level>()
        .unwrap_or(tracing::Level::WARN);
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let code = runtime.block_on(agent::run(cfg, argv))?;
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    std::process::exit(code);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_modes() {
        assert_eq!(
            parse_args(args(&["--", "sh", "-c", "x"])),
            Mode::Run(args(&["sh", "-c", "x"]))
        );
        assert_eq!(
            parse_args(args(&["echo", "hi"])),
            Mode::Run(args(&["echo", "hi"]))
        );
        assert_eq!(
            parse_args(args(&["--install", "/.sockerless"])),
            Mode::Install("/.sockerless".into())
        );
        assert!(matches!(
            parse_args(args(&["--install"])),
            Mode::Print(_, 2)
        ));
        assert!(matches!(
            parse_args(args(&["--install", "a", "b"])),
            Mode::Print(_, 2)
        ));
        assert!(matches!(parse_args(args(&["--"])), Mode::Print(_, 2)));
        assert!(matches!(parse_args(args(&["--bogus"])), Mode::Print(_, 2)));
        assert!(matches!(
            parse_args(args(&["--version"])),
            Mode::Print(_, 0)
        ));
    }
}
