#!/usr/bin/env bash
# docker volume create/ls/inspect/rm: name, driver, labels, filters, and rm of a volume in use refused.
. "$(dirname "$0")/../lib.sh"

v=$(name vol)
expect_eq create "$v" "$(docker volume create --label "$(name k)=v1" "$v")"
expect_eq "ls by name" "$v" "$(docker volume ls -q --filter "name=$v")"
expect_eq "ls by label" "$v" "$(docker volume ls -q --filter "label=$(name k)=v1")"
expect_eq inspect "$v local v1" "$(docker volume inspect -f "{{.Name}} {{.Driver}} {{index .Labels \"$(name k)\"}}" "$v")"
docker create --name "$(name c)" -v "$v:/data" "$IMAGE" true >/dev/null
capture docker volume rm "$v"
expect_eq "rm in use: exit code" 1 "$RC"
expect_contains "rm in use: stderr" "volume is in use" "$ERR"
docker rm "$(name c)" >/dev/null
expect_eq rm "$v" "$(docker volume rm "$v")"
expect_eq "ls after rm" "" "$(docker volume ls -q --filter "name=$v")"
capture docker volume inspect "$v"
expect_eq "inspect after rm: exit code" 1 "$RC"
expect_contains "inspect after rm: stderr" "no such volume" "$ERR"
