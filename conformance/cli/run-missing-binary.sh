#!/usr/bin/env bash
# docker run: a command missing from the image exits 127 with dockerd's message.
. "$(dirname "$0")/../lib.sh"

capture docker run --rm --name "$(name c)" "$IMAGE" no-such-binary
expect_eq "exit code" 127 "$RC"
expect_contains stderr 'exec: "no-such-binary": executable file not found in $PATH' "$ERR"
