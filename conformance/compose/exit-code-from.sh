#!/usr/bin/env bash
# docker-compose up --exit-code-from: the client's exit code (3) after it talked to the server by name; the others are stopped.
. "$(dirname "$0")/../lib.sh"
dc() { docker-compose --no-ansi -p "$PROJECT" -f "$(dirname "$0")/exit-code-from/docker-compose.yml" "$@"; }

capture timeout 170 docker-compose --no-ansi -p "$PROJECT" -f "$(dirname "$0")/exit-code-from/docker-compose.yml" up --no-color --exit-code-from client --timeout 1
expect_eq "exit code" 3 "$RC"
expect_contains "client output" "reply=pong" "$OUT"
expect_eq "still running" "" "$(docker ps --filter "label=com.docker.compose.project=$PROJECT" -q)"
dc down --timeout 1 >/dev/null 2>&1
