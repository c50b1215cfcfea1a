#!/usr/bin/env bash
# Compose volumes: a named volume written by one service, read by another; labelled; down -v removes it.
. "$(dirname "$0")/../lib.sh"
dc() { docker-compose --no-ansi -p "$PROJECT" -f "$(dirname "$0")/volumes/docker-compose.yml" "$@"; }

capture dc run --rm -T writer
expect_eq "writer exit code" 0 "$RC"
expect_eq "volume" "${PROJECT}_data" "$(docker volume ls -q --filter "name=${PROJECT}_data")"
expect_eq "volume label" conformance "$(docker volume inspect -f '{{index .Labels "purpose"}}' "${PROJECT}_data")"
capture dc run --rm -T reader
expect_eq "reader exit code" 0 "$RC"
expect_eq "read back" persisted "$OUT"
dc down -v >/dev/null 2>&1
expect_eq "volume after down -v" "" "$(docker volume ls -q --filter "name=${PROJECT}_data")"
