#!/usr/bin/env bash
# docker run -d prints the id; docker wait prints the exit code.
. "$(dirname "$0")/../lib.sh"

id=$(docker run -d --name "$(name c)" "$IMAGE" sh -c 'exit 5')
case "$id" in [0-9a-f]*) ;; *) fail "not an id: $id" ;; esac
expect_eq "id length" 64 "${#id}"
expect_eq "wait" 5 "$(docker wait "$id")"
expect_eq "inspect exit code" 5 "$(docker inspect -f '{{.State.ExitCode}}' "$(name c)")"
expect_eq "status" exited "$(docker inspect -f '{{.State.Status}}' "$(name c)")"
