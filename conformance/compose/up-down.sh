#!/usr/bin/env bash
# docker-compose up -d / down: two services on the project network, one reaching the other by service name; down removes containers and network.
. "$(dirname "$0")/../lib.sh"
dc() { docker-compose --no-ansi -p "$PROJECT" -f "$(dirname "$0")/up-down/docker-compose.yml" "$@"; }

capture dc up -d
expect_eq "up exit code" 0 "$RC"
expect_eq "running services" "$(printf 'client\nserver')" "$(dc ps --services --filter status=running | sort)"
expect_eq "network" "${PROJECT}_default" "$(docker network ls --filter "name=${PROJECT}_default" --format '{{.Name}}')"
# Retried until the server listens (a hang guard, not a measurement).
OUT=$(dc exec -T client sh -c 'for i in $(seq 60); do r=$(nc server 8080 </dev/null 2>/dev/null) && [ -n "$r" ] && echo $r && exit 0; sleep 1; done; exit 1')
expect_eq "reply by service name" pong "$OUT"
capture dc down --timeout 1
expect_eq "down exit code" 0 "$RC"
expect_eq "containers left" "" "$(docker ps -a --filter "label=com.docker.compose.project=$PROJECT" -q)"
expect_eq "network left" "" "$(docker network ls --filter "name=${PROJECT}_default" -q)"
