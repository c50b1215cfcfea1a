#!/usr/bin/env bash
# --health-cmd: the container becomes healthy; a failing check makes it unhealthy.
. "$(dirname "$0")/../lib.sh"

docker run -d --name "$(name ok)" --health-cmd 'test -e /tmp/up' --health-interval 1s --health-retries 1 \
  "$IMAGE" sh -c 'touch /tmp/up; sleep 300' >/dev/null
docker run -d --name "$(name bad)" --health-cmd 'exit 1' --health-interval 1s --health-retries 1 \
  "$IMAGE" sleep 300 >/dev/null
until_true "healthy" sh -c "[ \"\$(docker inspect -f '{{.State.Health.Status}}' $(name ok))\" = healthy ]"
until_true "unhealthy" sh -c "[ \"\$(docker inspect -f '{{.State.Health.Status}}' $(name bad))\" = unhealthy ]"
expect_eq "ps filter health=healthy" "$(name ok)" "$(docker ps --filter health=healthy --filter "name=$CONFORMANCE_PREFIX" --format '{{.Names}}')"
expect_contains "ps status" "(healthy)" "$(docker ps --filter "name=$(name ok)" --format '{{.Status}}')"
