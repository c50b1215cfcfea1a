#!/usr/bin/env bash
# A second container with a taken name: 409 with dockerd's message naming the holder.
. "$(dirname "$0")/../lib.sh"

id=$(docker create --name "$(name c)" "$IMAGE" true)
capture docker run --name "$(name c)" "$IMAGE" true
expect_eq "exit code" 125 "$RC"
expect_contains stderr "Error response from daemon: Conflict. The container name \"/$(name c)\" is already in use by container \"$id\". You have to remove (or rename) that container to be able to reuse that name." "$ERR"
