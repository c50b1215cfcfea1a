#!/usr/bin/env bash
# docker-compose ps / logs / stop: the service's container, its state and its output.
. "$(dirname "$0")/../lib.sh"
dc() { docker-compose --no-ansi -p "$PROJECT" -f "$(dirname "$0")/ps-logs/docker-compose.yml" "$@"; }

dc up -d >/dev/null 2>&1
id=$(dc ps -q app)
expect_eq "ps -q is the container" "$(docker ps -q --no-trunc --filter "name=${PROJECT}_app_1")" "$id"
expect_eq "label" app "$(docker inspect -f '{{index .Config.Labels "role"}}' "$id")"
expect_contains "ps" "Up" "$(dc ps app)"
until_true "logs" sh -c "docker logs $id 2>&1 | grep -q app-warning"
OUT=$(dc logs --no-color app)
expect_contains "logs stdout line" "app-started" "$OUT"
expect_contains "logs stderr line" "app-warning" "$OUT"
expect_contains "logs prefix" "${PROJECT}_app_1" "$OUT"
dc stop --timeout 1 >/dev/null 2>&1
expect_eq "state after stop" exited "$(docker inspect -f '{{.State.Status}}' "$id")"
expect_contains "ps after stop" "Exit 137" "$(dc ps app)"
dc down >/dev/null 2>&1
