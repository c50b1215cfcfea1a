#!/usr/bin/env bash
# Commands on a container that does not exist: dockerd's messages and exit 1.
. "$(dirname "$0")/../lib.sh"

capture docker logs "$(name nope)"
expect_eq "logs exit code" 1 "$RC"
expect_eq "logs stderr" "Error response from daemon: No such container: $(name nope)" "$ERR"
capture docker inspect "$(name nope)"
expect_eq "inspect exit code" 1 "$RC"
expect_eq "inspect stdout" "[]" "$OUT"
expect_eq "inspect stderr" "Error: No such object: $(name nope)" "$ERR"
capture docker stop "$(name nope)"
expect_eq "stop exit code" 1 "$RC"
expect_eq "stop stderr" "Error response from daemon: No such container: $(name nope)" "$ERR"
