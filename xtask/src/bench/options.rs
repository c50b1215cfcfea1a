//! Flags of `cargo xtask bench`: every size is one, so `--quick` is a
//! smaller run of the same scenarios.

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

pub const USAGE: &str = "\
cargo xtask bench [--quick] [--containers N] [--running N] [--runs N] [--samples N]
                  [--rtt N] [--stream-mib N] [--clients N]
  --quick          smaller sizes (about 2 minutes): 100 containers, 10 running, 3 runs,
                   200 samples, 50 round trips, 2 MiB streams
  --containers N   containers created for ps -a, inspect, create and RSS (default 1000)
  --running N      containers running for the RSS figure (default 100)
  --runs N         measured `docker run --rm busybox true` per side (default 10)
  --samples N      ping and inspect requests (default 1000; ps -a: N/20, at least 10)
  --rtt N          attach echo round trips (default 200)
  --stream-mib N   output of the attach and logs throughput container (default 8)
  --clients N      parallel clients creating, starting and removing (default 4)";

/// Sizes of one bench run.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub quick: bool,
    pub containers: usize,
    pub running: usize,
    pub runs: usize,
    pub samples: usize,
    pub rtt: usize,
    pub stream_mib: usize,
    pub clients: usize,
}

impl Options {
    fn full() -> Self {
        Self {
            quick: false,
            containers: 1000,
            running: 100,
            runs: 10,
            samples: 1000,
            rtt: 200,
            stream_mib: 8,
            clients: 4,
        }
    }

    fn quick() -> Self {
        Self {
            quick: true,
            containers: 100,
            running: 10,
            runs: 3,
            samples: 200,
            rtt: 50,
            stream_mib: 2,
            clients: 4,
        }
    }

    /// `--quick` first sets the sizes; the other flags then override them.
    pub fn parse(args: &[&str]) -> Result<Self> {
        let mut o = if args.contains(&"--quick") {
            Self::quick()
        } else {
            Self::full()
        };
        let mut it = args.iter();
        while let Some(&flag) = it.next() {
            if flag == "--quick" {
                continue;
            }
            let field = match flag {
                "--containers" => &mut o.containers,
                "--running" => &mut o.running,
                "--runs" => &mut o.runs,
                "--samples" => &mut o.samples,
                "--rtt" => &mut o.rtt,
                "--stream-mib" => &mut o.stream_mib,
                "--clients" => &mut o.clients,
                other => bail!("unknown bench flag {other:?}\n{USAGE}"),
            };
            let value = it
                .next()
                .with_context(|| format!("{flag} needs a number"))?;
            *field = value
                .parse()
                .with_context(|| format!("{flag} {value:?}: not a number"))?;
            if *field == 0 {
                bail!("{flag} must be at least 1");
            }
        }
        Ok(o)
    }

    pub fn ps_samples(&self) -> usize {
        (self.samples / 20).max(10)
    }

    /// The command that reproduces this run.
    pub fn command_line(&self) -> String {
        let base = if self.quick {
            Self::quick()
        } else {
            Self::full()
        };
        let mut cmd = String::from("cargo xtask bench");
        if self.quick {
            cmd.push_str(" --quick");
        }
        let pairs = [
            ("--containers", self.containers, base.containers),
            ("--running", self.running, base.running),
            ("--runs", self.runs, base.runs),
            ("--samples", self.samples, base.samples),
            ("--rtt", self.rtt, base.rtt),
            ("--stream-mib", self.stream_mib, base.stream_mib),
            ("--clients", self.clients, base.clients),
        ];
        for (flag, v, default) in pairs {
            if v != default {
                cmd.push_str(&format!(" {flag} {v}"));
            }
        }
        cmd
    }

    pub fn to_json(&self) -> Value {
        json!({
            "containers": self.containers, "running": self.running, "runs": self.runs,
            "samples": self.samples, "ps_samples": self.ps_samples(), "rtt": self.rtt,
            "stream_mib": self.stream_mib, "clients": self.clients,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_sets_sizes_and_flags_override_them() {
        let o = Options::parse(&["--running", "5", "--quick"]).expect("parses");
        assert_eq!((o.quick, o.containers, o.running), (true, 100, 5));
        assert_eq!(o.command_line(), "cargo xtask bench --quick --running 5");
        assert_eq!(Options::parse(&[]).expect("parses"), Options::full());
        assert_eq!(Options::full().command_line(), "cargo xtask bench");
        assert!(Options::parse(&["--running"]).is_err());
        assert!(Options::parse(&["--running", "x"]).is_err());
        assert!(Options::parse(&["--running", "0"]).is_err());
        assert!(Options::parse(&["--fast"]).is_err());
    }
}
