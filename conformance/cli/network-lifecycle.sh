#!/usr/bin/env bash
# docker network create/ls/inspect/rm: driver, labels, filters, connect and disconnect.
. "$(dirname "$0")/../lib.sh"

n=$(name net)
id=$(docker network create --label "$(name k)=v" "$n")
expect_eq "ls by name" "$n" "$(docker network ls -q --no-trunc --filter "name=$n" | xargs docker network inspect -f '{{.Name}}')"
expect_eq "ls by label" "$n" "$(docker network ls --format '{{.Name}}' --filter "label=$(name k)=v")"
expect_eq inspect "$id bridge local v" "$(docker network inspect -f "{{.Id}} {{.Driver}} {{.Scope}} {{index .Labels \"$(name k)\"}}" "$n")"
docker run -d --name "$(name c)" "$IMAGE" sleep 300 >/dev/null
docker network connect "$n" "$(name c)"
expect_eq "connected" "$(name c)" "$(docker network inspect -f '{{range .Containers}}{{.Name}}{{end}}' "$n")"
docker network disconnect "$n" "$(name c)"
expect_eq "disconnected" "" "$(docker network inspect -f '{{range .Containers}}{{.Name}}{{end}}' "$n")"
expect_eq rm "$n" "$(docker network rm "$n")"
capture docker network inspect "$n"
expect_eq "inspect after rm: exit code" 1 "$RC"
expect_contains "inspect after rm: stderr" "network $n not found" "$ERR"
