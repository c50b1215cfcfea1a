#!/usr/bin/env bash
# docker-compose with build: . — the service's image built from its directory, then run; its output and exit code come back.
. "$(dirname "$0")/../lib.sh"
export DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0
dir="$(dirname "$0")/build"
dc() { docker-compose --no-ansi -p "$PROJECT" -f "$dir/docker-compose.yml" "$@"; }

capture dc build
expect_eq "compose build exit code" 0 "$RC"
expect_contains "compose build output" "Successfully tagged ${PROJECT}_app:latest" "$OUT$ERR"
capture timeout 170 docker-compose --no-ansi -p "$PROJECT" -f "$dir/docker-compose.yml" up --no-color --exit-code-from app
expect_eq "exit code" 4 "$RC"
expect_contains "the built file" "made by compose" "$OUT"
dc down --timeout 1 >/dev/null 2>&1
