#!/usr/bin/env bash
# docker exec -u: by name, by uid:gid; the default is the container's user.
. "$(dirname "$0")/../lib.sh"

docker run -d --name "$(name c)" "$IMAGE" sleep 300 >/dev/null
expect_eq default "0:0" "$(docker exec "$(name c)" sh -c 'echo $(id -u):$(id -g)')"
expect_eq "by name" "65534:65534" "$(docker exec -u nobody "$(name c)" sh -c 'echo $(id -u):$(id -g)')"
expect_eq "by uid:gid" "1234:5678" "$(docker exec -u 1234:5678 "$(name c)" sh -c 'echo $(id -u):$(id -g)')"
