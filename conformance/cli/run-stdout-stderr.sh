#!/usr/bin/env bash
# docker run: stdout and stderr arrive on the CLI's stdout and stderr, not mixed.
. "$(dirname "$0")/../lib.sh"

capture docker run --rm --name "$(name c)" "$IMAGE" sh -c 'echo to-out; echo to-err >&2; echo more-out'
expect_eq "exit code" 0 "$RC"
expect_eq stdout "$(printf 'to-out\nmore-out')" "$OUT"
expect_eq stderr to-err "$ERR"
