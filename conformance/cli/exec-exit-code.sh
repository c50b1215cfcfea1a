#!/usr/bin/env bash
# docker exec: the command's exit code becomes the CLI's; a missing binary is 126, as dockerd says.
. "$(dirname "$0")/../lib.sh"

docker run -d --name "$(name c)" "$IMAGE" sleep 300 >/dev/null
capture docker exec "$(name c)" sh -c 'exit 7'
expect_eq "exit code" 7 "$RC"
capture docker exec "$(name c)" sh -c 'echo out; echo err >&2'
expect_eq "exit code" 0 "$RC"
expect_eq stdout out "$OUT"
expect_eq stderr err "$ERR"
capture docker exec "$(name c)" no-such-binary
expect_eq "missing binary exit code" 126 "$RC"
expect_contains "missing binary message (dockerd prints it on stdout)" 'exec: "no-such-binary": executable file not found in $PATH' "$OUT$ERR"
