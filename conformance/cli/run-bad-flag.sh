#!/usr/bin/env bash
# docker run: an unknown flag exits 125 before reaching the daemon.
. "$(dirname "$0")/../lib.sh"

capture docker run --rm --no-such-flag "$IMAGE" true
expect_eq "exit code" 125 "$RC"
expect_contains stderr "unknown flag: --no-such-flag" "$ERR"
