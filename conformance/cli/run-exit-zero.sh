#!/usr/bin/env bash
# docker run: a command that succeeds exits 0 and its output reaches stdout.
. "$(dirname "$0")/../lib.sh"

capture docker run --rm --name "$(name c)" "$IMAGE" echo hello
expect_eq "exit code" 0 "$RC"
expect_eq stdout hello "$OUT"
