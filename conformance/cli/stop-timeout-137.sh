#!/usr/bin/env bash
# docker stop -t 1 on a process that ignores SIGTERM: SIGKILL after the timeout, exit 137.
. "$(dirname "$0")/../lib.sh"

docker run -d --name "$(name c)" "$IMAGE" sh -c 'trap "" TERM; echo ready; while true; do sleep 1; done' >/dev/null
until_true "container logs ready" sh -c "docker logs $(name c) | grep -q ready"
docker stop -t 1 "$(name c)" >/dev/null
expect_eq "exit code" 137 "$(docker inspect -f '{{.State.ExitCode}}' "$(name c)")"
expect_eq "wait" 137 "$(docker wait "$(name c)")"
