#!/usr/bin/env bash
# docker rm of a running container without -f fails; with -f it goes.
. "$(dirname "$0")/../lib.sh"

id=$(docker run -d --name "$(name c)" "$IMAGE" sleep 300)
capture docker rm "$(name c)"
expect_eq "exit code" 1 "$RC"
expect_contains stderr "Error response from daemon: You cannot remove a running container $id. Stop the container before attempting removal or force remove" "$ERR"
expect_eq "still running" true "$(docker inspect -f '{{.State.Running}}' "$(name c)")"
capture docker rm -f "$(name c)"
expect_eq "rm -f exit code" 0 "$RC"
expect_eq "rm -f output" "$(name c)" "$OUT"
