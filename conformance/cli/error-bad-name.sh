#!/usr/bin/env bash
# docker run --name with characters Docker forbids: exit 125 and dockerd's message.
. "$(dirname "$0")/../lib.sh"

capture docker run --rm --name "$(name 'bad name!')" "$IMAGE" true
expect_eq "exit code" 125 "$RC"
expect_contains stderr "Error response from daemon: Invalid container name ($(name 'bad name!')), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed" "$ERR"
