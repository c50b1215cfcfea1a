#!/usr/bin/env bash
# docker events --since/--until: create, start, die and destroy of one container, in order.
. "$(dirname "$0")/../lib.sh"

since=$(date +%s)
docker run --name "$(name c)" "$IMAGE" true >/dev/null
docker rm "$(name c)" >/dev/null
until=$(( $(date +%s) + 1 ))
capture docker events --since "$since" --until "$until" --filter "container=$(name c)" --filter type=container --format '{{.Action}}'
expect_eq "exit code" 0 "$RC"
actions=$(echo "$OUT" | grep -E '^(create|start|die|destroy)$' | tr '\n' ' ')
expect_eq actions "create start die destroy " "$actions"
