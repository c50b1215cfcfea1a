#!/usr/bin/env bash
# docker-compose run --rm: a one-off command with the service's environment and workdir, its exit code, and nothing left.
. "$(dirname "$0")/../lib.sh"
dc() { docker-compose --no-ansi -p "$PROJECT" -f "$(dirname "$0")/run-rm/docker-compose.yml" "$@"; }

capture dc run --rm -T -e EXTRA=added tool sh -c 'echo "$GREETING $(pwd) $EXTRA"; echo to-err >&2; exit 4'
expect_eq "exit code" 4 "$RC"
expect_eq stdout "from-compose /tmp added" "$OUT"
expect_contains stderr to-err "$ERR"
expect_eq "containers left" "" "$(docker ps -a --filter "label=com.docker.compose.project=$PROJECT" -q)"
dc down >/dev/null 2>&1
