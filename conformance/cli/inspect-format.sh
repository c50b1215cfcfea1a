#!/usr/bin/env bash
# docker inspect -f on a container: the fields scripts read.
. "$(dirname "$0")/../lib.sh"

id=$(docker create --name "$(name c)" -e A=1 --entrypoint sh "$IMAGE" -c 'exit 0')
expect_eq name "/$(name c)" "$(docker inspect -f '{{.Name}}' "$(name c)")"
expect_eq id "$id" "$(docker inspect -f '{{.Id}}' "$(name c)")"
expect_eq image "$IMAGE" "$(docker inspect -f '{{.Config.Image}}' "$(name c)")"
expect_eq status created "$(docker inspect -f '{{.State.Status}}' "$(name c)")"
expect_eq entrypoint "[sh]" "$(docker inspect -f '{{.Config.Entrypoint}}' "$(name c)")"
expect_eq cmd "[-c exit 0]" "$(docker inspect -f '{{.Config.Cmd}}' "$(name c)")"
expect_contains env "A=1" "$(docker inspect -f '{{.Config.Env}}' "$(name c)")"
expect_eq "type" container "$(docker inspect --type container -f '{{if .State}}container{{end}}' "$(name c)")"
expect_eq "short id" "${id:0:12}" "$(docker ps -a --filter "name=$(name c)" --format '{{.ID}}')"
