#!/usr/bin/env bash
# docker kill: SIGKILL by default (137); -s USR1 reaches the process's trap.
. "$(dirname "$0")/../lib.sh"

docker run -d --name "$(name k)" "$IMAGE" sleep 300 >/dev/null
expect_eq kill "$(name k)" "$(docker kill "$(name k)")"
expect_eq "SIGKILL exit code" 137 "$(docker wait "$(name k)")"
docker run -d --name "$(name u)" "$IMAGE" sh -c 'trap "exit 42" USR1; echo ready; while true; do sleep 1; done' >/dev/null
until_true "container logs ready" sh -c "docker logs $(name u) | grep -q ready"
docker kill -s USR1 "$(name u)" >/dev/null
expect_eq "USR1 exit code" 42 "$(docker wait "$(name u)")"
capture docker kill "$(name u)"
expect_eq "kill of a stopped container: exit code" 1 "$RC"
expect_contains "kill of a stopped container: stderr" "is not running" "$ERR"
