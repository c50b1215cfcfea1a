#!/usr/bin/env bash
# docker run: stdout and stderr arrive on the CLI's stdout and stderr, not mixed.
. "$(dirname "$0")/../lib.sh"

capture docker run --rm --name "$(name c)" "$IMAGE" sh -c 'echo to-out; echo to-err >&2; echo more-out'
expect_eq "exit code" 0 "$RC"
expect_eq stdout "$(printf 'to-out\nmore-out')" "$OUT"
# dockerd's warnings about its own host come first on the CLI's stderr
# ("WARNING: IPv4 forwarding is disabled": the engine runs without IP
# forwarding); the container's stderr is the rest.
expect_eq stderr to-err "$(printf '%s\n' "$ERR" | grep -v '^WARNING: IPv4 forwarding is disabled' || true)"
