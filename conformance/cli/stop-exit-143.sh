#!/usr/bin/env bash
# docker stop: SIGTERM, which a shell trapping it turns into exit 143; no SIGKILL needed.
. "$(dirname "$0")/../lib.sh"

docker run -d --name "$(name c)" "$IMAGE" sh -c 'trap "exit 143" TERM; echo ready; while true; do sleep 1; done' >/dev/null
until_true "container logs ready" sh -c "docker logs $(name c) | grep -q ready"
expect_eq stop "$(name c)" "$(docker stop -t 60 "$(name c)")"
expect_eq "exit code" 143 "$(docker inspect -f '{{.State.ExitCode}}' "$(name c)")"
expect_eq "status" exited "$(docker inspect -f '{{.State.Status}}' "$(name c)")"
expect_eq "OOM-killed" false "$(docker inspect -f '{{.State.OOMKilled}}' "$(name c)")"
