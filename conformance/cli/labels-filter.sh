#!/usr/bin/env bash
# Labels on containers; docker ps --filter label= / status= / name= and --format.
. "$(dirname "$0")/../lib.sh"

k=$(name team)
docker run -d --name "$(name a)" --label "$k=blue" --label "$(name other)=1" "$IMAGE" sleep 300 >/dev/null
docker run -d --name "$(name b)" --label "$k=green" "$IMAGE" sleep 300 >/dev/null
docker create --name "$(name c)" --label "$k=blue" "$IMAGE" true >/dev/null
expect_eq "label=k=blue (running)" "$(name a)" "$(docker ps --filter "label=$k=blue" --format '{{.Names}}')"
expect_eq "label=k=blue -a" "$(printf '%s\n%s' "$(name a)" "$(name c)" | sort)" "$(docker ps -a --filter "label=$k=blue" --format '{{.Names}}' | sort)"
expect_eq "label=k" "$(printf '%s\n%s\n%s' "$(name a)" "$(name b)" "$(name c)" | sort)" "$(docker ps -a --filter "label=$k" --format '{{.Names}}' | sort)"
expect_eq "status=created" "$(name c)" "$(docker ps -a --filter "label=$k" --filter status=created --format '{{.Names}}')"
expect_eq "two filters" "$(name a)" "$(docker ps --filter "label=$k" --filter "label=$(name other)" --format '{{.Names}}')"
expect_eq "format .Label" "green" "$(docker ps --filter "name=$(name b)" --format "{{.Label \"$k\"}}")"
expect_eq "inspect labels" "blue" "$(docker inspect -f "{{index .Config.Labels \"$k\"}}" "$(name a)")"
